"""The per-IP login rate (``AUTH_RATE``): one counter per address and window, in Django's
cache. Below the doors: the HTTP door's ``AuthRateThrottle`` (``/auth/password`` and
``/auth/totp``) and the admin door's login form count in the same counters, so both doors
share one budget per address for guessing passwords and codes. ``/auth/refresh`` counts in
counters of its own (``REFRESH_SCOPE``): renewing tokens never locks a login out.

It sits in front of the per-user failure limit (services/failures.py), which lives in the
database and holds with any cache or none.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache.backends.base import BaseCache

from .conf import mfa_settings

try:
    from django.core.cache.backends.redis import RedisCache, RedisCacheClient
except ImportError:  # a Django that moved them: the generic path serves every cache
    RedisCache = RedisCacheClient = None  # type: ignore[assignment,misc]

logger = logging.getLogger("django_mfa_enroll")

#: The counters' names: DRF's throttle key for the scope, then the window's number.
KEY_FORMAT = "throttle_%(scope)s_%(ident)s"
SCOPE = "mfa_auth"
REFRESH_SCOPE = "mfa_refresh"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"30/min"`` as (30 requests, 60 seconds), as DRF reads it; None for no rate."""
    if not rate:
        return None
    num, period = rate.split("/")
    return int(num), _PERIODS[period[0]]


def client_ip(request: Any) -> str:
    """The client's address: REMOTE_ADDR, unless DRF's NUM_PROXIES says how many proxies to
    trust (DRF's own default trusts any X-Forwarded-For, which a client can forge to dodge
    the limit)."""
    from rest_framework.settings import api_settings

    meta = request.META
    remote = str(meta.get("REMOTE_ADDR", ""))
    proxies = api_settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies is None or proxies == 0 or not forwarded:
        return remote
    addresses = forwarded.split(",")
    return addresses[-min(proxies, len(addresses))].strip()


def counter_key(ident: str, window: int, scope: str = SCOPE) -> str:
    return f"{KEY_FORMAT % {'scope': scope, 'ident': ident}}_{window}"


def hit(
    cache: Any, ident: str, scope: str, allowed: int, duration: int, now: float
) -> float | None:
    """Count one attempt of ``ident`` in its window; return the seconds left in the window
    when it is over ``allowed``, else None. With the cache down, None (``log_cache_down``)."""
    window = int(now // duration)
    try:
        count = count_in(cache, counter_key(ident, window, scope), duration)
    except Exception as exc:  # noqa: BLE001 - any cache backend's connection error
        log_cache_down(exc)
        return None
    return None if count <= allowed else (window + 1) * duration - now


def login_wait(request: Any, cache: Any = None, now: float | None = None) -> float | None:
    """Count one login attempt from the request's address; return the seconds to wait when
    it is over ``AUTH_RATE``, else None."""
    parsed = parse_rate(mfa_settings.AUTH_RATE)
    if parsed is None:
        return None
    now = time.time() if now is None else now
    left = hit(cache or default_cache, client_ip(request), SCOPE, *parsed, now)
    return None if left is None else max(1.0, left)


def log_cache_down(exc: Exception) -> None:
    """With the cache down, the counter lets requests through: the per-user failure limit
    lives in the database and holds without any cache, so an outage weakens only this
    per-IP layer, never the lock. The log says so."""
    logger.warning("Login throttle skipped, cache unavailable: %s", type(exc).__name__)


def count_in(cache: Any, key: str, duration: int) -> int:
    """Raise the window's counter by one and return it: one atomic call to the cache.

    Redis, Memcached and the local-memory cache make ``incr`` atomic, so requests that
    overlap each count (DRF's throttle reads a list of timestamps and writes it back, so a
    parallel burst gets past it). The counter outlives its window, so it cannot expire
    between a check and an incr.
    """
    client = redis_client(cache)
    if client is not None:
        # Django's Redis backend makes incr an EXISTS and an INCRBY, two round trips, on
        # every login request. One pipelined round trip instead: SET NX EX gives a new
        # counter its expiry before the INCR counts, so no counter is left without one.
        full_key = cache.make_and_validate_key(key)
        pipe = _write_client(client, full_key).pipeline(transaction=False)
        pipe.set(full_key, 0, ex=2 * duration, nx=True).incr(full_key)
        return int(pipe.execute()[1])
    if getattr(cache.incr, "__func__", None) is BaseCache.incr:
        # BaseCache.incr is a get and a set with the cache's default timeout, which could
        # end the counter before its window does: write the timeout ourselves.
        count = int(cache.get(key, 0)) + 1
        cache.set(key, count, timeout=2 * duration)
        return count
    try:
        return int(cache.incr(key))
    except ValueError:  # no counter yet: the window's first request
        if cache.add(key, 1, timeout=2 * duration):
            return 1
        return int(cache.incr(key))  # another request made it meanwhile


_WRITE_CLIENT = "_django_mfa_enroll_write_client"


def _write_client(client: Any, key: str) -> Any:
    """The Redis client for writes. Django's ``get_client`` builds a new ``redis.Redis`` on
    each call (about half a millisecond of CPU, on every login request) around the pool it
    keeps; the client made for the pool is kept beside it, and made again if the pool is
    replaced. A subclass with a ``get_client`` of its own (one that shards by key) is asked
    every time."""
    if type(client).get_client is not RedisCacheClient.get_client:
        return client.get_client(key, write=True)
    pool = client._get_connection_pool(True)
    kept = client.__dict__.get(_WRITE_CLIENT)
    if kept is None or kept[0] is not pool:
        kept = (pool, client.get_client(key, write=True))
        client.__dict__[_WRITE_CLIENT] = kept
    return kept[1]


def redis_client(cache: Any) -> Any:
    """The client of Django's own Redis backend (``RedisCache._cache``, there since Django
    4.0) when its ``incr`` is Django's, else None: any other cache, a subclass with an incr
    of its own, or a Django that moved it, takes the generic path."""
    if RedisCache is None:
        return None
    client = getattr(cache, "_cache", None)
    if not isinstance(client, RedisCacheClient):
        return None
    return client if getattr(cache.incr, "__func__", None) is RedisCache.incr else None
