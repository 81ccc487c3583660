"""One Anypoint budget across processes, on the real Redis: a shared token bucket per organization
and host, and a shared, encrypted token cache (each test under its own key prefix)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from flask import Flask

from app.crypto import SecretBox
from app.services.anypoint_budget import RedisRateLimiter, RedisTokenCache, shared_budget
from diagnostics.anypoint import TOKEN_PATH, AnypointClient, CachedToken
from diagnostics.model import Connection

BASE = "https://anypoint.mulesoft.com"
HOST = "anypoint.mulesoft.com"


@pytest.fixture
def redis() -> Iterator[Any]:
    redis_module = pytest.importorskip("redis")
    client = redis_module.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis_module.exceptions.ConnectionError:
        pytest.skip("no Redis server answers at 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def prefix(redis: Any) -> Iterator[str]:
    name = f"mulesight-test-{uuid.uuid4().hex[:12]}"
    yield name
    for key in redis.scan_iter(f"{name}:*"):
        redis.delete(key)


class FakeTime:
    """The caller's clock and sleep; sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(redis: Any, prefix: str, time: FakeTime, scope: str = "org-1") -> RedisRateLimiter:
    return RedisRateLimiter(
        redis,
        scope=scope,
        rate_per_second=1,
        burst=2,
        prefix=prefix,
        clock=time.clock,
        sleep=time.sleep,
    )


def test_two_processes_share_one_bucket_per_organization(redis: Any, prefix: str) -> None:
    one, two = FakeTime(), FakeTime()
    first, second = limiter(redis, prefix, one), limiter(redis, prefix, two)
    assert first.acquire(HOST) and second.acquire(HOST)  # the burst of 2, between them
    assert one.slept == [] and two.slept == []
    assert first.acquire(HOST)  # the third call waits for the refill: about a second
    assert len(one.slept) == 1 and 0.5 < one.slept[0] <= 1.0
    other_org = FakeTime()
    assert limiter(redis, prefix, other_org, scope="org-2").acquire(HOST)
    assert other_org.slept == []  # another organization has its own budget


def test_a_turn_after_the_deadline_is_refused_and_given_back(redis: Any, prefix: str) -> None:
    time = FakeTime()
    shared = limiter(redis, prefix, time)
    assert shared.acquire(HOST) and shared.acquire(HOST)
    assert shared.acquire(HOST, deadline=time.now + 0.1) is False
    assert time.slept == []
    assert shared.acquire(HOST)  # the refused reservation was returned: one wait, not two
    assert len(time.slept) == 1 and time.slept[0] <= 1.0


def test_without_redis_the_limiter_falls_back_to_its_own_bucket(prefix: str) -> None:
    from redis import Redis

    time = FakeTime()
    away = limiter(Redis.from_url("redis://127.0.0.1:9/0"), prefix, time)
    assert away.acquire(HOST) and away.acquire(HOST) and away.acquire(HOST)
    assert time.slept == [1.0]


def connection() -> Connection:
    return Connection(
        client_id="ca-1",
        client_secret="secret-Zq8",
        organization_id="org-1",
        control_plane="us",
        base_url=BASE,
    )


def test_processes_share_the_token_and_it_is_encrypted(redis: Any, prefix: str) -> None:
    box = SecretBox("a-service-key-for-the-budget-tests")
    with responses.RequestsMock() as anypoint:
        token_call = anypoint.post(
            f"{BASE}{TOKEN_PATH}", json={"access_token": "tok-Qw7", "expires_in": 3600}
        )
        anypoint.get(f"{BASE}/accounts/api/me", json={"user": {}})
        anypoint.get(f"{BASE}/accounts/api/me", json={"user": {}})
        for _process in range(2):  # a client per "process", each with its own cache object
            cache = RedisTokenCache(redis, box, prefix=prefix)
            with AnypointClient(connection(), token_cache=cache) as client:
                assert client.get("/accounts/api/me").status == 200
        assert token_call.call_count == 1
    stored = [redis.get(key) for key in redis.scan_iter(f"{prefix}:anypoint-token:*")]
    assert len(stored) == 1 and b"tok-Qw7" not in stored[0]


def test_a_rejected_shared_token_is_dropped_and_fetched_again(redis: Any, prefix: str) -> None:
    box = SecretBox("a-service-key-for-the-budget-tests")
    with responses.RequestsMock() as anypoint:
        anypoint.post(f"{BASE}{TOKEN_PATH}", json={"access_token": "old", "expires_in": 3600})
        anypoint.post(f"{BASE}{TOKEN_PATH}", json={"access_token": "new", "expires_in": 3600})
        anypoint.get(f"{BASE}/accounts/api/me", json={})
        anypoint.get(f"{BASE}/accounts/api/me", status=401)
        anypoint.get(f"{BASE}/accounts/api/me", json={})
        cache = RedisTokenCache(redis, box, prefix=prefix)
        with AnypointClient(connection(), token_cache=cache) as client:
            client.get("/accounts/api/me")
            assert client.get("/accounts/api/me").status == 200  # 401, re-authenticated
        auth = [
            c.request.headers.get("Authorization") for c in anypoint.calls if "me" in c.request.url
        ]
    assert auth == ["Bearer old", "Bearer old", "Bearer new"]


def test_an_expired_entry_is_not_stored(redis: Any, prefix: str) -> None:
    cache = RedisTokenCache(redis, SecretBox("k" * 32), prefix=prefix, timer=lambda: 1000.0)
    cache["k"] = CachedToken("v", 999.0)
    assert cache.get("k") is None
    cache["k"] = CachedToken("v", 2000.0)
    assert cache["k"] == CachedToken("v", 2000.0)
    assert 0 < redis.pttl(next(redis.scan_iter(f"{prefix}:anypoint-token:*"))) <= 1_000_000
    del cache["k"]
    assert cache.get("k") is None


def test_the_budget_is_shared_in_live_mode_with_redis_only(app: Flask, prefix: str) -> None:
    box = app.extensions["secret_box"]
    assert shared_budget(app.config, box, "org-1") is None
    app.config.update(MULESIGHT_REDIS_URL="redis://127.0.0.1:6379/0", MULESIGHT_QUEUE_NAME=prefix)
    budget = shared_budget(app.config, box, "org-1")
    assert budget is not None
    limiter_, cache = budget
    assert limiter_.key(HOST) == f"{prefix}:anypoint-rate:org-1:{HOST}"
    assert (limiter_.rate_per_second, limiter_.burst) == (20, 40)
    assert isinstance(cache, RedisTokenCache)
