"""Forge routes for dataset caches: refresh, cache-first reads, the scheduled trigger, Rovo.

Every route is ``@forge_required``: the tenant is ``g.tenant`` from the verified token; a space is
looked up *within* that tenant (404 otherwise). Reads answer from the cache only; ``/refresh``,
``/connection/test``, ``/scheduled/refresh`` and ``/rovo/refresh-dataset`` call Anypoint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, current_app, g, jsonify
from marshmallow import Schema
from sqlalchemy.orm import Session

from app import clock, storage
from app.auth import forge_required
from app.blueprints.forge import bp
from app.context import real_app
from app.crypto import secret_box
from app.db import get_session
from app.errors import ApiError
from app.jobs import JobQueue, get_queue
from app.models import Space
from app.schemas_data import (
    ApiInventoryIn,
    ConnectionTestOut,
    DatasetOut,
    DatasetQuery,
    EndpointsIn,
    RefreshDatasetIn,
    RefreshIn,
    RefreshOut,
    RovoOut,
    RuntimeAppsIn,
    ScheduledRefreshOut,
    ScopeRowOut,
    ScopesQuery,
    SpaceKeyIn,
)
from app.services import connected_app, datasets, refresh, refresh_jobs, rovo
from app.services.datasets import DatasetView
from app.services.refresh import RefreshSummary
from app.services.refresh_jobs import ScheduledSummary

ROVO_TAGS = ["rovo"]
REFRESH_PENDING = {
    "description": "The refresh goes on in the background; read the dataset later.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["space_key", "state", "message"],
                "properties": {
                    "space_key": {"type": "string"},
                    "state": {"type": "string", "enum": ["queued", "running"]},
                    "message": {"type": "string", "description": "Say this to the user."},
                },
            }
        }
    },
}
CSV_RESPONSE = {
    "description": "The checklist as CSV (``format=json``: the same rows as JSON).",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def _now() -> datetime:
    return clock.now()


def _space(space_key: str) -> Space:
    return storage.get_space(get_session(), g.tenant.installation_id, space_key)


# -- connected app ---------------------------------------------------------------------------------


@bp.post("/connection/test")
@forge_required
@bp.arguments(SpaceKeyIn, arg_name="body")
@bp.response(200, ConnectionTestOut)
@bp.errors(400, 401, 404, 413, 422)
def post_connection_test(body: dict[str, Any]) -> connected_app.ConnectionCheck:
    """Test the space's connection: token, organization, environments.

    A failure is still a 200 with ``ok: false``, a plain-words ``problem`` and its ``fix``.
    """
    space = _space(body["space_key"])
    return connected_app.check_connection(space, secret_box(), current_app.config)


@bp.get("/scopes.csv")
@forge_required
@bp.arguments(ScopesQuery, location="query", arg_name="query")
@bp.errors(400, 401, 404, 422)
@bp.doc(responses={"200": CSV_RESPONSE})
def get_scopes_csv(query: dict[str, Any]) -> Response | list[dict[str, Any]]:
    """The scopes the connected app needs, as a CSV checklist (``format=json``: as JSON rows).

    Columns: scope, why needed, used by, validated by, granted at.
    """
    _space(query["space_key"])
    rows = connected_app.scope_checklist()
    if query["format"] == "json":
        dumped: list[dict[str, Any]] = ScopeRowOut(many=True).dump(rows)
        return dumped
    disposition = f"attachment; filename={connected_app.CSV_FILENAME}"
    return Response(
        connected_app.scopes_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": disposition},
    )


# -- refresh and reads -----------------------------------------------------------------------------


@bp.post("/refresh")
@forge_required
@bp.arguments(RefreshIn, arg_name="body")
@bp.response(200, RefreshOut)
@bp.errors(400, 401, 404, 409, 413, 422)
@bp.doc(responses={"202": REFRESH_PENDING})
def post_refresh(body: dict[str, Any]) -> RefreshSummary | Response:
    """Refresh every enabled dataset of the space (or ``dataset``) from Anypoint, within 20 s.

    ``dataset: endpoints`` with ``group_id``/``asset_id``/``version`` (or a macro ``target``)
    seeds the endpoints cache with that asset's spec. A failed environment keeps its last good
    data. 409 when the dataset is turned off for the space.

    The refresh is a background job (one per space and dataset at a time: asking again while
    it runs waits for the same one); the request waits up to ``MULESIGHT_REFRESH_WAIT_S``. A
    refresh not finished by then answers 202 and goes on; its data shows in the cache when done.
    """
    session = get_session()
    space = storage.get_space(session, g.tenant.installation_id, body["space_key"])
    asset = _asset(session, space, body)
    try:
        return _refresh_now(session, space, dataset=body["dataset"], asset=asset)
    except refresh.DatasetDisabled as exc:
        raise ApiError(409, "dataset_disabled", str(exc)) from None
    except refresh.EndpointsTargetRequired as exc:
        raise ApiError(422, "validation_error", str(exc), fields={"group_id": [str(exc)]}) from None
    except refresh_jobs.RefreshFailed as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    except refresh_jobs.RefreshPending as exc:
        return _pending(exc)


def _queue() -> JobQueue:
    return get_queue(real_app())


def _refresh_now(
    session: Session, space: Space, *, dataset: str | None, asset: refresh.AssetRef | None = None
) -> RefreshSummary:
    """Record the refresh, commit it (a worker reads the job's row), then wake and wait."""
    queue, space_key = _queue(), space.key
    job_id = refresh_jobs.record_refresh(queue, session, space, dataset=dataset, asset=asset)
    session.commit()  # the job is durable before a worker is woken
    return refresh_jobs.await_refresh(queue, session, space_key, job_id, wait_s=_wait_s())


def _wait_s() -> float:
    return float(current_app.config.get("MULESIGHT_REFRESH_WAIT_S") or 0)


def _pending(exc: refresh_jobs.RefreshPending) -> Response:
    """202: the refresh goes on in the background (its data shows in the cache when done)."""
    response = jsonify({"space_key": exc.space_key, "state": exc.state, "message": str(exc)})
    response.status_code = 202
    return response


def _asset(session: Any, space: Space, body: dict[str, Any]) -> refresh.AssetRef | None:
    if body["dataset"] != "endpoints" or not body.get("group_id"):
        return None
    version = body.get("version") or refresh.latest_version(
        session, space.id, body["group_id"], body["asset_id"]
    )
    if not version:
        message = "Name the asset version: the Exchange cache does not list this asset."
        raise ApiError(422, "validation_error", message, fields={"version": [message]})
    return refresh.AssetRef(body["group_id"], body["asset_id"], version)


@bp.get("/datasets/<dataset>")
@forge_required
@bp.arguments(DatasetQuery, location="query", arg_name="query")
@bp.response(200, DatasetOut)
@bp.errors(400, 401, 404, 422)
def get_dataset(dataset: str, query: dict[str, Any]) -> DatasetView:
    """A dataset's cached items for a macro or dashboard (never calls Anypoint).

    With the freshness of report.md, the last successful fetch, the stale fallback flag and the
    coverage of the last refresh. ``ops_dashboard`` is derived; ``rovo`` is not readable (404).
    """
    datasets.check_readable(dataset)  # before the space: the 404 names the dataset
    space = _space(query["space_key"])
    return datasets.read_dataset(
        get_session(),
        space,
        dataset,
        now=_now(),
        environment=query["environment_id"] or query["environment"],
        target=query["target"],
    )


@bp.post("/scheduled/refresh")
@forge_required
@bp.response(200, ScheduledRefreshOut)
@bp.errors(401)
def post_scheduled_refresh() -> ScheduledSummary:
    """The hourly scheduled trigger: refresh this installation's spaces whose interval elapsed.

    One background job per due space; the answer waits up to ``MULESIGHT_REFRESH_WAIT_S`` and
    lists the spaces refreshed by then, and as ``deferred`` those still refreshing.
    """
    return scheduled_refresh(
        _queue(),
        get_session(),
        _now(),
        installation_id=g.tenant.installation_id,
        wait_s=_wait_s(),
    )


def scheduled_refresh(
    queue: JobQueue,
    session: Session,
    now: datetime,
    *,
    installation_id: str | None = None,
    wait_s: float,
) -> ScheduledSummary:
    """One refresh job per due space (of ``installation_id``, or all), each space's claim and
    job committed as a step of its own; then wake them and wait up to ``wait_s`` in all."""
    spaces, scheduled = refresh_jobs.due_for_schedule(session, now, installation_id=installation_id)
    for space in spaces:
        refresh_jobs.schedule_space(queue, session, space, now, scheduled)
        session.commit()  # this space's claim and job, durable before the next and the wake-up
    return refresh_jobs.await_scheduled(queue, session, scheduled, wait_s=wait_s)


# -- Rovo actions ----------------------------------------------------------------------------------


RovoView = Callable[[Space, dict[str, Any]], Any]


def rovo_action(path: str, arguments: type[Schema]) -> Callable[[RovoView], Callable[..., Any]]:
    """A Rovo action at ``POST path``: Forge-authenticated, ``arguments`` in the body, answered
    in the Rovo shape. The view gets the body's space (404 outside the tenant); an action asked
    without a space answers that it needs one."""

    def decorator(view: RovoView) -> Callable[..., Any]:
        @functools.wraps(view)
        def with_space(body: dict[str, Any]) -> Any:
            if not body["space_key"]:
                return rovo.context_required()
            return view(_space(body["space_key"]), body)

        routed = bp.errors(400, 401, 404, 413, 422)(with_space)
        routed = bp.response(200, RovoOut)(routed)
        routed = bp.arguments(arguments, arg_name="body")(routed)
        registered: Callable[..., Any] = bp.post(path, tags=ROVO_TAGS)(forge_required(routed))
        return registered

    return decorator


@rovo_action("/rovo/api-inventory", ApiInventoryIn)
def post_rovo_api_inventory(space: Space, body: dict[str, Any]) -> Any:
    """query-api-inventory: API Manager instances by environment, from the cache."""
    return rovo.api_inventory(
        get_session(), space, now=_now(), environment=body["environment"], query=body["query"]
    )


@rovo_action("/rovo/runtime-apps", RuntimeAppsIn)
def post_rovo_runtime_apps(space: Space, body: dict[str, Any]) -> Any:
    """query-runtime-apps: applications and deployments by environment, from the cache."""
    return rovo.runtime_apps(
        get_session(),
        space,
        now=_now(),
        environment=body["environment"],
        status=body["status"],
        query=body["query"],
    )


@rovo_action("/rovo/refresh-dataset", RefreshDatasetIn)
def post_rovo_refresh_dataset(space: Space, body: dict[str, Any]) -> Any:
    """refresh-dataset: refresh one dataset from Anypoint now, then describe the cache."""
    session = get_session()
    return rovo.refresh_dataset(
        session,
        space,
        dataset=body["dataset"],
        now=_now(),
        refresh=lambda dataset: _refresh_now(session, space, dataset=dataset),
    )


@rovo_action("/rovo/endpoints", EndpointsIn)
def post_rovo_endpoints(space: Space, body: dict[str, Any]) -> Any:
    """answer-endpoint-question: HTTP methods and paths from the endpoints cache."""
    return rovo.endpoints(
        get_session(),
        space,
        now=_now(),
        question=body["question"],
        api=body["api"],
        method=body["method"],
        path=body["path"],
    )
