"""System checks for configuration mistakes, ids ``django_mfa_enroll.E001``, ``W001``..."""

from __future__ import annotations

from typing import Any

from django.conf import settings
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


W002 = "django_mfa_enroll.W002"
E002 = "django_mfa_enroll.E002"
BACKEND = "django_mfa_enroll.backends.MFAModelBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@register(Tags.security)
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """MFAModelBackend must stand in AUTHENTICATION_BACKENDS, and ModelBackend must not."""
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    if MODEL_BACKEND in backends:
        return [
            Error(
                "django.contrib.auth.backends.ModelBackend is in AUTHENTICATION_BACKENDS: it "
                "logs in users who have MFA with their password alone.",
                hint=f"Replace it with {BACKEND!r}.",
                id=E002,
            )
        ]
    if BACKEND not in backends:
        return [
            Warning(
                "MFAModelBackend is not in AUTHENTICATION_BACKENDS: the admin, DRF's Basic and "
                "session logins and simplejwt's token view accept a password without the "
                "second factor (the app's own /auth/password still asks for it).",
                hint=f"Put {BACKEND!r} in AUTHENTICATION_BACKENDS in place of ModelBackend.",
                id=W002,
            )
        ]
    return []
