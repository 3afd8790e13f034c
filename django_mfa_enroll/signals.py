"""Signals for site owners. Receivers get ids and users, never key material or codes."""

from django.dispatch import Signal

#: sender=Secret, secret, user
secret_created = Signal()
#: sender=Secret, secret, user
secret_enrolled = Signal()
#: sender=Secret, secret, user
backup_codes_regenerated = Signal()
#: sender=Secret, secret, user
secret_deleted = Signal()
#: sender=Secret, secret, user, reason ("wrong_code", "replay", "locked")
verification_failed = Signal()
#: sender=Secret, secret, user, retry_after
secret_locked = Signal()
