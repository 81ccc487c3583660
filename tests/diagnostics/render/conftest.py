"""Sample reports, built by hand, for the schema and renderer tests.

``broken``: Exchange unreachable (MuleSoft rate limiting, upstream finding owned by ``mulesoft``),
API Manager partial because ``read:api_configuration`` is missing on Production, an API Manager
macro failing because of it, a stale Runtime Manager cache, secrets already redacted.
``healthy``: everything full and fresh, no finding.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from diagnostics.catalogue import (
    DATASET_KEYS,
    DATASETS_BY_KEY,
    SCOPES,
    scope_used_by,
    scope_validated_by,
)
from diagnostics.report import Report

ORG = "3f1c6b2e-8d4a-4b7e-9c21-5a0f7d9e1b34"
PROD = "a9d2f6c1-0b3e-4f58-8e7a-2c4d6b8f0e13"
SBX = "5c7e9a1b-3d2f-4e60-9a8b-7f1e3d5c9b24"
SITE = "https://acme-corp.atlassian.net/wiki"
NOW = "2026-11-23T10:15:42.318000+11:00"
DOCS = "https://docs.flowdence.io/mulesight"
SCOPES_DOC = "https://docs.mulesoft.com/access-management/connected-apps-developers"
STATUS_PAGE = "https://status.mulesoft.com"
CONNECTED_APP_SCOPES = (
    "Anypoint Platform → Access Management → Connected Apps → (MuleSight's app) → Manage Scopes"
)
APIS = f"/apimanager/api/v1/organizations/{ORG}/environments/{{env}}/apis"


def probe(
    key: str,
    path: str,
    outcome: str = "ok",
    *,
    env: str | None = None,
    method: str = "GET",
    status: int | None = 200,
    attempts: int = 1,
    elapsed_ms: float = 182.4,
    message: str | None = None,
) -> dict[str, Any]:
    return {
        "probe": key,
        "environment_id": env,
        "method": method,
        "path": path,
        "outcome": outcome,
        "status": status,
        "attempts": attempts,
        "elapsed_ms": elapsed_ms,
        "message": message,
    }


def dataset(
    key: str,
    probes: list[dict[str, Any]],
    *,
    coverage: str = "full",
    reason: str | None = None,
    freshness: str = "fresh",
    last: str | None = "2026-11-23T02:00:07+11:00",
    stale_fallback: bool = False,
) -> dict[str, Any]:
    failed: dict[str, list[str]] = {"forbidden": [], "timeout": [], "other": []}
    for p in probes:
        if p["outcome"] in ("ok", "empty", "skipped"):
            continue
        bucket = p["outcome"] if p["outcome"] in ("forbidden", "timeout") else "other"
        failed[bucket].append(p["path"])
    meta = DATASETS_BY_KEY[key]
    return {
        "name": meta.name,
        "coverage": coverage,
        "reason": reason,
        "impact": meta.impact if coverage != "full" else None,
        "last_successful_fetch": last,
        "freshness": freshness,
        "stale_fallback": stale_fallback,
        "probes": probes,
        "failed": failed,
    }


def scopes(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    section = {}
    for s in SCOPES:
        entry = {
            "status": "full",
            "missing_in": [],
            "why_needed": s.why_needed,
            "used_by": list(scope_used_by(s.key)),
            "validated_by": list(scope_validated_by(s.key)),
            "impact": None,
            "reason": None,
            "checked": True,
            "verified": True,
        }
        entry.update((overrides or {}).get(s.key, {}))
        if entry["status"] != "full":
            entry["impact"] = s.impact
        section[s.key] = entry
    return section


def platform_probes() -> list[dict[str, Any]]:
    return [
        probe(
            "diagnostics.token", "/accounts/api/v2/oauth2/token", method="POST", elapsed_ms=241.0
        ),
        probe("diagnostics.me", "/accounts/api/me"),
        probe("diagnostics.organization", f"/accounts/api/organizations/{ORG}"),
        probe("diagnostics.hierarchy", f"/accounts/api/organizations/{ORG}/hierarchy"),
        probe("diagnostics.environments", f"/accounts/api/organizations/{ORG}/environments"),
    ]


def runtime_probes() -> list[dict[str, Any]]:
    deployments = (
        "/amc/application-manager/api/v2/organizations/{org}/environments/{env}/deployments"
    )
    return [
        *(
            probe("runtime_manager.cloudhub_apps", "/cloudhub/api/v2/applications", env=e)
            for e in (PROD, SBX)
        ),
        *(
            probe("runtime_manager.deployments", deployments.format(org=ORG, env=e), env=e)
            for e in (PROD, SBX)
        ),
        probe("runtime_manager.rtf_targets", f"/runtimefabric/api/organizations/{ORG}/targets"),
    ]


def posture_probes(env: str, api_id: str) -> list[dict[str, Any]]:
    base = APIS.format(env=env) + f"/{api_id}"
    return [
        probe("api_security_posture.policies", f"{base}/policies", env=env),
        probe("api_security_posture.tiers", f"{base}/tiers", env=env),
        probe("api_security_posture.contracts", f"{base}/contracts", env=env),
    ]


def common(verdict: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run_id": "0b6f2d3e-6c1a-4f0e-9d7b-3a5e8c1f2d90",
        "generated_at": NOW,
        "site_url": SITE,
        "space_key": "OPS",
        "organization_id": ORG,
        "organization_name": "Acme Corp",
        "control_plane": "us",
        "environments": [
            {"id": PROD, "name": "Production", "type": "production"},
            {"id": SBX, "name": "Sandbox", "type": "sandbox"},
        ],
        "verdict": verdict,
    }


def finding(
    rule: str,
    subject: str,
    status: str,
    title: str,
    detail: str,
    remediation: str,
    owner: str,
    owner_label: str,
    *,
    datasets: list[str] | None = None,
    scopes: list[str] | None = None,
    macros: list[int] | None = None,
    doc_url: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    return {
        "id": rule,
        "key": f"{rule}:{subject}" if subject else rule,
        "status": status,
        "title": title,
        "detail": detail,
        "remediation": remediation,
        "owner": owner,
        "owner_label": owner_label,
        "datasets": datasets or [],
        "scopes": scopes or [],
        "macros": macros or [],
        "doc_url": doc_url,
        "cause": cause,
    }


ADMIN = "The customer's Anypoint / Confluence admin"
MULESOFT = "MuleSoft (upstream platform)"
SUPPORT = "MuleSight support"
GRANT = (
    f"In {CONNECTED_APP_SCOPES}, add the scope `read:api_configuration` for Production ({PROD}), "
    "save, then open Confluence → Space settings → Integrations → MuleSight → Connection and run "
    "diagnostics again."
)


# The engine's reading order: each root cause, worst first, then what follows from it.
BROKEN_ORDER = (
    "upstream.outage",
    "dataset.none:exchange",
    "dataset.none:endpoints",
    "scope.unverified:read:exchange",
    "cache.stale_fallback:exchange",
    "scope.partial:read:api_configuration",
    "dataset.partial:api_manager",
    "dataset.partial:api_security_posture",
    "macro.error:api-manager-instance@98304/detailed",
    "cache.stale:runtime_manager",
)
BROKEN_ROOTS = [
    "upstream.outage",
    "scope.partial:read:api_configuration",
    "cache.stale:runtime_manager",
]
BROKEN_AFFECTS = {
    "upstream.outage": {"findings": 4, "datasets": 2, "scopes": 1, "macros": 0},
    "scope.partial:read:api_configuration": {
        "findings": 3,
        "datasets": 2,
        "scopes": 1,
        "macros": 1,
    },
    "cache.stale:runtime_manager": {"findings": 0, "datasets": 1, "scopes": 0, "macros": 0},
}


def broken_findings() -> list[dict[str, Any]]:
    """The sample's findings in the engine's order, each with its root (and a root's counts)."""
    by_key = {f["key"]: f for f in _broken_findings()}
    ordered = [by_key[k] for k in BROKEN_ORDER]
    for f in ordered:
        root = f
        while root["cause"] is not None:
            root = by_key[root["cause"]]
        f["root"] = root["key"]
        if f["key"] in BROKEN_AFFECTS:
            f["affects"] = BROKEN_AFFECTS[f["key"]]
        if f["cause"] is not None and f["remediation"] == GRANT:
            f["remediation"] = (
                f"Follows from “{root['title']}”: fix that first; then reload the page."
            )
    return ordered


def _broken_findings() -> list[dict[str, Any]]:
    upstream_cause = "upstream.outage"
    scope_cause = "scope.partial:read:api_configuration"
    return [
        finding(
            "upstream.outage",
            "",
            "fail",
            "Anypoint Platform is not answering (upstream outage suspected)",
            "Every probe of exchange, endpoints failed with timeouts, 5xx answers or rate "
            "limiting, and none was refused for permissions: this points at MuleSoft's platform.",
            f"Check {STATUS_PAGE} for an incident on the us control plane. If there is none, "
            "open a case with MuleSoft support and quote this report's run id.",
            "mulesoft",
            MULESOFT,
            datasets=["exchange", "endpoints"],
            doc_url=STATUS_PAGE,
        ),
        finding(
            "macro.error",
            "api-manager-instance@98304/detailed",
            "fail",
            "api-manager-instance (detailed) macro error on page 98304 “Payments API catalogue”",
            "The api-manager-instance (detailed) macro last rendered error. Its dataset API "
            "Manager has partial coverage because read:api_configuration is missing.",
            GRANT,
            "customer_admin",
            ADMIN,
            datasets=["api_manager"],
            scopes=["read:api_configuration"],
            macros=[0],
            doc_url=f"{DOCS}/macros",
            cause=scope_cause,
        ),
        finding(
            "dataset.none",
            "exchange",
            "fail",
            "Exchange: none coverage",
            "Anypoint did not answer in time, answered 5xx, or kept rate limiting. "
            + DATASETS_BY_KEY["exchange"].impact,
            "Wait for Anypoint to recover (see the upstream finding), then run diagnostics again.",
            "mulesoft",
            MULESOFT,
            datasets=["exchange"],
            doc_url=f"{DOCS}/diagnostics",
            cause=upstream_cause,
        ),
        finding(
            "scope.unverified",
            "read:exchange",
            "fail",
            "Scope read:exchange: could not be checked",
            "`read:exchange` could not be verified: its probes did not get an answer "
            "(unreachable).",
            "Fix the finding this one points at; the scope is checked again on the next run.",
            "mulesoft",
            MULESOFT,
            datasets=["exchange", "endpoints"],
            scopes=["read:exchange"],
            doc_url=SCOPES_DOC,
            cause=upstream_cause,
        ),
        finding(
            "dataset.none",
            "endpoints",
            "fail",
            "Endpoints: none coverage",
            "Anypoint did not answer in time, answered 5xx, or kept rate limiting. "
            + DATASETS_BY_KEY["endpoints"].impact,
            "Wait for Anypoint to recover (see the upstream finding), then run diagnostics again.",
            "mulesoft",
            MULESOFT,
            datasets=["endpoints"],
            doc_url=f"{DOCS}/diagnostics",
            cause=upstream_cause,
        ),
        finding(
            "scope.partial",
            "read:api_configuration",
            "warn",
            "Scope read:api_configuration: partly granted",
            "Anypoint refused the probes guarded by `read:api_configuration` for "
            f"Production ({PROD}). " + SCOPES[5].impact,
            GRANT,
            "customer_admin",
            ADMIN,
            datasets=["api_manager", "api_security_posture"],
            scopes=["read:api_configuration"],
            doc_url=SCOPES_DOC,
        ),
        finding(
            "cache.stale",
            "runtime_manager",
            "warn",
            "Runtime Manager cache: stale",
            "The last successful refresh, 22 Nov 2026 04:10 AEDT (30 h ago), is older than the sync "
            "interval (24 h): the scheduled refresh is not keeping up or keeps failing.",
            "Run Refresh now in Confluence → Space settings → Integrations → MuleSight → "
            "Connection.",
            "mulesight_support",
            SUPPORT,
            datasets=["runtime_manager"],
            doc_url=f"{DOCS}/caches-and-refresh",
        ),
        finding(
            "dataset.partial",
            "api_manager",
            "warn",
            "API Manager: partial coverage",
            f"Anypoint refused read:api_configuration for Production ({PROD}). "
            + DATASETS_BY_KEY["api_manager"].impact,
            GRANT,
            "customer_admin",
            ADMIN,
            datasets=["api_manager"],
            scopes=["read:api_configuration"],
            doc_url=f"{DOCS}/diagnostics",
            cause=scope_cause,
        ),
        finding(
            "dataset.partial",
            "api_security_posture",
            "warn",
            "API security posture: partial coverage",
            f"Anypoint refused read:api_configuration for Production ({PROD}). "
            + DATASETS_BY_KEY["api_security_posture"].impact,
            GRANT,
            "customer_admin",
            ADMIN,
            datasets=["api_security_posture"],
            scopes=["read:api_configuration"],
            doc_url=f"{DOCS}/diagnostics",
            cause=scope_cause,
        ),
        finding(
            "cache.stale_fallback",
            "exchange",
            "warn",
            "Exchange: serving the last good cache because the refresh failed",
            "The last scheduled refresh failed, so MuleSight shows data from "
            "22 Nov 2026 22:00 AEDT.",
            "Fix the finding that makes the refresh fail, then refresh the dataset (Refresh now).",
            "mulesoft",
            MULESOFT,
            datasets=["exchange"],
            doc_url=f"{DOCS}/caches-and-refresh",
            cause=upstream_cause,
        ),
    ]


def broken_report_data() -> dict[str, Any]:
    search = f"/exchange/api/v2/assets/search?organizationId={ORG}&offset=0&limit=250"
    forbidden = '403 {"message": "Forbidden"} (Authorization: Bearer [REDACTED:access_token])'
    datasets = {
        "diagnostics": dataset(
            "diagnostics", platform_probes(), freshness="not_applicable", last=None
        ),
        "exchange": dataset(
            "exchange",
            [
                probe(
                    "exchange.search",
                    search,
                    "rate_limited",
                    status=429,
                    attempts=4,
                    elapsed_ms=6120.5,
                    message="429 Too Many Requests after 4 attempts",
                )
            ],
            coverage="none",
            reason="unreachable",
            last="2026-11-22T22:00:00+11:00",
            stale_fallback=True,
        ),
        "endpoints": dataset(
            "endpoints",
            [
                probe(
                    "endpoints.asset_detail",
                    "/exchange/api/v2/assets/{group_id}/{asset_id}/{version}",
                    "skipped",
                    status=None,
                    attempts=0,
                    elapsed_ms=0,
                    message="not run: exchange.search failed",
                )
            ],
            coverage="none",
            reason="unreachable",
            last="2026-11-20T15:42:00+11:00",
        ),
        "runtime_manager": dataset(
            "runtime_manager", runtime_probes(), freshness="stale", last="2026-11-22T04:10:00+11:00"
        ),
        "api_manager": dataset(
            "api_manager",
            [
                probe(
                    "api_manager.instances",
                    APIS.format(env=PROD),
                    "forbidden",
                    env=PROD,
                    status=403,
                    message=forbidden,
                ),
                probe("api_manager.instances", APIS.format(env=SBX), env=SBX),
            ],
            coverage="partial",
            reason="auth_blocked",
        ),
        "api_security_posture": dataset(
            "api_security_posture",
            [
                *posture_probes(SBX, "18324077"),
                probe(
                    "api_security_posture.policies",
                    APIS.format(env=PROD) + "/{api_id}/policies",
                    "skipped",
                    env=PROD,
                    status=None,
                    attempts=0,
                    elapsed_ms=0,
                    message="not run: api_manager.instances was refused",
                ),
            ],
            coverage="partial",
            reason="auth_blocked",
        ),
        "ops_dashboard": dataset(
            "ops_dashboard",
            [],
            coverage="partial",
            reason="auth_blocked",
            freshness="stale",
            last="2026-11-22T04:10:00+11:00",
        ),
        "rovo": dataset(
            "rovo",
            [],
            coverage="partial",
            reason="unreachable",
            freshness="stale",
            last="2026-11-20T15:42:00+11:00",
        ),
    }
    return {
        **common("broken"),
        "datasets": datasets,
        "scopes": scopes(
            {
                "read:exchange": {"status": "none", "reason": "unreachable", "verified": False},
                "read:api_configuration": {
                    "status": "partial",
                    "reason": "auth_blocked",
                    "missing_in": [PROD],
                },
            }
        ),
        "macros": [
            {
                "macro": "api-manager-instance",
                "mode": "detailed",
                "page_id": "98304",
                "space_key": "OPS",
                "dataset": "api_manager",
                "status": "error",
                "last_rendered_at": "2026-11-23T09:58:03+11:00",
                "error": "Anypoint answered 403 (client_secret=[REDACTED:client_secret])",
                "page_title": "Payments API catalogue",
            },
            {
                "macro": "runtime-manager-app",
                "mode": None,
                "page_id": "98317",
                "space_key": "OPS",
                "dataset": "runtime_manager",
                "status": "ok",
                "last_rendered_at": "2026-11-23T08:12:44+11:00",
                "error": None,
                "page_title": "Order service runbook",
            },
            {
                "macro": "exchange-asset",
                "mode": "endpoints",
                "page_id": "98320",
                "space_key": "OPS",
                "dataset": "endpoints",
                "status": "not_rendered",
                "last_rendered_at": None,
                "error": None,
                "page_title": "Orders API | endpoints",
            },
        ],
        "findings": broken_findings(),
        "root_causes": list(BROKEN_ROOTS),
        "checks": [
            {
                "id": "connection",
                "title": "Connected-app credentials",
                "status": "pass",
                "elapsed_ms": 0.1,
            },
            {
                "id": "upstream",
                "title": "Anypoint platform status",
                "status": "fail",
                "elapsed_ms": 0.2,
            },
            {"id": "scopes", "title": "Required scopes", "status": "fail", "elapsed_ms": 0.4},
            {"id": "datasets", "title": "Dataset coverage", "status": "fail", "elapsed_ms": 0.3},
            {"id": "caches", "title": "Cache freshness", "status": "warn", "elapsed_ms": 0.2},
            {"id": "macros", "title": "Macro renders", "status": "fail", "elapsed_ms": 0.1},
            {"id": "deadline", "title": "Run deadline", "status": "pass", "elapsed_ms": 0.0},
        ],
        "ticket_details": {
            "customer_site_url": SITE,
            "timestamp": NOW,
            "timezone": "Australia/Melbourne",
            "affected_module": "api-manager-instance macro, detailed mode (page 98304)",
            "organization_id": ORG,
            "environments": [f"Production ({PROD})", f"Sandbox ({SBX})"],
            "dataset_type": "api_manager",
            "last_refresh": "2026-11-23T02:00:07+11:00",
            "cache_freshness": "fresh",
            "diagnostics_coverage": "partial",
        },
        "suggested_severity": "Sev 2",
        "severity_reason": (
            f"Major degradation: Exchange, Endpoints have no coverage on production environment "
            f"Production ({PROD})."
        ),
        "summary": {"fail": 5, "warn": 5, "pass": 2, "root_causes": 3, "consequences": 7},
        "upstream": {
            "control_plane": "us",
            "status_page": STATUS_PAGE,
            "suspected": True,
            "in_maintenance_window": False,
            "datasets": ["exchange", "endpoints"],
        },
        "escalation_stage": "support triage",
        "elapsed_ms": 6418.2,
        "deadline_s": 20.0,
        "redactions": {"count": 2, "kinds": {"access_token": 1, "client_secret": 1}},
    }


def healthy_report_data() -> dict[str, Any]:
    search = f"/exchange/api/v2/assets/search?organizationId={ORG}&offset=0&limit=250"
    detail = "/exchange/api/v2/assets/" + ORG + "/orders-api/2.3.1"
    datasets = {
        "diagnostics": dataset(
            "diagnostics", platform_probes(), freshness="not_applicable", last=None
        ),
        "exchange": dataset("exchange", [probe("exchange.search", search)]),
        "endpoints": dataset("endpoints", [probe("endpoints.asset_detail", detail)]),
        "runtime_manager": dataset("runtime_manager", runtime_probes()),
        "api_manager": dataset(
            "api_manager",
            [probe("api_manager.instances", APIS.format(env=e), env=e) for e in (PROD, SBX)],
        ),
        "api_security_posture": dataset("api_security_posture", posture_probes(PROD, "18324001")),
        "ops_dashboard": dataset("ops_dashboard", []),
        "rovo": dataset("rovo", []),
    }
    assert list(datasets) == list(DATASET_KEYS)
    return {
        **common("healthy"),
        "datasets": datasets,
        "scopes": scopes(),
        "macros": [
            {
                "macro": "environment-summary",
                "mode": None,
                "page_id": "98400",
                "space_key": "OPS",
                "dataset": "ops_dashboard",
                "status": "ok",
                "last_rendered_at": "2026-11-23T09:01:00+11:00",
                "error": None,
            }
        ],
        "findings": [],
        "root_causes": [],
        "checks": [
            {
                "id": "connection",
                "title": "Connected-app credentials",
                "status": "pass",
                "elapsed_ms": 0.1,
            },
            {"id": "scopes", "title": "Required scopes", "status": "pass", "elapsed_ms": 0.2},
        ],
        "ticket_details": {
            "customer_site_url": SITE,
            "timestamp": NOW,
            "timezone": "Australia/Melbourne",
            "affected_module": None,
            "organization_id": ORG,
            "environments": [f"Production ({PROD})", f"Sandbox ({SBX})"],
            "dataset_type": None,
            "last_refresh": None,
            "cache_freshness": None,
            "diagnostics_coverage": None,
        },
        "suggested_severity": "Sev 4",
        "severity_reason": "Diagnostics found no problem: informational or minor.",
        "summary": {"fail": 0, "warn": 0, "pass": 2, "root_causes": 0, "consequences": 0},
        "upstream": {
            "control_plane": "us",
            "status_page": STATUS_PAGE,
            "suspected": False,
            "in_maintenance_window": False,
            "datasets": [],
        },
        "elapsed_ms": 912.0,
        "deadline_s": 20.0,
        "redactions": {"count": 0, "kinds": {}},
    }


EXTRAS = (
    "organization_name",
    "elapsed_ms",
    "deadline_s",
    "severity_reason",
    "summary",
    "upstream",
    "escalation_stage",
)


def strip_extras(data: dict[str, Any]) -> dict[str, Any]:
    """The same report with only the keys report.md names (what an older engine would send)."""
    data = copy.deepcopy(data)
    for key in EXTRAS:
        data.pop(key, None)
    for d in data["datasets"].values():
        d.pop("name", None)
        d.pop("impact", None)
    for s in data["scopes"].values():
        for key in ("impact", "reason", "checked"):
            s.pop(key, None)
    for f in data["findings"]:
        for key in ("owner_label", "root", "affects"):
            f.pop(key, None)
    for m in data["macros"]:
        m.pop("page_title", None)
    return data


@pytest.fixture
def broken_data() -> dict[str, Any]:
    return broken_report_data()


@pytest.fixture
def healthy_data() -> dict[str, Any]:
    return healthy_report_data()


@pytest.fixture
def broken(broken_data: dict[str, Any]) -> Report:
    return Report(broken_data)


@pytest.fixture
def healthy(healthy_data: dict[str, Any]) -> Report:
    return Report(healthy_data)


@pytest.fixture
def minimal(broken_data: dict[str, Any]) -> Report:
    """The broken report without any of the engine's extra keys."""
    return Report(strip_extras(broken_data))
