"""The Rovo actions of the MuleSight agent: answers from the caches only, freshness stated.

Every answer's ``message`` says when the data is from and how far to trust it (fresh / stale /
expired / never, a failed last refresh) and which environments are missing and why — the agent
repeats it to the user. Only ``refresh-dataset`` calls Anypoint (a refresh job, see
:mod:`.refresh_jobs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import Space
from app.services.datasets import (
    DatasetView,
    EnvironmentState,
    app_status,
    read_dataset,
)
from app.services.refresh import (
    KIND_KEY,
    DatasetDisabled,
    EndpointsTargetRequired,
    RefreshSummary,
)
from app.services.refresh_jobs import RefreshFailed, RefreshPending
from diagnostics.catalogue import DATASETS_BY_KEY
from diagnostics.specs import Endpoint, answer_endpoint_question

CONTEXT_REQUIRED_MESSAGE = (
    "Open this from a Confluence space that has MuleSight connected, or name the space key."
)
MAX_ENDPOINTS = 10
_WHY = {
    "forbidden": "{name} access is not granted",
    "timeout": "Anypoint did not answer in time",
    "rate_limited": "Anypoint rate-limited MuleSight",
    "error": "Anypoint answered with an error",
}


@dataclass(frozen=True)
class RovoAnswer:
    """What an action returns to the agent. ``status``: ok / no-data / disabled, and for a
    refresh also pending (still going in the background) / error."""

    status: str
    message: str
    space_key: str | None = None
    dataset: str | None = None
    freshness: str | None = None
    last_successful_fetch: datetime | None = None
    stale_fallback: bool = False
    coverage: str | None = None
    missing_environments: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


def context_required() -> dict[str, str]:
    """The answer when neither the input nor the Rovo context names a space."""
    return {"status": "context-required", "message": CONTEXT_REQUIRED_MESSAGE}


# -- the actions -----------------------------------------------------------------------------------


def api_inventory(
    session: Session,
    space: Space,
    *,
    now: datetime,
    environment: str | None = None,
    query: str | None = None,
) -> RovoAnswer:
    """API Manager instances by environment with their status (query-api-inventory)."""
    view = read_dataset(session, space, "api_manager", now=now, environment=environment)
    apis = [_api(item) for item in view.items if _matches(query, _api(item), _API_TEXT)]
    groups = _by_environment(apis, view)
    found = f"{len(apis)} API instance(s)" + _where(groups)
    return _answer(view, found, groups)


def runtime_apps(
    session: Session,
    space: Space,
    *,
    now: datetime,
    environment: str | None = None,
    status: str | None = None,
    query: str | None = None,
) -> RovoAnswer:
    """Applications and deployments by environment with their status (query-runtime-apps)."""
    view = read_dataset(session, space, "runtime_manager", now=now, environment=environment)
    targets = {
        str(i.get("id")): i.get("name")
        for i in view.items
        if i.get(KIND_KEY) == "rtf_target" and i.get("id")
    }
    apps = [
        _app(item, targets)
        for item in view.items
        if item.get(KIND_KEY) in ("cloudhub_app", "deployment")
    ]
    wanted = (status or "").strip().casefold()
    apps = [
        a
        for a in apps
        if (not wanted or (a["status"] or "").casefold() == wanted)
        and _matches(query, a, _APP_TEXT)
    ]
    groups = _by_environment(apps, view)
    found = f"{len(apps)} application(s)" + _where(groups)
    return _answer(view, found, groups)


def endpoints(
    session: Session,
    space: Space,
    *,
    now: datetime,
    question: str,
    api: str | None = None,
    method: str | None = None,
    path: str | None = None,
) -> RovoAnswer:
    """The cached endpoints that answer a question about methods and paths (best first)."""
    view = read_dataset(session, space, "endpoints", now=now)
    assets = [a for a in view.items if _asset_named(a, api)]
    owners: dict[int, Mapping[str, Any]] = {}
    candidates: list[Endpoint] = []
    for asset in assets:
        for entry in asset["endpoints"]:
            endpoint = Endpoint(
                str(entry["method"]).upper(), str(entry["path"]), entry.get("summary")
            )
            if method and endpoint.method != method.strip().upper():
                continue
            if path and path.strip().casefold() not in endpoint.path.casefold():
                continue
            owners[id(endpoint)] = asset
            candidates.append(endpoint)
    ranked = answer_endpoint_question(candidates, question)
    if not ranked and (method or path):
        ranked = candidates  # the filters alone answered the question
    results = [_endpoint(e, owners[id(e)]) for e in ranked[:MAX_ENDPOINTS]]
    if view.freshness == "never":
        return _answer(view, "", [])
    lines = [f"{r['method']} {r['path']} ({r['api']} {r['version']})" for r in results]
    found = (
        "Matching endpoints: " + "; ".join(lines)
        if lines
        else "No cached endpoint matches the question."
    )
    return _answer(view, found, results)


def refresh_dataset(
    session: Session,
    space: Space,
    *,
    dataset: str,
    now: datetime,
    refresh: Callable[[str], RefreshSummary],
) -> RovoAnswer:
    """Refresh one dataset now (refresh-dataset) with ``refresh`` (a background job, waited
    for: :func:`app.services.refresh_jobs.await_refresh`), then say what the cache holds."""
    name = DATASETS_BY_KEY[dataset].name
    space_key = space.key
    try:
        summary = refresh(dataset)
    except RefreshPending:
        return RovoAnswer(
            "pending",
            f"The {name} refresh of space {space_key} is still going; it finishes in the "
            "background. Ask me again in a minute for the fresh data.",
            space_key,
            dataset,
        )
    except RefreshFailed as exc:
        return RovoAnswer(
            "error",
            f"The {name} refresh of space {space_key} could not complete: {exc.message}",
            space_key,
            dataset,
        )
    except DatasetDisabled:
        return RovoAnswer(
            "disabled",
            f"The {name} dataset is turned off for space {space.key}: turn it on in the "
            "MuleSight space settings first.",
            space.key,
            dataset,
        )
    except EndpointsTargetRequired:
        return RovoAnswer(
            "no-data",
            f"Space {space.key} has no cached Exchange asset to refresh endpoints for: open an "
            "Exchange asset macro in Endpoints mode and refresh it there.",
            space.key,
            dataset,
        )
    refreshed = [d for d in summary.datasets if d.status != "disabled"]
    parts = [f"{DATASETS_BY_KEY[d.dataset].name}: {d.status}" for d in refreshed]
    view = read_dataset(session, space, dataset, now=now)
    answer = _answer(view, f"Refreshed space {space.key} ({', '.join(parts)}).", [])
    results = [
        {
            "dataset": d.dataset,
            "status": d.status,
            "coverage": d.coverage,
            "item_count": d.item_count,
            "failed_environments": [
                f.environment_name or f.environment_id for f in d.failed_environments
            ],
        }
        for d in refreshed
    ]
    return replace(answer, results=results)


# -- wording ---------------------------------------------------------------------------------------


def freshness_sentence(view: DatasetView) -> str:
    """When the data is from and how far to trust it, in one or two sentences."""
    name = view.name
    if view.freshness == "never" or view.last_successful_fetch is None:
        how = (
            "open an Exchange asset macro in Endpoints mode and refresh it"
            if view.dataset == "endpoints"
            else "ask me to refresh it, or use Refresh dataset on the MuleSight dashboard"
        )
        return f"MuleSight has no {name} data for space {view.space_key} yet: {how}."
    when = view.last_successful_fetch.strftime("%Y-%m-%d %H:%M UTC")
    interval = f"{view.sync_interval_hours} h sync interval"
    state = {
        "fresh": f"fresh: within the {interval}",
        "stale": (
            "stale: the Exchange asset has a newer version than the one cached"
            if view.dataset == "endpoints"
            else f"stale: older than the {interval}"
        ),
        "expired": f"expired: older than twice the {interval}; refresh it before relying on it",
    }.get(view.freshness, view.freshness)
    sentence = f"Data from {when} ({state})."
    if view.stale_fallback:
        sentence += " The last refresh failed, so this is the last good data."
    return sentence


def missing_environments(view: DatasetView) -> list[dict[str, Any]]:
    """Environments whose data is missing or kept after a failure, with the reason."""
    missing = []
    seen = set()
    for state in view.environments:
        seen.add(state.environment_id)
        if state.last_error:
            missing.append(_missing(view, state))
    if view.dataset in ("api_manager", "runtime_manager", "api_security_posture"):
        for env_id, env_name in view.environment_names.items():
            if env_id not in seen and view.environment_id in (None, env_id):
                missing.append(
                    {
                        "environment_id": env_id,
                        "environment_name": env_name,
                        "reason": "never_refreshed",
                        "has_fallback": False,
                        "sentence": f"{env_name} is missing: it was never refreshed.",
                    }
                )
    return missing


def _missing(view: DatasetView, state: EnvironmentState) -> dict[str, Any]:
    outcome = state.outcome or "error"
    why = _WHY.get(outcome, _WHY["error"]).format(name=view.name)
    if state.environment_id is not None:
        label = state.environment_name or state.environment_id
    elif view.dataset in ("api_manager", "api_security_posture"):
        label = "Every environment"  # the environments list itself failed
    else:
        label = "The organization-level data"
    if state.fetched_at is not None:
        sentence = f"{label} shows older data: the last refresh failed ({why})."
    else:
        there = " there" if outcome == "forbidden" and state.environment_id else ""
        sentence = f"{label} is missing: {why}{there}."
    return {
        "environment_id": state.environment_id,
        "environment_name": state.environment_name,
        "reason": outcome,
        "has_fallback": state.fetched_at is not None,
        "sentence": sentence,
    }


def _answer(view: DatasetView, found: str, results: list[dict[str, Any]]) -> RovoAnswer:
    missing = missing_environments(view)
    sentences = [freshness_sentence(view)]
    if view.freshness != "never" and found:
        sentences.insert(0, found)
    if view.coverage == "partial" or missing:
        sentences.append(f"Coverage is {view.coverage}.")
    sentences += [m["sentence"] for m in missing]
    status = "no-data" if view.freshness == "never" else "ok"
    return RovoAnswer(
        status=status,
        message=" ".join(s for s in sentences if s),
        space_key=view.space_key,
        dataset=view.dataset,
        freshness=view.freshness,
        last_successful_fetch=view.last_successful_fetch,
        stale_fallback=view.stale_fallback,
        coverage=view.coverage,
        missing_environments=missing,
        results=results,
    )


# -- shaping ---------------------------------------------------------------------------------------

_API_TEXT = ("name", "asset_id", "version", "instance_label")
_APP_TEXT = ("name", "target", "type")


def _api(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "environment_id": item.get("environment_id") or item.get("environmentId"),
        "id": item.get("id"),
        "name": item.get("exchangeAssetName") or item.get("assetId"),
        "asset_id": item.get("assetId"),
        "version": item.get("assetVersion") or item.get("productVersion"),
        "instance_label": item.get("instanceLabel"),
        "status": item.get("status"),
    }


def _app(item: Mapping[str, Any], targets: Mapping[str, Any]) -> dict[str, Any]:
    if item.get(KIND_KEY) == "cloudhub_app":
        mule = item.get("muleVersion")
        runtime = mule.get("version") if isinstance(mule, Mapping) else mule
        return {
            "environment_id": item.get("environment_id"),
            "name": item.get("domain"),
            "type": "CloudHub 1.0",
            "status": app_status(item),
            "runtime": runtime,
            "target": item.get("region"),
        }
    target = item.get("target")
    target_id = str(target.get("targetId")) if isinstance(target, Mapping) else None
    return {
        "environment_id": item.get("environment_id"),
        "name": item.get("name"),
        "type": "CloudHub 2.0 / Runtime Fabric",
        "status": app_status(item),
        "runtime": item.get("currentRuntimeVersion"),
        "target": targets.get(target_id, target_id) if target_id else None,
    }


def _endpoint(endpoint: Endpoint, asset: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "method": endpoint.method,
        "path": endpoint.path,
        "summary": endpoint.summary,
        "api": asset.get("name") or asset["asset_id"],
        "asset": asset["asset"],
        "version": asset.get("version"),
    }


def _asset_named(asset: Mapping[str, Any], api: str | None) -> bool:
    if not api:
        return True
    wanted = api.strip().casefold()
    names = (asset.get("name"), asset.get("asset_id"), asset.get("asset"))
    return any(wanted in str(n).casefold() for n in names if n)


def _matches(query: str | None, row: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    if not query:
        return True
    wanted = query.strip().casefold()
    return any(wanted in str(row.get(k) or "").casefold() for k in keys)


def _by_environment(rows: list[dict[str, Any]], view: DatasetView) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("environment_id") or ""), []).append(row)
    names = view.environment_names
    return [
        {
            "environment_id": env or None,
            "environment": names.get(env, env) if env else "organization",
            "items": items,
            "statuses": _count(items),
        }
        for env, items in sorted(groups.items(), key=lambda kv: names.get(kv[0], kv[0]))
    ]


def _count(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        key = str(row.get("status") or "unknown")
        counts[key] = counts.get(key, 0) + 1
    return counts


def _where(groups: list[dict[str, Any]]) -> str:
    if not groups:
        return "."
    parts = []
    for group in groups:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(group["statuses"].items()))
        parts.append(f"{group['environment']}: {len(group['items'])} ({statuses})")
    return " — " + "; ".join(parts) + "."
