"""The keys in force: Fernet keys for secrets at rest, and a secret's own TOTP key."""

from __future__ import annotations

import functools
import logging
from typing import Any

from .. import crypto, totp
from ..conf import mfa_settings
from ..models import Secret
from .errors import KeyUnavailable

logger = logging.getLogger("django_mfa_enroll")


@functools.lru_cache(maxsize=8)
def _derived_keys(secret_keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(crypto.derive_key(key) for key in secret_keys)


def encryption_keys() -> tuple[str, ...]:
    """Return the Fernet keys in force: the configured ones, then those derived from
    SECRET_KEY and its fallbacks. The first encrypts; every one decrypts.

    The derived keys always decrypt, after the configured ones: a site that moves from the
    derived key to ``ENCRYPTION_KEYS`` loses no login on the way, and ``mfa_rotate_keys``
    moves the secrets under the new key (API.md, first section).
    """
    configured = tuple(mfa_settings.ENCRYPTION_KEYS)
    derived = _derived_keys(tuple(mfa_settings.SECRET_KEYS))
    return configured + tuple(key for key in derived if key not in configured)


def key_of(secret: Secret) -> bytes:
    """Return the secret's TOTP key, decrypted; KeyUnavailable if no key in force opens it."""
    try:
        return crypto.decrypt(secret.encrypted_key, encryption_keys())
    except (crypto.InvalidToken, ValueError):
        # A key was removed from ENCRYPTION_KEYS too early (system check E007 says so at
        # start-up). Say it to the operator, and to the user only that MFA is unavailable.
        logger.error("MFA secret cannot be decrypted with ENCRYPTION_KEYS: secret=%s", secret.pk)
        raise KeyUnavailable from None


def totp_options() -> dict[str, Any]:
    """The configured digits, period and algorithm, as ``totp``'s functions take them."""
    return {
        "digits": mfa_settings.TOTP_DIGITS,
        "period": mfa_settings.TOTP_PERIOD,
        "algorithm": mfa_settings.TOTP_ALGORITHM,
    }


def otpauth_url(user: Any, key: bytes, issuer: str) -> str:
    """The Key URI an authenticator app reads (from a QR code) for the user's key."""
    return totp.key_uri(key, issuer=issuer, account=user.get_username(), **totp_options())


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
