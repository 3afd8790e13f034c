"""A per-IP throttle on the login endpoints: DRF's face of ``ratelimit``'s counters."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from . import ratelimit
from .conf import mfa_settings

# The Redis client lookup, under the name the tests and older imports know.
_redis_client = ratelimit.redis_client


class AuthRateThrottle(SimpleRateThrottle):
    """Limit login attempts per client IP at ``MFA_ENROLL["AUTH_RATE"]`` (e.g. ``30/min``).

    One counter per address and window (a minute for ``/min``), raised atomically
    (``ratelimit.count_in``): requests that overlap each count. A check is one call to the
    cache at any rate (a window's first, two), and with Django's Redis backend one round
    trip. A fixed window lets through at most twice the rate across a window's edge; the
    per-user limit in the database is what stops code guessing. The admin's login form
    counts in the same counters.
    """

    scope = ratelimit.SCOPE
    cache_format = ratelimit.KEY_FORMAT
    num_requests: int  # both set from the rate by DRF's __init__
    duration: int  # seconds
    window_ends: float

    def get_rate(self) -> str | None:
        # Read at request time (DRF binds THROTTLE_RATES at import).
        return mfa_settings.AUTH_RATE

    def get_ident(self, request: Any) -> str:
        return ratelimit.client_ip(request)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Any, view: Any) -> bool:
        """Count the request in its window; refuse it past the rate. With the cache down,
        let it through (``ratelimit.log_cache_down`` says why)."""
        if self.rate is None:
            return True
        self.now = self.timer()
        ident = self.get_ident(request)
        left = ratelimit.hit(
            self.cache, ident, self.scope, self.num_requests, self.duration, self.now
        )
        if left is None:
            return True
        self.window_ends = self.now + left
        return False

    def wait(self) -> float:
        """Seconds until the window ends (Retry-After)."""
        return max(1.0, self.window_ends - self.timer())


class RefreshRateThrottle(AuthRateThrottle):
    """The same rate on ``/auth/refresh``, in counters of its own: renewing tokens from one
    address (a NAT, a proxy) never uses up the budget of its password and code logins."""

    scope = ratelimit.REFRESH_SCOPE
