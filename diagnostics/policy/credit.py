"""MuleSoft Cloud Offerings SLA: monthly uptime, service-credit band and amount, and the annual
incidents / designated contacts a subscription includes.

Band boundaries are compared in decimal, not binary floating point, so ``99.95`` is exactly the
top band's floor.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from diagnostics.policy.config import DEFAULT_UPSTREAM_POLICY, CreditBand, UpstreamPolicy
from diagnostics.policy.upstream import normalize_tier

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_CENT = Decimal("0.01")
UPTIME_DECIMALS = 6  # minute counts never round across a band boundary at this precision


def parse_month(value: str) -> tuple[int, int]:
    """``(year, month)`` from ``YYYY-MM``."""
    match = _MONTH.match((value or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"{value!r} is not a month as YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def minutes_in_month(year: int, month: int) -> int:
    """The 1-minute periods of a calendar month (its days × 1,440, counted in UTC)."""
    return calendar.monthrange(year, month)[1] * 24 * 60


def monthly_uptime(unavailable_minutes: int, year: int, month: int) -> float:
    """100 % minus the share of the month's 1-minute periods that were unavailable."""
    total = minutes_in_month(year, month)
    if unavailable_minutes < 0:
        raise ValueError("unavailable minutes must not be negative")
    if unavailable_minutes > total:
        raise ValueError(f"unavailable minutes exceed the {total} minutes of {year}-{month:02d}")
    share = Decimal(unavailable_minutes) * 100 / Decimal(total)
    return float(round(Decimal(100) - share, UPTIME_DECIMALS))


def credit_band(
    uptime_percent: float, policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY
) -> CreditBand:
    """The first band (highest floor first) whose floor the uptime reaches."""
    uptime = Decimal(str(uptime_percent))
    if not Decimal(0) <= uptime <= Decimal(100):
        raise ValueError("uptime must be between 0 and 100 percent")
    for band in sorted(policy.credit_bands, key=lambda b: b.min_uptime, reverse=True):
        if uptime >= Decimal(str(band.min_uptime)):
            return band
    raise ValueError("no credit band covers this uptime")  # only with a misconfigured table


@dataclass(frozen=True)
class CreditResult:
    monthly_uptime_percent: float
    credit_percent: float
    credit_amount: float | None
    band: str
    conditions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``credit`` JSON of cli.md plus ``band`` and the eligibility ``conditions``."""
        return {
            "monthly_uptime_percent": self.monthly_uptime_percent,
            "credit_percent": self.credit_percent,
            "credit_amount": self.credit_amount,
            "band": self.band,
            "conditions": list(self.conditions),
        }


def service_credit(
    uptime_percent: float,
    annual_fee: float | None = None,
    vcores_affected: float | None = None,
    vcores_total: float | None = None,
    policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY,
) -> CreditResult:
    """Credit band for an uptime and, given the fee and vCores, the credit amount.

    Amount = band % × (annual fee / 12) × affected vCores / total vCores, rounded to cents.
    The fee and the two vCore counts go together; without them the amount is ``None``.
    """
    band = credit_band(uptime_percent, policy)
    given = [v is not None for v in (annual_fee, vcores_affected, vcores_total)]
    amount: float | None = None
    if any(given) and not all(given):
        raise ValueError("annual fee, vCores affected and vCores total go together")
    if annual_fee is not None and vcores_affected is not None and vcores_total is not None:
        amount = _amount(band, annual_fee, vcores_affected, vcores_total)
    return CreditResult(
        monthly_uptime_percent=float(uptime_percent),
        credit_percent=band.credit_percent,
        credit_amount=amount,
        band=band.label,
        conditions=policy.credit_conditions,
    )


def _amount(band: CreditBand, fee: float, affected: float, total: float) -> float:
    if fee < 0:
        raise ValueError("the annual fee must not be negative")
    if total <= 0:
        raise ValueError("vCores total must be positive")
    if not 0 <= affected <= total:
        raise ValueError("vCores affected must be between 0 and vCores total")
    value = (
        Decimal(str(band.credit_percent))
        / 100
        * Decimal(str(fee))
        / 12
        * Decimal(str(affected))
        / Decimal(str(total))
    )
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Allowance:
    vcores_band: str
    designated_contacts: int
    annual_incidents: int | None  # None: unlimited

    def to_dict(self) -> dict[str, Any]:
        return {
            "vcores_band": self.vcores_band,
            "designated_contacts": self.designated_contacts,
            "annual_incidents": self.annual_incidents,
        }


def support_allowance(
    vcores: float, tier: str, policy: UpstreamPolicy = DEFAULT_UPSTREAM_POLICY
) -> Allowance:
    """Designated contacts and annual incidents for a subscription of ``vcores`` on ``tier``."""
    tier = normalize_tier(tier)
    if vcores <= 0:
        raise ValueError("vCores must be positive")
    for band in sorted(policy.allowances, key=lambda b: b.min_vcores, reverse=True):
        if vcores >= band.min_vcores:
            return Allowance(band.label, band.designated_contacts, band.incidents[tier])
    raise ValueError("no allowance band covers this vCore count")  # misconfigured table
