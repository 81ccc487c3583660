"""RetryPolicy: backoff with full jitter, server hints, and never sleeping past the deadline."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from diagnostics.anypoint.retry import RetryPolicy, parse_rate_limit_reset, parse_retry_after

NOW = 1_700_000_000.0


class FakeClock:
    def __init__(self, start: float = 50.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _policy(clock: FakeClock | None = None, *, random: float = 1.0, **kwargs) -> RetryPolicy:
    clock = clock or FakeClock()
    return RetryPolicy(
        sleep=clock.sleep, clock=clock, wall_clock=lambda: NOW, random=lambda: random, **kwargs
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        (" 0.5 ", 0.5),
        ("-3", 0.0),
        (formatdate(NOW + 7, usegmt=True), 7.0),
        (formatdate(NOW - 7, usegmt=True), 0.0),
        ("soon", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(str(int(NOW + 4)), 4.0), (str(int(NOW - 4)), 0.0), ("12", 12.0), ("x", None), (None, None)],
)
def test_parse_rate_limit_reset(value, expected):
    assert parse_rate_limit_reset(value, NOW) == expected


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling():
    assert [_policy(random=1.0, backoff_max=3.0).backoff(n) for n in range(1, 6)] == [
        0.5,
        1.0,
        2.0,
        3.0,
        3.0,
    ]
    assert _policy(random=0.0).backoff(3) == 0.0
    assert _policy(random=0.25).backoff(3) == 0.5


def test_delay_prefers_the_server_hint():
    policy = _policy()
    assert policy.delay(1, 429, {"Retry-After": "4"}) == 4.0
    assert policy.delay(1, 503, {"X-RateLimit-Reset": str(int(NOW + 6))}) == 6.0
    assert policy.delay(1, 503, {"Retry-After": "1", "X-RateLimit-Reset": str(int(NOW + 6))}) == 1.0


def test_rate_limit_reset_is_ignored_on_server_errors():
    # Access Management sends X-RateLimit-* on every answer; a 500 is not rate limiting.
    assert _policy().delay(1, 500, {"X-RateLimit-Reset": str(int(NOW + 60))}) == 0.5


@pytest.mark.parametrize(
    ("attempt", "status", "headers", "expected"),
    [
        (3, 500, {}, None),  # max_attempts reached
        (1, 404, {}, None),  # not retryable
        (1, 429, {"Retry-After": "31"}, None),  # longer than max_server_wait
        (1, None, {}, 0.5),  # a timeout: plain backoff
    ],
)
def test_delay_stops(attempt, status, headers, expected):
    assert _policy(max_attempts=3, max_server_wait=30).delay(attempt, status, headers) == expected


def test_wait_sleeps_within_the_deadline():
    clock = FakeClock(start=10.0)
    policy = _policy(clock)

    assert policy.wait(2.0, deadline=13.0) is True
    assert policy.wait(0.5, deadline=None) is True
    assert clock.sleeps == [2.0, 0.5]


def test_wait_never_sleeps_into_the_deadline():
    clock = FakeClock(start=10.0)
    policy = _policy(clock)

    assert policy.wait(3.0, deadline=13.0) is False
    assert policy.wait(0.1, deadline=9.0) is False
    assert clock.sleeps == []


def test_time_left():
    clock = FakeClock(start=10.0)
    assert _policy(clock).time_left(12.5) == 2.5
    assert _policy(clock).time_left(None) is None


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"backoff_base": -1.0}])
def test_rejects_nonsense(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
