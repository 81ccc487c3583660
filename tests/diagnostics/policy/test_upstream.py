"""MuleSoft response targets, business days per zone, and scheduled maintenance windows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from diagnostics.policy import in_maintenance_window, mulesoft_calendar, upstream_response

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
CHI = ZoneInfo("America/Chicago")
LON = ZoneInfo("Europe/London")
SYD = ZoneInfo("Australia/Sydney")
MEL = ZoneInfo("Australia/Melbourne")


ZONE_TZ = {"EST": NY, "PST": LA, "GMT": LON, "AEST": SYD}


@pytest.mark.parametrize(
    ("tier", "severity", "zone", "opened", "due", "round_the_clock"),
    [
        # Gold: 1 business day = 9 business hours, every severity.
        ("gold", "S1", "EST", (2026, 11, 9, 10), (2026, 11, 10, 10), False),
        ("gold", "S4", "EST", (2026, 11, 13, 16), (2026, 11, 16, 16), False),
        # Thanksgiving (Thu 26 Nov 2026) is closed.
        ("gold", "S2", "EST", (2026, 11, 25, 16), (2026, 11, 27, 16), False),
        # Platinum / Titanium S1 run 24x7x365, even on a Saturday.
        ("platinum", "S1", "PST", (2026, 11, 28, 19), (2026, 11, 28, 21), True),
        ("titanium", "S1", "PST", (2026, 11, 28, 19), (2026, 11, 28, 19, 45), True),
        # S2 4 business hours, S3-S4 8 business hours.
        ("platinum", "S2", "PST", (2026, 11, 13, 15), (2026, 11, 16, 10), False),
        ("titanium", "S3", "PST", (2026, 11, 13, 15), (2026, 11, 16, 14), False),
        # England: Christmas Day and Boxing Day (observed, Mon 28 Dec 2026) are closed.
        ("platinum", "S3", "GMT", (2026, 12, 24, 16), (2026, 12, 29, 15), False),
        # NSW Labour Day (Mon 5 Oct 2026) is closed, and Sydney moves to AEDT that weekend.
        ("gold", "S3", "AEST", (2026, 10, 2, 16), (2026, 10, 6, 16), False),
    ],
)
def test_response_due(
    tier: str,
    severity: str,
    zone: str,
    opened: tuple[int, ...],
    due: tuple[int, ...],
    round_the_clock: bool,
) -> None:
    expected = datetime(*due, tzinfo=ZONE_TZ[zone])
    result = upstream_response(tier, severity, datetime(*opened, tzinfo=ZONE_TZ[zone]), zone)
    assert result.response_due == expected
    assert result.round_the_clock is round_the_clock
    data = result.to_dict()
    assert data["response_due"] == expected.astimezone(MEL).isoformat()
    assert data["response_due_utc"] == expected.astimezone(UTC).isoformat()
    assert data["response_due_local"] == expected.isoformat()


def test_json_shape() -> None:
    data = upstream_response("Gold", "s2", datetime(2026, 11, 9, 10, tzinfo=NY), "est").to_dict()
    assert {
        "tier": "gold",
        "severity": "S2",
        "zone": "EST",
        "round_the_clock": False,
        "in_maintenance_window": False,
    }.items() <= data.items()
    assert data["response_due"] == "2026-11-11T02:00:00+11:00"
    assert "S2" in data["what_to_file"]


def test_zone_mapping() -> None:
    expected = {
        "EST": ("America/New_York", "US", None),
        "PST": ("America/Los_Angeles", "US", None),
        "GMT": ("Europe/London", "GB", "ENG"),
        "AEST": ("Australia/Sydney", "AU", "NSW"),
    }
    for zone, (tz, country, subdiv) in expected.items():
        hours = mulesoft_calendar(zone).hours
        assert (hours.zone, hours.holiday_country, hours.holiday_subdiv) == (tz, country, subdiv)
        assert (hours.open.hour, hours.close.hour) == (8, 17)


def test_naive_opened_is_read_in_the_selected_zone() -> None:
    result = upstream_response("gold", "S3", datetime(2026, 11, 9, 10), "GMT")
    assert result.opened_at == datetime(2026, 11, 9, 10, tzinfo=LON)
    assert result.notes


def test_default_zone_and_bad_values() -> None:
    assert upstream_response("gold", "S3", datetime(2026, 11, 9, 10, tzinfo=SYD)).zone == "AEST"
    with pytest.raises(ValueError, match="tier"):
        upstream_response("bronze", "S1", datetime(2026, 11, 9, 10, tzinfo=SYD))
    with pytest.raises(ValueError, match="severity"):
        upstream_response("gold", "S5", datetime(2026, 11, 9, 10, tzinfo=SYD))
    with pytest.raises(ValueError, match="zone"):
        upstream_response("gold", "S1", datetime(2026, 11, 9, 10, tzinfo=SYD), "CET")


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (datetime(2026, 11, 13, 17, 59, tzinfo=LA), False),
        (datetime(2026, 11, 13, 18, 0, tzinfo=LA), True),
        (datetime(2026, 11, 14, 12, 0, tzinfo=LA), True),
        (datetime(2026, 11, 15, 12, 59, tzinfo=LA), True),
        (datetime(2026, 11, 15, 13, 0, tzinfo=LA), False),
        (datetime(2026, 11, 16, 9, 0, tzinfo=LA), False),
        # Given in another zone: Saturday 10:00 Melbourne is Friday 15:00 Pacific.
        (datetime(2026, 11, 14, 10, 0, tzinfo=MEL), False),
        (datetime(2026, 11, 14, 14, 0, tzinfo=MEL), True),
        # Across the US DST changes (Sunday 8 March and 1 November 2026), in wall-clock time.
        (datetime(2026, 3, 8, 12, 30, tzinfo=LA), True),
        (datetime(2026, 3, 8, 20, 30, tzinfo=UTC), False),  # 13:30 PDT
        (datetime(2026, 11, 1, 20, 30, tzinfo=UTC), True),  # 12:30 PST
    ],
)
def test_us_maintenance_window(at: datetime, inside: bool) -> None:
    assert in_maintenance_window(at, "us") is inside


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        (datetime(2026, 11, 10, 16, 59, tzinfo=CHI), False),
        (datetime(2026, 11, 10, 17, 0, tzinfo=CHI), True),
        (datetime(2026, 11, 10, 21, 59, tzinfo=CHI), True),
        (datetime(2026, 11, 10, 22, 0, tzinfo=CHI), False),
        (datetime(2026, 11, 11, 18, 0, tzinfo=CHI), False),  # Wednesday
        (datetime(2026, 11, 13, 19, 0, tzinfo=LA), False),  # the US window does not apply
    ],
)
def test_gov_maintenance_window(at: datetime, inside: bool) -> None:
    assert in_maintenance_window(at, "gov") is inside


def test_control_planes_without_a_window_and_naive_times() -> None:
    saturday = datetime(2026, 11, 14, 12, tzinfo=LA)
    assert in_maintenance_window(saturday, "eu") is False
    assert in_maintenance_window(saturday, "custom") is False
    assert in_maintenance_window(saturday, "US") is True
    with pytest.raises(ValueError, match="aware"):
        in_maintenance_window(datetime(2026, 11, 14, 12), "us")


def test_maintenance_is_flagged_on_the_response() -> None:
    result = upstream_response("platinum", "S1", datetime(2026, 11, 14, 12, tzinfo=LA), "PST")
    assert result.in_maintenance_window is True
    assert result.control_plane == "us"
    gov = upstream_response(
        "platinum", "S1", datetime(2026, 11, 14, 12, tzinfo=LA), "PST", control_plane="gov"
    )
    assert gov.in_maintenance_window is False
