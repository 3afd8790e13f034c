"""The one reader of ``settings.MFA_ENROLL``.

Every setting is a property read at access time (the django-cors-headers habit), so
``override_settings(MFA_ENROLL={...})`` works in tests and nothing is frozen at import.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "ISSUER": None,
    "TOTP_DIGITS": 6,
    "TOTP_PERIOD": 30,
    "TOTP_ALGORITHM": "SHA1",
    "TOTP_KEY_BYTES": 20,
    "TOTP_TOLERANCE": 1,
    "BACKUP_CODE_COUNT": 10,
    "BACKUP_CODE_ITERATIONS": 20_000,
    "ENCRYPTION_KEYS": [],
    "FAILURE_DELAY_AFTER": 3,
    "FAILURE_MAX_DELAY": 300,
    "FAILURE_LOCK_AFTER": 50,
    "FAILURE_LOCK_SECONDS": 86_400,
    "MAX_REQUEST_BYTES": 16_384,
    "CHALLENGE_LIFETIME": 300,
    "AUTH_RATE": "30/min",
    "NOTIFY": [
        "enrolled",
        "method_removed",
        "codes_regenerated",
        "backup_code_used",
        "locked",
        "reset",
        "device_added",
        "password_changed",
    ],
    "EVENT_RETENTION_DAYS": 365,
    "PENDING_MAX_AGE": 86_400,
    "REAUTH_MAX_AGE": 600,
    "API_KEY_MAX": 20,
    "API_KEY_MAX_AGE": None,
    "REQUIRED": None,
    "REQUIRED_GRACE": 0,
    "TRUST_DAYS": None,
    "TRUST_MAX_DEVICES": 10,
    "AUTHENTICATION_CLASSES": [
        "django_mfa_enroll.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}


def _user_settings() -> dict[str, Any]:
    return getattr(settings, "MFA_ENROLL", None) or {}


def _get(name: str) -> Any:
    return _user_settings().get(name, DEFAULTS[name])


class Settings:
    """Typed access to ``settings.MFA_ENROLL``, with the defaults in ``DEFAULTS``."""

    @property
    def ISSUER(self) -> str | None:
        """Issuer shown by authenticator apps; None means the current site's name."""
        return _get("ISSUER")

    @property
    def TOTP_DIGITS(self) -> int:
        return int(_get("TOTP_DIGITS"))

    @property
    def TOTP_PERIOD(self) -> int:
        return int(_get("TOTP_PERIOD"))

    @property
    def TOTP_ALGORITHM(self) -> str:
        return str(_get("TOTP_ALGORITHM")).upper()

    @property
    def TOTP_KEY_BYTES(self) -> int:
        return int(_get("TOTP_KEY_BYTES"))

    @property
    def TOTP_TOLERANCE(self) -> int:
        """Steps accepted on either side of the current one (clock drift)."""
        return int(_get("TOTP_TOLERANCE"))

    @property
    def BACKUP_CODE_COUNT(self) -> int:
        return int(_get("BACKUP_CODE_COUNT"))

    @property
    def BACKUP_CODE_ITERATIONS(self) -> int:
        """PBKDF2-SHA256 iterations for backup-code hashes (see backup_codes.py)."""
        return int(_get("BACKUP_CODE_ITERATIONS"))

    @property
    def ENCRYPTION_KEYS(self) -> list[Any]:
        """Fernet keys (str or bytes): the first encrypts, all decrypt. Empty: derived.

        Returned as given, wrong shapes included, so the system check can name the mistake.
        """
        keys = _get("ENCRYPTION_KEYS")
        if keys is None:
            return []
        if isinstance(keys, (str, bytes)) or not isinstance(keys, (list, tuple)):
            return [keys]
        return list(keys)

    @property
    def SECRET_KEYS(self) -> list[str]:
        """Django's SECRET_KEY and its fallbacks, for the derived encryption key."""
        return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]

    @property
    def FAILURE_DELAY_AFTER(self) -> int:
        """Consecutive failures allowed before each further try must wait."""
        return int(_get("FAILURE_DELAY_AFTER"))

    @property
    def FAILURE_MAX_DELAY(self) -> int:
        """Longest wait, in seconds, between tries before the lock."""
        return int(_get("FAILURE_MAX_DELAY"))

    @property
    def FAILURE_LOCK_AFTER(self) -> int:
        """Consecutive failures that lock the secret (NIST 800-63B: well before 100)."""
        return int(_get("FAILURE_LOCK_AFTER"))

    @property
    def FAILURE_LOCK_SECONDS(self) -> int:
        return int(_get("FAILURE_LOCK_SECONDS"))

    @property
    def MAX_REQUEST_BYTES(self) -> int:
        """Largest JSON body the app's endpoints read."""
        return int(_get("MAX_REQUEST_BYTES"))

    @property
    def CHALLENGE_LIFETIME(self) -> int:
        """Seconds a login challenge (password accepted, second factor due) stays valid."""
        return int(_get("CHALLENGE_LIFETIME"))

    @property
    def AUTH_RATE(self) -> str | None:
        """DRF rate of the per-IP throttle on the login endpoints (``None``: off)."""
        return _get("AUTH_RATE")

    @property
    def NOTIFY(self) -> frozenset[str]:
        """The security events mailed to their user (``Event.Type`` values)."""
        return frozenset(str(kind) for kind in _get("NOTIFY") or ())

    @property
    def EVENT_RETENTION_DAYS(self) -> int | None:
        """Days ``mfa_cleanup`` keeps security events (``None``: forever)."""
        days = _get("EVENT_RETENTION_DAYS")
        return None if days is None else int(days)

    @property
    def PENDING_MAX_AGE(self) -> int:
        """Seconds after which ``mfa_cleanup`` deletes a secret never enrolled."""
        return int(_get("PENDING_MAX_AGE"))

    @property
    def REAUTH_MAX_AGE(self) -> int:
        """Seconds a login counts as recent, for creating, enrolling, regenerating and
        deleting a secret and for reading a pending key (the login's ``auth_time``)."""
        return int(_get("REAUTH_MAX_AGE"))

    @property
    def API_KEY_MAX(self) -> int:
        """API keys a user may hold at once."""
        return int(_get("API_KEY_MAX"))

    @property
    def API_KEY_MAX_AGE(self) -> int | None:
        """The longest ``expires_in`` of a new API key, in seconds (``None``: no bound, and
        a key without an expiry is allowed)."""
        age = _get("API_KEY_MAX_AGE")
        return None if age is None else int(age)

    @property
    def REQUIRED(self) -> str | None:
        """Who must use MFA: ``None`` (nobody), ``"staff"``, ``"all"``, or the dotted path
        of a function ``user -> bool``."""
        required = _get("REQUIRED")
        return None if required is None else str(required)

    @property
    def REQUIRED_GRACE(self) -> int:
        """Seconds a user who must use MFA may still log in without it, counted from the
        first login that found it missing (0: none)."""
        return int(_get("REQUIRED_GRACE") or 0)

    @property
    def TRUST_DAYS(self) -> int | None:
        """Days a device the user asked to remember skips the second factor (``None``:
        devices are neither remembered nor honoured)."""
        days = _get("TRUST_DAYS")
        return None if days is None else int(days)

    @property
    def TRUST_MAX_DEVICES(self) -> int:
        """Trusted devices a user may have; a new one beyond it replaces the oldest."""
        return int(_get("TRUST_MAX_DEVICES"))

    @property
    def AUTHENTICATION_CLASSES(self) -> list[str]:
        return list(_get("AUTHENTICATION_CLASSES"))


mfa_settings = Settings()
