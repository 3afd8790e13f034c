"""Every MFA rule, in one place. Views, admin, backend and commands only call these.

Each function is one transaction. A change that a race could double (accepting a TOTP
step, spending a backup code) is a conditional UPDATE or happens under a row lock.
Failures are written outside the transaction that found them, so a rollback never
un-counts a wrong code.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import backup_codes, crypto, signals, totp
from .conf import mfa_settings
from .models import BackupCode, Secret

logger = logging.getLogger("django_mfa_enroll")


# Errors: each door maps them to its own answer (exceptions.py for HTTP).


class MFAError(Exception):
    """Base of the errors a service raises; ``code`` is stable, ``message`` is for people."""

    code = "mfa_error"
    message: Any = _("Multi-factor authentication failed.")

    def __init__(self, message: Any = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(str(self.message))


class SecretNotFound(MFAError):
    code = "not_found"
    message = _("No such secret.")


class SecretExists(MFAError):
    code = "secret_exists"
    message = _("MFA is already active for this user; delete the active secret first.")


class AlreadyEnrolled(MFAError):
    code = "already_enrolled"
    message = _("This secret is already enrolled.")


class NotPending(MFAError):
    code = "secret_active"
    message = _("This secret is active; its key is never shown again.")


class NotEnrolled(MFAError):
    code = "not_enrolled"
    message = _("This secret is not enrolled yet; confirm it with a first code.")


class InvalidCode(MFAError):
    code = "invalid_code"
    message = _("The code is not valid.")


class ReusedCode(InvalidCode):
    code = "code_reused"
    message = _("This code has been used already; wait for the next one.")


class ChallengeInvalid(MFAError):
    code = "challenge_invalid"
    message = _("The login challenge is invalid or has expired; log in with your password again.")


class ChallengeUsed(ChallengeInvalid):
    code = "challenge_used"
    message = _("This login challenge has been used already; log in with your password again.")


class Locked(MFAError):
    code = "too_many_failures"
    message = _("Too many failed attempts; try again later.")

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)


# Results.


@dataclass(frozen=True)
class NewSecret:
    """A pending secret with the key material to show its owner, once."""

    secret: Secret
    key_base32: str
    otpauth_url: str


@dataclass(frozen=True)
class Enrollment:
    """An active secret with its first set of backup codes, shown once."""

    secret: Secret
    codes: list[str]


# Helpers.


def _now() -> datetime:
    return timezone.now()


@functools.lru_cache(maxsize=8)
def _derived_keys(secret_keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(crypto.derive_key(key) for key in secret_keys)


def encryption_keys() -> tuple[str, ...]:
    """Return the Fernet keys in force: the configured list, else ones derived from SECRET_KEY."""
    configured = tuple(mfa_settings.ENCRYPTION_KEYS)
    return configured or _derived_keys(tuple(mfa_settings.SECRET_KEYS))


def _key_of(secret: Secret) -> bytes:
    return crypto.decrypt(secret.encrypted_key, encryption_keys())


def _totp_options() -> dict[str, Any]:
    return {
        "digits": mfa_settings.TOTP_DIGITS,
        "period": mfa_settings.TOTP_PERIOD,
        "algorithm": mfa_settings.TOTP_ALGORITHM,
    }


def _otpauth_url(user: Any, key: bytes, issuer: str) -> str:
    return totp.key_uri(key, issuer=issuer, account=user.get_username(), **_totp_options())


def secrets_of(user: Any) -> QuerySet[Secret]:
    """Return the user's secrets with ``backup_codes_remaining`` annotated (one query)."""
    return Secret.objects.filter(user=user).annotate(
        backup_codes_remaining=Count("backup_codes", filter=Q(backup_codes__used_at__isnull=True))
    )


def get_secret(user: Any, secret_id: Any) -> Secret:
    """Return one of the user's secrets, annotated as in ``secrets_of``."""
    try:
        return secrets_of(user).get(pk=_as_uuid(secret_id))
    except Secret.DoesNotExist:
        raise SecretNotFound from None


def _as_uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise SecretNotFound from None


def _locked_secret(user: Any, secret_id: Any) -> Secret:
    """Return the user's secret with its row locked until the transaction ends."""
    try:
        return Secret.objects.select_for_update().get(pk=_as_uuid(secret_id), user=user)
    except Secret.DoesNotExist:
        raise SecretNotFound from None


# Failures (NIST 800-63B 5.2.2; RFC 4226 7.3): counted per secret, so per user, in the
# database, whatever the IP, session or challenge. A growing delay after a few, then a lock.


def _check_not_locked(secret: Secret, now: datetime) -> None:
    if secret.locked_until and secret.locked_until > now:
        raise Locked(math.ceil((secret.locked_until - now).total_seconds()))


def _wait_after(failures: int) -> int:
    """Seconds the next try must wait after ``failures`` consecutive failures."""
    if failures >= mfa_settings.FAILURE_LOCK_AFTER:
        return mfa_settings.FAILURE_LOCK_SECONDS
    if failures < mfa_settings.FAILURE_DELAY_AFTER:
        return 0
    return min(
        2 ** (failures - mfa_settings.FAILURE_DELAY_AFTER + 1), mfa_settings.FAILURE_MAX_DELAY
    )


def record_failure(secret: Secret, now: datetime, reason: str) -> None:
    """Count one failed verification for the secret's user; lock when the count says so."""
    Secret.objects.filter(pk=secret.pk).update(
        failure_count=F("failure_count") + 1, last_failure_at=now
    )
    failures = Secret.objects.filter(pk=secret.pk).values_list("failure_count", flat=True).first()
    if failures is None:  # deleted meanwhile
        return
    wait = _wait_after(failures)
    if wait:
        until = now + timedelta(seconds=wait)
        Secret.objects.filter(pk=secret.pk).filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=until)
        ).update(locked_until=until)
    logger.warning(
        "MFA verification failed: secret=%s user=%s reason=%s failures=%d",
        secret.pk,
        secret.user_id,
        reason,
        failures,
    )
    signals.verification_failed.send(Secret, secret=secret, user=secret.user, reason=reason)
    if reason == ReusedCode.code:
        signals.code_replayed.send(Secret, secret=secret, user=secret.user)
    if failures >= mfa_settings.FAILURE_LOCK_AFTER:
        signals.secret_locked.send(Secret, secret=secret, user=secret.user, retry_after=wait)


def _winner(secret: Secret, epoch: int | None) -> QuerySet[Secret]:
    """The secret's row, and with a login challenge, only while the challenge still holds."""
    rows = Secret.objects.filter(pk=secret.pk)
    return rows if epoch is None else rows.filter(challenge_epoch=epoch)


def _success_updates(now: datetime, epoch: int | None) -> dict[str, Any]:
    updates: dict[str, Any] = {"last_used_at": now, "failure_count": 0, "locked_until": None}
    if epoch is not None:
        updates["challenge_epoch"] = F("challenge_epoch") + 1
    return updates


def _accept_totp(
    secret: Secret, code: str, now: datetime, epoch: int | None = None
) -> MFAError | None:
    """Accept a TOTP code for the secret at most once (RFC 6238 5.2), or say why not.

    The step moves forward in one conditional UPDATE: of two requests with the same code,
    exactly one matches ``last_step < step`` and wins. With a login challenge's ``epoch``
    the same UPDATE spends the challenge. Success resets the failure count.
    """
    step = totp.verify(
        _key_of(secret),
        code,
        now.timestamp(),
        tolerance=mfa_settings.TOTP_TOLERANCE,
        **_totp_options(),
    )
    if step is None:
        return InvalidCode()
    won = (
        _winner(secret, epoch)
        .filter(Q(last_step__isnull=True) | Q(last_step__lt=step))
        .update(last_step=step, **_success_updates(now, epoch))
    )
    if not won:
        if epoch is not None and not _winner(secret, epoch).exists():
            return ChallengeUsed()
        return ReusedCode()
    secret.last_step, secret.last_used_at, secret.failure_count = step, now, 0
    secret.locked_until = None
    return None


def _consume_backup_code(
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
    with transaction.atomic():
        # The conditional UPDATE is the spend: of two requests with one code, one wins.
        if not BackupCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
            return ReusedCode()
        if not _winner(secret, epoch).update(**_success_updates(now, epoch)):
            transaction.set_rollback(True)  # the challenge was spent meanwhile: keep the code
            return ChallengeUsed()
    secret.last_used_at, secret.failure_count, secret.locked_until = now, 0, None
    return None


def _new_code_set(secret: Secret, now: datetime) -> list[str]:
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


# Flows.


def create_secret(user: Any, *, issuer: str, description: str = "") -> NewSecret:
    """Create a pending MFA secret for the user, replacing a pending one.

    Raises SecretExists while an active one exists (delete it first, with a code).
    """
    now = _now()
    key = totp.new_key(mfa_settings.TOTP_KEY_BYTES)
    try:
        with transaction.atomic():
            # Serialise creates for one user: the user row is the lock.
            get_user_model()._default_manager.select_for_update().filter(pk=user.pk).exists()
            existing = Secret.objects.filter(user=user, type=Secret.Type.MFA).first()
            if existing is not None and existing.status == Secret.Status.ACTIVE:
                raise SecretExists
            if existing is not None:
                existing.delete()
            secret = Secret.objects.create(
                user=user,
                type=Secret.Type.MFA,
                description=description,
                encrypted_key=crypto.encrypt(key, encryption_keys()),
                created_at=now,
            )
    except IntegrityError:
        # A racing create won between our check and insert (the unique constraint).
        raise SecretExists from None
    secret.backup_codes_remaining = 0  # type: ignore[attr-defined]
    logger.info("MFA secret created: secret=%s user=%s", secret.pk, user.pk)
    signals.secret_created.send(Secret, secret=secret, user=user)
    return NewSecret(secret, totp.key_to_base32(key), _otpauth_url(user, key, issuer))


def provisioning_uri(user: Any, secret_id: Any, *, issuer: str) -> str:
    """Return the Key URI of a pending secret (for its QR code); active ones never show it."""
    secret = get_secret(user, secret_id)
    if secret.status != Secret.Status.PENDING:
        raise NotPending
    return _otpauth_url(user, _key_of(secret), issuer)


def enroll_secret(user: Any, secret_id: Any, code: str) -> Enrollment:
    """Activate a pending secret with a first TOTP code; return it with new backup codes.

    The enrolling code's step is stored, so that code cannot be used again (not even to
    log in). Raises AlreadyEnrolled, InvalidCode, Locked.
    """
    now = _now()
    error: MFAError | None = None
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            raise AlreadyEnrolled
        _check_not_locked(secret, now)
        error = _accept_totp(secret, code, now)
        if error is None:
            secret.status = Secret.Status.ACTIVE
            secret.enrolled_at = now
            secret.save(update_fields=["status", "enrolled_at"])
            codes = _new_code_set(secret, now)
    if error is not None:
        record_failure(secret, now, error.code)
        raise error
    secret.backup_codes_remaining = len(codes)  # type: ignore[attr-defined]
    logger.info("MFA secret enrolled: secret=%s user=%s", secret.pk, user.pk)
    signals.secret_enrolled.send(Secret, secret=secret, user=user)
    return Enrollment(secret, codes)


def regenerate_backup_codes(user: Any, secret_id: Any, code: str) -> list[str]:
    """Replace an active secret's backup codes, given a current TOTP code; the old set dies."""
    now = _now()
    error: MFAError | None = None
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status != Secret.Status.ACTIVE:
            raise NotEnrolled
        _check_not_locked(secret, now)
        error = _accept_totp(secret, code, now)
        if error is None:
            codes = _new_code_set(secret, now)
    if error is not None:
        record_failure(secret, now, error.code)
        raise error
    logger.info("MFA backup codes regenerated: secret=%s user=%s", secret.pk, user.pk)
    signals.backup_codes_regenerated.send(Secret, secret=secret, user=user)
    return codes


def delete_secret(user: Any, secret_id: Any, code: str | None) -> None:
    """Delete a secret and its backup codes.

    A pending secret goes without a code; an active one needs a current TOTP code or an
    unused backup code (OWASP MFA cheat sheet: turning MFA off needs a factor).
    """
    now = _now()
    error: MFAError | None = None
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            _check_not_locked(secret, now)
            error = verify_any_code(secret, code or "", now)
        if error is None:
            deleted_pk = secret.pk
            secret.delete()
            secret.pk = deleted_pk  # receivers learn which secret went
    if error is not None:
        record_failure(secret, now, error.code)
        raise error
    logger.info("MFA secret deleted: secret=%s user=%s", secret_id, user.pk)
    signals.secret_deleted.send(Secret, secret=secret, user=user)


def verify_any_code(secret: Secret, typed: str, now: datetime) -> MFAError | None:
    """Accept a TOTP code or spend a backup code, telling them apart by their shape."""
    if _method_of(typed) == TOTP:
        return _accept_totp(secret, typed.replace(" ", ""), now)
    return _consume_backup_code(secret, typed, now)


def _method_of(typed: str) -> str:
    digits = typed.replace(" ", "")
    return TOTP if digits.isascii() and digits.isdigit() else BACKUP_CODE


# Login: the second factor after a password.

TOTP = "totp"
BACKUP_CODE = "backup_code"
#: RFC 8176 authentication method references, by the second factor used.
AMR = {None: ["pwd"], TOTP: ["pwd", "otp", "mfa"], BACKUP_CODE: ["pwd", "mfa"]}


@dataclass(frozen=True)
class SecondFactor:
    """A login's accepted second factor."""

    user: Any
    secret: Secret
    method: str
    at: datetime

    @property
    def amr(self) -> list[str]:
        return AMR[self.method]


def active_secret(user: Any) -> Secret | None:
    """Return the user's active MFA secret, or None when a password alone logs them in."""
    if user is None or user.pk is None:
        return None
    return Secret.objects.filter(
        user=user, type=Secret.Type.MFA, status=Secret.Status.ACTIVE
    ).first()


def challenged_secret(user_id: Any, secret_id: Any) -> Secret:
    """Return the active secret a login challenge names, with its user, or ChallengeInvalid."""
    try:
        secret = (
            Secret.objects.select_related("user")
            .filter(pk=_as_uuid(secret_id), user_id=user_id, status=Secret.Status.ACTIVE)
            .first()
        )
    except (SecretNotFound, ValueError, TypeError, DjangoValidationError):
        secret = None
    if secret is None or not getattr(secret.user, "is_active", True):
        raise ChallengeInvalid
    return secret


def verify_second_factor(
    secret: Secret, typed: str, *, method: str | None = None, epoch: int | None = None
) -> SecondFactor:
    """Check a login's second factor for an active secret: a TOTP code or a backup code.

    ``method`` says which (None: told by the code's shape). With ``epoch``, the login
    challenge is spent by the same UPDATE that accepts the code. Every failure counts
    toward the user's limit (RFC 4226 7.3, NIST 800-63B 5.2.2). Raises InvalidCode,
    ReusedCode, Locked or ChallengeUsed.
    """
    now = _now()
    method = method or _method_of(typed)
    user = secret.user
    try:
        _check_not_locked(secret, now)
    except Locked:
        signals.login_failed.send(Secret, secret=secret, user=user, reason=Locked.code)
        raise
    if method == TOTP:
        error = _accept_totp(secret, typed.replace(" ", ""), now, epoch)
    else:
        error = _consume_backup_code(secret, typed, now, epoch)
    if isinstance(error, ChallengeUsed):
        raise error
    if error is not None:
        record_failure(secret, now, error.code)
        signals.login_failed.send(Secret, secret=secret, user=user, reason=error.code)
        raise error
    logger.info(
        "MFA login second factor accepted: secret=%s user=%s method=%s", secret.pk, user.pk, method
    )
    signals.login_succeeded.send(Secret, secret=secret, user=user, method=method)
    if method == BACKUP_CODE:
        signals.backup_code_used.send(Secret, secret=secret, user=user)
    return SecondFactor(user, secret, method, now)
