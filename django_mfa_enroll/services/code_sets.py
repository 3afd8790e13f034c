"""Backup codes as sets: a fresh set, shown once, replaces the old one."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from .. import backup_codes, signals
from ..conf import mfa_settings
from ..models import BackupCode, Event, Secret
from . import clock
from .devices import revoke_devices
from .errors import MFAError, NotEnrolled
from .events import record
from .failures import announce_failure, attempt
from .lookups import locked_secret
from .verification import accept_totp

logger = logging.getLogger("django_mfa_enroll")


def new_code_set(secret: Secret, now: datetime) -> list[str]:
    """Replace the secret's backup codes with a fresh set; return it in display form."""
    BackupCode.objects.filter(secret=secret).delete()
    codes = backup_codes.generate_set(mfa_settings.BACKUP_CODE_COUNT)
    iterations = mfa_settings.BACKUP_CODE_ITERATIONS
    rows = []
    for shown in codes:
        code = shown.replace("-", "")
        rows.append(
            BackupCode(
                secret=secret,
                selector=backup_codes.selector_of(code),
                code_hash=backup_codes.make_hash(code, iterations),
                created_at=now,
            )
        )
    BackupCode.objects.bulk_create(rows)
    return codes


def regenerate_backup_codes(user: Any, secret_id: Any, code: str) -> list[str]:
    """Replace an active secret's backup codes, given a current TOTP code; the old set dies."""
    now = clock.now()
    error: MFAError | None
    with transaction.atomic():
        secret = locked_secret(user, secret_id)
        if secret.status != Secret.Status.ACTIVE:
            raise NotEnrolled
        error = attempt(secret, now, lambda: accept_totp(secret, code, now))
        if error is None:
            codes = new_code_set(secret, now)
            record(user.pk, Event.Type.CODES_REGENERATED, secret_id=secret.pk, at=now)
            revoke_devices(user.pk)  # a new set is a fresh start: no device stays trusted
    if error is not None:
        announce_failure(secret, error)
        raise error
    logger.info("MFA backup codes regenerated: secret=%s user=%s", secret.pk, user.pk)
    signals.backup_codes_regenerated.send(Secret, secret=secret, user=user)
    return codes
