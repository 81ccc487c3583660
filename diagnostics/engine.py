"""One diagnostics run, end to end: plan → probe → evaluate → findings → redact → validate.

``run_diagnostics`` is the engine's single entry point for the CLI, the service and the tests.
The HTTP session decides what "Anypoint" is: the real platform, or a simulated organization
mounted as a transport adapter — the client code cannot tell them apart.
"""

from __future__ import annotations

import logging
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
from diagnostics.catalogue import CATALOGUE, Catalogue
from diagnostics.clock import utcnow
from diagnostics.evaluation import (
    evaluate_datasets,
    evaluate_macros,
    evaluate_scopes,
    organization_name,
    read_empty_answers,
    scope_section,
)
from diagnostics.findings import Check, Finding, arrange_findings, mentions
from diagnostics.model import AppState, Connection, Environment
from diagnostics.planner import DEFAULT_PAGE_SIZE, ProbePlan, in_plan_order
from diagnostics.probes import ProbeRecord
from diagnostics.redaction import Redactor, redact_report
from diagnostics.report import SCHEMA_VERSION, Report
from diagnostics.report_schema import validate_report
from diagnostics.rules import RULES, RuleContext, RuleSkipped
from diagnostics.runner import ProbeRunner, RunnerSettings
from diagnostics.severity import suggest_severity
from diagnostics.statuses import CheckStatus
from diagnostics.ticket_details import SUPPORT_TIMEZONE, ticket_details
from diagnostics.upstream import detect_upstream

log = logging.getLogger(__name__)

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
    catalogue: Catalogue = CATALOGUE


@dataclass(frozen=True)
class RunInput:
    """What one run looks at. ``rate_limiter`` and ``token_cache`` default to the run's own; a
    service with many processes passes shared ones (one budget per organization).

    ``notes`` go into the report as they are; ``known_secrets`` (say, a token the caller held
    for the run) are redacted with the connection's, in the report's one redaction pass.
    """

    connection: Connection
    state: AppState = field(default_factory=AppState)
    now: datetime | None = None
    session: requests.Session | None = None
    run_id: str | None = None
    rate_limiter: RateLimiter | None = None
    token_cache: MutableMapping[Any, CachedToken] | None = None
    notes: Sequence[str] = ()
    known_secrets: Sequence[str | None] = ()


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
    catalogue = options.catalogue
    plan = ProbePlan(
        organization_id=connection.organization_id or "",
        environment_filter=options.environments,
        dataset_filter=options.datasets,
        enabled={k: run.state.space.is_enabled(k) for k in catalogue.dataset_keys},
        page_size=options.page_size,
        catalogue=catalogue,
    )
    runner = ProbeRunner(
        client, RunnerSettings(concurrency=options.concurrency, deadline_s=options.deadline_s)
    )
    started = time.monotonic()
    scanner = _SecretScanner(connection.client_secret, client, run.known_secrets)
    try:
        result = runner.run(plan, on_record=scanner.scan)
    finally:
        if run.session is None:
            session.close()
    records = in_plan_order(result.records, catalogue, plan.environments)
    data = _build_report(run, options, now, records, plan.environments, result.hit_deadline)
    data["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    if run.notes:
        data["notes"] = list(run.notes)
    secrets = [connection.client_secret, *client.issued_tokens(), *scanner.extra]
    redacted = redact_report(data, known_secrets=secrets, redactor=scanner.redactor_for(secrets))
    return Report(validate_report(redacted))


class _SecretScanner:
    """Scans each probe record's path and message for secrets as the record arrives, while the
    run mostly waits on Anypoint, so redacting the report finds them already scanned.

    Its redactor knows the secrets known so far (the connection's secret and the tokens issued);
    when they change (a new token) it starts again, and the report only uses it if it knows
    exactly the report's secrets — what is redacted is the same, only sooner scanned.
    """

    def __init__(
        self, client_secret: str, client: AnypointClient, extra: Sequence[str | None] = ()
    ) -> None:
        self._client_secret = client_secret
        self._client = client
        self.extra = tuple(extra)  # the caller's known secrets (a Forge token)
        self._secrets: tuple[str | None, ...] | None = None
        self._redactor: Redactor | None = None

    def scan(self, record: ProbeRecord) -> None:
        secrets = (self._client_secret, *self._client.issued_tokens(), *self.extra)
        if self._redactor is None or secrets != self._secrets:
            self._secrets, self._redactor = secrets, Redactor(secrets)
        for text in (record.path, record.message):
            if text:
                self._redactor.spans(text)

    def redactor_for(self, secrets: Sequence[str | None]) -> Redactor | None:
        return self._redactor if tuple(secrets) == self._secrets else None


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
    state, connection, catalogue = run.state, run.connection, options.catalogue
    records, empty_exchange = read_empty_answers(
        records, state, connection.organization_id, catalogue
    )
    datasets = evaluate_datasets(records, state, now, catalogue)
    scopes = evaluate_scopes(records, catalogue)
    macros = evaluate_macros(state)
    upstream = detect_upstream(
        {k: (d.coverage, d.reason) for k, d in datasets.items() if not d.dataset.derived},
        connection.control_plane,
        now,
        destination_refused=any(r.refused for r in records),
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
    found, checks = _run_rules(ctx)
    arranged = arrange_findings(found, checks)
    findings = arranged.findings
    severity = suggest_severity(datasets, environments, findings)
    reported = [f.to_report() for f in findings]
    named = {field: mentions(reported, field) for field in ("datasets", "scopes", "macros")}
    generated_at = now.astimezone(ZoneInfo(SUPPORT_TIMEZONE)).isoformat()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id or str(uuid.uuid4()),
        "generated_at": generated_at,
        "site_url": state.site_url,
        "space_key": state.space.key,
        "organization_id": connection.organization_id,
        "organization_name": organization_name(records),
        "control_plane": connection.control_plane,
        "environments": [{"id": e.id, "name": e.name, "type": e.type} for e in environments],
        "verdict": arranged.verdict.value,
        "datasets": {
            k: _named(datasets[k].to_report(), named["datasets"].get(k))
            for k in catalogue.dataset_keys
        },
        "scopes": {
            k: _named(s, named["scopes"].get(k))
            for k, s in scope_section(scopes, catalogue).items()
        },
        "macros": [_named(m.to_report(), named["macros"].get(i)) for i, m in enumerate(macros)],
        "findings": reported,
        "root_causes": arranged.root_causes,
        "checks": [c.to_report() for c in checks],
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
        "summary": arranged.summary,
        "upstream": upstream.to_report(),
        "deadline_s": options.deadline_s,
        "redactions": {"count": 0, "kinds": {}},
    }


def _named(section: dict[str, Any], mention: dict[str, Any] | None) -> dict[str, Any]:
    """A dataset, scope or macro with the worst finding that names it and its root causes."""
    return {**section, **(mention or {"finding_status": None, "root_causes": []})}


def _run_rules(ctx: RuleContext) -> tuple[list[Finding], list[Check]]:
    """Run every rule under a guard: a crashed rule is an ``error`` check, not a crashed run."""
    findings: list[Finding] = []
    checks: list[Check] = []
    for check_id, title, rule in RULES:
        started = time.perf_counter()
        error = None
        try:
            found = rule(ctx)
            status = _check_status(found)
        except RuleSkipped as skipped:
            found, status = [], CheckStatus.SKIPPED
            title = f"{title} (skipped: {skipped})"
        except Exception as exc:
            log.exception("diagnostics rule %r crashed", check_id)
            found, status = [], CheckStatus.ERROR
            error = f"{type(exc).__name__}: {exc}"
            title = f"{title} (the check itself failed: {error})"
        findings.extend(found)
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        checks.append(Check(check_id, title, status, elapsed, error))
    return findings, checks


def _check_status(findings: Sequence[Finding]) -> CheckStatus:
    if any(f.status == "fail" for f in findings):
        return CheckStatus.FAIL
    return CheckStatus.WARN if findings else CheckStatus.PASS
