"""A per-IP throttle on the login endpoints, through Django's cache.

It sits in front of the per-user failure limit (services/failures.py), which lives in the database
and holds with any cache or none.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.base import BaseCache
from rest_framework.throttling import SimpleRateThrottle

from .conf import mfa_settings

try:
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient
except ImportError:  # a Django that moved them: the generic path serves every cache
    RedisCache = RedisCacheClient = None  # type: ignore[assignment,misc]

logger = logging.getLogger("django_mfa_enroll")


class AuthRateThrottle(SimpleRateThrottle):
    """Limit login attempts per client IP at ``MFA_ENROLL["AUTH_RATE"]`` (e.g. ``30/min``).

    One counter per address and window (a minute for ``/min``), raised with the cache's
    ``incr``, which Redis, Memcached and the local-memory cache make atomic: requests that
    overlap each count. DRF's own throttle reads a list of timestamps, appends and writes it
    back, so overlapping requests overwrite each other's entries and a parallel burst gets
    past it. A check is one call to the cache at any rate (a window's first, two), and with
    Django's Redis backend one round trip (its ``incr`` makes two). A fixed window lets
    through at most twice the rate across a window's edge; the per-user limit in the
    database is what stops code guessing. Caches with no ``incr`` of their own (file,
    database) get a read and a write with the window's timeout, as DRF's throttle does.
    """

    scope = "mfa_auth"
    num_requests: int  # both set from the rate by DRF's __init__
    duration: int  # seconds
    window_ends: float

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

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Any, view: Any) -> bool:
        """Count the request in its window; refuse it past the rate.

        With the cache down, let the request through: the per-user failure limit lives in
        the database (services/failures.py) and holds without any cache, so an outage weakens only
        this per-IP layer, never the lock. Failing open keeps logins working through the
        outage; the log says so.
        """
        if self.rate is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        try:
            count = self._count(f"{self.get_cache_key(request, view)}_{window}")
        except Exception as exc:  # noqa: BLE001 - any cache backend's connection error
            logger.warning("Login throttle skipped, cache unavailable: %s", type(exc).__name__)
            return True
        if count <= self.num_requests:
            return True
        self.window_ends = (window + 1) * self.duration
        return False

    def _count(self, key: str) -> int:
        client = _redis_client(self.cache)
        if client is not None:
            # Django's Redis backend makes incr an EXISTS and an INCRBY, two round trips, on
            # every login request. One pipelined round trip instead: SET NX EX gives a new
            # counter its expiry before the INCR counts, so no counter is left without one.
            full_key = self.cache.make_and_validate_key(key)
            pipe = client.get_client(full_key, write=True).pipeline(transaction=False)
            pipe.set(full_key, 0, ex=2 * self.duration, nx=True).incr(full_key)
            return int(pipe.execute()[1])
        if getattr(self.cache.incr, "__func__", None) is BaseCache.incr:
            # BaseCache.incr is a get and a set with the cache's default timeout, which
            # could end the counter before its window does: write the timeout ourselves.
            count = int(self.cache.get(key, 0)) + 1
            self.cache.set(key, count, timeout=2 * self.duration)
            return count
        try:
            return int(self.cache.incr(key))
        except ValueError:  # no counter yet: the window's first request
            # It outlives its window, so it cannot expire between a check and an incr.
            if self.cache.add(key, 1, timeout=2 * self.duration):
                return 1
            return int(self.cache.incr(key))  # another request made it meanwhile

    def wait(self) -> float:
        """Seconds until the window ends (Retry-After)."""
        return max(1.0, self.window_ends - self.timer())


def _redis_client(cache: Any) -> Any:
    """The client of Django's own Redis backend (``RedisCache._cache``, there since Django
    4.0) when its ``incr`` is Django's, else None: any other cache, a subclass with an incr
    of its own, or a Django that moved it, takes the generic path."""
    if RedisCache is None:
        return None
    client = getattr(cache, "_cache", None)
    if not isinstance(client, RedisCacheClient):
        return None
    return client if getattr(cache.incr, "__func__", None) is RedisCache.incr else None
