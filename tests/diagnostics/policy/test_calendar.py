"""Business-hours calendar: table tests for the awkward days, properties for the arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.policy import (
    BusinessCalendar,
    BusinessHours,
    add_business_hours,
    business_hours_between,
    mulesoft_calendar,
    next_business_start,
)

MEL = ZoneInfo("Australia/Melbourne")
REDUCED = BusinessCalendar(BusinessHours(), skip_holidays=False)
CLOSED = BusinessCalendar(BusinessHours(), skip_holidays=True)
H = timedelta(hours=1)


def mel(*args: int) -> datetime:
    return datetime(*args, tzinfo=MEL)


# -- table tests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "reduced", "closed"),
    [
        pytest.param(
            mel(2026, 11, 6, 15), 8, mel(2026, 11, 9, 15), mel(2026, 11, 9, 15), id="friday-pm"
        ),
        pytest.param(
            mel(2026, 11, 7, 10), 8, mel(2026, 11, 9, 17), mel(2026, 11, 9, 17), id="weekend"
        ),
        pytest.param(
            mel(2026, 11, 2, 13), 8, mel(2026, 11, 3, 13), mel(2026, 11, 4, 13), id="melbourne-cup"
        ),
        pytest.param(
            mel(2026, 9, 24, 13), 8, mel(2026, 9, 25, 13), mel(2026, 9, 28, 13), id="afl-friday"
        ),
        pytest.param(
            mel(2027, 12, 24, 13), 8, mel(2027, 12, 27, 13), mel(2027, 12, 29, 13), id="xmas-2027"
        ),
        pytest.param(
            mel(2026, 12, 24, 13), 8, mel(2026, 12, 25, 13), mel(2026, 12, 29, 13), id="xmas-2026"
        ),
        pytest.param(
            mel(2026, 10, 30, 9), 40, mel(2026, 11, 5, 17), mel(2026, 11, 6, 17), id="week+cup"
        ),
    ],
)
def test_add_business_hours_on_awkward_days(
    start: datetime, hours: int, reduced: datetime, closed: datetime
) -> None:
    assert REDUCED.add(start, hours * H) == reduced
    assert CLOSED.add(start, hours * H) == closed
    assert REDUCED.between(start, reduced) == CLOSED.between(start, closed) == hours * H


def test_holiday_dates_come_from_the_holidays_package() -> None:
    assert REDUCED.holiday_name(date(2026, 11, 3)) == "Melbourne Cup Day"  # first Tuesday of Nov
    assert "AFL Grand Final" in (REDUCED.holiday_name(date(2026, 9, 25)) or "")
    assert REDUCED.holiday_name(date(2027, 12, 27)) == "Christmas Day (observed)"
    assert REDUCED.holiday_name(date(2027, 12, 28)) == "Boxing Day (observed)"
    assert REDUCED.holiday_name(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert REDUCED.holiday_name(date(2026, 11, 4)) is None


def test_holidays_between_lists_weekday_holidays_whose_hours_overlap() -> None:
    found = CLOSED.holidays_between(mel(2027, 12, 23, 10), mel(2028, 1, 4, 10))
    assert found == [
        (date(2027, 12, 27), "Christmas Day (observed)"),
        (date(2027, 12, 28), "Boxing Day (observed)"),
        (date(2028, 1, 3), "New Year's Day (observed)"),
    ]
    # Opened after the holiday's hours: it is not in the window.
    assert REDUCED.holidays_between(mel(2026, 11, 3, 17), mel(2026, 11, 5, 17)) == []


def test_april_dst_change_aedt_to_aest() -> None:
    # Sunday 4 April 2027, 03:00 AEDT -> 02:00 AEST.
    start = mel(2027, 4, 2, 15)
    due = REDUCED.add(start, 8 * H)
    assert due.isoformat() == "2027-04-05T15:00:00+10:00"
    assert due.astimezone(UTC) == datetime(2027, 4, 5, 5, tzinfo=UTC)
    assert start.isoformat().endswith("+11:00")
    assert REDUCED.between(start, due) == 8 * H


def test_october_dst_change_aest_to_aedt() -> None:
    # Sunday 4 October 2026, 02:00 AEST -> 03:00 AEDT.
    start = mel(2026, 10, 2, 15)
    due = REDUCED.add(start, 8 * H)
    assert due.isoformat() == "2026-10-05T15:00:00+11:00"
    assert due.astimezone(UTC) == datetime(2026, 10, 5, 4, tzinfo=UTC)
    assert REDUCED.between(start, due) == 8 * H


@pytest.mark.parametrize(
    ("day", "real_hours"), [(date(2027, 4, 4), 5), (date(2026, 10, 4), 3), (date(2026, 9, 27), 4)]
)
def test_hours_spanning_a_dst_change_count_real_time(day: date, real_hours: int) -> None:
    sunday_night = BusinessHours(open=time(1), close=time(5), weekdays=(6,))
    cal = BusinessCalendar(sunday_night)
    whole_day = (mel(day.year, day.month, day.day), mel(day.year, day.month, day.day, 23))
    assert cal.between(*whole_day) == real_hours * H
    assert cal.add(whole_day[0], real_hours * H).astimezone(MEL).hour == 5


def test_next_business_start_and_is_business_time() -> None:
    assert REDUCED.next_business_start(mel(2026, 11, 7, 10)) == mel(2026, 11, 9, 9)  # Saturday
    assert REDUCED.next_business_start(mel(2026, 11, 9, 11)) == mel(2026, 11, 9, 11)
    assert REDUCED.next_business_start(mel(2026, 11, 9, 17)) == mel(2026, 11, 10, 9)
    assert CLOSED.next_business_start(mel(2026, 11, 2, 18)) == mel(2026, 11, 4, 9)
    assert REDUCED.next_business_start(mel(2026, 11, 2, 18)) == mel(2026, 11, 3, 9)
    assert REDUCED.is_business_time(mel(2026, 11, 9, 9))
    assert not REDUCED.is_business_time(mel(2026, 11, 9, 17))
    assert next_business_start(mel(2026, 11, 7), REDUCED) == mel(2026, 11, 9, 9)


def test_inputs_and_outputs() -> None:
    start = datetime(2026, 11, 5, 22, tzinfo=UTC)  # Friday 09:00 in Melbourne
    due = add_business_hours(start, 2.5, REDUCED)
    assert due.isoformat() == "2026-11-06T11:30:00+11:00"
    assert business_hours_between(start, due, REDUCED) == 2.5
    assert REDUCED.add(start, timedelta(0)) == start
    assert REDUCED.between(due, start) == -2.5 * H
    with pytest.raises(ValueError, match="aware"):
        REDUCED.add(datetime(2026, 11, 6, 10), H)
    with pytest.raises(ValueError, match="negative"):
        REDUCED.add(start, -H)


def test_calendar_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="weekdays"):
        BusinessHours(weekdays=())
    with pytest.raises(ValueError, match="close"):
        BusinessHours(open=time(17), close=time(9))


# -- properties ---------------------------------------------------------------------------------

CALENDARS = [
    REDUCED,
    CLOSED,
    mulesoft_calendar("EST"),
    mulesoft_calendar("GMT"),
    mulesoft_calendar("AEST"),
]
BASE = datetime(2025, 1, 1, tzinfo=UTC)
instants = st.integers(0, 4 * 366 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))
durations = st.integers(0, 120 * 60).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from(CALENDARS)
PROPERTY = settings(deadline=None, max_examples=150, derandomize=True)


def lands_in_business_time(cal: BusinessCalendar, at: datetime) -> bool:
    """``at`` lies in ``(open, close]`` of a business interval: inside, or exactly a closing."""
    opens, closes = next(cal.intervals(at - timedelta(microseconds=1)))
    return opens < at <= closes


@PROPERTY
@given(cal=calendars, start=instants, amount=durations)
def test_adding_never_lands_outside_business_hours(
    cal: BusinessCalendar, start: datetime, amount: timedelta
) -> None:
    due = cal.add(start, amount)
    assert due.tzinfo == cal.zone
    if amount:
        assert due > start
        assert lands_in_business_time(cal, due)
    else:
        assert due == start


@PROPERTY
@given(cal=calendars, start=instants, a=durations, b=durations)
def test_adding_a_then_b_is_adding_a_plus_b(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert cal.add(cal.add(start, a), b) == cal.add(start, a + b)


@PROPERTY
@given(cal=calendars, start=instants, amount=durations)
def test_between_inverts_add(cal: BusinessCalendar, start: datetime, amount: timedelta) -> None:
    assert cal.between(start, cal.add(start, amount)) == amount


@PROPERTY
@given(cal=calendars, a=instants, b=instants, c=instants)
def test_between_is_additive_and_antisymmetric(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    c = min(c, a + timedelta(days=120))
    b = min(b, c)
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)
    assert cal.between(c, a) == -cal.between(a, c)
    assert timedelta(0) <= cal.between(a, c) <= c - a


@PROPERTY
@given(cal=calendars, start=instants)
def test_next_business_start_is_open_and_nothing_elapses_before_it(
    cal: BusinessCalendar, start: datetime
) -> None:
    clock = cal.next_business_start(start)
    assert clock >= start
    assert cal.is_business_time(clock)
    assert cal.between(start, clock) == timedelta(0)
