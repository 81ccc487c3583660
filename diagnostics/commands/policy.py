"""`mulesight sla`, `upstream` and `credit`: the support policies' figures for one ticket.

Thin commands: the arithmetic lives in :mod:`diagnostics.policy`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from diagnostics.commands import InputError, cli
from diagnostics.policy import service_credit, sla_for, upstream_response
from diagnostics.policy.config import DEFAULT_UPSTREAM_POLICY, HOLIDAY_POLICIES, MELBOURNE
from diagnostics.policy.credit import minutes_in_month, monthly_uptime, parse_month
from diagnostics.policy.sla import SlaResult, normalize_severity
from diagnostics.policy.upstream import (
    UpstreamResult,
    normalize_tier,
    normalize_upstream_severity,
    normalize_zone,
)

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True
)


def parse_iso(flag: str, value: str) -> datetime:
    """An ISO-8601 date-time; naive values stay naive (the policy reads them in its zone)."""
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{flag}: {value!r} is not an ISO-8601 date-time") from None


def _checked(flag: str, normalize: Callable[[str], str], value: str) -> str:
    try:
        return normalize(value)
    except ValueError as exc:
        raise InputError(f"{flag}: {exc}") from None


def _emit(fmt: str, data: dict[str, Any], text: list[str]) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(text))


def _when(at: datetime, zone: str = MELBOURNE) -> str:
    """``Tue 03 Nov 2026 11:00 AEDT (+11:00) = 00:00 UTC Tue 03 Nov``."""
    local = at.astimezone(ZoneInfo(zone))
    utc = at.astimezone(UTC)
    offset = local.isoformat()[-6:]
    return f"{local:%a %d %b %Y %H:%M} {local:%Z} ({offset}) = {utc:%a %d %b %H:%M} UTC"


# -- sla ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--severity", required=True, metavar='"Sev 1|Sev 2|Sev 3|Sev 4"')
@click.option("--opened", required=True, metavar="ISO", help="When the ticket was opened.")
@click.option(
    "--holidays",
    "holiday_policy",
    metavar="|".join(HOLIDAY_POLICIES),
    help="Holidays as reduced-staffing business days (default) or closed days.",
)
@click.option("--now", metavar="ISO", help="Judge the breach and next update at this time.")
@FORMAT_OPTION
def sla(severity: str, opened: str, holiday_policy: str | None, now: str | None, fmt: str) -> None:
    """MuleSight support due times for a ticket (8x5 Australia/Melbourne business hours).

    Times without a UTC offset are read as Melbourne local time.
    """
    sev = _checked("--severity", normalize_severity, severity)
    if holiday_policy is not None and holiday_policy not in HOLIDAY_POLICIES:
        raise InputError(
            f"--holidays: {holiday_policy!r} is not one of {', '.join(HOLIDAY_POLICIES)}"
        )
    opened_at = parse_iso("--opened", opened)
    now_at = parse_iso("--now", now) if now is not None else None
    result = sla_for(sev, opened_at, now_at, holiday_policy=holiday_policy)
    _emit(fmt, result.to_dict(), sla_text(result))


def sla_text(result: SlaResult) -> list[str]:
    lines = [
        f"{result.severity} ticket, holiday policy {result.holiday_policy} "
        f"(times in {result.timezone} and UTC)",
        f"  Opened:               {_when(result.opened_at)}",
        f"  Clock started:        {_when(result.clock_started_at)}",
        f"  Initial response due: {_when(result.initial_response_due)}",
        f"  Next update due:      {_when(result.next_update_due)}",
        f"    cadence: {result.update_cadence}",
        f"  Resolution due:       {_when(result.resolution_due)}",
    ]
    if result.holiday_in_window:
        names = ", ".join(f"{h.name} ({h.date:%a %d %b %Y})" for h in result.holiday_in_window)
        lines.append(f"  Holidays in the window: {names}")
    if result.resolution_breached:
        lines.append(
            f"  Resolution target passed at {_when(result.now)}: "
            f"requires {', '.join(result.requires)}"
        )
    lines.extend(f"  Note: {note}" for note in result.notes)
    return lines


# -- upstream -----------------------------------------------------------------------------------


@cli.command()
@click.option("--tier", required=True, metavar="gold|platinum|titanium")
@click.option("--severity", required=True, metavar="S1|S2|S3|S4")
@click.option("--opened", required=True, metavar="ISO", help="When the MuleSoft case was opened.")
@click.option(
    "--zone",
    metavar="|".join(DEFAULT_UPSTREAM_POLICY.zones),
    default=DEFAULT_UPSTREAM_POLICY.default_zone,
    show_default=True,
    help="The support zone selected in the MuleSoft subscription.",
)
@FORMAT_OPTION
def upstream(tier: str, severity: str, opened: str, zone: str, fmt: str) -> None:
    """What to expect from MuleSoft support: the response due time for a case.

    S1 on Platinum and Titanium runs 24x7; everything else on MuleSoft business days
    (08:00-17:00 Mon-Fri in the selected zone, excluding its public holidays). Times without a
    UTC offset are read in the selected zone.
    """
    tier = _checked("--tier", normalize_tier, tier)
    severity = _checked("--severity", normalize_upstream_severity, severity)
    zone = _checked("--zone", normalize_zone, zone)
    opened_at = parse_iso("--opened", opened)
    result = upstream_response(tier, severity, opened_at, zone)
    _emit(fmt, result.to_dict(), upstream_text(result))


def upstream_text(result: UpstreamResult) -> list[str]:
    clock = "" if result.round_the_clock else f" ({result.business_day})"
    lines = [
        f"MuleSoft {result.tier} {result.severity}, zone {result.zone}: respond within "
        f"{result.target}{clock}",
        f"  Opened:       {_when(result.opened_at)}",
        f"  Response due: {_when(result.response_due)}",
        f"                {_when(result.response_due, result.zone_timezone)}",
        f"  Scheduled maintenance ({result.control_plane}): "
        + ("opened inside the window" if result.in_maintenance_window else "not in the window"),
        f"  What to file: {result.what_to_file}",
    ]
    lines.extend(f"  Note: {note}" for note in result.notes)
    return lines


# -- credit -------------------------------------------------------------------------------------


@cli.command()
@click.option("--uptime", type=float, metavar="PERCENT", help="Monthly uptime percentage.")
@click.option(
    "--unavailable-minutes", type=int, metavar="N", help="Unavailable minutes in --month."
)
@click.option("--month", metavar="YYYY-MM", help="The calendar month of --unavailable-minutes.")
@click.option("--annual-fee", type=float, metavar="AMOUNT", help="Annual subscription fee.")
@click.option("--vcores-affected", type=float, metavar="N", help="vCores of the application.")
@click.option("--vcores-total", type=float, metavar="N", help="vCores of the subscription.")
@FORMAT_OPTION
def credit(
    uptime: float | None,
    unavailable_minutes: int | None,
    month: str | None,
    annual_fee: float | None,
    vcores_affected: float | None,
    vcores_total: float | None,
    fmt: str,
) -> None:
    """MuleSoft Cloud Offerings service credit for a month's uptime.

    Give --uptime, or --unavailable-minutes with --month. With --annual-fee, --vcores-affected
    and --vcores-total the credit amount is computed: band % x fee/12 x affected/total vCores.
    """
    percent = _uptime(uptime, unavailable_minutes, month)
    _check_amount_options(annual_fee, vcores_affected, vcores_total)
    try:
        result = service_credit(percent, annual_fee, vcores_affected, vcores_total)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    data = result.to_dict()
    lines = [
        f"Monthly uptime {result.monthly_uptime_percent:.4f} % -> band {result.band} "
        f"-> credit {result.credit_percent:g} % of the monthly fee",
        (
            f"  Credit amount: {result.credit_amount:.2f}"
            if result.credit_amount is not None
            else "  Credit amount: give --annual-fee, --vcores-affected and --vcores-total"
        ),
        "  Eligible only if: " + "; ".join(result.conditions),
    ]
    _emit(fmt, data, lines)


def _uptime(uptime: float | None, minutes: int | None, month: str | None) -> float:
    if (uptime is None) == (minutes is None):
        raise InputError("give either --uptime or --unavailable-minutes (with --month)")
    if uptime is not None:
        if month is not None:
            raise InputError("--month: only with --unavailable-minutes")
        if not 0 <= uptime <= 100:
            raise InputError(f"--uptime: {uptime:g} is not a percentage between 0 and 100")
        return uptime
    assert minutes is not None
    if month is None:
        raise InputError("--month: required with --unavailable-minutes (YYYY-MM)")
    try:
        year, number = parse_month(month)
    except ValueError as exc:
        raise InputError(f"--month: {exc}") from None
    if minutes < 0:
        raise InputError(f"--unavailable-minutes: {minutes} is negative")
    if minutes > minutes_in_month(year, number):
        raise InputError(
            f"--unavailable-minutes: {minutes} exceeds the "
            f"{minutes_in_month(year, number)} minutes of {month}"
        )
    return monthly_uptime(minutes, year, number)


def _check_amount_options(fee: float | None, affected: float | None, total: float | None) -> None:
    given = [v is not None for v in (fee, affected, total)]
    if any(given) and not all(given):
        raise InputError("--annual-fee, --vcores-affected and --vcores-total go together")
    if not all(given):
        return
    assert fee is not None and affected is not None and total is not None
    if fee < 0:
        raise InputError(f"--annual-fee: {fee:g} is negative")
    if total <= 0:
        raise InputError(f"--vcores-total: {total:g} must be positive")
    if affected < 0:
        raise InputError(f"--vcores-affected: {affected:g} is negative")
    if affected > total:
        raise InputError(f"--vcores-affected: {affected:g} exceeds --vcores-total {total:g}")
