"""The rules that turn evaluated sections into findings (report.md, "Verdict and findings").

Each rule is a small function ``rule(ctx) -> list[Finding]``; :data:`RULES` lists them with the
check they report as. The engine runs each under a guard, so a rule that crashes becomes an
``error`` check instead of a crashed run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diagnostics.catalogue import (
    DATASET_KEYS,
    PROBES_BY_KEY,
    SCOPES_BY_KEY,
    macro_name,
    scope_used_by,
)
from diagnostics.evaluation import DatasetResult, ScopeResult
from diagnostics.findings import (
    CONNECTED_APP_SCOPES,
    CONNECTION_SETTINGS,
    DOC_CACHE,
    DOC_CONNECTED_APPS,
    DOC_DIAGNOSTICS,
    DOC_MACROS,
    DOC_SCOPES,
    Finding,
    describe_places,
    grant_scope_remediation,
    page_name,
    people_time,
)
from diagnostics.macros import MacroStatus
from diagnostics.model import Environment
from diagnostics.probes import SKIP_DISABLED, SKIP_NOT_SELECTED, ProbeRecord
from diagnostics.statuses import FindingStatus, Owner
from diagnostics.ticket_details import SUPPORT_TIMEZONE
from diagnostics.upstream import UpstreamState

CREDENTIALS = "credentials.invalid"
DESTINATION_REFUSED = "anypoint.destination_refused"
UPSTREAM = "upstream.outage"
UNREACHABLE = "anypoint.unreachable"
HARD_FAILURES = frozenset({"timeout", "rate_limited", "error"})
COVERAGE_WORDS = {
    "none": "no data could be fetched",
    "partial": "only part of the data could be fetched",
}


class RuleSkipped(Exception):
    """Raised by a rule that cannot apply to this run; its check is reported as ``skipped``."""


@dataclass
class RuleContext:
    datasets: dict[str, DatasetResult]
    scopes: dict[str, ScopeResult]
    macros: list[MacroStatus]
    records: list[ProbeRecord]
    environments: list[Environment]
    now: datetime
    sync_interval_hours: int
    upstream: UpstreamState
    hit_deadline: bool
    deadline_s: float
    empty_exchange: bool
    cache_known: bool = True
    zone: str = SUPPORT_TIMEZONE

    @property
    def refused_destination(self) -> tuple[str, str] | None:
        """(host, why) when MuleSight's outbound policy refused the Anypoint host: no call left."""
        return next((r.refused for r in self.records if r.refused), None)

    @property
    def credentials_failed(self) -> bool:
        token = next((r for r in self.records if r.probe.role == "token"), None)
        return token is not None and token.outcome == "forbidden"

    def time(self, moment: datetime | None) -> str:
        """A time for people, in the site's zone to the minute."""
        return people_time(moment, self.zone) or "an unknown time"

    def blamed_scopes(self, records: Sequence[ProbeRecord]) -> list[str]:
        """The scopes whose missing grant explains the forbidden records (dependencies included)."""
        scopes: list[str] = []
        for r in records:
            if r.effective_outcome != "forbidden":
                continue
            probe = r.probe if r.outcome == "forbidden" else PROBES_BY_KEY.get(r.blocked_by or "")
            if probe is not None and probe.scope and probe.scope not in scopes:
                scopes.append(probe.scope)
        return scopes

    def unanswered(self) -> dict[str, list[ProbeRecord]]:
        """Probes Anypoint did not answer (timeouts, 5xx, rate limiting), by environment.

        Empty when the host was refused, the credentials failed or an outage is suspected: those
        explain them already.
        """
        if self.refused_destination or self.credentials_failed or self.upstream.suspected:
            return {}
        places: dict[str, list[ProbeRecord]] = {}
        order = {key: i for i, key in enumerate(DATASET_KEYS)}
        in_catalogue_order = sorted(
            self.records, key=lambda r: (order.get(r.probe.dataset, 99), r.probe.key, r.path)
        )
        for r in in_catalogue_order:
            if _unanswered(r):
                places.setdefault(r.environment_id or "organization", []).append(r)
        return places

    def root_cause(self, records: Sequence[ProbeRecord], reason: str | None) -> str | None:
        if self.refused_destination:
            return DESTINATION_REFUSED
        if self.credentials_failed:
            return CREDENTIALS
        if reason == "unreachable" and self.upstream.suspected:
            return UPSTREAM
        for scope in self.blamed_scopes(records):
            result = self.scopes[scope]
            if result.status != "full":
                return scope_key(result)
        unanswered = self.unanswered()
        for r in records:
            place = r.environment_id or "organization"
            if place in unanswered and (_unanswered(r) or r.cause in HARD_FAILURES):
                return f"{UNREACHABLE}:{place}"
        return None

    def dataset_key(self, key: str) -> str | None:
        """The key of the finding about dataset ``key`` when it is not full."""
        d = self.datasets[key]
        if d.coverage == "full" or d.reason == SKIP_NOT_SELECTED:
            return None
        return (
            f"dataset.disabled:{key}"
            if d.reason == SKIP_DISABLED
            else f"dataset.{d.coverage}:{key}"
        )


def _unanswered(r: ProbeRecord) -> bool:
    if r.outcome in ("timeout", "rate_limited"):
        return True
    return r.outcome == "error" and (r.status is None or r.status >= 500)


def waited(records: Sequence[ProbeRecord]) -> str:
    """``waited 15 s (3 attempts)`` over the longest of ``records``."""
    longest = max(records, key=lambda r: r.elapsed_ms)
    seconds = longest.elapsed_ms / 1000
    took = f"{seconds:.0f} s" if seconds >= 1 else f"{longest.elapsed_ms:.0f} ms"
    tries = f", {longest.attempts} attempts" if longest.attempts > 1 else ""
    return f"waited {took}{tries}"


def scope_key(result: ScopeResult) -> str:
    if not result.verified or not result.missing_in:
        return f"scope.unverified:{result.key}"
    rule = "scope.missing" if result.status == "none" else "scope.partial"
    return f"{rule}:{result.key}"


def credentials_rule(ctx: RuleContext) -> list[Finding]:
    if not ctx.credentials_failed:
        return []
    return [
        Finding(
            id=CREDENTIALS,
            subject="",
            status=FindingStatus.FAIL,
            title="Anypoint rejected the connected app's client id or secret",
            detail=(
                "The token call (POST /accounts/api/v2/oauth2/token) answered 401, so no data can "
                "be fetched for any dataset. The secret may have been regenerated or the app deleted."
            ),
            remediation=(
                "In Anypoint Platform → Access Management → Connected Apps, open MuleSight's app and "
                "copy its client id (regenerate the secret if nobody has it). Then in "
                f"{CONNECTION_SETTINGS} paste the client id and secret, save, and click "
                "Test connection."
            ),
            owner=Owner.CUSTOMER_ADMIN,
            datasets=[k for k, d in ctx.datasets.items() if d.coverage == "none" and d.checked],
            doc_url=DOC_CONNECTED_APPS,
        )
    ]


def destination_rule(ctx: RuleContext) -> list[Finding]:
    """MuleSight refused to call the connection's Anypoint host: a private or local address."""
    refused = ctx.refused_destination
    if refused is None:
        return []
    host, why = refused
    return [
        Finding(
            id=DESTINATION_REFUSED,
            subject="",
            status=FindingStatus.FAIL,
            title=f"MuleSight refused to connect to the Anypoint host {host}",
            detail=(
                f"The connection's Anypoint base URL leads to {host}, and {why}. MuleSight calls "
                "only public internet addresses, so that a connection cannot make it reach a "
                "private network and send the connected app's secret there. No call was sent, so "
                "no data could be fetched for any dataset."
            ),
            remediation=(
                f"In {CONNECTION_SETTINGS}, choose your Anypoint control plane (US, EU or Gov "
                "cloud), or for your own control plane enter the https address of its public host "
                "name, save, and click Test connection. If this "
                "MuleSight installation is meant to reach that private network, its operator can "
                "allow the network with the MULESIGHT_OUTBOUND_ALLOW setting instead."
            ),
            owner=Owner.CUSTOMER_ADMIN,
            datasets=[k for k, d in ctx.datasets.items() if d.coverage == "none" and d.checked],
            doc_url=DOC_DIAGNOSTICS,
        )
    ]


def connection_rule(ctx: RuleContext) -> list[Finding]:
    """The connection as a whole: a refused Anypoint host, else the connected app's credentials."""
    return destination_rule(ctx) or credentials_rule(ctx)


def upstream_rule(ctx: RuleContext) -> list[Finding]:
    up = ctx.upstream
    if not up.suspected:
        return []
    maintenance = (
        " The failure falls inside MuleSoft's scheduled maintenance window, so it is probably "
        "planned work."
        if up.in_maintenance_window
        else ""
    )
    return [
        Finding(
            id=UPSTREAM,
            subject="",
            status=FindingStatus.FAIL,
            title="Anypoint Platform is not answering (upstream outage suspected)",
            detail=(
                f"Every call for {_and([ctx.datasets[k].dataset.name for k in up.datasets])} "
                "failed with timeouts, 5xx answers or rate "
                "limiting, and none was refused for permissions: this points at MuleSoft's "
                f"platform, not at MuleSight or the connected app.{maintenance}"
            ),
            remediation=(
                f"Check {up.status_page} for an incident on the {up.control_plane} control plane. "
                "If there is none, open a case with MuleSoft support (a production outage of "
                "CloudHub-exposed APIs is S1) and quote this report's run id. MuleSight serves the "
                "last good cache meanwhile; run diagnostics again when the platform recovers."
            ),
            owner=Owner.MULESOFT,
            datasets=list(up.datasets),
            doc_url=up.status_page,
        )
    ]


def unreachable_rule(ctx: RuleContext) -> list[Finding]:
    """Anypoint did not answer for one environment (no outage suspected): name what and how long."""
    findings = []
    for place, records in ctx.unanswered().items():
        names = []
        for r in records:
            name = ctx.datasets[r.probe.dataset].dataset.name
            if name not in names:
                names.append(name)
        where = describe_places([place], ctx.environments)
        hit = [ctx.datasets[r.probe.dataset].coverage for r in records]
        calls = "; ".join(
            f"{r.probe.method} {r.path} {_failed_how(r)}" for r in records[:MAX_LISTED_CALLS]
        )
        more = len(records) - MAX_LISTED_CALLS
        calls += f"; and {more} more" if more > 0 else ""
        findings.append(
            Finding(
                id=UNREACHABLE,
                subject=place,
                status=FindingStatus.FAIL if "none" in hit else FindingStatus.WARN,
                title=f"{_and(names)} in {where} did not answer ({waited(records)})",
                detail=(
                    f"Anypoint did not answer these calls for {where}: {calls}. Every other "
                    "environment answered, so this is not a platform-wide outage and not a "
                    "missing permission."
                ),
                remediation=(
                    f"Check {ctx.upstream.status_page} for an incident on the "
                    f"{ctx.upstream.control_plane} control plane, then open {_and(names)} for "
                    f"{where} in Anypoint Platform. If it is slow there too, open a case with "
                    "MuleSoft support and quote this report's run id; if it answers there, run "
                    "diagnostics again and send the report to MuleSight support if the calls "
                    "time out again."
                ),
                owner=Owner.MULESOFT,
                datasets=list(dict.fromkeys(r.probe.dataset for r in records)),
                doc_url=ctx.upstream.status_page,
            )
        )
    return findings


MAX_LISTED_CALLS = 3


def _failed_how(r: ProbeRecord) -> str:
    attempts = f" ({r.attempts} attempts)" if r.attempts > 1 else ""
    if r.outcome == "timeout":
        return f"timed out after {r.elapsed_ms / 1000:.0f} s{attempts}"
    if r.outcome == "rate_limited":
        return f"was still rate limited after {r.elapsed_ms / 1000:.0f} s{attempts}"
    return f"answered {r.status or 'an error'}{attempts}"


def _and(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def dataset_rule(ctx: RuleContext) -> list[Finding]:
    findings = []
    for key, d in ctx.datasets.items():
        if d.coverage == "full" or d.reason == SKIP_NOT_SELECTED:
            continue
        if d.reason == SKIP_DISABLED:
            findings.append(_disabled_finding(key, d))
            continue
        scopes = ctx.blamed_scopes(d.records)
        if d.dataset.derived:
            sources = [s for s in d.dataset.sources if ctx.datasets[s].coverage != "full"]
            cause = next((ctx.dataset_key(s) for s in sources if ctx.dataset_key(s)), None)
        else:
            cause = ctx.root_cause(d.records, d.reason)
        owner, fix = _dataset_fix(ctx, d, scopes)
        findings.append(
            Finding(
                id=f"dataset.{d.coverage}",
                subject=key,
                status=FindingStatus.FAIL if d.coverage == "none" else FindingStatus.WARN,
                title=f"{d.dataset.name}: {COVERAGE_WORDS[d.coverage]}",
                detail=f"{_dataset_why(ctx, d, scopes)} {d.dataset.impact}",
                remediation=fix,
                owner=owner,
                datasets=[key],
                scopes=scopes,
                doc_url=DOC_DIAGNOSTICS,
                cause=cause,
                after_fix=f"refresh {d.dataset.name} (Refresh now in {CONNECTION_SETTINGS}).",
            )
        )
    return findings


def _disabled_finding(key: str, d: DatasetResult) -> Finding:
    return Finding(
        id="dataset.disabled",
        subject=key,
        status=FindingStatus.WARN,
        title=f"{d.dataset.name} is turned off for this space",
        detail=f"The space's MuleSight settings disable this dataset. {d.dataset.impact}",
        remediation=f"If the space needs it, turn {d.dataset.name} on in {CONNECTION_SETTINGS}.",
        owner=Owner.CUSTOMER_ADMIN,
        datasets=[key],
        doc_url=DOC_DIAGNOSTICS,
    )


def _dataset_why(ctx: RuleContext, d: DatasetResult, scopes: list[str]) -> str:
    if d.dataset.derived:
        sources = ", ".join(
            ctx.datasets[s].dataset.name
            for s in d.dataset.sources
            if ctx.datasets[s].coverage != "full"
        )
        return f"Built from other caches, and {sources or 'a source'} is incomplete."
    if ctx.credentials_failed:
        return "Nothing could be fetched because Anypoint rejected the connected app's credentials."
    if d.reason == "auth_blocked":
        where = _forbidden_places(ctx, d.records)
        return f"Anypoint refused {', '.join(scopes) or 'access'} for {where}."
    failing = [r for r in d.records if _unanswered(r)]
    if failing:
        places = list(dict.fromkeys(r.environment_id or "organization" for r in failing))
        where = describe_places(places, ctx.environments)
        return f"Anypoint did not answer for {where} ({waited(failing)})."
    if d.reason == "no_environments":
        return "No environment was available to probe."
    return "Some calls failed with unexpected answers (see the probe list)."


def _dataset_fix(ctx: RuleContext, d: DatasetResult, scopes: list[str]) -> tuple[Owner, str]:
    if d.reason == "auth_blocked" and scopes and not ctx.credentials_failed:
        where = _forbidden_places(ctx, d.records)
        return Owner.CUSTOMER_ADMIN, grant_scope_remediation(", ".join(scopes), where)
    if d.reason == "no_environments":
        return Owner.CUSTOMER_ADMIN, (
            f"In {CONNECTED_APP_SCOPES}, grant the app access to the environments MuleSight "
            "should show, or check the environment filter of this run."
        )
    return Owner.MULESIGHT_SUPPORT, (
        "Send this report to MuleSight support: the probe list shows the failing calls."
    )


def _forbidden_places(ctx: RuleContext, records: Sequence[ProbeRecord]) -> str:
    places = []
    for r in records:
        if r.effective_outcome == "forbidden":
            place = r.environment_id or "organization"
            if place not in places:
                places.append(place)
    return describe_places(places, ctx.environments) if places else "the organization"


def scope_rule(ctx: RuleContext) -> list[Finding]:
    findings = []
    for key, s in ctx.scopes.items():
        if s.status == "full" or not s.checked:
            continue
        meta = SCOPES_BY_KEY[key]
        used_by = [k for k, d in ctx.datasets.items() if key in ctx.blamed_scopes(d.records)]
        common: dict[str, Any] = {
            "status": FindingStatus.FAIL if s.status == "none" else FindingStatus.WARN,
            "scopes": [key],
            "doc_url": DOC_SCOPES,
        }
        if s.verified and s.missing_in:
            where = describe_places(s.missing_in, ctx.environments)
            detail = f"Anypoint refused the calls guarded by `{key}` for {where}. {meta.impact}"
            if key == "read:exchange" and ctx.empty_exchange:
                detail = (
                    "The Exchange search answered 200 with an empty list although the organization "
                    "owns Exchange assets (its API instances belong to its own group). Anypoint "
                    "answers this way when `read:exchange` is missing: it is probably missing. "
                    + meta.impact
                )
            missing = s.status == "none"
            findings.append(
                Finding(
                    id="scope.missing" if missing else "scope.partial",
                    subject=key,
                    title=f"Scope {key}: " + ("missing" if missing else f"not granted for {where}"),
                    detail=detail,
                    remediation=grant_scope_remediation(key, where),
                    owner=Owner.CUSTOMER_ADMIN,
                    datasets=used_by,
                    **common,
                )
            )
            continue
        own = [r for r in ctx.records if r.probe.scope == key]
        cause = ctx.root_cause(own, s.reason) or next(
            (ctx.dataset_key(d) for d in scope_used_by(key) if ctx.dataset_key(d)), None
        )
        blockers = [b for b in ctx.blamed_scopes(own) if b != key]
        unchecked = [r for r in own if r.outcome not in ("ok", "empty", "forbidden")]
        places = list(dict.fromkeys(r.environment_id or "organization" for r in unchecked))
        where = describe_places(places, ctx.environments) if places else "any environment"
        if ctx.credentials_failed:
            because = "Anypoint rejected the connected app's credentials, so no call could run"
        elif blockers:
            because = f"{', '.join(blockers)} is missing, so the calls it guards could not run"
        elif ctx.upstream.suspected and s.reason == "unreachable":
            because = "Anypoint did not answer (an upstream outage is suspected)"
        else:
            because = f"Anypoint did not answer the calls it guards for {where}"
        findings.append(
            Finding(
                id="scope.unverified",
                subject=key,
                title=f"Scope {key}: could not be checked"
                + ("" if not s.verified else f" for {where}"),
                detail=(
                    f"Whether `{key}` is granted is not known: {because}. Nothing shows it is "
                    "missing; do not change it before the cause is fixed."
                ),
                remediation="Fix the finding this one follows from; the scope is checked again "
                "on the next run.",
                owner=Owner.CUSTOMER_ADMIN,
                datasets=used_by,
                cause=cause,
                after_fix="run diagnostics again to check the scope.",
                **common,
            )
        )
    return findings


def cache_rule(ctx: RuleContext) -> list[Finding]:
    if not ctx.cache_known:
        raise RuleSkipped("the caches are not known to this run")
    findings = []
    for key, d in ctx.datasets.items():
        if d.dataset.derived or not d.checked or d.freshness.state == "not_applicable":
            continue
        f = d.freshness
        cause = None
        if d.coverage != "full":
            cause = ctx.root_cause(d.records, d.reason) or ctx.dataset_key(key)
        if f.state in ("expired", "stale", "never"):
            findings.append(_cache_finding(ctx, key, d, f.state, cause))
        if f.stale_fallback:
            state_key = f"cache.{f.state}:{key}" if f.state in ("expired", "stale") else None
            last = ctx.time(f.last_success) if f.last_success else "an earlier refresh"
            findings.append(
                Finding(
                    id="cache.stale_fallback",
                    subject=key,
                    status=FindingStatus.WARN,
                    title=f"{d.dataset.name}: serving the last good cache because the refresh failed",
                    detail=f"The last scheduled refresh failed, so MuleSight shows data from {last}.",
                    remediation=f"Run Refresh now for {d.dataset.name} in {CONNECTION_SETTINGS}. "
                    "If it fails again, send this report to MuleSight support.",
                    owner=Owner.CUSTOMER_ADMIN,
                    datasets=[key],
                    doc_url=DOC_CACHE,
                    cause=cause or state_key,
                    after_fix=f"run Refresh now for {d.dataset.name} in {CONNECTION_SETTINGS}.",
                )
            )
    return findings


def _cache_finding(
    ctx: RuleContext, key: str, d: DatasetResult, state: str, cause: str | None
) -> Finding:
    interval = ctx.sync_interval_hours
    if key == "endpoints":
        detail = (
            "The Endpoints cache has never been seeded: it fills when someone refreshes an "
            "Exchange macro in Endpoints mode."
            if state == "never"
            else "The Exchange asset behind the Endpoints cache has a newer version since it was seeded."
        )
        fix = (
            "Open a page with an Exchange macro in Endpoints mode, choose Refresh in the macro, "
            "and check that the methods and paths appear."
        )
    elif state == "never":
        detail = "No refresh of this dataset has ever succeeded, so macros have nothing to show."
        fix = (
            f"Run Refresh now in {CONNECTION_SETTINGS}. If it fails, send this report to "
            "MuleSight support."
        )
    else:
        age_h = d.freshness.age.total_seconds() / 3600 if d.freshness.age else 0
        limit = "twice the sync interval" if state == "expired" else "the sync interval"
        detail = (
            f"The last successful refresh, {ctx.time(d.freshness.last_success)} ({age_h:.0f} h "
            f"ago), is older than {limit} ({interval} h): the scheduled refresh is not keeping "
            "up or keeps failing."
        )
        fix = (
            f"Run Refresh now in {CONNECTION_SETTINGS}. If it fails, or succeeds but the cache "
            "ages again, send this report to MuleSight support."
        )
    words = {"never": "never refreshed", "stale": "out of date", "expired": "expired"}
    return Finding(
        id=f"cache.{state}",
        subject=key,
        status=FindingStatus.FAIL if state == "expired" else FindingStatus.WARN,
        title=f"{d.dataset.name} cache: {words[state]}",
        detail=detail,
        remediation=fix,
        owner=Owner.CUSTOMER_ADMIN,
        datasets=[key],
        doc_url=DOC_CACHE,
        cause=cause,
        after_fix=f"run Refresh now for {d.dataset.name} in {CONNECTION_SETTINGS}.",
    )


MACRO_WORDS = {"error": "fails", "timeout": "timed out", "stale": "shows stale data"}


def macro_rule(ctx: RuleContext) -> list[Finding]:
    findings = []
    for index, m in enumerate(ctx.macros):
        if m.status not in ("error", "timeout", "stale"):
            continue
        d = ctx.datasets[m.dataset]
        scopes = ctx.blamed_scopes(d.records) if not d.dataset.derived else []
        where = page_name(m.page_id, m.page_title)
        name = macro_name(m.macro, m.mode)
        detail = f"The {name} on {where} {MACRO_WORDS[m.status]}"
        detail += f" (last rendered {ctx.time(_as_datetime(m.last_rendered_at))})"
        detail += f": {m.error}." if m.error else "."
        cause: str | None
        if d.coverage != "full":
            detail += f" Its dataset {d.dataset.name}: {COVERAGE_WORDS.get(d.coverage, d.coverage)}"
            detail += f", because {', '.join(scopes)} is missing." if scopes else "."
            cause = ctx.dataset_key(m.dataset)
        elif d.freshness.state in ("stale", "expired", "never") or d.freshness.stale_fallback:
            state = d.freshness.state if d.freshness.state != "fresh" else "stale_fallback"
            detail += " Its dataset's cache is out of date."
            cause = f"cache.{state}:{m.dataset}"
        else:
            cause = None
        findings.append(
            Finding(
                id=f"macro.{m.status}",
                subject=f"{m.macro}@{m.page_id}" + (f"/{m.mode}" if m.mode else ""),
                status=FindingStatus.FAIL if m.status == "error" else FindingStatus.WARN,
                title=f"{name} {MACRO_WORDS[m.status]} on {where}",
                detail=detail,
                remediation=(
                    "The dataset is healthy now: reload the page. If the macro still fails, "
                    "attach this report and a screenshot to a MuleSight support ticket."
                ),
                owner=Owner.MULESIGHT_SUPPORT,
                datasets=[m.dataset],
                scopes=scopes,
                macros=[index],
                doc_url=DOC_MACROS,
                cause=cause,
                after_fix="reload the page.",
            )
        )
    return findings


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def deadline_rule(ctx: RuleContext) -> list[Finding]:
    if not ctx.hit_deadline:
        return []
    unanswered = ctx.unanswered()
    cause = (
        UPSTREAM
        if ctx.upstream.suspected
        else next((f"{UNREACHABLE}:{p}" for p in unanswered), None)
    )
    return [
        Finding(
            id="run.deadline",
            subject="",
            status=FindingStatus.WARN,
            title=f"Diagnostics stopped at the {ctx.deadline_s:g} s deadline",
            detail=(
                "Some calls were still waiting for Anypoint when the run had to finish (a Forge "
                "remote call gets 25 s). They are reported as timeouts."
            ),
            remediation=(
                "Run diagnostics again; if the same calls time out again, send this report to "
                "MuleSight support."
            ),
            owner=Owner.MULESIGHT_SUPPORT,
            doc_url=DOC_DIAGNOSTICS,
            cause=cause,
            after_fix="run diagnostics again.",
        )
    ]


Rule = Callable[[RuleContext], list[Finding]]

RULES: tuple[tuple[str, str, Rule], ...] = (
    ("connection", "Connected-app credentials", connection_rule),
    ("upstream", "Anypoint platform status", upstream_rule),
    ("unreachable", "Anypoint answers in every environment", unreachable_rule),
    ("scopes", "Required scopes", scope_rule),
    ("datasets", "Dataset coverage", dataset_rule),
    ("caches", "Cache freshness", cache_rule),
    ("macros", "Macro renders", macro_rule),
    ("deadline", "Run deadline", deadline_rule),
)
