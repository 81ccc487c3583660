"""The local ticket store (a TicketConnector on the database) and the /support/v1 ticket routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import storage
from app.models import DiagnosticRun, Installation, Space
from app.services.runs import run_for_space
from app.tickets import Attachment, TicketConnector, TicketError, store

SITE = "https://acme.atlassian.net"
LEAKED = "Zq8vN2rT5wXyB7pK4mLs"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MULESIGHT_JOB_QUEUE": "sync"}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


@pytest.fixture
def tokens(session: Session) -> dict[str, dict[str, str]]:
    made = {}
    for name, role in (("vera", "viewer"), ("sam", "support")):
        _row, clear = storage.create_support_token(session, name, role)
        made[role] = {"Authorization": f"Bearer {clear}"}
    session.commit()
    return made


def connect_site(session: Session, scenario: str = "api-manager-sandbox-only") -> Space:
    session.add(Installation(id="inst-acme", cloud_id="cloud-acme", site_url=SITE))
    session.flush()
    space = Space(
        installation_id="inst-acme",
        key="OPS",
        client_id="connected-app-1",
        control_plane="us",
        scenario=scenario,
    )
    session.add(space)
    session.commit()
    return space


# -- the store --------------------------------------------------------------------------------------


def test_keys_come_in_sequence_and_content_is_redacted(session: Session) -> None:
    first = store.create_ticket(session, summary="One")
    second = store.create_ticket(
        session,
        summary="Two",
        description=f"client_secret={LEAKED}",
        fields={"password": LEAKED},
    )
    assert (first.key, second.key) == ("MSUP-1", "MSUP-2")
    assert LEAKED not in (second.description or "") and LEAKED not in str(second.fields)


def test_the_store_is_a_ticket_connector(session: Session) -> None:
    ticket = store.create_ticket(session, summary="Macro empty", site_url=SITE, severity="Sev 3")
    connector = store.LocalTicketStore(session)
    assert isinstance(connector, TicketConnector)

    internal = connector.add_comment(ticket.key, f"token client_secret={LEAKED}", public=False)
    public = connector.add_comment(ticket.key, "Please send a screenshot.", public=True)
    ids = connector.attach(
        ticket.key,
        [
            Attachment("report.json", "application/json", b'{"verdict": "broken"}'),
            Attachment("shot.png", "image/png", b"\x89PNG\r\n\x1a\n\x00"),
        ],
        public=False,
    )
    connector.add_labels(ticket.key, ["mulesight-sev-2", "a"])
    connector.add_labels(ticket.key, ["a", "b", "b"])

    view = store.ticket_detail(session, ticket.key)
    assert [(str(c.id), c.public) for c in view.comments] == [(internal, False), (public, True)]
    assert LEAKED not in view.comments[0].body
    assert [(str(a.id), a.name, a.size, a.public) for a in view.attachments] == [
        (ids[0], "report.json", 21, False),
        (ids[1], "shot.png", 9, False),
    ]
    assert store.attachment_content(session, ticket.key, int(ids[1])).data.startswith(b"\x89PNG")
    assert view.ticket.labels == ["mulesight-sev-2", "a", "b"]
    data = connector.get_ticket(ticket.key)
    assert (data.key, data.summary, data.site_url) == (ticket.key, "Macro empty", SITE)
    assert data.fields["created"]


def test_an_unknown_ticket_is_a_permanent_error(session: Session) -> None:
    connector = store.LocalTicketStore(session)
    with pytest.raises(TicketError) as raised:
        connector.add_comment("MSUP-404", "hello", public=False)
    assert raised.value.retryable is False and raised.value.status == 404
    with pytest.raises(storage.NotFound):
        store.ticket_detail(session, "MSUP-404")


def test_listing_is_newest_first_and_filters(session: Session) -> None:
    for n in range(3):
        store.create_ticket(session, summary=f"T{n}")
    closed = store.create_ticket(session, summary="closed")
    closed.status = "closed"
    session.commit()
    assert [t.key for t in store.list_tickets(session)] == ["MSUP-4", "MSUP-3", "MSUP-2", "MSUP-1"]
    assert [t.key for t in store.list_tickets(session, status="closed")] == ["MSUP-4"]
    assert [t.key for t in store.list_tickets(session, limit=1, offset=1)] == ["MSUP-3"]


# -- the routes -------------------------------------------------------------------------------------


def test_routes_need_a_support_token_and_the_right_role(
    client: FlaskClient, tokens: dict[str, dict[str, str]]
) -> None:
    assert client.get("/support/v1/tickets").status_code == 401
    assert client.get("/support/v1/tickets", headers=tokens["viewer"]).status_code == 200
    created = client.post("/support/v1/tickets", json={"summary": "x"}, headers=tokens["viewer"])
    assert created.status_code == 403
    attach = client.post(
        "/support/v1/runs/r1/attach", json={"ticket": "MSUP-1"}, headers=tokens["viewer"]
    )
    assert attach.status_code == 403


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ('["a list"]', "application/json", 400, "bad_request"),
        ('{"summary": "x"}', "text/plain", 415, "unsupported_media_type"),
        ('{"description": "no summary"}', "application/json", 422, "validation_error"),
        ('{"summary": "x", "surprise": 1}', "application/json", 422, "validation_error"),
    ],
)
def test_a_bad_body_gets_the_contract_error(
    client: FlaskClient,
    tokens: dict[str, dict[str, str]],
    data: str,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = client.post(
        "/support/v1/tickets", data=data, content_type=content_type, headers=tokens["support"]
    )
    assert response.status_code == status
    error = response.json["error"]
    assert error["code"] == code and error["message"]
    if status == 422:  # the fields, not nested under where they came from
        assert set(error["fields"]) <= {"summary", "surprise"} and error["fields"]


def test_a_bad_query_names_the_field(
    client: FlaskClient, tokens: dict[str, dict[str, str]]
) -> None:
    response = client.get("/support/v1/tickets?limit=many", headers=tokens["viewer"])
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert set(response.json["error"]["fields"]) == {"limit"}


def test_create_enriches_the_local_ticket(
    client: FlaskClient, session: Session, tokens: dict[str, dict[str, str]]
) -> None:
    connect_site(session)
    answer = client.post(
        "/support/v1/tickets",
        json={
            "summary": "API Manager macro empty",
            "description": "The api-manager-instance macro in the OPS space is empty.\n"
            "Steps to reproduce:\n1. Open the runbook\n2. Look at the macro",
            "site_url": "acme.atlassian.net",
        },
        headers=tokens["support"],
    )
    assert answer.status_code == 201, answer.json
    key = answer.json["key"]
    assert key == "MSUP-1" and answer.json["installation_id"] == "inst-acme"
    assert answer.json["labels"] == [
        "mulesight-verdict-broken",
        "mulesight-coverage-partial",
        "mulesight-sev-2",
    ]

    detail = client.get(f"/support/v1/tickets/{key}", headers=tokens["viewer"]).json
    assert [c["public"] for c in detail["comments"]] == [False, True]
    assert "Suggested severity: Sev 2" in detail["comments"][0]["body"]
    assert "screenshot" in detail["comments"][1]["body"]
    assert [(a["name"], a["public"]) for a in detail["attachments"]] == [
        ("report.json", False),
        ("report.md", False),
    ]
    assert all(a["size"] > 100 for a in detail["attachments"])
    assert "body_text" not in detail["attachments"][0]


def test_ticket_detail_of_an_unknown_key_is_404(
    client: FlaskClient, tokens: dict[str, dict[str, str]]
) -> None:
    answer = client.get("/support/v1/tickets/MSUP-9", headers=tokens["viewer"])
    assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"


def test_sla_of_a_ticket(
    client: FlaskClient, session: Session, tokens: dict[str, dict[str, str]]
) -> None:
    ticket = store.create_ticket(session, summary="x", severity="Sev 2")
    ticket.created_at = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Mon 11:00 AEDT
    session.commit()
    answer = client.get(
        f"/support/v1/tickets/{ticket.key}/sla?now=2026-11-23T01:00:00Z", headers=tokens["viewer"]
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["severity_source"] == "ticket"
    sla = answer.json["sla"]
    assert sla["severity"] == "Sev 2" and sla["timezone"] == "Australia/Melbourne"
    assert sla["initial_response_due"] == "2026-11-24T11:00:00+11:00"
    assert sla["utc"]["initial_response_due"] == "2026-11-24T00:00:00+00:00"
    assert sla["resolution_breached"] is False

    unrated = store.create_ticket(session, summary="y")
    session.commit()
    answer = client.get(f"/support/v1/tickets/{unrated.key}/sla", headers=tokens["viewer"])
    assert answer.status_code == 409
    unrated.labels = ["mulesight-sev-3"]
    session.commit()
    answer = client.get(f"/support/v1/tickets/{unrated.key}/sla", headers=tokens["viewer"])
    assert answer.json["severity_source"] == "suggested"
    assert answer.json["sla"]["severity"] == "Sev 3"


def test_attach_a_run_to_a_local_ticket_once(
    app: Flask, client: FlaskClient, session: Session, tokens: dict[str, dict[str, str]]
) -> None:
    space = connect_site(session)
    run = run_for_space(
        session, space, config=app.config, box=app.extensions["secret_box"], requested_by="test"
    )
    ticket = store.create_ticket(session, summary="Console ticket")
    session.commit()

    answer = client.post(
        f"/support/v1/runs/{run.id}/attach", json={"ticket": ticket.key}, headers=tokens["support"]
    )
    assert answer.status_code == 202, answer.json
    assert answer.json["target"] == "local"
    assert [(m["operation"], m["status"]) for m in answer.json["messages"]] == [
        ("comment", "delivered"),
        ("attach", "delivered"),
        ("labels", "delivered"),
    ]
    again = client.post(
        f"/support/v1/runs/{run.id}/attach", json={"ticket": ticket.key}, headers=tokens["support"]
    )
    assert again.status_code == 202
    view = store.ticket_detail(session, ticket.key)
    assert len(view.comments) == 1 and len(view.attachments) == 2
    assert run.id in view.comments[0].body and view.comments[0].public is False


@pytest.mark.parametrize(
    ("run_id", "body", "status"),
    [
        ("no-such-run", {"ticket": "MSUP-1"}, 404),
        ("{run}", {"ticket": "MSUP-77"}, 404),
        ("{run}", {"ticket": "not a key"}, 422),
        ("{run}", {}, 422),
    ],
)
def test_attach_errors(
    app: Flask,
    client: FlaskClient,
    session: Session,
    tokens: dict[str, dict[str, str]],
    run_id: str,
    body: dict[str, Any],
    status: int,
) -> None:
    store.create_ticket(session, summary="x")
    session.add(Installation(id="inst-x", cloud_id="c"))
    session.flush()
    session.add(
        DiagnosticRun(id="r-1", installation_id="inst-x", report={}, verdict="ok", requested_by="t")
    )
    session.commit()
    answer = client.post(
        f"/support/v1/runs/{run_id.format(run='r-1')}/attach", json=body, headers=tokens["support"]
    )
    assert answer.status_code == status
