"""One Anypoint budget for every process: a rate limit per organization and host, and the token
cache, both on Redis (``MULESIGHT_REDIS_URL``), injected into the engine's client.

- :class:`RedisRateLimiter` — a token bucket per ``(organization, host)`` kept in a Redis hash and
  updated by one Lua script on Redis's own clock, so N workers on M hosts together never exceed
  ``MULESIGHT_ANYPOINT_RATE_PER_S`` (bursts up to ``MULESIGHT_ANYPOINT_BURST``). Same contract as
  :class:`~diagnostics.anypoint.HostRateLimiter`: a caller whose turn would come after its
  deadline gives its reservation back and is told no.
- :class:`RedisTokenCache` — the client's token cache (a mapping), Fernet-encrypted with the
  service key (a token is a secret), expiring in Redis with the token.

Redis unreachable: the limiter falls back to this process's own bucket and the cache to a miss,
so a run never fails because the shared budget is away (it is only less shared for a while).
Used in live mode only: the simulated Anypoint has no limit to share.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from functools import lru_cache
from typing import Any

from app.crypto import SecretBox, SecretDecryptionError
from diagnostics.anypoint import CachedToken, HostRateLimiter

log = logging.getLogger(__name__)

# KEYS[1] bucket; ARGV rate/s, burst, longest acceptable wait in ms (-1: any). Returns the wait in
# ms as a string (Lua numbers would be truncated to integers), or "-1" when it is refused.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate, burst, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000) - 1
local wait = 0
if tokens < 0 then wait = -tokens * 1000 / rate end
if max_wait >= 0 and wait > 0 and wait >= max_wait then
  tokens = tokens + 1
  wait = -1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate) * 1000) + 60000)
return tostring(wait)
"""


class RedisRateLimiter:
    """``acquire(host, deadline)`` against the shared bucket of ``scope`` (the organization)."""

    def __init__(
        self,
        redis: Any,
        *,
        scope: str,
        rate_per_second: float,
        burst: int,
        prefix: str = "mulesight",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be positive and burst at least 1")
        self.redis = redis
        self.scope = scope
        self.rate_per_second = float(rate_per_second)
        self.burst = int(burst)
        self.prefix = prefix
        self._clock = clock
        self._sleep = sleep
        self._take = redis.register_script(_TAKE)
        self._fallback = HostRateLimiter(rate_per_second, burst, clock=clock, sleep=sleep)

    def key(self, host: str) -> str:
        return f"{self.prefix}:anypoint-rate:{self.scope}:{host.lower()}"

    def acquire(self, host: str, deadline: float | None = None) -> bool:
        max_wait_ms = -1.0 if deadline is None else max(0.0, deadline - self._clock()) * 1000
        try:
            answer = self._take(
                keys=[self.key(host)], args=[self.rate_per_second, self.burst, max_wait_ms]
            )
        except Exception as exc:  # Redis away: this process's own bucket until it is back
            log.warning("shared Anypoint rate limit unavailable (%s): using a local one", exc)
            return self._fallback.acquire(host, deadline)
        wait_ms = float(answer.decode() if isinstance(answer, bytes) else answer)
        if wait_ms < 0:
            return False
        if wait_ms > 0:
            self._sleep(wait_ms / 1000)
        return True


class RedisTokenCache(MutableMapping[Any, CachedToken]):
    """The client's token cache on Redis. ``timer`` is wall time: shared between hosts."""

    def __init__(
        self,
        redis: Any,
        box: SecretBox,
        *,
        prefix: str = "mulesight",
        timer: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.box = box
        self.prefix = prefix
        self.timer = timer

    def _key(self, key: Any) -> str:
        digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()[:32]
        return f"{self.prefix}:anypoint-token:{digest}"

    def __getitem__(self, key: Any) -> CachedToken:
        try:
            raw = self.redis.get(self._key(key))
        except Exception as exc:
            log.warning("shared Anypoint token cache unavailable (%s)", exc)
            raise KeyError(key) from None
        if raw is None:
            raise KeyError(key)
        try:
            data = json.loads(self.box.decrypt(raw.decode("ascii")))
        except (SecretDecryptionError, ValueError, UnicodeDecodeError):
            raise KeyError(key) from None  # written under another key: fetch a new token
        return CachedToken(str(data["value"]), float(data["expires_at"]))

    def __setitem__(self, key: Any, token: CachedToken) -> None:
        ttl_ms = int((token.expires_at - self.timer()) * 1000)
        if ttl_ms <= 0:
            return
        sealed = self.box.encrypt(
            json.dumps({"value": token.value, "expires_at": token.expires_at})
        )
        try:
            self.redis.set(self._key(key), sealed, px=ttl_ms)
        except Exception as exc:
            log.warning("shared Anypoint token cache unavailable (%s)", exc)

    def __delitem__(self, key: Any) -> None:
        try:
            self.redis.delete(self._key(key))
        except Exception as exc:
            log.warning("shared Anypoint token cache unavailable (%s)", exc)

    def __iter__(self) -> Iterator[Any]:
        return iter(())  # keys are hashed: the cache cannot list what it holds

    def __len__(self) -> int:
        return 0


@lru_cache(maxsize=4)
def redis_client(url: str) -> Any:
    """One Redis client (connection pool) per URL and process."""
    from redis import Redis

    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def shared_budget(
    config: Mapping[str, Any], box: SecretBox, organization_id: str
) -> tuple[RedisRateLimiter, RedisTokenCache] | None:
    """The shared limiter (of ``organization_id``) and token cache, or ``None`` without Redis."""
    url = config.get("MULESIGHT_REDIS_URL")
    if not url:
        return None
    redis = redis_client(str(url))
    prefix = str(config.get("MULESIGHT_QUEUE_NAME") or "mulesight")
    limiter = RedisRateLimiter(
        redis,
        scope=organization_id or "-",
        rate_per_second=float(config.get("MULESIGHT_ANYPOINT_RATE_PER_S") or 20),
        burst=int(config.get("MULESIGHT_ANYPOINT_BURST") or 40),
        prefix=prefix,
    )
    return limiter, RedisTokenCache(redis, box, prefix=prefix)


__all__ = ["RedisRateLimiter", "RedisTokenCache", "redis_client", "shared_budget"]
