"""When and how long to wait before retrying an Anypoint call.

Exponential backoff with full jitter (a random wait between 0 and ``base * 2**(n-1)``, capped),
unless the server says how long to wait: ``Retry-After`` (seconds or an HTTP date) on any
retryable answer, ``X-RateLimit-Reset`` (epoch seconds, Access Management) on 429 / 503. A wait
never runs past the caller's deadline: the policy gives up instead of sleeping into it.

``sleep``, ``clock`` (monotonic, the clock of deadlines), ``wall_clock`` (epoch seconds, for HTTP
dates and reset stamps) and ``random`` are injectable so that tests never really wait.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RATE_LIMIT_STATUSES = frozenset({429, 503})

# Below this, an X-RateLimit-Reset value is taken as "seconds from now", not an epoch stamp.
_EPOCH_THRESHOLD = 1_000_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them.

    ``max_attempts`` counts every attempt, the first included. A server hint longer than
    ``max_server_wait`` is not worth waiting for: the call fails with what it last got.
    """

    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_server_wait: float = 30.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    wall_clock: Callable[[], float] = field(default=time.time, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.max_server_wait < 0:
            raise ValueError("waits must not be negative")

    def is_retryable(self, status: int) -> bool:
        return status in self.retry_statuses

    def backoff(self, attempt: int) -> float:
        """Full-jitter wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** max(attempt - 1, 0))
        return self.random() * ceiling

    def server_wait(self, status: int, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for, in seconds, or ``None`` when it gave no usable hint."""
        wait = parse_retry_after(headers.get("Retry-After"), self.wall_clock())
        if wait is None and status in RATE_LIMIT_STATUSES:
            wait = parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), self.wall_clock())
        return wait

    def delay(self, attempt: int, status: int | None, headers: Mapping[str, str]) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to stop retrying.

        ``status`` is ``None`` after a timeout. Stops after ``max_attempts`` and when the server
        asks for a wait longer than ``max_server_wait``.
        """
        if attempt >= self.max_attempts:
            return None
        if status is None:
            return self.backoff(attempt)
        if not self.is_retryable(status):
            return None
        hint = self.server_wait(status, headers)
        if hint is None:
            return self.backoff(attempt)
        return hint if hint <= self.max_server_wait else None

    def time_left(self, deadline: float | None) -> float | None:
        """Seconds until ``deadline`` (a ``clock`` value), ``None`` when there is no deadline."""
        return None if deadline is None else deadline - self.clock()

    def wait(self, seconds: float, deadline: float | None) -> bool:
        """Sleep ``seconds`` unless that would reach ``deadline``; ``False`` means give up."""
        left = self.time_left(deadline)
        if left is not None and seconds >= left:
            return False
        if seconds > 0:
            self.sleep(seconds)
        return True


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch): delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with ones that say nothing
        return None
    return max(when.timestamp() - now, 0.0)


def parse_rate_limit_reset(value: str | None, now: float) -> float | None:
    """``X-RateLimit-Reset`` as seconds from ``now``.

    The contract says epoch seconds; small values are read as a delta, as some gateways send.
    """
    if value is None:
        return None
    try:
        reset = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    if reset < _EPOCH_THRESHOLD:
        return max(reset, 0.0)
    return max(reset - now, 0.0)
