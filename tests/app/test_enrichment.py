"""Enrichment pieces: site and space matching, what is asked and flagged, upstream guidance, the
and a failed job that a redelivery repeats without anything half-written (the queue itself:
``test_queue.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app import jobs
from app.models import DiagnosticRun, Installation, OutboxMessage, Space, WebhookEvent
from app.services import outbox
from app.tickets import enrichment, store
from app.tickets.compose import (
    internal_summary,
    mulesoft_zone,
    public_request,
    upstream_guidance,
)
from app.tickets.connectors import TARGET_LOCAL
from app.tickets.enrichment import enrich_ticket, find_installation
from app.tickets.reading import TicketInput, normalize_site_url, space_keys_in
from diagnostics.report import Report
from tests.app.test_webhook_jsm import issue_created, sign

OPENED = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MULESIGHT_JOB_QUEUE": "sync", "MULESIGHT_WEBHOOK_SECRET": "s3cret-hook"}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


def site(
    session: Session, *spaces: tuple[str, str], url: str = "https://acme.atlassian.net/"
) -> None:
    session.add(Installation(id="inst-acme", cloud_id="cloud-acme", site_url=url))
    session.flush()
    for key, scenario in spaces:
        session.add(
            Space(
                installation_id="inst-acme",
                key=key,
                client_id="connected-app-1",
                control_plane="us",
                scenario=scenario,
            )
        )
    session.commit()


def ticket(text: str, key: str = "MSUP-1") -> TicketInput:
    return TicketInput(
        key, {"key": key, "fields": {"summary": "Help", "description": text}}, OPENED
    )


def enrich(app: Flask, session: Session, text: str) -> enrichment.Enrichment:
    result = enrich_ticket(
        session,
        ticket(text),
        ref="t",
        target=TARGET_LOCAL,
        config=app.config,
        box=app.extensions["secret_box"],
        now=OPENED,
    )
    session.commit()
    return result


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://acme.atlassian.net/", "https://acme.atlassian.net"),
        ("HTTPS://ACME.atlassian.net/wiki/spaces/OPS", "https://acme.atlassian.net"),
        ("acme.atlassian.net", "https://acme.atlassian.net"),
        ("http://acme.atlassian.net.", "https://acme.atlassian.net"),
        ("", None),
        (None, None),
    ],
)
def test_site_urls_are_normalised(given: str | None, expected: str | None) -> None:
    assert normalize_site_url(given) == expected


def test_the_installation_is_found_by_its_site(session: Session) -> None:
    site(session, url="https://Acme.atlassian.net/wiki/")
    assert find_installation(session, "acme.atlassian.net").id == "inst-acme"  # type: ignore[union-attr]
    assert find_installation(session, "https://acme.atlassian.net.evil.example") is None
    assert find_installation(session, "https://acm.atlassian.net") is None
    assert find_installation(session, None) is None


def test_space_keys_named_in_a_ticket() -> None:
    text = (
        "See https://acme.atlassian.net/wiki/spaces/OPS/pages/1 and the PAY space; "
        "space key: ~jdoe. Also space DEV."
    )
    assert space_keys_in(text) == ["OPS", "~jdoe", "DEV", "PAY"]
    assert space_keys_in("Nothing here about spaces in general.") == []


def test_named_spaces_only_are_run_and_reports_are_named_per_space(
    app: Flask, session: Session
) -> None:
    site(session, ("OPS", "healthy"), ("PAY", "stale-caches"), ("DEV", "healthy"))
    result = enrich(app, session, "acme.atlassian.net: the OPS space and the PAY space fail")
    assert len(result.run_ids) == 2
    attach = outbox.find_message(session, "t:attach:internal")
    assert attach is not None
    assert [f["name"] for f in attach.payload["files"]] == [
        "report-OPS.json",
        "report-OPS.md",
        "report-PAY.json",
        "report-PAY.md",
    ]


def test_every_space_of_the_site_when_none_is_named(app: Flask, session: Session) -> None:
    site(session, ("OPS", "healthy"), ("PAY", "healthy"))
    result = enrich(app, session, "https://acme.atlassian.net is slow, space XYZ")
    assert len(result.run_ids) == 2
    assert result.labels == [
        "mulesight-verdict-healthy",
        "mulesight-coverage-full",
        "mulesight-sev-4",
    ]


def test_a_site_without_spaces_gets_the_internal_note_and_asks_the_customer(
    app: Flask, session: Session
) -> None:
    site(session)
    result = enrich(app, session, "https://acme.atlassian.net is broken")
    assert result.messages == ["t:comment:internal", "t:comment:public"] and result.run_ids == []
    ask = outbox.find_message(session, "t:comment:public")
    assert ask is not None and "a space is connected to Anypoint" in ask.payload["body"]


def test_nothing_missing_and_no_upstream_means_no_public_comment() -> None:
    assert public_request([], None) is None
    asked = public_request(["timestamp", "reproduction_steps"], None)
    assert asked is not None
    assert asked.splitlines()[-2:] == [
        "- When the problem happened: the date and time",
        "- The steps that show the problem, one numbered step per action",
    ]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("AEDT", "AEST"),
        ("Australia/Melbourne", "AEST"),
        ("America/New_York", "EST"),
        ("PDT", "PST"),
        ("UTC", "GMT"),
        ("+05:30", None),
        (None, None),
    ],
)
def test_mulesoft_zone_of_a_ticket_timezone(zone: str | None, expected: str | None) -> None:
    assert mulesoft_zone(zone) == expected


def _report(owner: str, **extra: Any) -> Report:
    finding = {"status": "fail", "owner": owner, "title": "t", "remediation": "r"}
    return Report({"findings": [finding], "control_plane": "us", **extra})


def test_upstream_guidance_only_for_mulesoft_findings() -> None:
    assert upstream_guidance([_report("customer_admin")], "Sev 1", OPENED, None) is None
    guidance = upstream_guidance(
        [_report("mulesoft", upstream={"status_page": "https://status.mulesoft.com"})],
        "Sev 1",
        OPENED,
        "EST",
    )
    assert guidance is not None
    assert guidance.severity == "S1" and "outage" in guidance.definition
    assert [r.tier for r in guidance.responses] == ["gold", "platinum", "titanium"]
    assert [r.zone for r in guidance.responses] == ["EST"] * 3
    assert guidance.responses[2].round_the_clock is True
    assert upstream_guidance([_report("mulesoft")], "Sev 3", OPENED, None).severity == "S3"  # type: ignore[union-attr]


def test_maintenance_window_is_flagged() -> None:
    friday_evening_pacific = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # Fri 19:00 PST
    guidance = upstream_guidance([_report("mulesoft")], "Sev 2", friday_evening_pacific, None)
    assert guidance is not None and guidance.in_maintenance_window is True


def test_internal_summary_due_times_and_breach_escalation() -> None:
    report = _report(
        "mulesight_engineering", verdict="broken", suggested_severity="Sev 2", severity_reason="x."
    )
    opened = TicketInput("SUP-1", {}, datetime(2026, 11, 22, 23, 15, tzinfo=UTC))  # Mon 10:15
    body, severity = internal_summary(
        ticket=opened,
        reports=[report],
        run_ids=["r1"],
        reading=None,
        kinds=["client_secret"],
        now=datetime(2026, 12, 15, tzinfo=UTC),
        missing=[],
        filled={},
    )
    assert severity == "Sev 2"
    assert "Initial response due: Tue 24 Nov 2026 10:15 AEDT (2026-11-23 23:15 UTC)" in body
    assert (
        "Resolution due: Mon 30 Nov 2026 10:15 AEDT (2026-11-29 23:15 UTC) — **breached**" in body
    )
    assert "### Escalation: Product owner" in body
    assert "the worst finding is owned by MuleSight engineering" in body
    assert "the issue is security-impacting" in body


# -- the job ----------------------------------------------------------------------------------------


def _post(client: FlaskClient, payload: Mapping[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/jsm",
        data=body,
        headers={"X-Hub-Signature": sign(body, "s3cret-hook"), "Content-Type": "application/json"},
    )


def test_a_failed_job_leaves_nothing_half_written_and_a_redelivery_retries(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    site(session, ("OPS", "healthy"))
    store_ticket = store.create_ticket(session, summary="placeholder")  # the local target
    session.commit()
    payload = issue_created(key=store_ticket.key)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("Anypoint exploded")

    monkeypatch.setattr(enrichment, "fresh_run_for_space", broken)
    assert _post(client, payload).status_code == 202
    event = session.scalars(sa.select(WebhookEvent)).one()
    assert event.status == "failed" and "RuntimeError" in (event.error or "")
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    queue = jobs.get_queue(app)
    assert isinstance(queue, jobs.SyncQueue) and queue.failures == [(1, "waiting")]

    monkeypatch.undo()
    again = _post(client, payload)
    assert again.status_code == 202 and again.json["duplicate"] is True
    session.expire_all()
    assert session.scalars(sa.select(WebhookEvent)).one().status == "done"
    view = store.ticket_detail(session, store_ticket.key)
    assert [c.public for c in view.comments] == [False, True]
    assert len(view.attachments) == 2


def test_a_run_that_collides_with_one_that_finished_leaves_the_event_done(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one event (a lease given away): the loser's error must not undo ``done``."""
    site(session, ("OPS", "healthy"))
    store_ticket = store.create_ticket(session, summary="placeholder")
    session.commit()
    monkeypatch.setattr(enrichment, "fresh_run_for_space", _raise_runtime_error)
    assert _post(client, issue_created(key=store_ticket.key)).status_code == 202
    event_id = session.scalars(sa.select(WebhookEvent.id)).one()

    def finished_elsewhere_then_collide(*_args: Any, **_kwargs: Any) -> Any:
        with app.extensions["db"].session() as other:  # the other run commits first
            other.get(WebhookEvent, event_id).status = "done"
            other.commit()
        raise RuntimeError("duplicate outbox key")

    monkeypatch.undo()
    monkeypatch.setattr(enrichment, "compose", finished_elsewhere_then_collide)
    with app.app_context(), pytest.raises(RuntimeError):
        jobs.enrich_webhook_event({"event_id": event_id})
    session.expire_all()
    assert session.get(WebhookEvent, event_id).status == "done"


def _raise_runtime_error(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("Anypoint exploded")


def test_each_spaces_run_is_stored_in_a_step_of_its_own(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job commits a space's run before it diagnoses the next: a failure on the second
    space keeps the first's run (its row lock released), and no message is half-written."""
    site(session, ("DEV", "healthy"), ("OPS", "healthy"))
    store_ticket = store.create_ticket(session, summary="placeholder")
    session.commit()
    real = enrichment.fresh_run_for_space
    ops = session.scalars(sa.select(Space.id).where(Space.key == "OPS")).one()

    def second_breaks(step: Session, space_id: int, **kwargs: Any) -> Any:
        if space_id == ops:
            raise RuntimeError("Anypoint exploded")
        return real(step, space_id, **kwargs)

    monkeypatch.setattr(enrichment, "fresh_run_for_space", second_breaks)
    named = "The macro is empty in the DEV space and in the OPS space."
    assert _post(client, issue_created(key=store_ticket.key, description=named)).status_code == 202
    assert session.scalars(sa.select(WebhookEvent.status)).one() == "failed"
    runs = session.scalars(sa.select(DiagnosticRun.space_id)).all()
    assert runs == [session.scalars(sa.select(Space.id).where(Space.key == "DEV")).one()]
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
