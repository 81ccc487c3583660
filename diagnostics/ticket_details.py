"""The required support-ticket details (policy.md) that a diagnostics run can fill in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnostics.catalogue import macro_name
from diagnostics.evaluation import DatasetResult
from diagnostics.findings import Finding, page_name, page_url
from diagnostics.macros import MacroStatus
from diagnostics.model import Environment

SUPPORT_TIMEZONE = "Australia/Melbourne"


def ticket_details(
    *,
    site_url: str | None,
    generated_at: str,
    organization_id: str | None,
    environments: Sequence[Environment],
    datasets: Mapping[str, DatasetResult],
    macros: Sequence[MacroStatus],
    findings: Sequence[Finding],
) -> dict[str, Any]:
    """Filled from the worst finding: its dataset, that dataset's cache and coverage, its macro."""
    worst = next((f for f in findings if f.datasets), None)
    dataset_key = worst.datasets[0] if worst else None
    d = datasets.get(dataset_key) if dataset_key else None
    macro = _affected_macro(macros, findings, site_url)
    module = macro or (f"{d.dataset.name} data" if d else None)
    return {
        "customer_site_url": site_url,
        "timestamp": generated_at,
        "timezone": SUPPORT_TIMEZONE,
        "affected_module": module,
        "organization_id": organization_id,
        "environments": [f"{e.name} ({e.id})" for e in environments],
        "dataset_type": dataset_key,
        "last_refresh": (
            d.freshness.last_success.isoformat() if d and d.freshness.last_success else None
        ),
        "cache_freshness": d.freshness.state if d else None,
        "diagnostics_coverage": d.coverage if d else None,
    }


def _affected_macro(
    macros: Sequence[MacroStatus], findings: Sequence[Finding], site_url: str | None
) -> str | None:
    """``MuleSight API Manager instance macro (security view) on “Payments” (<page URL>)``."""
    for f in findings:
        for index in f.macros:
            m = macros[index]
            url = page_url(site_url, m.page_id)
            where = page_name(m.page_id, m.page_title) + (f" ({url})" if url else "")
            return f"{macro_name(m.macro, m.mode)} on {where}"
    return None
