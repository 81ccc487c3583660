"""Business-hours calendars and business-time arithmetic.

A calendar is a set of weekly opening hours in one zone (local wall-clock times, so daylight
saving is the tz database's business), minus the public holidays of one region when the calendar
skips them. Holidays come from the maintained ``holidays`` package, never from a list in code.

All arithmetic is done on UTC instants: Python subtracts and adds aware datetimes that share a
``tzinfo`` on the wall clock, which is wrong across a DST change. Results are returned in the
calendar's zone.

Adding business time ``h > 0`` to ``start`` returns the instant ``r`` at which ``h`` of business
time has elapsed since ``start``. ``r`` always lies in a business interval ``(open, close]``: it is
inside business hours, or exactly a closing time when the time runs out there (a due time of
"Friday 17:00" rather than "Monday 09:00"). Adding zero returns ``start`` unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from diagnostics.policy.config import BusinessHours

_ZERO = timedelta(0)
_MAX_CLOSED_DAYS = 3660  # a calendar with no opening in ten years is misconfigured


@lru_cache(maxsize=256)
def public_holidays(country: str, subdiv: str | None, year: int) -> Mapping[date, str]:
    """The public holidays (with observed days) of one region and year, from ``holidays``."""
    found = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return MappingProxyType({day: found[day] for day in sorted(found)})


def require_aware(at: datetime, what: str = "datetime") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return at


@dataclass(frozen=True)
class BusinessCalendar:
    """Business hours of ``hours``; holidays are closed days only when ``skip_holidays``."""

    hours: BusinessHours
    skip_holidays: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hours.zone)

    # -- days -------------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The public holiday's name on ``day`` (a local date), or ``None``."""
        return public_holidays(self.hours.holiday_country, self.hours.holiday_subdiv, day.year).get(
            day
        )

    def is_business_day(self, day: date) -> bool:
        if day.weekday() not in self.hours.weekdays:
            return False
        return not (self.skip_holidays and self.holiday_name(day) is not None)

    def day_interval(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing instants (UTC) of ``day``'s hours, business day or not."""
        opens = datetime.combine(day, self.hours.open, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.hours.close, tzinfo=self.zone).astimezone(UTC)
        return opens, closes

    def intervals(self, after: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business intervals (UTC ``[open, close)``) in order, from the first to close after
        ``after``.

        Holidays are skipped only when the calendar skips them.
        """
        instant = require_aware(after).astimezone(UTC)
        day = instant.astimezone(self.zone).date()
        closed_days = 0
        while True:
            if self.is_business_day(day):
                opens, closes = self.day_interval(day)
                if closes > instant and closes > opens:
                    closed_days = 0
                    yield opens, closes
            closed_days += 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise RuntimeError("the business calendar has no opening hours")
            day += timedelta(days=1)

    # -- instants ---------------------------------------------------------------------------

    def local(self, at: datetime) -> datetime:
        return require_aware(at).astimezone(self.zone)

    def is_business_time(self, at: datetime) -> bool:
        """Whether ``at`` lies in business hours (opening inclusive, closing exclusive)."""
        opens, _ = next(self.intervals(at))
        return opens <= at

    def next_business_start(self, at: datetime) -> datetime:
        """``at`` itself when in business hours, else the next opening: when a clock starts."""
        opens, _ = next(self.intervals(at))
        return self.local(max(opens, at.astimezone(UTC)))

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which ``amount`` of business time has elapsed since ``start``."""
        if amount < _ZERO:
            raise ValueError("business time to add must not be negative")
        if amount == _ZERO:
            return self.local(start)
        remaining = amount
        instant = require_aware(start).astimezone(UTC)
        for opens, closes in self.intervals(instant):
            begin = max(opens, instant)
            available = closes - begin
            if remaining <= available:
                return self.local(begin + remaining)
            remaining -= available
        raise AssertionError("unreachable: intervals() never ends")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        first = require_aware(start).astimezone(UTC)
        last = require_aware(end).astimezone(UTC)
        if last < first:
            return -self.between(end, start)
        total = _ZERO
        for opens, closes in self.intervals(first):
            if opens >= last:
                break
            total += min(closes, last) - max(opens, first)
        return total

    def add_hours(self, start: datetime, hours: float) -> datetime:
        return self.add(start, timedelta(hours=hours))

    def hours_between(self, start: datetime, end: datetime) -> float:
        return self.between(start, end) / timedelta(hours=1)

    def holidays_between(self, start: datetime, end: datetime) -> list[tuple[date, str]]:
        """Holidays on opening weekdays whose hours overlap ``[start, end)``."""
        first = require_aware(start).astimezone(UTC)
        last = require_aware(end).astimezone(UTC)
        found: list[tuple[date, str]] = []
        day = first.astimezone(self.zone).date()
        while day <= last.astimezone(self.zone).date():
            name = self.holiday_name(day)
            if name is not None and day.weekday() in self.hours.weekdays:
                opens, closes = self.day_interval(day)
                if opens < last and closes > first:
                    found.append((day, name))
            day += timedelta(days=1)
        return found


def add_business_hours(
    start: datetime, hours: float | timedelta, calendar: BusinessCalendar
) -> datetime:
    """``start`` plus ``hours`` of business time on ``calendar`` (see the module docstring)."""
    amount = hours if isinstance(hours, timedelta) else timedelta(hours=hours)
    return calendar.add(start, amount)


def business_hours_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> float:
    """Business hours from ``start`` to ``end`` on ``calendar``."""
    return calendar.hours_between(start, end)


def next_business_start(at: datetime, calendar: BusinessCalendar) -> datetime:
    """When a clock started at ``at`` starts counting on ``calendar``."""
    return calendar.next_business_start(at)
