"""System checks for configuration mistakes, ids ``django_mfa_enroll.E001``, ``W001``..."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .. import crypto
from ..backup_codes import MAX_SET_SIZE
from ..conf import mfa_settings
from ..totp import ALGORITHMS
from .doors import (  # the checks on how a site wires the doors in, registered with these
    AUTH_MIDDLEWARE,
    E008,
    E009,
    E010,
    OUR_JWT,
    SESSION_MIDDLEWARE,
    _is_subclass,
    check_default_authentication,
    check_session_middleware,
    check_simplejwt_views,
)
from .events import E012, W006, check_events_beside_secrets, check_notify
from .policy import E014, E015, check_required, check_trust_and_grace

W001 = "django_mfa_enroll.W001"
E001 = "django_mfa_enroll.E001"


@register(Tags.security)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Warn when secrets are encrypted under a key derived from SECRET_KEY (refuse it for a
    development key with DEBUG off); refuse keys that are not Fernet keys."""
    keys = mfa_settings.ENCRYPTION_KEYS
    if not keys and _insecure_secret_key() and not settings.DEBUG:
        return [
            Error(
                "MFA secrets would be encrypted under a key derived from a SECRET_KEY that "
                "starts with 'django-insecure-' (one made for development, often published "
                "with the code), with DEBUG off: whoever knows it reads every MFA secret.",
                hint="Set SECRET_KEY to a new random value kept out of the code, and "
                "MFA_ENROLL['ENCRYPTION_KEYS'] to keys made with "
                "cryptography.fernet.Fernet.generate_key().",
                id=E011,
            )
        ]
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


E011 = "django_mfa_enroll.E011"


def _insecure_secret_key() -> bool:
    return str(getattr(settings, "SECRET_KEY", "")).startswith("django-insecure-")


W002 = "django_mfa_enroll.W002"


E002 = "django_mfa_enroll.E002"
BACKEND = "django_mfa_enroll.backends.MFAModelBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@register(Tags.security)
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """MFAModelBackend must stand in AUTHENTICATION_BACKENDS, and ModelBackend must not."""
    from django.contrib.auth.backends import ModelBackend

    from ..backends import MFAModelBackend

    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    for path in backends:
        try:
            backend = import_string(path)
        except ImportError:
            continue  # Django's own checks report it
        if (
            isinstance(backend, type)
            and issubclass(backend, ModelBackend)
            and not issubclass(backend, MFAModelBackend)
        ):
            return [
                Error(
                    f"{path} is in AUTHENTICATION_BACKENDS: a ModelBackend that logs in users "
                    "who have MFA with their password alone.",
                    hint=f"Replace it with {BACKEND!r} (or a subclass of it).",
                    id=E002,
                )
            ]
    if not any(_is_subclass(path, MFAModelBackend) for path in backends):
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


E003 = "django_mfa_enroll.E003"
W003 = "django_mfa_enroll.W003"
E004 = "django_mfa_enroll.E004"
W004 = "django_mfa_enroll.W004"
E005 = "django_mfa_enroll.E005"
W005 = "django_mfa_enroll.W005"
E006 = "django_mfa_enroll.E006"


@register(Tags.security)
def check_authentication_classes(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The app's views need importable authentication classes, a JWT one among them."""
    from rest_framework_simplejwt.authentication import JWTAuthentication

    classes = []
    for path in mfa_settings.AUTHENTICATION_CLASSES:
        try:
            classes.append(import_string(path))
        except ImportError as exc:
            return [
                Error(
                    f"MFA_ENROLL['AUTHENTICATION_CLASSES'] names {path!r}, which does not "
                    f"import ({exc}).",
                    id=E003,
                )
            ]
    if not any(isinstance(c, type) and issubclass(c, JWTAuthentication) for c in classes):
        return [
            Warning(
                "No JWT authentication class in MFA_ENROLL['AUTHENTICATION_CLASSES']: the "
                "access tokens that /auth/totp issues will not authenticate the app's views.",
                hint="Include 'django_mfa_enroll.authentication.JWTAuthentication'.",
                id=W003,
            )
        ]
    return []


_NUMBERS = (
    "TOTP_DIGITS",
    "TOTP_PERIOD",
    "TOTP_TOLERANCE",
    "TOTP_KEY_BYTES",
    "BACKUP_CODE_COUNT",
    "BACKUP_CODE_ITERATIONS",
    "CHALLENGE_LIFETIME",
    "FAILURE_LOCK_AFTER",
    "FAILURE_LOCK_SECONDS",
)


def _setting_errors() -> tuple[list[str], list[str]]:
    """Return (TOTP problems, other problems) of the numeric settings."""
    totp_problems: list[str] = []
    other: list[str] = []
    value: dict[str, int] = {}
    for name in _NUMBERS:
        try:
            value[name] = int(getattr(mfa_settings, name))
        except (TypeError, ValueError):
            (totp_problems if name.startswith("TOTP") else other).append(
                f"{name} must be a whole number"
            )

    def out_of(name: str, low: int, high: int | None, why: str, into: list[str]) -> None:
        if name in value and not (low <= value[name] and (high is None or value[name] <= high)):
            into.append(f"{name} is {value[name]}; {why}")

    out_of("TOTP_DIGITS", 6, 8, "RFC 4226 allows 6 to 8", totp_problems)
    out_of("TOTP_PERIOD", 1, None, "it must be positive", totp_problems)
    out_of("TOTP_TOLERANCE", 0, 10, "use 0 to 10 steps (1 is usual)", totp_problems)
    out_of("TOTP_KEY_BYTES", 16, None, "RFC 4226 wants at least 16", totp_problems)
    if mfa_settings.TOTP_ALGORITHM not in ALGORITHMS:
        totp_problems.append(
            f"TOTP_ALGORITHM is {mfa_settings.TOTP_ALGORITHM!r}; use one of {sorted(ALGORITHMS)}"
        )
    out_of("BACKUP_CODE_COUNT", 1, MAX_SET_SIZE, f"use 1 to {MAX_SET_SIZE}", other)
    out_of("BACKUP_CODE_ITERATIONS", 1000, None, "use at least 1000", other)
    out_of("CHALLENGE_LIFETIME", 1, None, "it must be positive", other)
    out_of("FAILURE_LOCK_AFTER", 1, 99, "NIST 800-63B wants a lock before 100", other)
    out_of("FAILURE_LOCK_SECONDS", 1, None, "it must be positive", other)
    try:
        days = mfa_settings.EVENT_RETENTION_DAYS  # None keeps every event
    except (TypeError, ValueError):
        other.append("EVENT_RETENTION_DAYS must be a whole number or None")
    else:
        if days is not None:
            value["EVENT_RETENTION_DAYS"] = days
            out_of("EVENT_RETENTION_DAYS", 1, None, "use 1 or more (None keeps all)", other)
    return totp_problems, other


@register(Tags.security)
def check_settings_in_range(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """TOTP and other numeric settings within what RFCs, apps and NIST allow."""
    totp_problems, other = _setting_errors()
    messages: list[Any] = [
        Error(f"MFA_ENROLL: {problem}.", id=E004) for problem in totp_problems
    ] + [Error(f"MFA_ENROLL: {problem}.", id=E005) for problem in other]
    if not totp_problems and (
        mfa_settings.TOTP_ALGORITHM,
        mfa_settings.TOTP_PERIOD,
        mfa_settings.TOTP_DIGITS,
    ) != ("SHA1", 30, 6):
        messages.append(
            Warning(
                "MFA_ENROLL's TOTP settings differ from SHA1, 30 s, 6 digits: Google "
                "Authenticator, Microsoft Authenticator and Authy ignore or mishandle other "
                "values, and their codes will not match.",
                id=W005,
            )
        )
    return messages


@register(Tags.security)
def check_throttle_rate(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The per-IP throttle on /auth/* should have a rate, and a well-formed one."""
    rate = mfa_settings.AUTH_RATE
    if not rate:
        return [
            Warning(
                "MFA_ENROLL['AUTH_RATE'] is empty: no per-IP throttle on /auth/*. The per-user "
                "failure limit still holds, but password guessing is not slowed.",
                hint="Set it to a DRF rate such as '30/min'.",
                id=W004,
            )
        ]
    try:
        num, period = str(rate).split("/")
        if int(num) <= 0 or period[:1] not in "smhd" or not period:
            raise ValueError
    except ValueError:
        return [
            Error(
                f"MFA_ENROLL['AUTH_RATE'] is {rate!r}, not a DRF rate like '30/min'.",
                id=E006,
            )
        ]
    return []


E007 = "django_mfa_enroll.E007"


@register(Tags.security)
def check_secrets_decrypt(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The keys in force must decrypt the secrets already stored (start-up, not login)."""
    from django.db import DatabaseError

    from .. import services

    if not _tables_ready():
        return []
    try:
        failures = services.undecryptable_secrets()
    except (DatabaseError, ValueError, TypeError):
        return []  # no database yet (before migrate), or keys E001 already reports
    if failures:
        return [
            Error(
                f"{failures} of the newest stored MFA secrets cannot be decrypted with "
                "MFA_ENROLL['ENCRYPTION_KEYS'] nor the keys derived from SECRET_KEY and "
                "SECRET_KEY_FALLBACKS: their users could not log in.",
                hint="Put the key they were encrypted under back: a removed Fernet key into "
                "ENCRYPTION_KEYS after the new one, or a replaced SECRET_KEY into "
                "SECRET_KEY_FALLBACKS. Then run manage.py mfa_rotate_keys (it moves every "
                "secret under the first key), and only then remove the old key.",
                id=E007,
            )
        ]
    return []


def _tables_ready() -> bool:
    from django.db import DatabaseError, connection

    from ..models import Secret

    try:
        return Secret._meta.db_table in connection.introspection.table_names()
    except (DatabaseError, RuntimeError):  # no database, or one a test runner keeps closed
        return False


__all__ = [
    "E014",
    "E015",
    "check_required",
    "check_trust_and_grace",
    "E012",
    "W006",
    "check_events_beside_secrets",
    "check_notify",
    "AUTH_MIDDLEWARE",
    "E008",
    "E009",
    "E010",
    "OUR_JWT",
    "SESSION_MIDDLEWARE",
    "check_default_authentication",
    "check_session_middleware",
    "check_simplejwt_views",
]
