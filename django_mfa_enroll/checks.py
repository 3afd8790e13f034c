"""System checks for configuration mistakes, ids ``django_mfa_enroll.E001``, ``W001``..."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register

from . import crypto
from .conf import mfa_settings

W001 = "django_mfa_enroll.W001"
E001 = "django_mfa_enroll.E001"


@register(Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Warn when secrets are encrypted under a key derived from SECRET_KEY; refuse bad keys."""
    keys = mfa_settings.ENCRYPTION_KEYS
    if not keys:
        return [
            Warning(
                "MFA_ENROLL['ENCRYPTION_KEYS'] is not set: MFA secrets are encrypted under a "
                "key derived from SECRET_KEY, so rotating SECRET_KEY (without keeping it in "
                "SECRET_KEY_FALLBACKS) makes every enrolled secret unreadable.",
                hint="Set MFA_ENROLL['ENCRYPTION_KEYS'] to a list of keys made with "
                "cryptography.fernet.Fernet.generate_key().",
                id=W001,
            )
        ]
    try:
        crypto.fernet_for(tuple(keys))
    except (ValueError, TypeError) as exc:
        return [
            Error(
                "MFA_ENROLL['ENCRYPTION_KEYS'] holds a key that is not a Fernet key "
                f"({type(exc).__name__}).",
                hint="Each key is 32 url-safe base64-encoded bytes, as "
                "Fernet.generate_key() makes.",
                id=E001,
            )
        ]
    return []
