"""Composing what enrichment writes on a ticket — the internal summary, the public request,
the notes for an unknown or ambiguous site, labels and MuleSoft guidance — as pure functions of
the ticket and the reports. Every text is redacted here, once."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.tickets.reading import TicketInput
from diagnostics.anypoint.controlplanes import status_page_url
from diagnostics.policy import (
    UpstreamResult,
    escalation_stage,
    in_maintenance_window,
    sla_for,
    upstream_response,
)
from diagnostics.policy.config import DEFAULT_UPSTREAM_POLICY, TIERS
from diagnostics.redaction import redact_text
from diagnostics.render.ticket import render as render_ticket
from diagnostics.report import Report
from diagnostics.statuses import Coverage, Verdict, values
from diagnostics.tickets import DETAILS_BY_KEY, TicketReading

VERDICT_ORDER = values(Verdict)  # best to worst, as the engine declares them
COVERAGE_ORDER = values(Coverage)
MULESOFT = "mulesoft"
# The details a run can fill in (report.md ``ticket_details``), by ticket detail key.
FILLED_BY_REPORT = {
    "customer_site_url": "customer_site_url",
    "timestamp": "timestamp",
    "timezone": "timezone",
    "affected_module": "affected_module",
    "organization_context": "organization_id",
    "dataset_type": "dataset_type",
    "last_refresh": "last_refresh",
    "cache_freshness": "cache_freshness",
    "diagnostics_coverage": "diagnostics_coverage",
}
# What the public comment asks for, in plain words.
CUSTOMER_ASKS = {
    "customer_site_url": "Your Confluence site URL, for example https://acme.atlassian.net",
    "timestamp": "When the problem happened: the date and time",
    "timezone": "The timezone of that time, for example AEDT or UTC",
    "reproduction_steps": "The steps that show the problem, one numbered step per action",
    "affected_module": "Which MuleSight macro, dashboard tab or Rovo action is affected",
    "organization_context": "Your Anypoint organization id and the environment involved, "
    "for example Production",
    "dataset_type": "Which MuleSight data is affected, for example Exchange or API Manager",
    "last_refresh": "When the data last refreshed successfully",
    "cache_freshness": "Whether the data shows as fresh, stale, expired or never loaded",
    "diagnostics_coverage": "The diagnostics coverage of that data (full, partial or none)",
    "screenshots_or_logs": "A screenshot or a log snippet, with passwords, secrets and tokens "
    "removed",
}
MULESOFT_SEVERITY = {"Sev 1": "S1", "Sev 2": "S2", "Sev 3": "S3", "Sev 4": "S4"}
_ZONES = (
    ("EST", re.compile(r"new.york|\bE[SD]T\b|eastern", re.IGNORECASE)),
    ("PST", re.compile(r"los.angeles|\bP[SD]T\b|pacific", re.IGNORECASE)),
    ("GMT", re.compile(r"london|\bGMT\b|\bBST\b|\bUTC\b|^Z$", re.IGNORECASE)),
    ("AEST", re.compile(r"australia|sydney|melbourne|\bAE[SD]T\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class UpstreamGuidance:
    """What to file with MuleSoft and what to expect, per subscription tier."""

    severity: str
    definition: str
    control_plane: str
    status_page: str
    in_maintenance_window: bool
    portal: str
    responses: tuple[UpstreamResult, ...]


def _worst(values: Sequence[str], order: Sequence[str]) -> str:
    return max(values, key=lambda v: order.index(v) if v in order else -1)


def _severity_of(reports: Sequence[Report]) -> tuple[str, str]:
    """The most severe suggestion of the reports, and its reason."""
    best = min(reports, key=lambda r: str(r.data.get("suggested_severity") or "Sev 4"))
    return str(best.data.get("suggested_severity") or "Sev 4"), str(
        best.data.get("severity_reason") or ""
    )


def _findings(reports: Sequence[Report]) -> list[Mapping[str, Any]]:
    """Every finding, failures before warnings, in each report's order (worst first)."""
    found = [f for r in reports for f in r.findings()]
    return sorted(found, key=lambda f: f["status"] != "fail")


def filled_details(reports: Sequence[Report]) -> dict[str, str]:
    """The ticket details the reports fill in (the first report that has one wins)."""
    filled: dict[str, str] = {}
    for report in reports:
        details = report.data.get("ticket_details") or {}
        for key, source in FILLED_BY_REPORT.items():
            value = details.get(source)
            if key in filled or value in (None, "", []):
                continue
            filled[key] = str(value)
            if key == "organization_context" and details.get("environments"):
                filled[key] += f"; environments {', '.join(map(str, details['environments']))}"
    return filled


def labels_for(reports: Sequence[Report], severity: str, *, security: bool) -> list[str]:
    """``mulesight-verdict-<worst>``, ``mulesight-coverage-<worst>``, ``mulesight-sev-<n>``."""
    verdict = _worst([r.verdict for r in reports], VERDICT_ORDER)
    coverage = _worst(
        [d["coverage"] for r in reports for d in r.data["datasets"].values()] or ["full"],
        COVERAGE_ORDER,
    )
    labels = [
        f"mulesight-verdict-{verdict}",
        f"mulesight-coverage-{coverage}",
        f"mulesight-sev-{severity.split()[-1]}",
    ]
    if security:
        labels.append("mulesight-security-impacting")
    return labels


def mulesoft_zone(timezone: str | None) -> str | None:
    """The MuleSoft support zone (EST, PST, GMT, AEST) a ticket's timezone points at, if any."""
    if not timezone:
        return None
    return next((zone for zone, pattern in _ZONES if pattern.search(timezone)), None)


def upstream_guidance(
    reports: Sequence[Report], severity: str, opened_at: datetime, zone: str | None
) -> UpstreamGuidance | None:
    """Guidance when a finding is owned by MuleSoft, else ``None``."""
    owned = [r for r in reports if any(f["owner"] == MULESOFT for f in r.findings())]
    if not owned:
        return None
    upstream = owned[0].data.get("upstream") or {}
    plane = str(owned[0].data.get("control_plane") or upstream.get("control_plane") or "us")
    level = MULESOFT_SEVERITY.get(severity, "S3")
    responses = tuple(
        upstream_response(tier, level, opened_at, zone, control_plane=plane) for tier in TIERS
    )
    return UpstreamGuidance(
        severity=level,
        definition=DEFAULT_UPSTREAM_POLICY.severity_definitions[level],
        control_plane=plane,
        status_page=str(upstream.get("status_page") or status_page_url(plane)),
        in_maintenance_window=bool(upstream.get("in_maintenance_window"))
        or in_maintenance_window(opened_at, plane),
        portal=DEFAULT_UPSTREAM_POLICY.support_portal,
        responses=responses,
    )


# -- texts ----------------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return f"{moment:%a %d %b %Y %H:%M %Z} ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def _reported(result: UpstreamResult) -> datetime:
    """An upstream due time in the report zone (Melbourne)."""
    return result.response_due.astimezone(ZoneInfo(result.report_timezone))


def _summary_lines(reports: Sequence[Report]) -> list[str]:
    """Each report's Jira-ready summary (``--format ticket``): root causes first, fix once."""
    lines: list[str] = []
    for report in reports:
        lines += [*render_ticket(report, flavour="markdown").splitlines()[1:], ""]
    return lines[:-1]


def _upstream_lines(guidance: UpstreamGuidance) -> list[str]:
    lines = [
        f"- File a case with MuleSoft at **{guidance.severity}** ({guidance.portal}): "
        f"{guidance.definition}.",
        f"- Check {guidance.status_page} for an incident on the {guidance.control_plane} "
        "control plane first.",
        "- Expected first response by subscription tier:",
    ]
    for result in guidance.responses:
        lines.append(
            f"  - {result.tier.title()}: within {result.target} — by {_when(_reported(result))}"
            + (" (24x7)" if result.round_the_clock else f" ({result.zone} business hours)")
        )
    if guidance.in_maintenance_window:
        lines.append(
            "- **Inside MuleSoft's scheduled maintenance window**: the failure may be planned "
            "maintenance (no service credit)."
        )
    else:
        lines.append("- Not inside MuleSoft's scheduled maintenance window.")
    return lines


def internal_summary(
    *,
    ticket: TicketInput,
    reports: Sequence[Report],
    run_ids: Sequence[str],
    reading: TicketReading | None,
    kinds: Sequence[str],
    now: datetime,
    missing: Sequence[str],
    filled: Mapping[str, str],
    zone: str | None = None,
) -> tuple[str, str]:
    """The internal comment (Markdown) and the suggested severity."""
    severity, reason = _severity_of(reports)
    findings = _findings(reports)
    owner = findings[0]["owner"] if findings else None
    sla = sla_for(severity, ticket.opened_at, now)
    escalation = escalation_stage(
        security_impacting=bool(kinds), breached=sla.resolution_breached, owner=owner
    )
    verdict = _worst([r.verdict for r in reports], VERDICT_ORDER)
    spaces = ", ".join(str(r.data.get("space_key") or "-") for r in reports)
    lines = [
        f"## MuleSight diagnostics for {ticket.key}",
        "",
        f"**Verdict: {verdict}** — site {reports[0].data.get('site_url') or ticket.site_url}, "
        f"space(s) {spaces}, run(s) {', '.join(run_ids)}. Full reports attached "
        "(report.json, report.md).",
        "",
        "### What to fix (root causes, worst first)",
        *_summary_lines(reports),
        "",
        f"### Suggested severity: {severity}",
        f"Why: {reason} A person decides.",
    ]
    if kinds:
        lines.append(
            "A secret in the ticket makes this security-impacting: consider Sev 1 if it is an "
            "active security incident."
        )
    lines += [
        "",
        f"### Due times ({severity}, {sla.timezone}, with UTC)",
        f"- Opened: {_when(sla.opened_at)}; clock started: {_when(sla.clock_started_at)}",
        f"- Initial response due: {_when(sla.initial_response_due)}",
        f"- Next update due: {_when(sla.next_update_due)} (cadence: {sla.update_cadence})",
        f"- Resolution due: {_when(sla.resolution_due)}"
        + (
            " — **breached**: needs a workaround or mitigation plan and a revised ETA"
            if sla.resolution_breached
            else ""
        ),
    ]
    if sla.holiday_in_window:
        names = ", ".join(f"{h.name} ({h.date.isoformat()})" for h in sla.holiday_in_window)
        lines.append(f"- Holidays in the window: {names} (policy {sla.holiday_policy}).")
    lines += [
        "",
        f"### Escalation: {escalation.name}",
        *[f"- {r}" for r in escalation.reasons],
    ]
    if kinds:
        lines += [
            "",
            "### Security-impacting",
            f"The ticket text holds a secret ({', '.join(kinds)}); it is not quoted here. "
            "Route to the security owner, remove it from the ticket, and ask the customer to "
            "rotate the exposed credential.",
        ]
    guidance = upstream_guidance(reports, severity, ticket.opened_at, zone)
    if guidance is not None:
        lines += ["", "### Upstream: MuleSoft's platform", *_upstream_lines(guidance)]
    if filled:
        lines += ["", "### Filled in by diagnostics"]
        lines += [f"- {DETAILS_BY_KEY[k].label}: {v}" for k, v in filled.items()]
    if reading is not None:
        lines += ["", "### Still missing"]
        lines += [f"- {DETAILS_BY_KEY[k].label}" for k in missing] or ["- Nothing."]
        if missing:
            lines.append("Asked in a public comment.")
    return redact_text("\n".join(lines)), severity


def public_request(missing: Sequence[str], guidance: UpstreamGuidance | None) -> str | None:
    """The one public comment: the missing details, and MuleSoft guidance; ``None`` if neither."""
    if not missing and guidance is None:
        return None
    lines = ["Thank you for your request. We have run MuleSight diagnostics on your site."]
    if missing:
        lines += ["", "To help us investigate, please reply with:"]
        lines += [f"- {CUSTOMER_ASKS[key]}" for key in missing]
    if guidance is not None:
        lines += [
            "",
            "The cause appears to be on MuleSoft's Anypoint Platform. Please also open a case "
            f"with MuleSoft ({guidance.portal}) at severity {guidance.severity}: "
            f"{guidance.definition}.",
            f"Check {guidance.status_page} for a known incident first.",
            "MuleSoft's first response depends on your subscription:",
        ]
        lines += [
            f"- {r.tier.title()}: within {r.target}, by {_when(_reported(r))}"
            for r in guidance.responses
        ]
        if guidance.in_maintenance_window:
            lines.append("This falls in MuleSoft's scheduled maintenance window.")
    return redact_text("\n".join(lines))


def unknown_site_note(ticket: TicketInput, site_url: str | None, kinds: Sequence[str]) -> str:
    read = f"`{site_url}`" if site_url else "none (no *.atlassian.net URL in the ticket)"
    lines = [
        f"## MuleSight diagnostics for {ticket.key}: site not connected",
        "",
        f"Site URL read from the ticket: {read}.",
        "No MuleSight installation with a connected space matches it, so no diagnostics ran.",
        "",
        "To connect it: install MuleSight for Confluence on that site, then in a space open "
        "Space settings → MuleSight and save the Anypoint connected app (client id and secret). "
        "Then run diagnostics and attach the report: `mulesight attach RUN_ID --ticket "
        f"{ticket.key}`.",
        "",
        "The customer has been asked for the site URL"
        + (" and whether MuleSight is installed and connected there." if site_url else "."),
    ]
    return redact_text("\n".join(lines + _secret_warning(kinds)))


def _secret_warning(kinds: Sequence[str]) -> list[str]:
    """The internal notes' paragraph for a ticket whose text holds a secret (never quoted)."""
    if not kinds:
        return []
    return [
        "",
        f"**Security-impacting:** the ticket text holds a secret ({', '.join(kinds)}); it is "
        "not quoted here. Route to the security owner and ask the customer to rotate it.",
    ]


def unknown_site_ask(site_url: str | None, missing: Sequence[str]) -> str:
    """The public comment when no installation matches: the site, then any other missing detail."""
    if site_url:
        lines = [
            "Thank you for your request. We could not find MuleSight for Confluence connected on "
            f"{site_url}, so diagnostics could not run yet.",
            "",
            "Please reply with:",
            f"- Your Confluence site URL, if it is not {site_url}",
            "- Whether MuleSight is installed on that site and a space is connected to Anypoint "
            "(Space settings → MuleSight)",
        ]
    else:
        lines = [
            "Thank you for your request. To run MuleSight diagnostics we need to know your site.",
            "",
            "Please reply with:",
            f"- {CUSTOMER_ASKS['customer_site_url']}",
        ]
    lines += [f"- {CUSTOMER_ASKS[key]}" for key in missing]
    return redact_text("\n".join(lines))


CLOUD_ID_ASK = (
    "Thank you for your request. Your site has more than one MuleSight installation, so we need "
    "one more detail to run diagnostics on the right one.\n\nPlease reply with your Confluence "
    "Cloud ID: open https://YOUR-SITE.atlassian.net/_edge/tenant_info in your browser and copy "
    "the cloudId value."
)


def ambiguous_site_note(ticket: TicketInput, site_url: str | None, kinds: Sequence[str]) -> str:
    """The internal note when the ticket's site matches several installations."""
    lines = [
        f"## MuleSight diagnostics for {ticket.key}: more than one installation",
        "",
        f"Site URL read from the ticket: `{site_url}`. More than one MuleSight installation is "
        "registered for it, and the ticket names the cloud id of none (or of several), so no "
        "diagnostics ran rather than diagnosing the wrong tenant.",
        "",
        "The customer has been asked for the site's Cloud ID. When it is in the ticket, "
        "redeliver the webhook or run diagnostics for the right installation and attach the "
        f"report: `mulesight attach RUN_ID --ticket {ticket.key}`.",
    ]
    return redact_text("\n".join(lines + _secret_warning(kinds)))


__all__ = [
    "CLOUD_ID_ASK",
    "CUSTOMER_ASKS",
    "UpstreamGuidance",
    "ambiguous_site_note",
    "filled_details",
    "internal_summary",
    "labels_for",
    "mulesoft_zone",
    "public_request",
    "unknown_site_ask",
    "unknown_site_note",
    "upstream_guidance",
]
