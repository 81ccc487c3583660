"""The freshness rule of report.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.freshness import cache_freshness, endpoints_freshness, worst_freshness
from diagnostics.model import CacheEntry

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age_h", "interval", "expected"),
    [
        (1, 24, "fresh"),
        (24, 24, "fresh"),
        (25, 24, "stale"),
        (48, 24, "stale"),
        (49, 24, "expired"),
        (3, 1, "expired"),
        (2, 1, "stale"),
    ],
)
def test_age_against_the_sync_interval(age_h, interval, expected) -> None:
    entry = CacheEntry("api_manager", last_success=NOW - timedelta(hours=age_h))
    assert cache_freshness(entry, NOW, interval).state == expected


def test_never_refreshed_and_stale_fallback() -> None:
    assert cache_freshness(None, NOW, 24).state == "never"
    assert cache_freshness(CacheEntry("exchange"), NOW, 24).state == "never"
    failed = CacheEntry("exchange", last_success=NOW - timedelta(hours=2), last_attempt_failed=True)
    assert cache_freshness(failed, NOW, 24).stale_fallback is True


def test_endpoints_cache_is_seeded_not_scheduled() -> None:
    assert endpoints_freshness(None, "1.0.0").state == "never"
    old = CacheEntry("endpoints", last_success=NOW - timedelta(days=30), asset_version="1.0.0")
    assert endpoints_freshness(old, "1.0.0").state == "fresh"
    assert endpoints_freshness(old, "1.1.0").state == "stale"


def test_worst_freshness_order() -> None:
    assert worst_freshness(["fresh", "stale", "never"]) == "never"
    assert worst_freshness(["never", "expired"]) == "expired"
    assert worst_freshness(["fresh", "stale"]) == "stale"
