"""Tenancy: an installation stays bound to its cloudId and site; a ticket's site resolves to one
installation or the customer is asked; only a space admin (per Confluence, with the user's own
token) may change a space's connection. See docs/security.md ("Tenants")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Installation, Space
from app.services import outbox
from app.tickets.connectors import TARGET_LOCAL
from app.tickets.enrichment import enrich_ticket, find_installation
from app.tickets.reading import TicketInput
from tests.app.conftest import CLOUD_A, CLOUD_B, SITE_A, USER_TOKEN, make_app

Headers = Callable[..., dict[str, str]]
ACME = "https://acme.atlassian.net"
OPENED = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)
BODY = {"space_key": "OPS", "client_id": "c", "client_secret": "s", "control_plane": "us"}


def context(cloud_id: str, site_url: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"cloudId": cloud_id, "moduleKey": "space-settings"}
    if site_url:
        ctx["siteUrl"] = site_url
    return ctx


def get_spaces(client: FlaskClient, headers: dict[str, str]) -> Any:
    return client.get("/forge/v1/connection", query_string={"space_key": "OPS"}, headers=headers)


# -- cloudId and siteUrl binding -------------------------------------------------------------------


def test_a_token_with_another_cloud_id_is_refused_and_logged(
    app: Flask, client: FlaskClient, forge_headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    assert get_spaces(client, forge_headers(SITE_A)).status_code == 404  # registered, no space
    with caplog.at_level(logging.WARNING, logger="app.auth.forge"):
        response = get_spaces(client, forge_headers(SITE_A, cloud_id=CLOUD_B))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "tenant_mismatch"
    assert "cloudId" in response.json["error"]["message"]
    assert any("cloudId disagrees" in r.getMessage() for r in caplog.records)
    with app.extensions["db"].session() as session:
        assert session.get(Installation, SITE_A).cloud_id == CLOUD_A  # type: ignore[union-attr]


def test_a_token_with_another_site_url_is_refused_and_the_site_kept(
    app: Flask, client: FlaskClient, forge_headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    first = get_spaces(client, forge_headers(SITE_A, context=context(CLOUD_A, ACME)))
    assert first.status_code == 404
    same = get_spaces(client, forge_headers(SITE_A, context=context(CLOUD_A, ACME.upper() + "/")))
    assert same.status_code == 404  # the same site, written differently
    with caplog.at_level(logging.WARNING, logger="app.auth.forge"):
        other = forge_headers(SITE_A, context=context(CLOUD_A, "https://evil.atlassian.net"))
        response = get_spaces(client, other)
    assert response.status_code == 403 and "siteUrl" in response.json["error"]["message"]
    assert any("siteUrl disagrees" in r.getMessage() for r in caplog.records)
    with app.extensions["db"].session() as session:
        assert session.get(Installation, SITE_A).site_url == ACME  # type: ignore[union-attr]


def test_a_site_url_is_recorded_once_when_first_seen(
    app: Flask, client: FlaskClient, forge_headers: Headers
) -> None:
    assert get_spaces(client, forge_headers(SITE_A)).status_code == 404  # no siteUrl yet
    assert (
        get_spaces(client, forge_headers(SITE_A, context=context(CLOUD_A, ACME))).status_code == 404
    )
    with app.extensions["db"].session() as session:
        assert session.get(Installation, SITE_A).site_url == ACME  # type: ignore[union-attr]


# -- a ticket's site resolves to one installation ----------------------------------------------


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


def two_installations_on_one_site(session: Session) -> None:
    for ident, cloud in (
        ("inst-old", "0c7b3e9a-1f2d-4c5b-8a6e-9d0f1e2a3b4c"),
        ("inst-new", "5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f"),
    ):
        session.add(Installation(id=ident, cloud_id=cloud, site_url=ACME))
        session.flush()
        session.add(
            Space(
                installation_id=ident,
                key="OPS",
                client_id="c",
                control_plane="us",
                scenario="healthy",
            )
        )
    session.commit()


def enrich(app: Flask, session: Session, text: str) -> Any:
    ticket = TicketInput(
        "MSUP-9", {"key": "MSUP-9", "fields": {"summary": "Help", "description": text}}, OPENED
    )
    result = enrich_ticket(
        session,
        ticket,
        ref="t",
        target=TARGET_LOCAL,
        config=app.config,
        box=app.extensions["secret_box"],
        now=OPENED,
    )
    session.commit()
    return result


def test_an_ambiguous_site_runs_nothing_and_asks_for_the_cloud_id(
    app: Flask, session: Session
) -> None:
    two_installations_on_one_site(session)
    assert find_installation(session, ACME) is None
    result = enrich(app, session, "acme.atlassian.net: the OPS space macros fail")
    assert result.installation_id is None and result.run_ids == []
    internal = outbox.find_message(session, "t:comment:internal")
    public = outbox.find_message(session, "t:comment:public")
    assert internal is not None and "more than one installation" in internal.payload["body"]
    assert public is not None and "Cloud ID" in public.payload["body"]


def test_the_cloud_id_in_the_ticket_picks_the_installation(app: Flask, session: Session) -> None:
    two_installations_on_one_site(session)
    text = "acme.atlassian.net, cloud id 5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f: OPS space fails"
    assert find_installation(session, ACME, text).id == "inst-new"  # type: ignore[union-attr]
    result = enrich(app, session, text)
    assert result.installation_id == "inst-new" and len(result.run_ids) == 1


# -- PUT /forge/v1/connection needs a space admin (live mode) -------------------------------------


@pytest.fixture
def live(app_config: dict[str, Any], forge_keys: Any) -> Iterator[tuple[FlaskClient, Any]]:
    app = make_app({**app_config, "MULESIGHT_ANYPOINT_MODE": "live"})
    yield app.test_client(), forge_keys
    app.extensions["db"].dispose()


def confluence_calls(forge_keys: Any) -> list[Any]:
    return [c.request for c in forge_keys.mock.calls if "/wiki/api/v2/" in c.request.url]


def test_a_space_admin_may_save_and_confluence_was_asked_as_the_user(
    live: tuple[FlaskClient, Any], forge_headers: Headers
) -> None:
    client, keys = live
    response = client.put("/forge/v1/connection", json=BODY, headers=forge_headers())
    assert response.status_code == 200, response.json
    calls = confluence_calls(keys)
    assert [c.path_url.split("?")[0].rsplit("/v2", 1)[1] for c in calls] == [
        "/spaces",
        "/spaces/98304/operations",
    ]
    assert "keys=OPS" in calls[0].url
    assert all(c.headers["Authorization"] == f"Bearer {USER_TOKEN}" for c in calls)
    assert f"/ex/confluence/{CLOUD_A}/wiki/" in calls[0].url


@pytest.mark.parametrize(
    ("state", "status", "code"),
    [
        ({"admin": False}, 403, "space_admin_required"),
        ({"visible": False}, 403, "space_admin_required"),
        ({"status": 401}, 403, "space_admin_required"),
        ({"status": 403}, 403, "space_admin_required"),
        ({"status": 500}, 503, "confluence_unavailable"),
    ],
)
def test_others_are_refused(
    live: tuple[FlaskClient, Any],
    forge_headers: Headers,
    caplog: pytest.LogCaptureFixture,
    state: dict[str, Any],
    status: int,
    code: str,
) -> None:
    client, keys = live
    keys.confluence.update(state)
    with caplog.at_level(logging.WARNING):
        response = client.put("/forge/v1/connection", json=BODY, headers=forge_headers())
    assert response.status_code == status and response.json["error"]["code"] == code
    if status == 403:
        assert "space admin" in response.json["error"]["message"]
        assert any("not a space admin" in r.getMessage() for r in caplog.records)
    keys.confluence.update({"admin": True, "visible": True, "status": 200})
    assert get_spaces(client, forge_headers()).status_code == 404  # nothing was saved


def test_without_a_user_token_nothing_is_saved(
    live: tuple[FlaskClient, Any], forge_headers: Headers
) -> None:
    client, keys = live
    headers = forge_headers()
    del headers["x-forge-oauth-user"]
    response = client.put("/forge/v1/connection", json=BODY, headers=headers)
    assert response.status_code == 403 and "user token" in response.json["error"]["message"]
    assert confluence_calls(keys) == []


# -- the self-check's demo tenant ------------------------------------------------------------------


def test_the_demo_tenant_is_not_served_once_a_real_site_installs(
    client: FlaskClient, forge_headers: Headers
) -> None:
    assert client.get("/selfcheck").status_code == 200  # the demo is created and served
    assert get_spaces(client, forge_headers(SITE_A)).status_code == 404  # a real site installs
    response = client.get("/selfcheck")
    assert response.status_code == 404 and "no local demo site" in response.get_data(as_text=True)
