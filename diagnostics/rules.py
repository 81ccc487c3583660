"""The rules that turn evaluated sections into findings (report.md, "Verdict and findings").

Each rule is a small function ``rule(ctx) -> list[Finding]``; :data:`RULES` lists them with the
check they report as. The engine runs each under a guard, so a rule that crashes becomes an
``error`` check instead of a crashed run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from diagnostics.catalogue import PROBES_BY_KEY, SCOPES_BY_KEY
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
)
from diagnostics.macros import MacroStatus
from diagnostics.model import Environment
from diagnostics.probes import ProbeRecord
from diagnostics.upstream import UpstreamState

CREDENTIALS = "credentials.invalid"
UPSTREAM = "upstream.outage"


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

    @property
    def credentials_failed(self) -> bool:
        token = next((r for r in self.records if r.probe.role == "token"), None)
        return token is not None and token.outcome == "forbidden"

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

    def root_cause(self, records: Sequence[ProbeRecord], reason: str | None) -> str | None:
        if self.credentials_failed:
            return CREDENTIALS
        if reason == "unreachable" and self.upstream.suspected:
            return UPSTREAM
        scopes = self.blamed_scopes(records)
        if scopes and self.scopes[scopes[0]].status != "full":
            return scope_key(self.scopes[scopes[0]])
        return None


def scope_key(result: ScopeResult) -> str:
    if not result.missing_in:
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
            status="fail",
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
            owner="customer_admin",
            datasets=[k for k, d in ctx.datasets.items() if d.coverage == "none" and d.checked],
            doc_url=DOC_CONNECTED_APPS,
        )
    ]


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
            status="fail",
            title="Anypoint Platform is not answering (upstream outage suspected)",
            detail=(
                f"Every probe of {', '.join(up.datasets)} failed with timeouts, 5xx answers or rate "
                "limiting, and none was refused for permissions: this points at MuleSoft's "
                f"platform, not at MuleSight or the connected app.{maintenance}"
            ),
            remediation=(
                f"Check {up.status_page} for an incident on the {up.control_plane} control plane. "
                "If there is none, open a case with MuleSoft support (a production outage of "
                "CloudHub-exposed APIs is S1) and quote this report's run id. MuleSight serves the "
                "last good cache meanwhile; run diagnostics again when the platform recovers."
            ),
            owner="mulesoft",
            datasets=list(up.datasets),
            doc_url=up.status_page,
        )
    ]


def dataset_rule(ctx: RuleContext) -> list[Finding]:
    findings = []
    for key, d in ctx.datasets.items():
        if d.coverage == "full" or d.reason == "not_selected":
            continue
        if d.reason == "disabled":
            findings.append(_disabled_finding(key, d))
            continue
        cause = ctx.root_cause(d.records, d.reason)
        scopes = ctx.blamed_scopes(d.records)
        status = "fail" if d.coverage == "none" else "warn"
        owner, fix = _dataset_fix(ctx, d, scopes)
        findings.append(
            Finding(
                id=f"dataset.{d.coverage}",
                subject=key,
                status=status,
                title=f"{d.dataset.name}: {d.coverage} coverage",
                detail=f"{_dataset_why(ctx, d, scopes)} {d.dataset.impact}",
                remediation=fix,
                owner=owner,
                datasets=[key],
                scopes=scopes,
                doc_url=DOC_DIAGNOSTICS,
                cause=cause,
            )
        )
    return findings


def _disabled_finding(key: str, d: DatasetResult) -> Finding:
    return Finding(
        id="dataset.disabled",
        subject=key,
        status="warn",
        title=f"{d.dataset.name} is turned off for this space",
        detail=f"The space's MuleSight settings disable this dataset. {d.dataset.impact}",
        remediation=f"If the space needs it, turn {d.dataset.name} on in {CONNECTION_SETTINGS}.",
        owner="customer_admin",
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
        return "Nothing could be fetched because the token call failed."
    if d.reason == "auth_blocked":
        where = _forbidden_places(ctx, d.records)
        return f"Anypoint refused {', '.join(scopes) or 'access'} for {where}."
    if d.reason == "unreachable":
        return "Anypoint did not answer in time, answered 5xx, or kept rate limiting."
    if d.reason == "no_environments":
        return "No environment was available to probe."
    return "Some probes failed with unexpected answers (see the probe list)."


def _dataset_fix(ctx: RuleContext, d: DatasetResult, scopes: list[str]) -> tuple[str, str]:
    if d.dataset.derived:
        return "customer_admin", "Fix the findings of the source datasets; this one follows."
    if ctx.credentials_failed:
        return (
            "customer_admin",
            "Fix the connected app's credentials (see the credentials finding).",
        )
    if d.reason == "auth_blocked" and scopes:
        where = _forbidden_places(ctx, d.records)
        return "customer_admin", grant_scope_remediation(", ".join(scopes), where)
    if d.reason == "unreachable":
        return "mulesoft", (
            "Wait for Anypoint to recover (see the upstream finding), then run diagnostics again. "
            "If only this dataset is affected, send this report to MuleSight support."
        )
    if d.reason == "no_environments":
        return "customer_admin", (
            f"In {CONNECTED_APP_SCOPES}, grant the app access to the environments MuleSight "
            "should show, or check the environment filter of this run."
        )
    return "mulesight_support", (
        "Attach this report to a MuleSight support ticket: the probe list shows the failing calls."
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
        if s.missing_in:
            where = describe_places(s.missing_in, ctx.environments)
            detail = f"Anypoint refused the probes guarded by `{key}` for {where}. {meta.impact}"
            if key == "read:exchange" and ctx.empty_exchange:
                detail = (
                    "The Exchange search answered 200 with an empty list although the organization "
                    "owns Exchange assets (its API instances belong to its own group). Anypoint "
                    "answers this way when `read:exchange` is missing: it is probably missing. "
                    + meta.impact
                )
            owner, fix, cause = "customer_admin", grant_scope_remediation(key, where), None
        else:
            own = [r for r in ctx.records if r.probe.scope == key]
            cause = ctx.root_cause(own, s.reason)
            blockers = [b for b in ctx.blamed_scopes(own) if b != key]
            where = _forbidden_places(ctx, own)
            because = (
                f"{', '.join(blockers)} is missing for {where}, so its probes could not run there"
                if blockers
                else f"its probes got no usable answer ({s.reason})"
            )
            detail = f"`{key}` could not be checked everywhere: {because}. {meta.impact}"
            owner = "mulesoft" if cause == UPSTREAM else "customer_admin"
            fix = "Fix the finding this one points at; the scope is checked again on the next run."
        rule = "scope.missing" if s.status == "none" else "scope.partial"
        findings.append(
            Finding(
                id=rule if s.missing_in else "scope.unverified",
                subject=key,
                status="fail" if s.status == "none" else "warn",
                title=f"Scope {key}: {'missing' if s.status == 'none' else 'partly granted'}",
                detail=detail,
                remediation=fix,
                owner=owner,
                datasets=[
                    k for k, d in ctx.datasets.items() if key in ctx.blamed_scopes(d.records)
                ],
                scopes=[key],
                doc_url=DOC_SCOPES,
                cause=cause,
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
        cause = ctx.root_cause(d.records, d.reason) if d.coverage != "full" else None
        if f.state in ("expired", "stale", "never"):
            findings.append(_cache_finding(ctx, key, d, f.state, cause))
        if f.stale_fallback:
            findings.append(
                Finding(
                    id="cache.stale_fallback",
                    subject=key,
                    status="warn",
                    title=f"{d.dataset.name}: serving the last good cache because the refresh failed",
                    detail=(
                        "The last scheduled refresh failed, so MuleSight shows data from "
                        f"{f.last_success.isoformat() if f.last_success else 'an earlier refresh'}."
                    ),
                    remediation=(
                        "Fix the finding that makes the refresh fail, then refresh the dataset from "
                        f"{CONNECTION_SETTINGS} (Refresh now)."
                    ),
                    owner="customer_admin" if cause and cause != UPSTREAM else "mulesight_support",
                    datasets=[key],
                    doc_url=DOC_CACHE,
                    cause=cause,
                )
            )
    return findings


def _cache_finding(
    ctx: RuleContext, key: str, d: DatasetResult, state: str, cause: str | None
) -> Finding:
    interval = ctx.sync_interval_hours
    last = d.freshness.last_success.isoformat() if d.freshness.last_success else None
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
        fix = f"Run Refresh now in {CONNECTION_SETTINGS}; if it fails, fix the findings it shows."
    else:
        age_h = d.freshness.age.total_seconds() / 3600 if d.freshness.age else 0
        limit = "twice the sync interval" if state == "expired" else "the sync interval"
        detail = (
            f"Last successful refresh {last} ({age_h:.0f} h ago) is older than {limit} "
            f"({interval} h): the scheduled refresh is not keeping up or keeps failing."
        )
        fix = (
            f"Run Refresh now in {CONNECTION_SETTINGS}. If it fails, fix the finding it points "
            "at; if it succeeds but the cache ages again, send this report to MuleSight support."
        )
    return Finding(
        id=f"cache.{state}",
        subject=key,
        status="fail" if state == "expired" else "warn",
        title=f"{d.dataset.name} cache: {state}",
        detail=detail,
        remediation=fix,
        owner="customer_admin" if key == "endpoints" or cause else "mulesight_support",
        datasets=[key],
        doc_url=DOC_CACHE,
        cause=cause,
    )


def macro_rule(ctx: RuleContext) -> list[Finding]:
    findings = []
    for index, m in enumerate(ctx.macros):
        if m.status not in ("error", "timeout", "stale"):
            continue
        d = ctx.datasets[m.dataset]
        scopes = ctx.blamed_scopes(d.records) if not d.dataset.derived else []
        where = f"page {m.page_id}" + (f" “{m.page_title}”" if m.page_title else "")
        mode = f" ({m.mode})" if m.mode else ""
        detail = f"The {m.macro}{mode} macro on {where} last rendered {m.status}"
        detail += f" at {m.last_rendered_at}" + (f": {m.error}." if m.error else ".")
        if d.coverage != "full":
            detail += f" Its dataset {d.dataset.name} has {d.coverage} coverage"
            detail += f" because {', '.join(scopes)} is missing." if scopes else "."
            cause = ctx.root_cause(d.records, d.reason) or f"dataset.{d.coverage}:{m.dataset}"
            fix = (
                grant_scope_remediation(", ".join(scopes), _forbidden_places(ctx, d.records))
                if scopes and not ctx.credentials_failed
                else "Fix the dataset finding this macro points at, then reload the page."
            )
            owner = "customer_admin" if cause != UPSTREAM else "mulesoft"
        elif d.freshness.state in ("stale", "expired", "never") or d.freshness.stale_fallback:
            state = d.freshness.state if d.freshness.state != "fresh" else "stale_fallback"
            detail += f" Its dataset's cache is {state.replace('_', ' ')}."
            cause = f"cache.{state}:{m.dataset}"
            fix = (
                f"Refresh {d.dataset.name} (Refresh now in {CONNECTION_SETTINGS}, or Refresh in "
                "the macro), then reload the page."
            )
            owner = "customer_admin"
        else:
            cause = None
            fix = (
                "The dataset is healthy now: reload the page. If the macro still fails, attach "
                "this report and a screenshot to a MuleSight support ticket."
            )
            owner = "mulesight_support"
        findings.append(
            Finding(
                id=f"macro.{m.status}",
                subject=f"{m.macro}@{m.page_id}" + (f"/{m.mode}" if m.mode else ""),
                status="fail" if m.status == "error" else "warn",
                title=f"{m.macro}{mode} macro {m.status} on {where}",
                detail=detail,
                remediation=fix,
                owner=owner,
                datasets=[m.dataset],
                scopes=scopes,
                macros=[index],
                doc_url=DOC_MACROS,
                cause=cause,
            )
        )
    return findings


def deadline_rule(ctx: RuleContext) -> list[Finding]:
    if not ctx.hit_deadline:
        return []
    return [
        Finding(
            id="run.deadline",
            subject="",
            status="warn",
            title=f"Diagnostics stopped at the {ctx.deadline_s:g} s deadline",
            detail=(
                "Some probes were still waiting for Anypoint when the run had to finish (a Forge "
                "remote call gets 25 s). They are reported as timeouts."
            ),
            remediation="Run diagnostics again; if the same probes time out, see the upstream finding.",
            owner="mulesight_support",
            doc_url=DOC_DIAGNOSTICS,
        )
    ]


Rule = Callable[[RuleContext], list[Finding]]

RULES: tuple[tuple[str, str, Rule], ...] = (
    ("connection", "Connected-app credentials", credentials_rule),
    ("upstream", "Anypoint platform status", upstream_rule),
    ("scopes", "Required scopes", scope_rule),
    ("datasets", "Dataset coverage", dataset_rule),
    ("caches", "Cache freshness", cache_rule),
    ("macros", "Macro renders", macro_rule),
    ("deadline", "Run deadline", deadline_rule),
)
