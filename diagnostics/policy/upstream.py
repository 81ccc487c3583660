"""MuleSoft support guidance (seed 003 as policy.md reads it): what to expect when filing upstream.

Response targets depend on the subscription tier and the MuleSoft severity. S1 on Platinum and
Titanium runs 24x7x365; every other target runs on MuleSoft business hours: 08:00–17:00
Monday–Friday in the customer's selected zone, excluding that zone's public holidays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from diagnostics.policy.calendar import BusinessCalendar, require_aware
from diagnostics.policy.config import (
    DEFAULT_UPSTREAM_POLICY,
    TIERS,
    UPSTREAM_SEVERITIES,
    MaintenanceWindow,
    UpstreamPolicy,
)

_SEVERITY = re.compile(r"^\s*(?:s|sev(?:erity)?)?\s*[-_ ]?\s*([1-4])\s*$", re.IGNORECASE)
_WEEK_MINUTES = 7 * 24 * 60


def normalize_tier(tier: str) -> str:
    value = (tier or "").strip().lower()
    if value not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (expected one of {', '.join(TIERS)})")
    return value


def normalize_upstream_severity(severity: str) -> str:
    """``"S1"``…``"S4"`` from ``s1``, ``S-2``, ``3``…"""
    match = _SEVERITY.match(severity or "")
    if not match:
        raise ValueError(
            f"unknown severity {severity!r} (expected one of {', '.join(UPSTREAM_SEVERITIES)})"
        )
    return f"S{match.group(1)}"


def normalize_zone(zone: str | None, policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY) -> str:
    value = (zone or policy.default_zone).strip().upper()
    if value not in policy.zones:
        raise ValueError(f"unknown zone {zone!r} (expected one of {', '.join(policy.zones)})")
    return value


def mulesoft_calendar(
    zone: str, policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY
) -> BusinessCalendar:
    """MuleSoft business hours in a selected zone; local public holidays are closed days."""
    return BusinessCalendar(policy.zones[normalize_zone(zone, policy)], skip_holidays=True)


def _minute_of_week(weekday: int, at: time) -> float:
    return weekday * 1440 + at.hour * 60 + at.minute + at.second / 60


def _inside(window: MaintenanceWindow, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(window.zone))
    minute = _minute_of_week(local.weekday(), local.time())
    start = _minute_of_week(window.start_weekday, window.start)
    end = _minute_of_week(window.end_weekday, window.end)
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # the window wraps past Sunday midnight


def in_maintenance_window(
    at: datetime, control_plane: str, policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY
) -> bool:
    """Whether ``at`` falls in the control plane's scheduled maintenance window.

    Windows are local wall-clock times (``[start, end)``); a control plane without a published
    window (``eu``, ``custom``) is never in one.
    """
    window = policy.maintenance_windows.get((control_plane or "").strip().lower())
    return window is not None and _inside(window, require_aware(at, "at"))


@dataclass(frozen=True)
class UpstreamResult:
    """What to expect from MuleSoft for one case; datetimes are aware (any zone)."""

    tier: str
    severity: str
    zone: str
    zone_timezone: str
    opened_at: datetime
    response_due: datetime
    round_the_clock: bool
    in_maintenance_window: bool
    target: str
    business_day: str
    control_plane: str
    maintenance_window: str | None
    what_to_file: str
    report_timezone: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``upstream`` JSON of cli.md (``response_due`` in Melbourne time) plus extras."""
        report = ZoneInfo(self.report_timezone)
        local = ZoneInfo(self.zone_timezone)
        return {
            "tier": self.tier,
            "severity": self.severity,
            "zone": self.zone,
            "response_due": self.response_due.astimezone(report).isoformat(),
            "round_the_clock": self.round_the_clock,
            "in_maintenance_window": self.in_maintenance_window,
            "timezone": self.report_timezone,
            "opened_at": self.opened_at.astimezone(report).isoformat(),
            "response_due_local": self.response_due.astimezone(local).isoformat(),
            "response_due_utc": self.response_due.astimezone(UTC).isoformat(),
            "target": self.target,
            "business_day": self.business_day,
            "control_plane": self.control_plane,
            "maintenance_window": self.maintenance_window,
            "what_to_file": self.what_to_file,
            "notes": list(self.notes),
        }


def upstream_response(
    tier: str,
    severity: str,
    opened_at: datetime,
    zone: str | None = None,
    *,
    control_plane: str | None = None,
    policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY,
) -> UpstreamResult:
    """MuleSoft's response due time for a case opened at ``opened_at``.

    A naive ``opened_at`` is read in the selected zone. ``in_maintenance_window`` says whether the
    opening time falls in the control plane's (default ``us``) scheduled maintenance.
    """
    tier = normalize_tier(tier)
    severity = normalize_upstream_severity(severity)
    zone = normalize_zone(zone, policy)
    plane = (control_plane or policy.default_control_plane).strip().lower()
    calendar = mulesoft_calendar(zone, policy)
    notes: list[str] = []
    if opened_at.tzinfo is None:
        notes.append(f"opened_at had no UTC offset; read as {calendar.hours.zone} local time.")
        opened_at = opened_at.replace(tzinfo=calendar.zone)
    target = policy.targets[tier][severity]
    if target.round_the_clock:
        due = (opened_at.astimezone(UTC) + target.within).astimezone(calendar.zone)
    else:
        due = calendar.add(opened_at, target.within)
    hours = calendar.hours
    window = policy.maintenance_windows.get(plane)
    maintenance = in_maintenance_window(opened_at, plane, policy)
    if maintenance and window is not None:
        notes.append(
            f"Opened inside scheduled maintenance ({window.description}): a failure now may be "
            "maintenance, which earns no service credit."
        )
    return UpstreamResult(
        tier=tier,
        severity=severity,
        zone=zone,
        zone_timezone=hours.zone,
        opened_at=opened_at,
        response_due=due,
        round_the_clock=target.round_the_clock,
        in_maintenance_window=maintenance,
        target=target.description,
        business_day=(
            f"{hours.open:%H:%M}–{hours.close:%H:%M} Monday–Friday {hours.zone}, excluding "
            f"{hours.holiday_country}{'-' + hours.holiday_subdiv if hours.holiday_subdiv else ''}"
            " public holidays"
        ),
        control_plane=plane,
        maintenance_window=window.description if window else None,
        what_to_file=(
            f"File a case at severity {severity} at {policy.support_portal} — "
            f"{policy.severity_definitions[severity]}. "
            f"Expect a response within {target.description}."
        ),
        report_timezone=policy.report_zone,
        notes=tuple(notes),
    )
