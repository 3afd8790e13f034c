"""Every MFA rule, in one place. Views, admin, backend and commands only call these.

Each function is one transaction. A change that a race could double (accepting a TOTP
step, spending a backup code, a login challenge) is a conditional UPDATE, and every code
is checked on its secret's locked row. A refused code's failure is written in that same
transaction, which commits before the error is raised: nothing rolls a failure back.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, F, Field, Q, QuerySet
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


class CodeRequired(MFAError):
    code = "code_required"
    message = _("This needs a current code from your authenticator app, or a backup code.")


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


class KeyUnavailable(MFAError):
    code = "key_unavailable"
    message = _("Multi-factor authentication is unavailable right now; try again later.")


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
    key_base32: str = field(repr=False)
    otpauth_url: str = field(repr=False)


@dataclass(frozen=True)
class Enrollment:
    """An active secret with its first set of backup codes, shown once."""

    secret: Secret
    codes: list[str] = field(repr=False)


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
    try:
        return crypto.decrypt(secret.encrypted_key, encryption_keys())
    except (crypto.InvalidToken, ValueError):
        # A key was removed from ENCRYPTION_KEYS too early (system check E007 says so at
        # start-up). Say it to the operator, and to the user only that MFA is unavailable.
        logger.error("MFA secret cannot be decrypted with ENCRYPTION_KEYS: secret=%s", secret.pk)
        raise KeyUnavailable from None


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
    return secrets_of_all(Secret.objects.filter(user=user))


def secrets_of_all(secrets: QuerySet[Secret]) -> QuerySet[Secret]:
    """Annotate secrets with ``backup_codes_remaining``, their unused backup codes."""
    return secrets.annotate(
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
#
# Every check of a code runs on the secret's row locked (SELECT ... FOR UPDATE; on SQLite
# the write lock of an IMMEDIATE transaction), and its failure is written in the same
# transaction before the lock goes: parallel guesses queue up and each sees the count and
# lock the one before left. The error is raised after the transaction commits.


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


def _count_failure(secret: Secret, now: datetime, error: MFAError) -> None:
    """Count one failure of the locked secret and set the wait it earns, in one UPDATE.

    The count and wait ride on the error, for ``_announce_failure`` after the commit.
    """
    failures = secret.failure_count + 1
    wait = _wait_after(failures)
    updates: dict[str, Any] = {"failure_count": F("failure_count") + 1, "last_failure_at": now}
    if wait:
        updates["locked_until"] = now + timedelta(seconds=wait)
    Secret.objects.filter(pk=secret.pk).update(**updates)
    secret.failure_count = failures
    error.failures, error.wait = failures, wait  # type: ignore[attr-defined]


def _announce_failure(secret: Secret, error: MFAError) -> None:
    """Log and signal a counted failure: ids and reasons only, never the code."""
    failures = getattr(error, "failures", None)
    if failures is None:
        return  # not counted (a spent challenge, a lock)
    logger.warning(
        "MFA verification failed: secret=%s user=%s reason=%s failures=%d",
        secret.pk,
        secret.user_id,
        error.code,
        failures,
    )
    signals.verification_failed.send(Secret, secret=secret, user=secret.user, reason=error.code)
    if isinstance(error, ReusedCode):
        signals.code_replayed.send(Secret, secret=secret, user=secret.user)
    if failures >= mfa_settings.FAILURE_LOCK_AFTER:
        signals.secret_locked.send(
            Secret,
            secret=secret,
            user=secret.user,
            retry_after=error.wait,  # type: ignore[attr-defined]
        )


def _attempt(
    secret: Secret, now: datetime, check: Callable[[], MFAError | None]
) -> MFAError | None:
    """Run one check of a code on a locked secret: refuse while locked, count a failure.

    Call inside the transaction that locked the row; after it, announce and raise the
    returned error.
    """
    _check_not_locked(secret, now)
    error = check()
    if error is not None and not isinstance(error, ChallengeUsed):
        _count_failure(secret, now, error)
    return error


def _winner(secret: Secret, epoch: int | None) -> QuerySet[Secret]:
    """The secret's row, and with a login challenge, only while the challenge still holds."""
    rows = Secret.objects.filter(pk=secret.pk)
    return rows if epoch is None else rows.filter(challenge_epoch=epoch)


# The second factor's statements, written out. Django builds and compiles a queryset anew
# on each call: about 1 ms of CPU for the two statements of a TOTP login, more than the
# database spends on them. They run on every login, so their SQL is built once per
# database (names quoted by its backend) and sent with the values as parameters, each
# prepared by its field as the ORM would; rows come back through the fields' converters
# and ``Model.from_db``, as the ORM's do. tests/test_statements.py holds them to the ORM.


def _field(name: str) -> Any:
    """One of Secret's columns (``_meta.get_field`` also knows relations; these are not)."""
    return Secret._meta.get_field(name)


@dataclass(frozen=True)
class _Columns:
    """A model's concrete columns in a SELECT, and how to turn them back into an instance."""

    model: Any
    sql: str
    attnames: tuple[str, ...]

    @classmethod
    def of(cls, model: Any, connection: Any) -> _Columns:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        table = quote(model._meta.db_table)
        return cls(
            model,
            ", ".join(f"{table}.{quote(field.column)}" for field in fields),
            tuple(field.attname for field in fields),
        )

    def load(self, connection: Any, values: Any) -> Any:
        row = list(values)
        for index, (col, converters) in enumerate(_converters_of(connection, self.model)):
            for convert in converters:
                row[index] = convert(row[index], col, connection)
        return self.model.from_db(connection.alias, self.attnames, row)


_CONVERTERS = "_django_mfa_enroll_converters"


def _converters_of(connection: Any, model: Any) -> tuple[Any, ...]:
    """What the ORM applies to each of the model's columns as it comes back: (col, functions).

    Kept on the connection object itself: a backend's converters are its connection's own
    methods, and so they go with it (one per thread; under ASGI, one per request).
    """
    known = connection.__dict__.setdefault(_CONVERTERS, {})
    if model not in known:
        table = model._meta.db_table
        cols = [field.get_col(table) for field in model._meta.concrete_fields]
        known[model] = tuple(
            (col, (*connection.ops.get_db_converters(col), *col.get_db_converters(connection)))
            for col in cols
        )
    return known[model]


@dataclass(frozen=True)
class _LoginSelect:
    sql: str
    secret: _Columns
    user: _Columns


def _plain_columns(model: Any) -> bool:
    """Whether every column of the model is selected as itself (a geometry is not)."""
    return all(
        type(field).select_format is Field.select_format for field in model._meta.concrete_fields
    )


def _login_select(connection: Any, user_model: Any) -> _LoginSelect | None:
    return _login_select_for(connection.alias, connection.vendor, user_model)


@functools.lru_cache(maxsize=32)
def _login_select_for(alias: str, vendor: str, user_model: Any) -> _LoginSelect | None:
    """The active secret and its user by the secret's and the user's keys, the secret's row
    locked; None where only the ORM knows how (a multi-table user model, a column the ORM
    selects through a function, a backend that puts FOR UPDATE elsewhere)."""
    connection = connections[alias]
    features = connection.features
    if (
        user_model._meta.concrete_model._meta.parents
        or not _plain_columns(user_model)
        or features.for_update_after_from
    ):
        return None
    quote = connection.ops.quote_name
    opts = Secret._meta
    secret_table = quote(opts.db_table)
    user_table = quote(user_model._meta.db_table)
    user_fk = _field("user")

    def column(name: str) -> str:
        return f"{secret_table}.{quote(_field(name).column)}"

    lock = ""
    if features.has_select_for_update:
        of: tuple[str, ...] = ()
        if features.has_select_for_update_of:
            of = (column("id"),) if features.select_for_update_of_column else (secret_table,)
        lock = " " + connection.ops.for_update_sql(of=of)
    secret, user = _Columns.of(Secret, connection), _Columns.of(user_model, connection)
    # Names from the models' _meta, quoted by the backend; every value is a parameter.
    join = f"{column('user')} = {user_table}.{quote(user_fk.target_field.column)}"
    where = f"{column('id')} = %s AND {column('user')} = %s AND {column('status')} = %s"
    sql = f"SELECT {secret.sql}, {user.sql} FROM {secret_table} INNER JOIN {user_table}"  # noqa: S608
    return _LoginSelect(f"{sql} ON {join} WHERE {where}{lock}", secret, user)


def _user_key(field: Any, value: Any, connection: Any) -> Any:
    """The value as the user model's key, as the ORM would look it up; ValueError where the
    ORM finds nothing for it (an integer beyond the column's range, which a database would
    refuse)."""
    key = field.to_python(value)
    if isinstance(key, int):
        try:
            low, high = connection.ops.integer_field_range(field.get_internal_type())
        except KeyError:  # not an integer column after all
            return key
        if not low <= key <= high:
            raise ValueError("out of the column's range")
    return key


def _locked_for_login(alias: str, secret_id: Any, user_id: Any) -> Secret | None:
    """The user's active secret with its user, its row locked; None if there is none."""
    try:
        secret_pk = _as_uuid(secret_id)
    except SecretNotFound:
        return None
    connection = connections[alias]
    statement = _login_select(connection, get_user_model())
    if statement is None:
        try:
            rows = list(
                Secret.objects.using(alias)
                .select_for_update(of=("self",))
                .select_related("user")
                .filter(pk=secret_pk, user_id=user_id, status=Secret.Status.ACTIVE)
                .order_by()[:1]  # one row by its key: no sort (first() adds one)
            )
        except (DjangoValidationError, ValueError, TypeError):
            return None  # not a key of this user model
        return rows[0] if rows else None
    opts = Secret._meta
    target = _field("user").target_field
    try:
        params = [
            opts.pk.get_db_prep_value(secret_pk, connection),
            target.get_db_prep_value(_user_key(target, user_id, connection), connection),
            str(Secret.Status.ACTIVE),
        ]
    except (DjangoValidationError, ValueError, TypeError):
        return None  # not a key of this user model
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(statement.secret.attnames)
    secret: Secret = statement.secret.load(connection, row[:width])
    secret.user = statement.user.load(connection, row[width:])
    return secret


@functools.lru_cache(maxsize=32)
def _success_sql(alias: str, vendor: str, step: bool, challenge: bool) -> str:
    quote = connections[alias].ops.quote_name

    def column(name: str) -> str:
        return quote(_field(name).column)

    sets = [f"{column('last_used_at')} = %s", f"{column('failure_count')} = 0"]
    sets.append(f"{column('locked_until')} = NULL")
    where = [f"{column('id')} = %s"]
    if step:
        sets.append(f"{column('last_step')} = %s")
        where.append(f"({column('last_step')} IS NULL OR {column('last_step')} < %s)")
    if challenge:
        sets.append(f"{column('challenge_epoch')} = {column('challenge_epoch')} + 1")
        where.append(f"{column('challenge_epoch')} = %s")
    table = quote(Secret._meta.db_table)
    # Names from _meta, quoted by the backend; every value is a parameter.
    return f"UPDATE {table} SET {', '.join(sets)} WHERE {' AND '.join(where)}"  # noqa: S608


def _record_success(
    secret: Secret, now: datetime, epoch: int | None, step: int | None = None
) -> bool:
    """Record an accepted code in one conditional UPDATE; return whether this call won.

    Resets the failure count. With ``step`` (a TOTP code's), only while no step as late was
    accepted before (RFC 6238 5.2); with ``epoch`` (a login challenge's), only while the
    challenge holds, and spends it.
    """
    alias = router.db_for_write(Secret, instance=secret)
    connection = connections[alias]
    # In _success_sql's order: SET last_used_at[, last_step] WHERE id[, last_step][, epoch].
    steps = [] if step is None else [_field("last_step").get_db_prep_save(step, connection)]
    params = [
        _field("last_used_at").get_db_prep_save(now, connection),
        *steps,
        Secret._meta.pk.get_db_prep_value(secret.pk, connection),
        *steps,
    ]
    if epoch is not None:
        params.append(_field("challenge_epoch").get_db_prep_value(epoch, connection))
    with connection.cursor() as cursor:
        sql = _success_sql(alias, connection.vendor, step is not None, epoch is not None)
        cursor.execute(sql, params)
        won = cursor.rowcount == 1
    if won:
        secret.last_used_at, secret.failure_count, secret.locked_until = now, 0, None
        if step is not None:
            secret.last_step = step
        if epoch is not None:
            secret.challenge_epoch = epoch + 1
    return won


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
    if not _record_success(secret, now, epoch, step):
        if epoch is not None and not _winner(secret, epoch).exists():
            return ChallengeUsed()
        return ReusedCode()
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
    with transaction.atomic(using=router.db_for_write(Secret, instance=secret)):
        # The conditional UPDATE is the spend: of two requests with one code, one wins.
        if not BackupCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
            return ReusedCode()
        if not _record_success(secret, now, epoch):
            transaction.set_rollback(True)  # the challenge was spent meanwhile: keep the code
            return ChallengeUsed()
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
            list(
                get_user_model()
                ._default_manager.select_for_update()
                .filter(pk=user.pk)
                .values_list("pk", flat=True)
            )
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
    secret.backup_codes_remaining = 0
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
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            raise AlreadyEnrolled
        error = _attempt(secret, now, lambda: _accept_totp(secret, code, now))
        if error is None:
            secret.status = str(Secret.Status.ACTIVE)
            secret.enrolled_at = now
            secret.save(update_fields=["status", "enrolled_at"])
            codes = _new_code_set(secret, now)
    if error is not None:
        _announce_failure(secret, error)
        raise error
    secret.backup_codes_remaining = len(codes)
    logger.info("MFA secret enrolled: secret=%s user=%s", secret.pk, user.pk)
    signals.secret_enrolled.send(Secret, secret=secret, user=user)
    return Enrollment(secret, codes)


def regenerate_backup_codes(user: Any, secret_id: Any, code: str) -> list[str]:
    """Replace an active secret's backup codes, given a current TOTP code; the old set dies."""
    now = _now()
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status != Secret.Status.ACTIVE:
            raise NotEnrolled
        error = _attempt(secret, now, lambda: _accept_totp(secret, code, now))
        if error is None:
            codes = _new_code_set(secret, now)
    if error is not None:
        _announce_failure(secret, error)
        raise error
    logger.info("MFA backup codes regenerated: secret=%s user=%s", secret.pk, user.pk)
    signals.backup_codes_regenerated.send(Secret, secret=secret, user=user)
    return codes


def delete_secret(user: Any, secret_id: Any, code: str | None) -> None:
    """Delete a secret and its backup codes.

    A pending secret goes without a code; an active one needs a current TOTP code or an
    unused backup code (OWASP MFA cheat sheet: turning MFA off needs a factor). Raises
    CodeRequired (not counted as a failure), InvalidCode, Locked.
    """
    now = _now()
    error: MFAError | None = None
    with transaction.atomic():
        secret = _locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            if not code:
                raise CodeRequired
            error = _attempt(secret, now, lambda: verify_any_code(secret, code, now))
        if error is None:
            deleted_pk = secret.pk
            secret.delete()
            secret.pk = deleted_pk  # receivers learn which secret went
    if error is not None:
        _announce_failure(secret, error)
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


def has_active_secret(user: Any, secret_id: Any) -> bool:
    """Whether ``secret_id`` names the user's active secret (a token's ``sid`` still holds)."""
    try:
        return Secret.objects.filter(
            pk=_as_uuid(secret_id), user=user, status=Secret.Status.ACTIVE
        ).exists()
    except SecretNotFound:
        return False


def undecryptable_secrets(sample: int = 20) -> int:
    """How many of the newest ``sample`` secrets the configured keys cannot decrypt."""
    keys = encryption_keys()
    tokens = Secret.objects.order_by("-created_at").values_list("encrypted_key", flat=True)
    failures = 0
    for token in tokens[:sample]:
        try:
            crypto.decrypt(token, keys)
        except (crypto.InvalidToken, ValueError):
            failures += 1
    return failures


def active_secret(user: Any) -> Secret | None:
    """Return the user's active MFA secret, or None when a password alone logs them in."""
    if user is None or user.pk is None:
        return None
    return Secret.objects.filter(
        user=user, type=Secret.Type.MFA, status=Secret.Status.ACTIVE
    ).first()


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
    now = _now()
    method = method or _method_of(typed)
    alias = router.db_for_write(Secret)
    with transaction.atomic(using=alias):
        secret = _locked_for_login(alias, secret_id, user_id)
        if secret is None or not getattr(secret.user, "is_active", True):
            raise ChallengeInvalid
        user = secret.user
        if epoch is not None and secret.challenge_epoch != epoch:
            raise ChallengeUsed
        try:
            if method == TOTP:
                code = typed.replace(" ", "")
                error = _attempt(secret, now, lambda: _accept_totp(secret, code, now, epoch))
            else:
                error = _attempt(
                    secret, now, lambda: _consume_backup_code(secret, typed, now, epoch)
                )
        except Locked as locked:
            error = locked
    if error is not None:
        _announce_failure(secret, error)
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


# Operators: admin actions and management commands. Each records who did it.


def _actor(by: Any) -> str:
    return f"user {by.pk}" if getattr(by, "pk", None) is not None else str(by or "system")


def reset_mfa(user: Any, *, by: Any = None) -> bool:
    """Remove the user's MFA secret and backup codes, so they can enroll again.

    Also ends the user's outstanding refresh tokens when simplejwt's token_blacklist app is
    installed: a token stolen before the reset must not outlive it. Returns whether there
    was anything to reset.
    """
    with transaction.atomic():
        secrets = list(Secret.objects.select_for_update().filter(user=user))
        for secret in secrets:
            deleted_pk = secret.pk
            secret.delete()
            secret.pk = deleted_pk
        blacklisted = _blacklist_refresh_tokens(user)
    logger.warning(
        "MFA reset: user=%s by=%s secrets=%d refresh_tokens_blacklisted=%d",
        user.pk,
        _actor(by),
        len(secrets),
        blacklisted,
    )
    signals.mfa_reset.send(Secret, user=user, by=by, secrets=secrets)
    if secrets and mfa_settings.NOTIFY_USER_ON_RESET:
        _notify_reset(user)
    return bool(secrets)


def revoke_backup_codes(secret: Secret, *, by: Any = None) -> int:
    """Delete a secret's backup codes (the secret stays); return how many were unused."""
    with transaction.atomic():
        codes = BackupCode.objects.filter(secret=secret)
        unused = codes.filter(used_at__isnull=True).count()
        codes.delete()
    logger.warning(
        "MFA backup codes revoked: secret=%s user=%s by=%s", secret.pk, secret.user_id, _actor(by)
    )
    signals.backup_codes_revoked.send(Secret, secret=secret, user=secret.user, by=by)
    return unused


def unlock(secret: Secret, *, by: Any = None) -> bool:
    """Clear a secret's failure count and lock; return whether it was locked or counting."""
    changed = (
        Secret.objects.filter(pk=secret.pk)
        .filter(Q(failure_count__gt=0) | Q(locked_until__isnull=False))
        .update(failure_count=0, locked_until=None)
    )
    logger.warning("MFA unlocked: secret=%s user=%s by=%s", secret.pk, secret.user_id, _actor(by))
    signals.secret_unlocked.send(Secret, secret=secret, user=secret.user, by=by)
    return bool(changed)


def is_locked(secret: Secret, now: datetime | None = None) -> bool:
    """Whether the secret refuses codes now (too many failures)."""
    return bool(secret.locked_until and secret.locked_until > (now or _now()))


def locked_filter(now: datetime | None = None) -> Q:
    """The ``Q`` of secrets that refuse codes now."""
    return Q(locked_until__gt=now or _now())


def rotate_encryption(batch_size: int = 200) -> tuple[int, int]:
    """Re-encrypt every secret under the first encryption key; return (rotated, current).

    Each row is rewritten by a conditional UPDATE on its old ciphertext, so a run can be
    interrupted and run again, and a secret changed meanwhile is left to the next run.
    """
    keys = encryption_keys()
    first_only = keys[:1]
    rotated = current = 0
    last_pk = None
    while True:
        rows = Secret.objects.order_by("pk").values_list("pk", "encrypted_key")
        if last_pk is not None:
            rows = rows.filter(pk__gt=last_pk)
        batch = list(rows[:batch_size])
        if not batch:
            return rotated, current
        for pk, token in batch:
            try:
                crypto.decrypt(token, first_only)
                current += 1
                continue
            except crypto.InvalidToken:
                pass
            new_token = crypto.rotate(token, keys)
            rotated += Secret.objects.filter(pk=pk, encrypted_key=token).update(
                encrypted_key=new_token
            )
        last_pk = batch[-1][0]


def delete_stale_pending(now: datetime | None = None) -> int:
    """Delete pending secrets older than ``PENDING_MAX_AGE`` seconds; return how many."""
    cutoff = (now or _now()) - timedelta(seconds=mfa_settings.PENDING_MAX_AGE)
    _total, per_model = Secret.objects.filter(
        status=Secret.Status.PENDING, created_at__lt=cutoff
    ).delete()
    return per_model.get(Secret._meta.label, 0)


def _blacklist_refresh_tokens(user: Any) -> int:
    from django.apps import apps

    if not apps.is_installed("rest_framework_simplejwt.token_blacklist"):
        return 0
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    tokens = list(outstanding)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True
    )
    return len(tokens)


def _notify_reset(user: Any) -> None:
    from django.core.mail import send_mail

    email = (
        getattr(user, user.get_email_field_name(), "")
        if hasattr(user, "get_email_field_name")
        else ""
    )
    if not email:
        return
    try:
        send_mail(
            str(_("Your multi-factor authentication was reset")),
            str(
                _(
                    "An administrator reset the multi-factor authentication of your account. "
                    "Your authenticator app and backup codes no longer work for it; set MFA up "
                    "again when you next log in. If you did not ask for this, contact us."
                )
            ),
            None,
            [email],
        )
    except Exception as exc:  # noqa: BLE001 - a mail outage must not undo or fail the reset
        logger.warning("MFA reset notice not sent: user=%s error=%s", user.pk, type(exc).__name__)
