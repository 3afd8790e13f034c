"""A per-IP throttle on the login endpoints, through Django's cache.

It sits in front of the per-user failure limit (services.py), which lives in the database
and holds with any cache or none.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from .conf import mfa_settings


class AuthRateThrottle(SimpleRateThrottle):
    """Limit login attempts per client IP at ``MFA_ENROLL["AUTH_RATE"]`` (e.g. ``30/min``)."""

    scope = "mfa_auth"

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds THROTTLE_RATES at import).
        return mfa_settings.AUTH_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
