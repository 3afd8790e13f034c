"""Login: the second factor after a password, on the user's active secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import router, transaction

from .. import signals
from ..models import BackupCode, Event, Secret
from . import clock
from .errors import ChallengeInvalid, ChallengeUsed, CodeRequired, Locked, MFAError
from .events import event_values, record, written
from .failures import announce_failure, attempt
from .lookups import active_secret
from .statements import locked_for_login
from .verification import BACKUP_CODE, TOTP, accept_totp, consume_backup_code, method_of

logger = logging.getLogger("django_mfa_enroll")

#: RFC 8176 authentication method references, by the second factor used.
AMR = {None: ["pwd"], TOTP: ["pwd", "otp", "mfa"], BACKUP_CODE: ["pwd", "mfa"]}


@dataclass(frozen=True)
class SecondFactor:
    """A login's accepted second factor (``method`` None: none was due, a password alone)."""

    user: Any
    secret: Secret | None
    method: str | None
    at: datetime

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

    Raises CodeRequired (no code: not counted as a failure), or what
    ``verify_second_factor`` raises.
    """
    secret = active_secret(user)
    if secret is None:
        return SecondFactor(user, None, None, clock.now())
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
    challenge's), the challenge is spent by the same UPDATE that accepts the code. One
    SELECT ... FOR UPDATE of the secret and its user, one UPDATE for a TOTP code. Every
    failure counts toward the user's limit (RFC 4226 7.3, NIST 800-63B 5.2.2). Raises
    ChallengeInvalid (no such active secret, or an inactive user), ChallengeUsed,
    InvalidCode, ReusedCode or Locked.
    """
    now = clock.now()
    method = method or method_of(typed)
    alias = router.db_for_write(Secret)
    error: MFAError | None
    with transaction.atomic(using=alias):
        secret = locked_for_login(alias, secret_id, user_id)
        if secret is None or not getattr(secret.user, "is_active", True):
            raise ChallengeInvalid
        user = secret.user
        if epoch is not None and secret.challenge_epoch != epoch:
            raise ChallengeUsed
        try:
            if method == TOTP:
                code = typed.replace(" ", "")
                login = event_values(
                    secret.user_id, Event.Type.LOGIN, secret_id=secret.pk, at=now, method=TOTP
                )
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
        announce_failure(secret, error)
    if isinstance(error, ChallengeUsed):
        raise error
    if error is not None:
        signals.login_failed.send(Secret, secret=secret, user=user, reason=error.code)
        raise error
    logger.info(
        "MFA login second factor accepted: secret=%s user=%s method=%s", secret.pk, user.pk, method
    )
    signals.login_succeeded.send(Secret, secret=secret, user=user, method=method)
    if method == BACKUP_CODE:
        signals.backup_code_used.send(Secret, secret=secret, user=user)
    return SecondFactor(user, secret, method, now)
