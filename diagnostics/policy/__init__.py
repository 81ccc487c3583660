"""The support policies: MuleSight due times and escalation, MuleSoft upstream guidance, credits.

Every figure lives in :mod:`diagnostics.policy.config` with policy.md's defaults.
"""

from __future__ import annotations

from diagnostics.policy.calendar import (
    BusinessCalendar,
    add_business_hours,
    business_hours_between,
    next_business_start,
)
from diagnostics.policy.config import (
    DEFAULT_SUPPORT_POLICY,
    DEFAULT_UPSTREAM_POLICY,
    BusinessHours,
    SupportPolicy,
    UpstreamPolicy,
)
from diagnostics.policy.credit import (
    Allowance,
    CreditResult,
    monthly_uptime,
    service_credit,
    support_allowance,
)
from diagnostics.policy.escalation import Escalation, escalation_stage
from diagnostics.policy.sla import SlaResult, sla_for, support_calendar
from diagnostics.policy.upstream import (
    UpstreamResult,
    in_maintenance_window,
    mulesoft_calendar,
    upstream_response,
)

__all__ = [
    "DEFAULT_SUPPORT_POLICY",
    "DEFAULT_UPSTREAM_POLICY",
    "Allowance",
    "BusinessCalendar",
    "BusinessHours",
    "CreditResult",
    "Escalation",
    "SlaResult",
    "SupportPolicy",
    "UpstreamPolicy",
    "UpstreamResult",
    "add_business_hours",
    "business_hours_between",
    "escalation_stage",
    "in_maintenance_window",
    "monthly_uptime",
    "mulesoft_calendar",
    "next_business_start",
    "service_credit",
    "sla_for",
    "support_allowance",
    "support_calendar",
    "upstream_response",
]
