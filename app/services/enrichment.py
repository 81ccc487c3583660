"""Ticket enrichment: when a ticket arrives, diagnose the customer's site and prepare the ticket.

:func:`enrich_ticket` reads the ticket (:func:`diagnostics.tickets.read_ticket`), finds the
installation of the site it names, runs diagnostics for the spaces it names (or every configured
space of the site), then enqueues — in the caller's transaction, through the outbox — one
internal comment (verdict, findings worst first, suggested severity and why, due times, escalation
stage, upstream guidance), the reports as two internal attachments, labels, and at most one public
comment asking only for the details still missing (and, when MuleSoft's platform is the cause,
what to file with MuleSoft and what to expect). An unknown site gets one internal comment saying
so, nothing else.

:func:`attach_run` enqueues a stored run's report for a ticket (``mulesight attach``). Every text
is redacted once: comment texts here, reports when they were stored (the outbox is told so).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.crypto import SecretBox
from app.models import DiagnosticRun, Installation, Space, WebhookEvent
from app.services import outbox
from app.services import ticket_store as store
from app.services.connectors import TARGET_LOCAL
from app.services.runs import fresh_run_for_space, render_stored, report_of
from app.tickets import Attachment, TicketData
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
from diagnostics.tickets import DETAILS_BY_KEY, TicketReading, read_ticket, ticket_document

log = logging.getLogger(__name__)

ISSUE_CREATED = "jira:issue_created"
VERDICT_ORDER = ("healthy", "degraded", "broken")
COVERAGE_ORDER = ("full", "partial", "none")
MULESOFT = "mulesoft"
_MARKER = re.compile(r"\[REDACTED:([a-z_]+)\]")
_CLOUD_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_SITE_HOST = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\.atlassian\.net$")
_SPACE_PATTERNS = (
    re.compile(r"/wiki/spaces/(~?[A-Za-z0-9_]+)"),
    re.compile(r"/display/(~?[A-Za-z0-9_]+)"),
    re.compile(r"\bspace(?:\s+key)?\s*[:=]\s*[\"'`]?(~?[A-Za-z0-9_]+)", re.IGNORECASE),
    re.compile(r"\bspace\s+[\"'`]?([A-Z][A-Z0-9_]+)\b"),
    re.compile(r"\b([A-Z][A-Z0-9_]+)[\"'`]?\s+space\b"),
)
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


# -- the ticket -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketInput:
    """A ticket to enrich: ``document`` is what :func:`read_ticket` reads."""

    key: str
    document: Mapping[str, Any]
    opened_at: datetime
    site_url: str | None = None


def is_issue_created(payload: Any) -> bool:
    """A Service Management ``jira:issue_created`` webhook body (the fields we rely on)."""
    if not isinstance(payload, Mapping) or payload.get("webhookEvent") != ISSUE_CREATED:
        return False
    issue = payload.get("issue")
    return (
        isinstance(issue, Mapping)
        and isinstance(issue.get("key"), str)
        and bool(issue["key"].strip())
        and isinstance(issue.get("fields"), Mapping)
    )


def ticket_from_webhook(payload: Mapping[str, Any], now: datetime | None = None) -> TicketInput:
    issue = payload["issue"]
    opened = _parse_time(issue["fields"].get("created")) or _epoch_ms(payload.get("timestamp"))
    return TicketInput(str(issue["key"]), payload, opened or now or _utcnow())


def ticket_from_data(data: TicketData, now: datetime | None = None) -> TicketInput:
    fields = {**data.fields, "summary": data.summary, "description": data.description}
    opened = _parse_time(data.fields.get("created"))
    return TicketInput(
        data.key, {"key": data.key, "fields": fields}, opened or now or _utcnow(), data.site_url
    )


def _utcnow() -> datetime:
    return clock.now()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def normalize_site_url(url: str | None) -> str | None:
    """``https://acme.atlassian.net`` from ``acme.atlassian.net``, ``https://ACME.atlassian.net/wiki/``…"""
    if not url or not url.strip():
        return None
    text = url.strip()
    host = (urlsplit(text if "//" in text else f"//{text}").hostname or "").lower().rstrip(".")
    return f"https://{host}" if host else None


def find_installations(session: Session, site_url: str | None) -> list[Installation]:
    """Every installation whose site URL is ``site_url`` (scheme, case, path and slash ignored)."""
    wanted = normalize_site_url(site_url)
    if wanted is None:
        return []
    host = wanted.removeprefix("https://")
    candidates = session.scalars(
        select(Installation)
        .where(Installation.site_url.is_not(None), Installation.site_url.ilike(f"%{host}%"))
        .order_by(Installation.created_at, Installation.id)
    )
    return [i for i in candidates if normalize_site_url(i.site_url) == wanted]


def find_installation(
    session: Session, site_url: str | None, text: str = ""
) -> Installation | None:
    """The one installation of ``site_url``; ``None`` when none matches, or when several do and
    ``text`` (the ticket) names the cloud id of none or several of them — never a guess."""
    candidates = find_installations(session, site_url)
    if len(candidates) > 1:
        named = {m.lower() for m in _CLOUD_ID.findall(text)}
        candidates = [i for i in candidates if i.cloud_id.lower() in named]
    return candidates[0] if len(candidates) == 1 else None


def space_keys_in(text: str) -> list[str]:
    """Space keys a ticket names (``/wiki/spaces/OPS``, ``space: OPS``, ``the OPS space``)."""
    found: list[str] = []
    for pattern in _SPACE_PATTERNS:
        for match in pattern.finditer(text):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found


def security_kinds(ticket: Mapping[str, Any] | str, reading: TicketReading) -> list[str]:
    """Kinds of secret in the ticket: found by the reading, or already redacted before storage."""
    kinds = [s["kind"] for s in reading.sensitive]
    kinds += _MARKER.findall(ticket_document(ticket).everything)
    return list(dict.fromkeys(kinds))


# -- the outcome ----------------------------------------------------------------------------------


@dataclass
class Enrichment:
    """What :func:`enrich_ticket` found and enqueued (idempotency keys in ``messages``)."""

    ticket: str
    target: str
    site_url: str | None
    installation_id: str | None = None
    run_ids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    severity: str | None = None
    security_impacting: bool = False
    missing: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    fresh: bool = field(default=False, repr=False)  # no message stored under this ref yet


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


def _filled(reports: Sequence[Report]) -> dict[str, str]:
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
    if kinds:
        lines += [
            "",
            f"**Security-impacting:** the ticket text holds a secret ({', '.join(kinds)}); it is "
            "not quoted here. Route to the security owner and ask the customer to rotate it.",
        ]
    return redact_text("\n".join(lines))


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
    if kinds:
        lines += [
            "",
            f"**Security-impacting:** the ticket text holds a secret ({', '.join(kinds)}); it is "
            "not quoted here. Route to the security owner and ask the customer to rotate it.",
        ]
    return redact_text("\n".join(lines))


def report_files(runs: Sequence[DiagnosticRun]) -> list[Attachment]:
    """``report.json`` and ``report.md`` (one pair per space when there are several): renders of
    the stored, redacted reports as they are (:func:`~app.services.runs.render_stored`)."""
    files = []
    for run in runs:
        suffix = f"-{run.report.get('space_key')}" if len(runs) > 1 else ""
        json_text, markdown = render_stored(run, "json"), render_stored(run, "markdown")
        files.append(Attachment(f"report{suffix}.json", "application/json", json_text.encode()))
        files.append(Attachment(f"report{suffix}.md", "text/markdown", markdown.encode()))
    return files


# -- the job --------------------------------------------------------------------------------------


def _runs(
    session: Session,
    installation: Installation,
    text: str,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    requested_by: str,
) -> list[DiagnosticRun]:
    configured = {
        s.key.upper(): s
        for s in session.scalars(select(Space).where(Space.installation_id == installation.id))
    }
    named = [configured[k.upper()] for k in space_keys_in(text) if k.upper() in configured]
    spaces = named or sorted(configured.values(), key=lambda s: s.key)
    return [
        fresh_run_for_space(session, space, config=config, box=box, requested_by=requested_by)
        for space in dict.fromkeys(spaces)
    ]


def enrich_ticket(
    session: Session,
    ticket: TicketInput,
    *,
    ref: str,
    target: str,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment:
    """Diagnose and enqueue everything for ``ticket`` (see the module docstring).

    Runs are stored (and committed) by the runs service; the outbox messages are added to the
    session under keys ``"<ref>:…"`` and the caller commits them.
    """
    now = now or _utcnow()
    reading = read_ticket(ticket.document)
    kinds = security_kinds(ticket.document, reading)
    site_url = normalize_site_url(reading.present.get("customer_site_url") or ticket.site_url)
    result = Enrichment(ticket.key, target, site_url, security_impacting=bool(kinds))
    result.fresh = not outbox.has_messages(session, f"{ref}:")
    text = ticket_document(ticket.document).text
    installation = find_installation(session, site_url, text)
    if installation is None and len(find_installations(session, site_url)) > 1:
        body = ambiguous_site_note(ticket, site_url, kinds)
        _comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        _comment(session, result, f"{ref}:comment:public", CLOUD_ID_ASK, public=True, now=now)
        return result
    runs: list[DiagnosticRun] = []
    if installation is not None:
        result.installation_id = installation.id
        runs = _runs(
            session,
            installation,
            text,
            config=config,
            box=box,
            requested_by=f"webhook:{ticket.key}"[:255],
        )
    if not runs:
        body = unknown_site_note(ticket, site_url, kinds)
        _comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
        ask = unknown_site_ask(site_url, [k for k in reading.missing if k != "customer_site_url"])
        _comment(session, result, f"{ref}:comment:public", ask, public=True, now=now)
        return result

    reports = [report_of(run) for run in runs]
    result.run_ids = [run.id for run in runs]
    filled = _filled(reports)
    result.missing = [k for k in reading.missing if k not in filled]
    zone = mulesoft_zone(reading.present.get("timezone"))
    body, severity = internal_summary(
        ticket=ticket,
        reports=reports,
        run_ids=result.run_ids,
        reading=reading,
        kinds=kinds,
        now=now,
        missing=result.missing,
        filled=filled,
        zone=zone,
    )
    result.severity = severity
    result.labels = labels_for(reports, severity, security=bool(kinds))
    _comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
    _attach(session, result, f"{ref}:attach:internal", report_files(runs), now=now)
    _labels(session, result, f"{ref}:labels", result.labels, now=now)
    public = public_request(
        result.missing, upstream_guidance(reports, severity, ticket.opened_at, zone)
    )
    if public is not None:
        _comment(session, result, f"{ref}:comment:public", public, public=True, now=now)
    return result


def attach_run(
    session: Session,
    run: DiagnosticRun,
    ticket_key: str,
    *,
    target: str,
    opened_at: datetime | None = None,
    now: datetime | None = None,
) -> Enrichment:
    """Enqueue a stored run's report for a ticket: internal comment, the two reports, labels.

    Keys are ``"attach:<run id>:<ticket>:…"``: attaching the same run twice sends nothing new.
    ``opened_at`` (the ticket's creation, when known) sets the due times; default: now.
    """
    now = now or _utcnow()
    report = report_of(run)
    ticket = TicketInput(ticket_key, {"key": ticket_key, "fields": {}}, opened_at or now)
    body, severity = internal_summary(
        ticket=ticket,
        reports=[report],
        run_ids=[run.id],
        reading=None,
        kinds=[],
        now=now,
        missing=[],
        filled=_filled([report]),
    )
    ref = f"attach:{run.id}:{ticket_key}"
    result = Enrichment(ticket_key, target, report.data.get("site_url"), run.installation_id)
    result.fresh = not outbox.has_messages(session, f"{ref}:")
    result.run_ids, result.severity = [run.id], severity
    result.labels = labels_for([report], severity, security=False)
    _comment(session, result, f"{ref}:comment:internal", body, public=False, now=now)
    _attach(session, result, f"{ref}:attach:internal", report_files([run]), now=now)
    _labels(session, result, f"{ref}:labels", result.labels, now=now)
    return result


def _comment(
    session: Session, result: Enrichment, key: str, body: str, *, public: bool, now: datetime
) -> None:
    outbox.enqueue_comment(  # every body here went through redact_text
        session,
        key,
        target=result.target,
        ticket=result.ticket,
        body=body,
        public=public,
        now=now,
        redacted=True,
        fresh=result.fresh,
    )
    result.messages.append(key)


def _attach(
    session: Session, result: Enrichment, key: str, files: list[Attachment], *, now: datetime
) -> None:
    outbox.enqueue_attachments(  # renders of stored reports, redacted when they were stored
        session,
        key,
        target=result.target,
        ticket=result.ticket,
        files=files,
        public=False,
        now=now,
        redacted=True,
        fresh=result.fresh,
    )
    result.messages.append(key)


def _labels(
    session: Session, result: Enrichment, key: str, labels: list[str], *, now: datetime
) -> None:
    outbox.enqueue_labels(
        session,
        key,
        target=result.target,
        ticket=result.ticket,
        labels=labels,
        now=now,
        fresh=result.fresh,
    )
    result.messages.append(key)


# -- entry points for the jobs ---------------------------------------------------------------------

RECEIVED, PROCESSING, DONE, FAILED = "received", "processing", "done", "failed"


def event_ref(event: WebhookEvent) -> str:
    return f"event-{event.id}"


def process_webhook_event(
    session: Session,
    event_id: int,
    *,
    target: str,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment | None:
    """Enrich the ticket of a stored webhook event once; ``None`` if it was done already.

    The outbox messages and the event's ``done`` status commit together; a failure marks the
    event ``failed`` (a redelivery tries again) and re-raises.
    """
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status == DONE:
        return None
    try:  # the job's row says it runs; the event's own status changes once, with the outcome
        result = enrich_ticket(
            session,
            ticket_from_webhook(event.payload, now),
            ref=event_ref(event),
            target=target,
            config=config,
            box=box,
            now=now,
        )
        event.status, event.processed_at, event.error = DONE, now or _utcnow(), None
        session.commit()
    except Exception as exc:
        session.rollback()
        _mark_failed(session, event_id, exc)
        raise
    return result


def _mark_failed(session: Session, event_id: int, exc: Exception) -> None:
    event = session.get(WebhookEvent, event_id)
    if event is not None and event.status == DONE:  # a concurrent run finished it: keep done
        log.info("webhook event %s was enriched by another run meanwhile", event_id)
        return
    if event is not None:
        event.status = FAILED
        event.error = redact_text(f"{type(exc).__name__}: {exc}")[:1000]
        session.commit()
    log.error("enrichment of webhook event %s failed: %s", event_id, type(exc).__name__)


def enrich_local_ticket(
    session: Session,
    key: str,
    *,
    config: Mapping[str, Any],
    box: SecretBox,
    now: datetime | None = None,
) -> Enrichment:
    """Enrich a ticket of the local store (created from the console); commits."""
    data = store.LocalTicketStore(session).get_ticket(key)
    result = enrich_ticket(
        session,
        ticket_from_data(data, now),
        ref=f"local-{key}",
        target=TARGET_LOCAL,
        config=config,
        box=box,
        now=now,
    )
    row = store.find_ticket(session, key)
    if row is not None and result.installation_id:
        row.installation_id = result.installation_id
    session.commit()
    return result


__all__ = [
    "ISSUE_CREATED",
    "Enrichment",
    "TicketInput",
    "UpstreamGuidance",
    "attach_run",
    "enrich_local_ticket",
    "enrich_ticket",
    "event_ref",
    "find_installation",
    "find_installations",
    "internal_summary",
    "is_issue_created",
    "labels_for",
    "normalize_site_url",
    "process_webhook_event",
    "public_request",
    "space_keys_in",
    "ticket_from_data",
    "ticket_from_webhook",
    "unknown_site_note",
    "upstream_guidance",
]
