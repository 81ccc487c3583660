"""A thread-safe token bucket per host, shared by every client of a run.

Each attempt takes one token for its host. Tokens refill at ``rate_per_second`` up to ``burst``.
A caller that finds the bucket empty reserves the next token (the balance goes negative) and
sleeps exactly until it is due, outside the lock: no busy-waiting, and waiting callers are served
in the order they arrived. A caller whose token would only be due after its deadline gives its
reservation back and is told no.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class RateLimiter(Protocol):
    """What the client needs of a limiter: :class:`HostRateLimiter`, or one shared between
    processes (the service injects a Redis-backed one)."""

    def acquire(self, host: str, deadline: float | None = None) -> bool: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class HostRateLimiter:
    """``acquire(host, deadline)`` before each request to ``host``."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_second = float(rate_per_second)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, host: str, deadline: float | None = None) -> bool:
        """Take a token for ``host``, waiting for it if needed.

        ``deadline`` is a value of the limiter's clock (``time.monotonic()`` by default).
        Returns ``False``, without waiting, when the token would only be due at or after it.
        """
        key = host.lower()
        with self._lock:
            now = self._clock()
            wait = self._reserve(key, now)
            if wait > 0 and deadline is not None and now + wait >= deadline:
                self._buckets[key].tokens += 1  # give the reservation back
                return False
        if wait > 0:
            self._sleep(wait)
        return True

    def _reserve(self, key: str, now: float) -> float:
        """Take one token (possibly on credit); seconds until it is due. Lock held."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        elapsed = max(now - bucket.updated, 0.0)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_second)
        bucket.updated = now
        bucket.tokens -= 1
        return 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate_per_second
