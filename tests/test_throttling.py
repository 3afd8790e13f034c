"""The per-IP throttle on /auth/*: an atomic counter per address and window."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from django_mfa_enroll.throttling import AuthRateThrottle, _redis_client

from .test_races import race


def _request(address: str):
    return APIRequestFactory().post("/auth/password", REMOTE_ADDR=address)


@pytest.fixture
def address() -> str:
    # The cache outlives a test (Redis in the PostgreSQL run): an address of its own.
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _rate(settings, rate: str) -> None:
    settings.MFA_ENROLL = {**settings.MFA_ENROLL, "AUTH_RATE": rate}


def test_a_parallel_burst_is_counted_request_by_request(settings, address):
    # A read-append-write log (DRF's SimpleRateThrottle) loses counts here and lets more
    # than the rate through; an atomic increment cannot.
    _rate(settings, "10/min")
    allowed = race(lambda _i: AuthRateThrottle().allow_request(_request(address), None), n=30)
    assert not [result for result in allowed if isinstance(result, Exception)]
    assert allowed.count(True) == 10
    assert allowed.count(False) == 20


class CountingCache:
    """The real cache, counting the operations the throttle makes on it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        method = getattr(cache, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


def test_a_check_is_one_cache_operation_whatever_the_rate(settings, address, monkeypatch):
    counting = CountingCache()
    monkeypatch.setattr(AuthRateThrottle, "cache", counting)
    monkeypatch.setattr(AuthRateThrottle, "timer", lambda self: 1_800_000_000.0)
    for rate in ("1000/min", "1000000/min"):
        _rate(settings, rate)
        counting.calls.clear()
        AuthRateThrottle().allow_request(_request(address + rate), None)
        assert counting.calls == ["incr", "add"]  # the window's first request
        counting.calls.clear()
        for _ in range(500):
            assert AuthRateThrottle().allow_request(_request(address + rate), None)
        assert counting.calls == ["incr"] * 500


def test_the_window_ends_and_retry_after_says_when(settings, address, monkeypatch):
    _rate(settings, "3/min")
    now = [1_800_000_000.0 + 50]  # 10 s before a minute's end (1,800,000,000 is one)
    monkeypatch.setattr(AuthRateThrottle, "timer", lambda self: now[0])
    throttles = [AuthRateThrottle() for _ in range(4)]
    assert [t.allow_request(_request(address), None) for t in throttles] == [True] * 3 + [False]
    assert throttles[3].wait() == 10
    now[0] += 9.5
    assert throttles[3].wait() == 1  # never less than a second
    assert not AuthRateThrottle().allow_request(_request(address), None)
    now[0] += 1  # the next minute
    assert AuthRateThrottle().allow_request(_request(address), None)


def test_other_addresses_have_their_own_count(settings, address):
    _rate(settings, "2/min")
    assert [AuthRateThrottle().allow_request(_request(address), None) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert AuthRateThrottle().allow_request(_request(address + "1"), None)


def test_no_rate_no_throttle_and_no_cache(settings, address, monkeypatch):
    counting = CountingCache()
    monkeypatch.setattr(AuthRateThrottle, "cache", counting)
    _rate(settings, None)
    assert all(AuthRateThrottle().allow_request(_request(address), None) for _ in range(50))
    assert counting.calls == []


def test_a_cache_without_an_incr_of_its_own_keeps_the_count_for_the_window(
    settings, address, monkeypatch, tmp_path
):
    # BaseCache.incr (file and database caches) is a get and a set with the cache's default
    # timeout: a count kept that way would die after TIMEOUT, long before an hour's window.
    import time

    from django.core.cache.backends.filebased import FileBasedCache

    monkeypatch.setattr(AuthRateThrottle, "cache", FileBasedCache(str(tmp_path), {"TIMEOUT": 1}))
    monkeypatch.setattr(AuthRateThrottle, "timer", lambda self: 1_800_000_000.0 + 60)
    _rate(settings, "3/hour")
    checks = [AuthRateThrottle().allow_request(_request(address), None) for _ in range(4)]
    assert checks == [True, True, True, False]
    later = time.time() + 5  # the cache's clock past its TIMEOUT, the window still open
    monkeypatch.setattr(time, "time", lambda: later)
    assert not AuthRateThrottle().allow_request(_request(address), None)


redis_only = pytest.mark.skipif(
    django_settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.redis.RedisCache",
    reason="Django's Redis cache backend: set REDIS_URL (the PostgreSQL + Redis pass does)",
)


@redis_only
def test_with_djangos_redis_backend_a_check_is_one_round_trip(settings, address, monkeypatch):
    from redis.client import Pipeline

    assert _redis_client(cache) is not None  # else the fast path is gone, silently
    sent: list[list[str]] = []
    real = Pipeline.execute

    def counting(self, *args, **kwargs):
        sent.append([str(command[0][0]) for command in self.command_stack])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counting)
    monkeypatch.setattr(AuthRateThrottle, "timer", lambda self: 1_800_000_000.0)
    _rate(settings, "5/min")
    checks = [AuthRateThrottle().allow_request(_request(address), None) for _ in range(7)]
    assert checks == [True] * 5 + [False] * 2
    # One round trip each: SET NX EX (a new counter's expiry), INCRBY; never EXISTS.
    assert sent == [["SET", "INCRBY"]] * 7
    key = f"throttle_mfa_auth_{address}_{1_800_000_000 // 60}"
    full_key = cache.make_and_validate_key(key)
    ttl = _redis_client(cache).get_client(full_key, write=True).ttl(full_key)
    assert 60 < ttl <= 120  # it outlives its window, and then goes
    assert cache.get(key) == 7  # readable through Django's cache


@redis_only
def test_redis_failing_mid_check_lets_the_request_through_and_says_so(
    settings, address, monkeypatch, caplog
):
    from redis.client import Pipeline
    from redis.exceptions import ConnectionError as RedisConnectionError

    def broken(self, *args, **kwargs):
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(Pipeline, "execute", broken)
    _rate(settings, "1/min")
    assert all(AuthRateThrottle().allow_request(_request(address), None) for _ in range(3))
    assert "cache unavailable: ConnectionError" in caplog.text


@redis_only
def test_a_redis_backend_with_an_incr_of_its_own_keeps_it(settings, address, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    calls: list[str] = []

    class Instrumented(RedisCache):
        def incr(self, key, delta=1, version=None):
            calls.append(key)
            return super().incr(key, delta, version)

    location = django_settings.CACHES["default"]["LOCATION"]
    instrumented = Instrumented(location, {"KEY_PREFIX": f"mfa-tests-{address}"})
    assert _redis_client(instrumented) is None
    monkeypatch.setattr(AuthRateThrottle, "cache", instrumented)
    _rate(settings, "5/min")
    assert AuthRateThrottle().allow_request(_request(address), None)
    assert AuthRateThrottle().allow_request(_request(address), None)
    assert len(calls) >= 2  # the site's incr was used, not bypassed


def test_other_caches_take_the_generic_path():
    class NotRedis:
        _cache = {}  # LocMemCache has a _cache too: a dict

    assert _redis_client(NotRedis()) is None
    assert _redis_client(object()) is None


def test_the_redis_client_is_built_once_per_pool_unless_the_cache_client_shards():
    pytest.importorskip("redis")
    from django.core.cache.backends.redis import RedisCacheClient

    from django_mfa_enroll.ratelimit import _write_client

    client = RedisCacheClient(["redis://127.0.0.1:6379/0"])  # connects on first command only
    first = _write_client(client, "a")
    assert _write_client(client, "b") is first
    assert first.connection_pool is client._get_connection_pool(True)
    client._pools.clear()  # a new pool: a client made for it
    again = _write_client(client, "a")
    assert again is not first and again.connection_pool is client._get_connection_pool(True)

    class Sharding(RedisCacheClient):
        def get_client(self, key=None, *, write=False):
            return ("asked", key, write)

    assert _write_client(Sharding(["redis://127.0.0.1:6379/0"]), "k") == ("asked", "k", True)
