"""Every figure of the two support policies, as frozen configuration with policy.md's defaults.

Nothing in :mod:`diagnostics.policy` hard-codes a figure: the functions take one of these objects
(defaulting to :data:`DEFAULT_SUPPORT_POLICY` / :data:`DEFAULT_UPSTREAM_POLICY`) so a deployment can
override any of them without touching the arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from types import MappingProxyType
from typing import TypeVar

MELBOURNE = "Australia/Melbourne"
REDUCED_STAFFING = "reduced_staffing"
CLOSED = "closed"
HOLIDAY_POLICIES = (REDUCED_STAFFING, CLOSED)

T = TypeVar("T")

SEVERITIES = ("Sev 1", "Sev 2", "Sev 3", "Sev 4")
UPSTREAM_SEVERITIES = ("S1", "S2", "S3", "S4")
TIERS = ("gold", "platinum", "titanium")

WORKAROUND = "workaround_or_mitigation_plan"
REVISED_ETA = "revised_eta"


def _frozen(mapping: Mapping[str, T]) -> Mapping[str, T]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening hours in one zone, with the public holidays of one region.

    ``weekdays`` uses :meth:`datetime.date.weekday` numbering (Monday = 0). ``open``/``close`` are
    local wall-clock times on each of those days (close after open, same day).
    """

    zone: str = MELBOURNE
    open: time = time(9)
    close: time = time(17)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holiday_country: str = "AU"
    holiday_subdiv: str | None = "VIC"

    def __post_init__(self) -> None:
        if not self.weekdays or not set(self.weekdays) <= set(range(7)):
            raise ValueError("weekdays must be a non-empty subset of 0..6")
        if self.close <= self.open:
            raise ValueError("close must be after open on the same day")


@dataclass(frozen=True)
class Cadence:
    """A status-update cadence: every ``every`` business time, then ``then_every`` once stable."""

    every: timedelta
    description: str
    then_every: timedelta | None = None


def _hours(n: float) -> timedelta:
    return timedelta(hours=n)


MULESIGHT_BUSINESS_DAY = timedelta(hours=8)
MULESIGHT_RESOLUTION = timedelta(hours=40)  # 5 business days
MULESOFT_BUSINESS_DAY = timedelta(hours=9)  # 08:00-17:00


@dataclass(frozen=True)
class SupportPolicy:
    """MuleSight support (seed 000): 8x5 in Melbourne, Victorian holidays."""

    hours: BusinessHours = field(default_factory=BusinessHours)
    business_day: timedelta = MULESIGHT_BUSINESS_DAY
    holiday_policy: str = REDUCED_STAFFING
    holiday_note: str = (
        "Support remains available during holidays, but response and resolution times "
        "may be moderately delayed due to reduced staffing."
    )
    closed_note: str = "Support is closed on these holidays; due times skip them."
    initial_response: Mapping[str, timedelta] = field(
        default_factory=lambda: _frozen({s: _hours(8) for s in SEVERITIES})
    )
    cadence: Mapping[str, Cadence] = field(
        default_factory=lambda: _frozen(
            {
                "Sev 1": Cadence(
                    _hours(4),
                    "every 4 business hours until stabilization, then every business day",
                    then_every=_hours(8),
                ),
                "Sev 2": Cadence(_hours(8), "every business day until resolution"),
                "Sev 3": Cadence(_hours(16), "every 2 business days"),
                "Sev 4": Cadence(_hours(40), "every 5 business days (weekly) or at closure"),
            }
        )
    )
    resolution: timedelta = MULESIGHT_RESOLUTION
    breach_requires: tuple[str, ...] = (WORKAROUND, REVISED_ETA)

    def __post_init__(self) -> None:
        if self.holiday_policy not in HOLIDAY_POLICIES:
            raise ValueError(f"holiday_policy must be one of {', '.join(HOLIDAY_POLICIES)}")


@dataclass(frozen=True)
class ResponseTarget:
    """How long MuleSoft has to respond; ``round_the_clock`` targets run 24x7x365."""

    within: timedelta
    description: str
    round_the_clock: bool = False


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly window in local wall-clock time: [start, end), possibly spanning days."""

    zone: str
    start_weekday: int
    start: time
    end_weekday: int
    end: time
    description: str


def _targets(
    s1: ResponseTarget, s2: ResponseTarget, s34: ResponseTarget
) -> Mapping[str, ResponseTarget]:
    return _frozen({"S1": s1, "S2": s2, "S3": s34, "S4": s34})


def _mulesoft_zone(zone: str, country: str, subdiv: str | None) -> BusinessHours:
    return BusinessHours(
        zone=zone, open=time(8), close=time(17), holiday_country=country, holiday_subdiv=subdiv
    )


@dataclass(frozen=True)
class CreditBand:
    """Uptime at or above ``min_uptime`` (and below the previous band) earns ``credit_percent``."""

    min_uptime: float
    credit_percent: float
    label: str


@dataclass(frozen=True)
class AllowanceBand:
    """Designated contacts and annual incidents (``None`` = unlimited) from ``min_vcores`` up."""

    min_vcores: float
    label: str
    designated_contacts: int
    incidents: Mapping[str, int | None]


def _allowance(min_vcores: float, label: str, contacts: int, gold: int) -> AllowanceBand:
    return AllowanceBand(
        min_vcores, label, contacts, _frozen({"gold": gold, "platinum": None, "titanium": None})
    )


@dataclass(frozen=True)
class UpstreamPolicy:
    """MuleSoft support and cloud SLA (seed 003) as policy.md reads it."""

    zones: Mapping[str, BusinessHours] = field(
        default_factory=lambda: _frozen(
            {
                "EST": _mulesoft_zone("America/New_York", "US", None),
                "PST": _mulesoft_zone("America/Los_Angeles", "US", None),
                "GMT": _mulesoft_zone("Europe/London", "GB", "ENG"),
                "AEST": _mulesoft_zone("Australia/Sydney", "AU", "NSW"),
            }
        )
    )
    default_zone: str = "AEST"
    report_zone: str = MELBOURNE
    support_portal: str = "https://www.mulesoft.com/support-login"
    severity_definitions: Mapping[str, str] = field(
        default_factory=lambda: _frozen(
            {
                "S1": "System outage: production is unusable with no workaround, or a MuleSoft "
                "cloud outage interrupts production APIs exposed on the platform",
                "S2": "Key functionality impaired with no workaround; other features still work",
                "S3": "Moderate or minor impact with a workaround; the product remains functional",
                "S4": "Minor, cosmetic or documentation issue; no impact on existing features",
            }
        )
    )
    business_day: timedelta = MULESOFT_BUSINESS_DAY
    targets: Mapping[str, Mapping[str, ResponseTarget]] = field(
        default_factory=lambda: _frozen(
            {
                "gold": _targets(*[ResponseTarget(MULESOFT_BUSINESS_DAY, "1 business day")] * 3),
                "platinum": _targets(
                    ResponseTarget(_hours(2), "2 hours, 24x7x365", round_the_clock=True),
                    ResponseTarget(_hours(4), "4 business hours"),
                    ResponseTarget(_hours(8), "8 business hours"),
                ),
                "titanium": _targets(
                    ResponseTarget(
                        timedelta(minutes=45), "45 minutes, 24x7x365", round_the_clock=True
                    ),
                    ResponseTarget(_hours(4), "4 business hours"),
                    ResponseTarget(_hours(8), "8 business hours"),
                ),
            }
        )
    )
    maintenance_windows: Mapping[str, MaintenanceWindow] = field(
        default_factory=lambda: _frozen(
            {
                "us": MaintenanceWindow(
                    "America/Los_Angeles",
                    4,
                    time(18),
                    6,
                    time(13),
                    "Friday 18:00 – Sunday 13:00 Pacific (US control plane)",
                ),
                "gov": MaintenanceWindow(
                    "America/Chicago",
                    1,
                    time(17),
                    1,
                    time(22),
                    "Tuesday 17:00–22:00 Central (Government Cloud)",
                ),
            }
        )
    )
    default_control_plane: str = "us"
    credit_bands: tuple[CreditBand, ...] = (
        CreditBand(99.95, 0.0, "≥ 99.95 %"),
        CreditBand(99.5, 5.0, "99.5 % ≤ uptime < 99.95 %"),
        CreditBand(98.0, 10.0, "98 % ≤ uptime < 99.5 %"),
        CreditBand(0.0, 15.0, "< 98 %"),
    )
    credit_conditions: tuple[str, ...] = (
        "the application runs on two or more CloudHub workers",
        "the application is deployed in a production environment",
        "claimed within 10 days of the end of the month",
        "force majeure, customer-caused failures and scheduled maintenance are excluded",
    )
    allowances: tuple[AllowanceBand, ...] = (
        _allowance(1024, "1,024+", 25, 100),
        _allowance(512, "512-1,023", 20, 80),
        _allowance(256, "256-511", 15, 60),
        _allowance(64, "64-255", 10, 40),
        _allowance(8, "8-63", 5, 30),
        _allowance(0, "1-7", 2, 20),
    )


DEFAULT_SUPPORT_POLICY = SupportPolicy()
DEFAULT_UPSTREAM_POLICY = UpstreamPolicy()
