"""A per-IP throttle on the login endpoints, through Django's cache.

It sits in front of the per-user failure limit (services.py), which lives in the database
and holds with any cache or none.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from .conf import mfa_settings

logger = logging.getLogger("django_mfa_enroll")


class AuthRateThrottle(SimpleRateThrottle):
    """Limit login attempts per client IP at ``MFA_ENROLL["AUTH_RATE"]`` (e.g. ``30/min``)."""

    scope = "mfa_auth"

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds THROTTLE_RATES at import).
        return mfa_settings.AUTH_RATE

    def get_ident(self, request: Any) -> str:
        """The client's address: REMOTE_ADDR, unless DRF's NUM_PROXIES says how many proxies
        to trust. (DRF's own default trusts any X-Forwarded-For, which a client can forge
        to dodge the limit.)"""
        from rest_framework.settings import api_settings

        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return super().get_ident(request)

    def allow_request(self, request: Any, view: Any) -> bool:
        """Throttle through the cache; with the cache down, let the request through.

        The per-user failure limit lives in the database (services.py) and holds without
        any cache, so a cache outage weakens only this per-IP layer, never the lock. Failing
        open keeps logins working through the outage; the log says so.
        """
        try:
            return bool(super().allow_request(request, view))
        except Exception as exc:  # noqa: BLE001 - any cache backend's connection error
            logger.warning("Login throttle skipped, cache unavailable: %s", type(exc).__name__)
            return True

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
