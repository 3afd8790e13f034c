"""Checking one code against a secret: a TOTP code at most once, a backup code spent once.

Each function runs on the secret's locked row, inside the caller's transaction
(``failures.attempt`` around it), and returns the error to raise instead of raising it,
so that the failure it earns commits first. (A login's first try at a TOTP code, with no
lock, is login.py's: ``totp_step`` and conditional UPDATEs.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import router, transaction
from django.db.models import QuerySet

from .. import backup_codes, totp
from ..conf import mfa_settings
from ..models import BackupCode, Secret
from .errors import ChallengeUsed, InvalidCode, MFAError, ReusedCode
from .keys import key_of, totp_options
from .statements import record_success

#: The methods of a second factor, as logins and signals name them.
TOTP = "totp"
BACKUP_CODE = "backup_code"


def method_of(typed: str) -> str:
    """Tell a TOTP code (digits, spaces allowed) from a backup code by its shape."""
    digits = typed.replace(" ", "")
    return TOTP if digits.isascii() and digits.isdigit() else BACKUP_CODE


def verify_any_code(secret: Secret, typed: str, now: datetime) -> MFAError | None:
    """Accept a TOTP code or spend a backup code, telling them apart by their shape."""
    if method_of(typed) == TOTP:
        return accept_totp(secret, typed.replace(" ", ""), now)
    return consume_backup_code(secret, typed, now)


def _winner(secret: Secret, epoch: int | None) -> QuerySet[Secret]:
    """The secret's row, and with a login challenge, only while the challenge still holds."""
    rows = Secret.objects.filter(pk=secret.pk)
    return rows if epoch is None else rows.filter(challenge_epoch=epoch)


def totp_step(secret: Secret, code: str, now: datetime) -> int | None:
    """The time step at which ``code`` is the secret's, within ``TOTP_TOLERANCE``; or None."""
    return totp.verify(
        key_of(secret),
        code,
        now.timestamp(),
        tolerance=mfa_settings.TOTP_TOLERANCE,
        **totp_options(),
    )


def accept_totp(
    secret: Secret,
    code: str,
    now: datetime,
    epoch: int | None = None,
    event: tuple[Any, ...] | None = None,
) -> MFAError | None:
    """Accept a TOTP code for the secret at most once (RFC 6238 5.2), or say why not.

    The step moves forward in one conditional UPDATE: of two requests with the same code,
    exactly one matches ``last_step < step`` and wins. With a login challenge's ``epoch``
    the same UPDATE spends the challenge. Success resets the failure count, and writes
    ``event`` (its values) when given, with the UPDATE.
    """
    step = totp_step(secret, code, now)
    if step is None:
        return InvalidCode()
    if not record_success(secret, now, epoch, step, event):
        if epoch is not None and not _winner(secret, epoch).exists():
            return ChallengeUsed()
        return ReusedCode()
    return None


def consume_backup_code(
    secret: Secret, typed: str, now: datetime, epoch: int | None = None
) -> MFAError | None:
    """Spend one backup code of the secret, at most once, for one hash evaluation."""
    iterations = mfa_settings.BACKUP_CODE_ITERATIONS
    code = backup_codes.normalise(typed)
    row = None
    if code is not None:
        row = (
            BackupCode.objects.filter(
                secret=secret, selector=backup_codes.selector_of(code), used_at__isnull=True
            )
            .only("pk", "code_hash")
            .first()
        )
    if row is None or code is None:
        backup_codes.burn(iterations)  # a miss costs what a wrong code costs
        return InvalidCode()
    if not backup_codes.check(code, row.code_hash):
        return InvalidCode()
    with transaction.atomic(using=router.db_for_write(Secret, instance=secret)):
        # The conditional UPDATE is the spend: of two requests with one code, one wins.
        if not BackupCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
            return ReusedCode()
        if not record_success(secret, now, epoch):
            transaction.set_rollback(True)  # the challenge was spent meanwhile: keep the code
            return ChallengeUsed()
    return None
