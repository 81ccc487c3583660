"""``mulesight attach RUN_ID --ticket KEY`` and ``mulesight outbox dispatch|list``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click
import pytest
import responses
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from app import cli
from app.audit import audit_entries
from app.cli_tickets import attach, outbox_group
from app.models import DiagnosticRun, Installation, Space
from app.services import outbox
from app.services.runs import run_for_space
from app.tickets import store
from app.tickets.connectors import TARGET_JSM
from tests.app.conftest import app_now

BASE = "https://sparrow-support.atlassian.net"


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


@pytest.fixture
def run(app: Flask, session: Session) -> DiagnosticRun:
    session.add(
        Installation(id="inst-acme", cloud_id="cloud-acme", site_url="https://acme.atlassian.net")
    )
    session.flush()
    space = Space(
        installation_id="inst-acme",
        key="OPS",
        client_id="connected-app-1",
        control_plane="us",
        scenario="api-manager-sandbox-only",
    )
    session.add(space)
    session.commit()
    run = run_for_space(
        session, space, config=app.config, box=app.extensions["secret_box"], requested_by="test"
    )
    session.commit()
    return run


def test_attach_to_the_local_store(
    runner: FlaskCliRunner, session: Session, run: DiagnosticRun
) -> None:
    ticket = store.create_ticket(session, summary="Console ticket")
    session.commit()

    result = runner.invoke(attach, [run.id, "--ticket", ticket.key])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Run {run.id} → {ticket.key} in the local ticket store")
    assert "verdict broken, Sev 2" in lines[0]
    assert lines[1:] == [
        "  internal comment: delivered",
        "  internal attachments report.json, report.md: delivered",
        "  labels mulesight-verdict-broken, mulesight-coverage-partial, mulesight-sev-2: delivered",
    ]
    view = store.ticket_detail(session, ticket.key)
    assert [c.public for c in view.comments] == [False]
    assert "Suggested severity: Sev 2" in view.comments[0].body
    assert [a.name for a in view.attachments] == ["report.json", "report.md"]
    report = store.attachment_content(session, ticket.key, view.attachments[0].id)
    assert json.loads(report.data)["run_id"] == run.id
    assert [e.action for e in audit_entries(session)] == ["run.attach"]

    again = runner.invoke(attach, [run.id, "--ticket", ticket.key])
    assert again.exit_code == 0
    assert len(store.ticket_detail(session, ticket.key).comments) == 1


def test_unknown_run_exits_2_with_one_line(runner: FlaskCliRunner, session: Session) -> None:
    ticket = store.create_ticket(session, summary="x")
    session.commit()
    result = runner.invoke(attach, ["no-such-run", "--ticket", ticket.key])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no-such-run" in result.stderr
    assert outbox.list_messages(session) == []


def test_unknown_local_ticket_exits_2(
    runner: FlaskCliRunner, session: Session, run: DiagnosticRun
) -> None:
    result = runner.invoke(attach, [run.id, "--ticket", "MSUP-99"])
    assert result.exit_code == 2 and "MSUP-99" in result.stderr
    assert outbox.list_messages(session) == []


def test_the_console_script_has_attach_and_outbox(capsys: pytest.CaptureFixture[str]) -> None:
    @click.group()
    def group() -> None:
        """Stand-in for the engine's group."""

    built = cli.build_cli(group)
    assert {"attach", "outbox"} <= set(built.commands)
    assert cli.run(built, ["attach", "some-run"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_attach_to_service_management(
    app: Flask, runner: FlaskCliRunner, session: Session, run: DiagnosticRun
) -> None:
    app.config.update(
        JSM_BASE_URL=BASE,
        JSM_EMAIL="bot@sparrow.example",
        JSM_API_TOKEN="ATATT-cli-token",
        JSM_SERVICE_DESK_ID="7",
    )
    with responses.RequestsMock() as jsm:
        jsm.post(f"{BASE}/rest/servicedeskapi/request/SUP-9/comment", status=201, json={"id": "1"})
        for temporary in ("t1", "t2"):
            jsm.post(
                f"{BASE}/rest/servicedeskapi/servicedesk/7/attachTemporaryFile",
                status=201,
                json={"temporaryAttachments": [{"temporaryAttachmentId": temporary}]},
            )
        jsm.post(
            f"{BASE}/rest/servicedeskapi/request/SUP-9/attachment",
            status=201,
            json={"attachments": {"values": []}},
            match=[  # uploads go out together: either order; the outbox's marker as comment
                lambda request: (
                    sorted(json.loads(request.body)["temporaryAttachmentIds"]) == ["t1", "t2"]
                    and json.loads(request.body)["public"] is False
                    and "additionalComment" in json.loads(request.body),
                    "not both uploads, internal, with a comment",
                )
            ],
        )
        jsm.put(f"{BASE}/rest/api/3/issue/SUP-9", status=204)

        result = runner.invoke(attach, [run.id, "--ticket", "SUP-9"])

        assert result.exit_code == 0, result.output
        assert "in Service Management" in result.stdout
        comments = [c.request for c in jsm.calls if c.request.url.endswith("/comment")]
        assert [json.loads(c.body)["public"] for c in comments] == [False]
        assert len(jsm.calls) == 5


def test_outbox_dispatch_and_list(app: Flask, runner: FlaskCliRunner, session: Session) -> None:
    ticket = store.create_ticket(session, summary="x")
    outbox.enqueue_comment(
        session,
        "k:comment",
        target="local",
        ticket=ticket.key,
        body="hello",
        public=True,
        now=app_now(app),
    )
    outbox.enqueue_comment(
        session,
        "k:jsm",
        target=TARGET_JSM,
        ticket="SUP-1",
        body="hello",
        public=True,
        now=app_now(app),
    )
    session.commit()

    result = runner.invoke(outbox_group, ["dispatch"])
    assert result.exit_code == 0, result.output
    # JSM is not configured: that message waits (and counts an attempt).
    assert result.stdout.strip() == "delivered 1, retrying 1, dead 0"
    listed = runner.invoke(outbox_group, ["list", "--status", "pending"])
    assert listed.exit_code == 0
    row: list[Any] = listed.stdout.strip().split("\t")
    assert row[:5] == ["k:jsm", "jsm", "comment", "pending", "1"]
    assert "no ticket system configured" in row[-1]
