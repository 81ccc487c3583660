"""MuleSight support due times (seed 000 as policy.md reads it).

The clock starts when the ticket is opened, or at the next business-hours start when it is opened
outside business hours. Every due time is counted in business hours from there: the initial
response, the status-update cadence (the first update one cadence after the initial response is
due) and the resolution target. Past the resolution target the ticket needs a workaround or
mitigation plan and a revised ETA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from diagnostics.clock import utcnow
from diagnostics.policy.calendar import BusinessCalendar
from diagnostics.policy.config import (
    CLOSED,
    DEFAULT_SUPPORT_POLICY,
    HOLIDAY_POLICIES,
    SEVERITIES,
    SupportPolicy,
)

_SEVERITY = re.compile(r"^\s*(?:sev(?:erity)?)?\s*[-_ ]?\s*([1-4])\s*$", re.IGNORECASE)
_DUE_KEYS = ("initial_response_due", "next_update_due", "resolution_due")


def normalize_severity(value: str) -> str:
    """``"Sev 1"``…``"Sev 4"`` from a loose spelling (``sev1``, ``SEV-2``, ``3``)."""
    match = _SEVERITY.match(value or "")
    if not match:
        raise ValueError(f"unknown severity {value!r} (expected one of {', '.join(SEVERITIES)})")
    return f"Sev {match.group(1)}"


def support_calendar(policy: SupportPolicy = DEFAULT_SUPPORT_POLICY) -> BusinessCalendar:
    """The MuleSight calendar: holidays are business days unless the policy is ``closed``."""
    return BusinessCalendar(policy.hours, skip_holidays=policy.holiday_policy == CLOSED)


@dataclass(frozen=True)
class HolidayInWindow:
    date: date
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "name": self.name}


@dataclass(frozen=True)
class SlaResult:
    """Due times of one ticket; every datetime is in the support zone (Melbourne)."""

    severity: str
    timezone: str
    opened_at: datetime
    clock_started_at: datetime
    initial_response_due: datetime
    resolution_due: datetime
    update_cadence: str
    next_update_due: datetime
    holiday_policy: str
    holiday_in_window: tuple[HolidayInWindow, ...]
    resolution_breached: bool
    requires: tuple[str, ...]
    now: datetime
    holiday_affects: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def due_times(self) -> dict[str, datetime]:
        return {
            "opened_at": self.opened_at,
            "clock_started_at": self.clock_started_at,
            "initial_response_due": self.initial_response_due,
            "next_update_due": self.next_update_due,
            "resolution_due": self.resolution_due,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``sla`` JSON of cli.md, plus ``utc``, ``now``, ``holiday_affects`` and ``notes``."""
        return {
            "severity": self.severity,
            "timezone": self.timezone,
            "opened_at": self.opened_at.isoformat(),
            "clock_started_at": self.clock_started_at.isoformat(),
            "initial_response_due": self.initial_response_due.isoformat(),
            "resolution_due": self.resolution_due.isoformat(),
            "update_cadence": self.update_cadence,
            "next_update_due": self.next_update_due.isoformat(),
            "holiday_policy": self.holiday_policy,
            "holiday_in_window": [h.to_dict() for h in self.holiday_in_window],
            "resolution_breached": self.resolution_breached,
            "requires": list(self.requires),
            "now": self.now.isoformat(),
            "utc": {k: v.astimezone(UTC).isoformat() for k, v in self.due_times().items()},
            "holiday_affects": list(self.holiday_affects),
            "notes": list(self.notes),
        }


def next_update_due(
    calendar: BusinessCalendar, first: datetime, cadence: timedelta, now: datetime
) -> datetime:
    """``first`` unless ``now`` is later; then the first update on the cadence after ``now``."""
    if now <= first:
        return first
    elapsed = calendar.between(first, now)
    return calendar.add(first, cadence * (elapsed // cadence + 1))


def sla_for(
    severity: str,
    opened_at: datetime,
    now: datetime | None = None,
    config: SupportPolicy = DEFAULT_SUPPORT_POLICY,
    *,
    holiday_policy: str | None = None,
    stabilized: bool = False,
) -> SlaResult:
    """Due times for a ticket of ``severity`` opened at ``opened_at``.

    A naive ``opened_at``/``now`` is read in the policy's zone. ``holiday_policy`` overrides the
    configuration's; ``stabilized`` switches a Sev 1 to its post-stabilization cadence.
    """
    sev = normalize_severity(severity)
    if holiday_policy is not None:
        if holiday_policy not in HOLIDAY_POLICIES:
            raise ValueError(f"unknown holiday policy {holiday_policy!r}")
        config = replace(config, holiday_policy=holiday_policy)
    calendar = support_calendar(config)
    notes: list[str] = []
    if opened_at.tzinfo is None:
        notes.append(f"opened_at had no UTC offset; read as {config.hours.zone} local time.")
        opened_at = opened_at.replace(tzinfo=calendar.zone)
    if now is None:
        now = utcnow()
    elif now.tzinfo is None:
        notes.append(f"now had no UTC offset; read as {config.hours.zone} local time.")
        now = now.replace(tzinfo=calendar.zone)

    opened = calendar.local(opened_at)
    started = calendar.next_business_start(opened)
    initial = calendar.add(started, config.initial_response[sev])
    resolution = calendar.add(started, config.resolution)
    cadence = config.cadence[sev]
    every = cadence.then_every if stabilized and cadence.then_every else cadence.every
    next_update = next_update_due(calendar, calendar.add(initial, every), every, now)
    breached = now > resolution

    window = calendar.holidays_between(opened, resolution)
    affects = tuple(
        key
        for key, due in zip(_DUE_KEYS, (initial, next_update, resolution), strict=True)
        if calendar.holidays_between(opened, due)
    )
    notes.extend(_notes(config, opened, started, sev, bool(window), stabilized))
    return SlaResult(
        severity=sev,
        timezone=config.hours.zone,
        opened_at=opened,
        clock_started_at=started,
        initial_response_due=initial,
        resolution_due=resolution,
        update_cadence=cadence.description,
        next_update_due=next_update,
        holiday_policy=config.holiday_policy,
        holiday_in_window=tuple(HolidayInWindow(d, n) for d, n in window),
        resolution_breached=breached,
        requires=config.breach_requires if breached else (),
        now=calendar.local(now),
        holiday_affects=affects,
        notes=tuple(notes),
    )


def _notes(
    config: SupportPolicy,
    opened: datetime,
    started: datetime,
    severity: str,
    holidays: bool,
    stabilized: bool,
) -> list[str]:
    notes = []
    if started != opened:
        notes.append(
            "Opened outside business hours; the clock starts at the next business-hours start."
        )
    if holidays:
        notes.append(config.closed_note if config.holiday_policy == CLOSED else config.holiday_note)
    if config.cadence[severity].then_every is not None and not stabilized:
        notes.append("next_update_due follows the cadence before stabilization.")
    notes.append(
        "Resolution target applies where feasible; past it, provide a workaround or "
        "mitigation plan and a revised ETA."
    )
    return notes
