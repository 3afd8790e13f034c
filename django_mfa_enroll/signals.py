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
#: sender=Secret, secret, user
code_replayed = Signal()
#: sender=Secret, secret, user, method ("totp" or "backup_code"): a login's second factor passed
login_succeeded = Signal()
#: sender=Secret, secret, user, reason: a login's second factor was refused
login_failed = Signal()
#: sender=Secret, secret, user: a backup code was spent at login
backup_code_used = Signal()
#: sender=Secret, user, by (the admin or None), secrets (the deleted ones)
mfa_reset = Signal()
#: sender=Secret, secret, user, by
backup_codes_revoked = Signal()
#: sender=Secret, secret, user, by
secret_unlocked = Signal()
#: sender=APIKey, key (the row; never the key itself), user
api_key_created = Signal()
#: sender=APIKey, key, user, by (the admin, or None for the user)
api_key_revoked = Signal()
#: sender=the user model, user: the user's password was set through the secrets resource
password_changed = Signal()
