"""Login: the second factor after a password, on the user's active secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from django.db import router, transaction

from .. import signals
from ..models import BackupCode, Event, Secret
from . import clock
from .credentials import DEVICE_AMR
from .errors import (
    ChallengeInvalid,
    ChallengeUsed,
    CodeRequired,
    Locked,
    MFAError,
    MFASetupRequired,
)
from .events import record, written
from .failures import announce_failure, attempt
from .first_try import first_try, login_event
from .lookups import active_secret
from .policy import login_policy
from .statements import locked_for_login
from .verification import (
    BACKUP_CODE,
    TOTP,
    accept_totp,
    consume_backup_code,
    method_of,
)

logger = logging.getLogger("django_mfa_enroll")

#: RFC 8176 authentication method references, by the second factor used.
AMR = {
    None: ["pwd"],
    TOTP: ["pwd", "otp", "mfa"],
    BACKUP_CODE: ["pwd", "mfa"],
    DEVICE_AMR: ["pwd", DEVICE_AMR, "mfa"],
}


@dataclass(frozen=True)
class SecondFactor:
    """A login's accepted second factor (``method`` None: none was due, a password alone)."""

    user: Any
    secret: Secret | None
    method: str | None
    at: datetime
    #: Let in during ``REQUIRED_GRACE``: when it ends (seconds since the epoch).
    setup_due: int | None = None

    @property
    def amr(self) -> list[str]:
        return AMR[self.method]

    @property
    def secret_id(self) -> Any:
        return None if self.secret is None else self.secret.pk


def _record_backup_login(secret: Secret, now: datetime) -> None:
    """The history of a backup code accepted at login, in its transaction: one event, the
    code's use and how many are left (its mail says so). (A TOTP login's event rides with
    the UPDATE that accepts the code.)"""
    method = BACKUP_CODE
    left = BackupCode.objects.filter(secret=secret, used_at__isnull=True).count()
    kind = Event.Type.BACKUP_CODE_USED
    record(secret.user_id, kind, secret_id=secret.pk, at=now, method=method, codes_left=left)


def complete_login(user: Any, typed: Any) -> SecondFactor:
    """Finish the password login of ``user`` (its password already checked): nothing more
    without an active method, else ``typed`` as its second factor (a TOTP or backup code).

    Raises CodeRequired (no code: not counted as a failure), MFASetupRequired for a user
    who must use MFA (``REQUIRED``) and has none, or what ``verify_second_factor`` raises.
    """
    secret = active_secret(user)
    if secret is None:
        now = clock.now()
        policy = login_policy(user, now)
        if policy.setup_now:
            raise MFASetupRequired  # MFA is required, and the grace (if any) is over
        due = None if policy.due is None else int(policy.due.timestamp())
        return SecondFactor(user, None, None, now, due)
    if not typed or not isinstance(typed, str):
        raise CodeRequired
    return verify_second_factor(user.pk, secret.pk, typed)


def verify_second_factor(
    user_id: Any,
    secret_id: Any,
    typed: str,
    *,
    method: str | None = None,
    epoch: int | None = None,
) -> SecondFactor:
    """Check a login's second factor for the user's active secret: TOTP or backup code.

    ``method`` says which (None: told by the code's shape). With ``epoch`` (a login
    challenge's), the challenge is spent by the same UPDATE that accepts the code. A TOTP
    code: one SELECT of the secret and its user, one conditional UPDATE that accepts it
    or counts its failure (and its event); where the UPDATE finds the row changed, and
    for a backup code, the check runs on the row locked (SELECT ... FOR UPDATE) in a
    transaction. Every failure counts toward the user's limit (RFC 4226 7.3, NIST
    800-63B 5.2.2). Raises ChallengeInvalid (no such active secret, or an inactive user),
    ChallengeUsed, InvalidCode, ReusedCode or Locked.
    """
    now = clock.now()
    method = method or method_of(typed)
    alias = router.db_for_write(Secret)
    if method == TOTP:
        tried = first_try(alias, user_id, secret_id, typed, now, epoch)
        if tried is not None:
            tried_secret, wrong = tried
            if wrong is not None:
                _refuse(tried_secret, wrong)
            return _accepted(tried_secret, TOTP, now)
    error: MFAError | None
    with transaction.atomic(using=alias):
        secret = locked_for_login(alias, secret_id, user_id)
        if secret is None or not getattr(secret.user, "is_active", True):
            raise ChallengeInvalid
        if epoch is not None and secret.challenge_epoch != epoch:
            raise ChallengeUsed
        try:
            if method == TOTP:
                code = typed.replace(" ", "")
                login = login_event(secret, now)
                error = attempt(secret, now, lambda: accept_totp(secret, code, now, epoch, login))
                if error is None:
                    written(login)  # with the UPDATE that accepted the code
            else:
                error = attempt(secret, now, lambda: consume_backup_code(secret, typed, now, epoch))
                if error is None:
                    _record_backup_login(secret, now)
        except Locked as locked:
            error = locked
    if error is not None:
        _refuse(secret, error)
    return _accepted(secret, method, now)


def _refuse(secret: Secret, error: MFAError) -> NoReturn:
    """Log, signal and raise a refused second factor (after its failure committed)."""
    announce_failure(secret, error)
    if not isinstance(error, ChallengeUsed):
        signals.login_failed.send(Secret, secret=secret, user=secret.user, reason=error.code)
    raise error


def _accepted(secret: Secret, method: str, now: datetime) -> SecondFactor:
    """Log and signal an accepted second factor."""
    user = secret.user
    logger.info(
        "MFA login second factor accepted: secret=%s user=%s method=%s", secret.pk, user.pk, method
    )
    signals.login_succeeded.send(Secret, secret=secret, user=user, method=method)
    if method == BACKUP_CODE:
        signals.backup_code_used.send(Secret, secret=secret, user=user)
    return SecondFactor(user, secret, method, now)
