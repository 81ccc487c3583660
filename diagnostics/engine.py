"""One diagnostics run, end to end: plan → probe → evaluate → findings → redact → validate.

``run_diagnostics`` is the engine's single entry point for the CLI, the service and the tests.
The HTTP session decides what "Anypoint" is: the real platform, or a simulated organization
mounted as a transport adapter — the client code cannot tell them apart.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from diagnostics.anypoint import (
    AnypointClient,
    CachedToken,
    HostRateLimiter,
    RateLimiter,
    resolve_base_url,
)
from diagnostics.catalogue import DATASET_KEYS
from diagnostics.clock import utcnow
from diagnostics.evaluation import (
    apply_empty_exchange_rule,
    endpoints_sample_version,
    evaluate_datasets,
    evaluate_macros,
    evaluate_scopes,
    scope_section,
)
from diagnostics.findings import Finding, sort_findings
from diagnostics.model import AppState, Connection, Environment
from diagnostics.planner import DEFAULT_PAGE_SIZE, ProbePlan
from diagnostics.redaction import redact_report
from diagnostics.report import SCHEMA_VERSION, Report
from diagnostics.report_schema import validate_report
from diagnostics.rules import RULES, RuleContext, RuleSkipped
from diagnostics.runner import ProbeRunner, RunnerSettings
from diagnostics.severity import suggest_severity
from diagnostics.ticket_details import SUPPORT_TIMEZONE, ticket_details
from diagnostics.upstream import detect_upstream

DEFAULT_DEADLINE_S = 20.0
DEFAULT_RATE_PER_SECOND = 1000.0


@dataclass(frozen=True)
class RunOptions:
    """How one run behaves. The defaults keep a run inside a Forge remote call (25 s)."""

    deadline_s: float = DEFAULT_DEADLINE_S
    concurrency: int = 32
    rate_per_second: float = DEFAULT_RATE_PER_SECOND
    page_size: int = DEFAULT_PAGE_SIZE
    environments: Sequence[str] = ()
    datasets: Sequence[str] = ()
    timeout: tuple[float, float] = (3.05, 5.0)


@dataclass(frozen=True)
class RunInput:
    """What one run looks at. ``rate_limiter`` and ``token_cache`` default to the run's own; a
    service with many processes passes shared ones (one budget per organization)."""

    connection: Connection
    state: AppState = field(default_factory=AppState)
    now: datetime | None = None
    session: requests.Session | None = None
    run_id: str | None = None
    rate_limiter: RateLimiter | None = None
    token_cache: MutableMapping[Any, CachedToken] | None = None


def run_diagnostics(run: RunInput, options: RunOptions | None = None) -> Report:
    options = options or RunOptions()
    now = run.now or utcnow()
    connection = run.connection
    session = run.session or pooled_session(
        options.concurrency, resolve_base_url(connection.control_plane, connection.base_url)
    )
    client = AnypointClient(
        connection,
        session=session,
        timeout=options.timeout,
        rate_limiter=run.rate_limiter
        or HostRateLimiter(options.rate_per_second, burst=options.concurrency),
        token_cache=run.token_cache,
    )
    plan = ProbePlan(
        organization_id=connection.organization_id or "",
        environment_filter=options.environments,
        dataset_filter=options.datasets,
        enabled={k: run.state.space.is_enabled(k) for k in DATASET_KEYS},
        page_size=options.page_size,
    )
    runner = ProbeRunner(
        client, RunnerSettings(concurrency=options.concurrency, deadline_s=options.deadline_s)
    )
    started = time.monotonic()
    try:
        result = runner.run(plan)
    finally:
        if run.session is None:
            session.close()
    data = _build_report(run, options, now, result.records, plan.environments, result.hit_deadline)
    data["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    secrets = [connection.client_secret, *client.issued_tokens()]
    return Report(validate_report(redact_report(data, known_secrets=secrets)))


def pooled_session(concurrency: int, base_url: str) -> requests.Session:
    """A session whose connection pool holds one connection per concurrent probe.

    Proxy settings are read from the environment once per run instead of on every request
    (``trust_env`` makes requests re-read them, and ``~/.netrc``, for each call); the client
    sends its own bearer token, so netrc credentials never apply.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=concurrency)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _build_report(
    run: RunInput,
    options: RunOptions,
    now: datetime,
    records: list[Any],
    environments: list[Environment],
    hit_deadline: bool,
) -> dict[str, Any]:
    state, connection = run.state, run.connection
    empty_exchange = apply_empty_exchange_rule(records, state, connection.organization_id)
    datasets = evaluate_datasets(records, state, now, endpoints_sample_version(records))
    scopes = evaluate_scopes(records)
    macros = evaluate_macros(state)
    upstream = detect_upstream(
        {k: (d.coverage, d.reason) for k, d in datasets.items() if not d.dataset.derived},
        connection.control_plane,
        now,
    )
    ctx = RuleContext(
        datasets=datasets,
        scopes=scopes,
        macros=macros,
        records=records,
        environments=environments,
        now=now,
        sync_interval_hours=state.space.sync_interval_hours,
        upstream=upstream,
        hit_deadline=hit_deadline,
        deadline_s=options.deadline_s,
        empty_exchange=empty_exchange,
        cache_known=state.cache_known,
    )
    findings, checks = _run_rules(ctx)
    findings = sort_findings(findings)
    severity = suggest_severity(datasets, environments, findings)
    generated_at = now.astimezone(ZoneInfo(SUPPORT_TIMEZONE)).isoformat()
    verdict = _verdict(findings)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id or str(uuid.uuid4()),
        "generated_at": generated_at,
        "site_url": state.site_url,
        "space_key": state.space.key,
        "organization_id": connection.organization_id,
        "organization_name": _organization_name(records),
        "control_plane": connection.control_plane,
        "environments": [{"id": e.id, "name": e.name, "type": e.type} for e in environments],
        "verdict": verdict,
        "datasets": {k: datasets[k].to_report() for k in DATASET_KEYS},
        "scopes": scope_section(scopes),
        "macros": [m.to_report() for m in macros],
        "findings": [f.to_report() for f in findings],
        "checks": checks,
        "ticket_details": ticket_details(
            site_url=state.site_url,
            generated_at=generated_at,
            organization_id=connection.organization_id,
            environments=environments,
            datasets=datasets,
            macros=macros,
            findings=findings,
        ),
        "suggested_severity": severity.severity,
        "severity_reason": severity.reason,
        "summary": {
            "fail": sum(f.status == "fail" for f in findings),
            "warn": sum(f.status == "warn" for f in findings),
            "pass": sum(c["status"] == "pass" for c in checks),
        },
        "upstream": upstream.to_report(),
        "deadline_s": options.deadline_s,
        "redactions": {"count": 0, "kinds": {}},
    }


def _run_rules(ctx: RuleContext) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Run every rule under a guard: a crashed rule is an ``error`` check, not a crashed run."""
    findings: list[Finding] = []
    checks: list[dict[str, Any]] = []
    for check_id, title, rule in RULES:
        started = time.perf_counter()
        try:
            found = rule(ctx)
            status = _check_status(found)
        except RuleSkipped as skipped:
            found, status = [], "skipped"
            title = f"{title} (skipped: {skipped})"
        except Exception as exc:
            found, status = [], "error"
            title = f"{title} (rule crashed: {type(exc).__name__})"
        findings.extend(found)
        checks.append(
            {
                "id": check_id,
                "title": title,
                "status": status,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )
    return findings, checks


def _check_status(findings: Sequence[Finding]) -> str:
    if any(f.status == "fail" for f in findings):
        return "fail"
    return "warn" if findings else "pass"


def _verdict(findings: Sequence[Finding]) -> str:
    if any(f.status == "fail" for f in findings):
        return "broken"
    return "degraded" if findings else "healthy"


def _organization_name(records: Sequence[Any]) -> str | None:
    org = next((r for r in records if r.probe.key == "diagnostics.organization"), None)
    if org is not None and isinstance(org.data, dict):
        name = org.data.get("name")
        return str(name) if name else None
    return None
