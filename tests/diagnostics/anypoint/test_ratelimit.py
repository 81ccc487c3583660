"""HostRateLimiter with an injected clock: burst, refill, per-host buckets, deadlines, threads."""

from __future__ import annotations

import threading

import pytest

from diagnostics.anypoint.ratelimit import HostRateLimiter


class FakeClock:
    def __init__(self, start: float = 100.0, *, frozen: bool = False) -> None:
        self.now = start
        self.frozen = frozen
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if not self.frozen:
                self.now += seconds


def _limiter(clock: FakeClock, rate: float = 4.0, burst: int = 2) -> HostRateLimiter:
    return HostRateLimiter(rate, burst, clock=clock, sleep=clock.sleep)


def test_burst_is_free_then_callers_wait_for_refills():
    clock = FakeClock()
    limiter = _limiter(clock)

    assert all(limiter.acquire("a.example") for _ in range(4))

    assert clock.sleeps == [0.25, 0.25]


def test_tokens_refill_over_time_up_to_the_burst():
    clock = FakeClock()
    limiter = _limiter(clock)
    limiter.acquire("a.example")
    limiter.acquire("a.example")

    clock.now += 10  # long idle: refills to the burst, not to 40 tokens
    for _ in range(3):
        limiter.acquire("a.example")

    assert clock.sleeps == [0.25]


def test_hosts_have_their_own_buckets():
    clock = FakeClock()
    limiter = _limiter(clock, burst=1)

    limiter.acquire("a.example")
    limiter.acquire("B.example")
    limiter.acquire("b.example")

    assert clock.sleeps == [0.25]


def test_refuses_without_waiting_when_the_token_is_due_after_the_deadline():
    clock = FakeClock()
    limiter = _limiter(clock, rate=1.0, burst=1)
    limiter.acquire("a.example")

    assert limiter.acquire("a.example", deadline=clock.now + 0.5) is False
    assert clock.sleeps == []
    # the refused reservation was given back: the next caller waits one interval, not two
    assert limiter.acquire("a.example", deadline=clock.now + 5) is True
    assert clock.sleeps == [1.0]


def test_concurrent_callers_each_get_their_own_slot():
    clock = FakeClock(frozen=True)
    limiter = _limiter(clock, rate=10.0, burst=2)
    start = threading.Barrier(12)

    def worker() -> None:
        start.wait()
        limiter.acquire("a.example")

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(round(s, 6) for s in clock.sleeps) == [round(n / 10, 6) for n in range(1, 11)]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_rejects_nonsense(rate, burst):
    with pytest.raises(ValueError):
        HostRateLimiter(rate, burst)
