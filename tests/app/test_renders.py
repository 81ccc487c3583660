"""POST /forge/v1/renders: validated render telemetry, stored per tenant space."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import storage
from app.models import RenderEvent
from tests.app.conftest import CLOUDS, SITE_A, SITE_B

URL = "/forge/v1/renders"
Headers = Callable[..., dict[str, str]]


def event(**changes: Any) -> dict[str, Any]:
    base = {
        "macro": "exchange-asset",
        "mode": "detailed",
        "page_id": "98765",
        "space_key": "OPS",
        "status": "ok",
        "error": None,
        "at": "2026-11-23T10:00:00+11:00",
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not ...}


@pytest.fixture(autouse=True)
def spaces(app: Flask) -> None:
    with app.extensions["db"].session() as session:
        for site in (SITE_A, SITE_B):
            storage.ensure_installation(session, site, CLOUDS[site])
        box = app.extensions["secret_box"]
        for key in ("OPS", "DOCS"):
            storage.save_connection(
                session,
                box,
                SITE_A,
                space_key=key,
                client_id="c",
                control_plane="us",
                sync_interval_hours=24,
            )
        storage.save_connection(
            session,
            box,
            SITE_B,
            space_key="BONLY",
            client_id="c",
            control_plane="us",
            sync_interval_hours=24,
        )
        session.commit()


def stored(app: Flask) -> list[RenderEvent]:
    with app.extensions["db"].session() as session:
        return list(session.scalars(sa.select(RenderEvent).order_by(RenderEvent.id)))


def test_a_batch_is_stored(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    events = [event(), event(space_key="DOCS", status="error", error="boom", mode=None)]
    response = client.post(URL, json={"events": events}, headers=forge_headers())
    assert response.status_code == 202
    assert response.json == {"accepted": 2}
    rows = stored(app)
    assert [(r.macro, r.status, r.page_id) for r in rows] == [
        ("exchange-asset", "ok", "98765"),
        ("exchange-asset", "error", "98765"),
    ]
    assert rows[0].at == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert rows[1].error == "boom" and rows[1].mode is None


def test_the_macro_body(app: Flask, client: FlaskClient, forge_headers: Headers) -> None:
    """Exactly what forge/src/macro.js sends: one event, no batch space, a UTC ``Z`` time."""
    body = {
        "events": [
            {
                "macro": "runtime-manager-app",
                "page_id": None,
                "space_key": "OPS",
                "mode": "compact",
                "status": "timeout",
                "at": "2026-11-22T23:00:00.000Z",
                "error": "The MuleSight backend could not be reached: timed out",
            }
        ]
    }
    response = client.post(URL, json=body, headers=forge_headers())
    assert response.status_code == 202, response.json
    (row,) = stored(app)
    assert row.at == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert row.page_id is None


def test_events_default_to_the_batch_space(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    body = {"space": "DOCS", "events": [event(space_key=None), event(space_key=...)]}
    response = client.post(URL, json=body, headers=forge_headers())
    assert response.status_code == 202, response.json
    with app.extensions["db"].session() as session:
        docs = storage.get_space(session, SITE_A, "DOCS")
    assert {r.space_id for r in stored(app)} == {docs.id}


def test_an_event_without_any_space_is_422(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.post(URL, json={"events": [event(space_key=None)]}, headers=forge_headers())
    assert response.status_code == 422
    assert "events" in response.json["error"]["fields"]


def test_another_tenants_space_is_404_and_nothing_is_stored(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    events = [event(), event(space_key="BONLY")]
    response = client.post(URL, json={"events": events}, headers=forge_headers(SITE_A))
    assert response.status_code == 404
    assert stored(app) == []


def test_more_than_500_events_is_413(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.post(URL, json={"events": [event()] * 501}, headers=forge_headers())
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_many_events"


def test_500_events_are_fine(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.post(URL, json={"events": [event()] * 500}, headers=forge_headers())
    assert response.status_code == 202
    assert response.json == {"accepted": 500}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"macro": "unknown-macro"}, "macro"),
        ({"mode": "fancy"}, "mode"),
        ({"status": "great"}, "status"),
        ({"at": "2026-11-23T10:00:00"}, "at"),
        ({"at": "yesterday"}, "at"),
        ({"at": ...}, "at"),
        ({"page_id": "x" * 65}, "page_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_events_name_the_field(
    client: FlaskClient, forge_headers: Headers, changes: dict[str, Any], field: str
) -> None:
    response = client.post(
        URL, json={"events": [event(), event(**changes)]}, headers=forge_headers()
    )
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]["events"]["1"]


def test_events_must_be_a_list(client: FlaskClient, forge_headers: Headers) -> None:
    response = client.post(URL, json={"events": "nope"}, headers=forge_headers())
    assert response.status_code == 422
    assert "events" in response.json["error"]["fields"]


def test_error_texts_are_redacted_and_truncated(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    leaky = "call failed: Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2ln"
    events = [event(status="error", error=leaky), event(status="error", error="e" * 5000)]
    assert client.post(URL, json={"events": events}, headers=forge_headers()).status_code == 202
    first, second = stored(app)
    assert "eyJzdWIiOiIxMjM0In0" not in (first.error or "")
    assert "[REDACTED:" in (first.error or "")
    assert len(second.error or "") == 2000


def test_renders_read_back_as_engine_events(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    client.post(URL, json={"events": [event(page_id=None)]}, headers=forge_headers())
    with app.extensions["db"].session() as session:
        (render,) = storage.recent_renders(session, storage.get_space(session, SITE_A, "OPS"))
    assert (render.macro, render.space_key, render.status) == ("exchange-asset", "OPS", "ok")
