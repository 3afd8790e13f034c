"""The TOTP secret's life: create (pending), show its key while pending, enroll, delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from .. import crypto, signals, totp
from ..conf import mfa_settings
from ..models import Event, Secret
from . import clock
from .code_sets import new_code_set
from .credentials import active_method_ids, note_mfa_change
from .errors import (
    AlreadyEnrolled,
    CodeRequired,
    LastMethodRequired,
    MFAError,
    NotPending,
    SecretExists,
)
from .events import record
from .failures import announce_failure, attempt
from .keys import encryption_keys, key_of, otpauth_url
from .lookups import get_secret, lock_users, locked_secret
from .policy import must_use_mfa
from .verification import accept_totp, method_of, verify_any_code

logger = logging.getLogger("django_mfa_enroll")


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


def create_secret(user: Any, *, issuer: str, description: str = "") -> NewSecret:
    """Create a pending MFA secret for the user, replacing a pending one.

    Raises SecretExists while an active one exists (delete it first, with a code).
    """
    now = clock.now()
    key = totp.new_key(mfa_settings.TOTP_KEY_BYTES)
    try:
        with transaction.atomic():
            lock_users([user.pk])  # serialises creates for one user; the first lock
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
    return NewSecret(secret, totp.key_to_base32(key), otpauth_url(user, key, issuer))


def provisioning_uri(user: Any, secret_id: Any, *, issuer: str) -> str:
    """Return the Key URI of a pending secret (for its QR code); active ones never show it."""
    secret = get_secret(user, secret_id)
    if secret.status != Secret.Status.PENDING:
        raise NotPending
    return otpauth_url(user, key_of(secret), issuer)


def enroll_secret(user: Any, secret_id: Any, code: str) -> Enrollment:
    """Activate a pending secret with a first TOTP code; return it with new backup codes.

    The enrolling code's step is stored, so that code cannot be used again (not even to
    log in). Raises AlreadyEnrolled, InvalidCode, Locked.
    """
    now = clock.now()
    error: MFAError | None
    with transaction.atomic():
        secret = locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            raise AlreadyEnrolled
        error = attempt(secret, now, lambda: accept_totp(secret, code, now))
        if error is None:
            secret.status = str(Secret.Status.ACTIVE)
            secret.enrolled_at = now
            secret.save(update_fields=["status", "enrolled_at"])
            note_mfa_change(user.pk, now)  # the password-only logins end here
            record(user.pk, Event.Type.ENROLLED, secret_id=secret.pk, at=now)
            codes = new_code_set(secret, now)
    if error is not None:
        announce_failure(secret, error)
        raise error
    secret.backup_codes_remaining = len(codes)
    logger.info("MFA secret enrolled: secret=%s user=%s", secret.pk, user.pk)
    signals.secret_enrolled.send(Secret, secret=secret, user=user)
    return Enrollment(secret, codes)


def delete_secret(user: Any, secret_id: Any, code: str | None) -> None:
    """Delete a secret and its backup codes.

    A pending secret goes without a code; an active one needs a current TOTP code or an
    unused backup code (OWASP MFA cheat sheet: turning MFA off needs a factor). Raises
    CodeRequired (not counted as a failure), InvalidCode, Locked, and LastMethodRequired
    for the last method of a user who must use MFA (``REQUIRED``).
    """
    now = clock.now()
    error: MFAError | None = None
    with transaction.atomic():
        secret = locked_secret(user, secret_id)
        if secret.status == Secret.Status.ACTIVE:
            if must_use_mfa(user) and len(active_method_ids(user.pk)) <= 1:
                raise LastMethodRequired  # REQUIRED: the last method stays (a reset may go)
            if not code:
                raise CodeRequired
            error = attempt(secret, now, lambda: verify_any_code(secret, code, now))
        if error is None:
            if secret.status == Secret.Status.ACTIVE:
                note_mfa_change(user.pk, now)  # the logins with this factor end here
                kind, used = Event.Type.METHOD_REMOVED, method_of(code or "")
                record(user.pk, kind, secret_id=secret.pk, at=now, method=used)
            deleted_pk = secret.pk
            secret.delete()
            secret.pk = deleted_pk  # receivers learn which secret went
    if error is not None:
        announce_failure(secret, error)
        raise error
    logger.info("MFA secret deleted: secret=%s user=%s", secret_id, user.pk)
    signals.secret_deleted.send(Secret, secret=secret, user=user)
