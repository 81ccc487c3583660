"""Monthly uptime, service-credit bands and amounts, annual incidents and contacts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.policy import monthly_uptime, service_credit, support_allowance
from diagnostics.policy.credit import minutes_in_month, parse_month


@pytest.mark.parametrize(
    ("minutes", "year", "month", "uptime"),
    [
        (0, 2026, 6, 100.0),
        (216, 2026, 6, 99.5),  # 30 days = 43,200 minutes
        (864, 2026, 6, 98.0),
        (43200, 2026, 6, 0.0),
        (4032, 2026, 2, 90.0),  # 28 days = 40,320 minutes
        (4176, 2028, 2, 90.0),  # leap year: 41,760 minutes
        (22, 2026, 1, 99.950717),  # 31 days = 44,640 minutes, rounded to 6 places
    ],
)
def test_monthly_uptime(minutes: int, year: int, month: int, uptime: float) -> None:
    assert monthly_uptime(minutes, year, month) == uptime


def test_monthly_uptime_rejects_impossible_minutes() -> None:
    with pytest.raises(ValueError, match="negative"):
        monthly_uptime(-1, 2026, 6)
    with pytest.raises(ValueError, match="exceed"):
        monthly_uptime(43201, 2026, 6)


def test_parse_month() -> None:
    assert parse_month("2026-02") == (2026, 2)
    assert minutes_in_month(2026, 2) == 40320
    for bad in ("2026-13", "2026-2", "26-02", "2026/02", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


@pytest.mark.parametrize(
    ("uptime", "percent"),
    [
        (100, 0),
        (99.95, 0),
        (99.9499, 5),
        (99.5, 5),
        (99.4999, 10),
        (99.45, 10),  # the seed's table leaves 99.4-99.5 unlisted: it falls in the 10 % band
        (99.4, 10),
        (98, 10),
        (97.9999, 15),
        (0, 15),
    ],
)
def test_credit_bands(uptime: float, percent: float) -> None:
    assert service_credit(uptime).credit_percent == percent


def test_credit_amount() -> None:
    result = service_credit(99.9, annual_fee=120_000, vcores_affected=2, vcores_total=8)
    assert result.credit_amount == 125.0  # 5 % x 10,000 x 2/8
    assert service_credit(97, 100_000, 1, 3).credit_amount == 416.67  # 15 % x 8,333.33 / 3
    assert service_credit(99.99, 120_000, 2, 8).credit_amount == 0.0
    data = service_credit(99.9).to_dict()
    assert data["credit_amount"] is None
    assert {"monthly_uptime_percent", "credit_percent", "credit_amount"} <= data.keys()
    assert data["conditions"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"annual_fee": 1000}, "go together"),
        ({"annual_fee": 1000, "vcores_affected": 3, "vcores_total": 2}, "affected"),
        ({"annual_fee": -1, "vcores_affected": 1, "vcores_total": 2}, "fee"),
        ({"annual_fee": 1, "vcores_affected": 1, "vcores_total": 0}, "total"),
    ],
)
def test_credit_rejects_bad_amount_inputs(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        service_credit(99, **kwargs)


@pytest.mark.parametrize("uptime", [-0.1, 100.01])
def test_credit_rejects_impossible_uptime(uptime: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        service_credit(uptime)


@settings(deadline=None, max_examples=100, derandomize=True)
@given(
    a=st.floats(0, 100, allow_nan=False),
    b=st.floats(0, 100, allow_nan=False),
    fee=st.integers(0, 10_000_000),
    total=st.integers(1, 2048),
    data=st.data(),
)
def test_lower_uptime_never_earns_less_credit(
    a: float, b: float, fee: int, total: int, data: st.DataObject
) -> None:
    low, high = sorted((a, b))
    affected = data.draw(st.integers(0, total))
    worse = service_credit(low, fee, affected, total)
    better = service_credit(high, fee, affected, total)
    assert worse.credit_percent >= better.credit_percent
    assert worse.credit_amount is not None and better.credit_amount is not None
    assert worse.credit_amount >= better.credit_amount
    assert 0 <= worse.credit_amount <= fee / 12 * 0.15 + 0.01  # cents rounding


@pytest.mark.parametrize(
    ("vcores", "contacts", "gold_incidents"),
    [
        (1, 2, 20),
        (7, 2, 20),
        (0.5, 2, 20),
        (8, 5, 30),
        (63, 5, 30),
        (64, 10, 40),
        (255, 10, 40),
        (256, 15, 60),
        (511, 15, 60),
        (512, 20, 80),
        (1023, 20, 80),
        (1024, 25, 100),
        (5000, 25, 100),
    ],
)
def test_support_allowance(vcores: float, contacts: int, gold_incidents: int) -> None:
    gold = support_allowance(vcores, "gold")
    assert (gold.designated_contacts, gold.annual_incidents) == (contacts, gold_incidents)
    for tier in ("platinum", "titanium"):
        unlimited = support_allowance(vcores, tier)
        assert (unlimited.designated_contacts, unlimited.annual_incidents) == (contacts, None)


def test_support_allowance_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="positive"):
        support_allowance(0, "gold")
    with pytest.raises(ValueError, match="tier"):
        support_allowance(8, "silver")
