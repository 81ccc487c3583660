"""A worker that dies right after Service Management made one of a ticket's writes — before it
could record it — or that got no answer to a write: whoever delivers next makes every write of
the ticket exactly once (internal comment, attachments, labels, public comment)."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.services import outbox
from app.services.outbox import Dispatcher, RetryPolicy
from app.tickets import Attachment
from app.tickets.connectors import TARGET_JSM, ConnectorFactory
from tests.app.test_outbox import BASE, JSM, T0, Clock

TICKET = "SUP-7"
REQUEST = f"{BASE}/rest/servicedeskapi/request/{TICKET}"
ISSUE = f"{BASE}/rest/api/3/issue/{TICKET}"
UPLOAD = f"{BASE}/rest/servicedeskapi/servicedesk/7/attachTemporaryFile"
WRITES = ("internal comment", "attachments", "labels", "public comment")


class Died(BaseException):
    """The worker process is gone (nothing in it catches this, as nothing survives SIGKILL)."""


class ServiceManagement:
    """What the site holds for one ticket, answering the connector's calls through ``responses``;
    with ``die_after`` set (one of :data:`WRITES`), the worker dies right after that write."""

    def __init__(self, mock: responses.RequestsMock, *, die_after: str | None = None) -> None:
        self.comments: list[dict[str, Any]] = []
        self.attachments: list[list[str]] = []
        self.label_puts: list[list[str]] = []
        self.die_after = die_after
        self.unanswered: str | None = None  # "comment" / "labels": made, but no answer comes
        self.dead = False
        self.lock = threading.Lock()
        mock.add_callback("GET", f"{REQUEST}/comment", self.list_comments)
        mock.add_callback("POST", f"{REQUEST}/comment", self.comment)
        mock.add_callback("POST", UPLOAD, self.upload)
        mock.add_callback("POST", f"{REQUEST}/attachment", self.attach)
        mock.add_callback("GET", ISSUE, self.issue)
        mock.add_callback("PUT", ISSUE, self.labels)

    def made(self, kind: str) -> None:
        """A write is made; the worker may die before it hears the answer."""
        if self.unanswered is not None and kind.endswith(self.unanswered):
            raise requests.ReadTimeout("read timed out")
        if self.die_after == kind:
            self.dead = True
            raise Died

    def alive(self) -> None:
        if self.dead:  # a dead process sends nothing more
            raise Died

    def list_comments(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.alive()
        values = [{"id": c["id"], "body": c["body"]} for c in self.comments]
        return 200, {}, json.dumps({"values": values, "isLastPage": True})

    def comment(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.alive()
            data = json.loads(request.body)
            ident = str(100 + len(self.comments))
            self.comments.append({"id": ident, "body": data["body"], "public": data["public"]})
            self.made("public comment" if data["public"] else "internal comment")
        return 201, {}, json.dumps({"id": ident})

    def upload(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.alive()
        body = {"temporaryAttachments": [{"temporaryAttachmentId": "tmp-1"}]}
        return 201, {}, json.dumps(body)

    def attach(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.alive()
            data = json.loads(request.body)
            self.attachments.append(data["temporaryAttachmentIds"])
            note = (data.get("additionalComment") or {}).get("body")
            if note:  # Service Management adds the note as a comment of the request
                self.comments.append(
                    {"id": f"n{len(self.comments)}", "body": note, "public": False}
                )
            self.made("attachments")
        return 201, {}, json.dumps({"attachments": {"values": [{"id": "9"}]}})

    def issue(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.alive()
        present = sorted({label for put in self.label_puts for label in put})
        return 200, {}, json.dumps({"key": TICKET, "fields": {"labels": present}})

    def labels(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.alive()
            self.label_puts.append([i["add"] for i in json.loads(request.body)["update"]["labels"]])
            self.made("labels")
        return 204, {}, ""

    def counts(self) -> dict[str, int]:
        findings = [c for c in self.comments if c["body"].startswith("h2. Findings")]
        return {
            "internal comment": len(findings),
            "attachments": len(self.attachments),
            "labels": len(self.label_puts),
            "public comment": sum(1 for c in self.comments if c["public"]),
        }


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, **JSM}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


def enqueue_ticket(session: Session) -> None:
    """The four writes an enriched ticket gets."""
    common: dict[str, Any] = {"target": TARGET_JSM, "ticket": TICKET, "now": T0}
    outbox.enqueue_comment(
        session, "ev-1:comment:internal", body="## Findings", public=False, **common
    )
    outbox.enqueue_attachments(
        session,
        "ev-1:attach:internal",
        files=[Attachment("report.md", "text/markdown", b"# Report")],
        public=False,
        **common,
    )
    outbox.enqueue_labels(session, "ev-1:labels", labels=["mulesight", "sev-2"], **common)
    outbox.enqueue_comment(
        session, "ev-1:comment:public", body="Please send a screenshot", public=True, **common
    )
    session.commit()


def dispatcher(app: Flask, clock: Clock, worker: str) -> Dispatcher:
    return Dispatcher(
        app.extensions["db"].sessionmaker,
        ConnectorFactory(app.config),
        policy=RetryPolicy(),
        clock=clock,
        rng=random.Random(5),
        worker=worker,
    )


def deliver_until_done(app: Flask, clock: Clock, site: ServiceManagement) -> None:
    """What the next processes do: sweep until nothing is pending (after each lease / delay)."""
    for attempt in range(6):
        clock.advance(hours=2)  # past any lease and retry delay
        with app.extensions["db"].session() as session:
            pending = outbox.list_messages(session, status=outbox.PENDING)
        if not pending:
            return
        dispatcher(app, clock, f"next-{attempt}").run_once()
    raise AssertionError("messages still pending")


@pytest.mark.parametrize("die_after", WRITES)
def test_a_worker_dying_after_any_write_leaves_every_write_made_once(
    app: Flask, session: Session, die_after: str
) -> None:
    enqueue_ticket(session)
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        site = ServiceManagement(mock, die_after=die_after)
        with pytest.raises(Died):
            dispatcher(app, clock, "killed").run_once()
        assert site.counts()[die_after] == 1
        site.die_after = None  # the next processes live
        site.dead = False
        deliver_until_done(app, clock, site)
    assert site.counts() == dict.fromkeys(WRITES, 1)
    delivered = outbox.list_messages(session, status=outbox.DELIVERED)
    assert len(delivered) == len(WRITES)


@pytest.mark.parametrize("lost", ["comment", "labels"])
def test_a_write_that_got_no_answer_is_looked_for_before_it_is_sent_again(
    app: Flask, session: Session, lost: str
) -> None:
    """A read timeout after the write was made: the next try finds it instead of repeating it."""
    enqueue_ticket(session)
    clock = Clock()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        site = ServiceManagement(mock)
        site.unanswered = lost
        report = dispatcher(app, clock, "first").run_once()
        assert report.retrying and not report.dead
        site.unanswered = None
        deliver_until_done(app, clock, site)
    assert site.counts() == dict.fromkeys(WRITES, 1)


def test_a_slow_call_keeps_its_claim_so_no_other_worker_sends_the_message_meanwhile(
    app: Flask, session: Session
) -> None:
    """The claim is renewed while the call lasts (here: longer than three leases)."""
    from app.models import OutboxMessage
    from tests.app.test_outbox import FakeConnector, comment
    from tests.app.test_queue import wait_until

    comment(session)
    clock = Clock()
    lease = RetryPolicy(lease=timedelta(seconds=0.2))  # renewed every 0.05 s of real time
    others: list[int] = []

    def claimed_until() -> Any:
        with app.extensions["db"].session() as fresh:
            return fresh.scalar(sa.select(OutboxMessage.claimed_until))

    class Slow(FakeConnector):
        def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
            for _ in range(3):
                clock.advance(seconds=1)
                wait_until(lambda: claimed_until() > clock())
                other = Dispatcher(
                    app.extensions["db"].sessionmaker,
                    lambda _s, _t: FakeConnector(),
                    policy=lease,
                    clock=clock,
                    worker="other",
                )
                others.append(other.run_once().attempted)
            return super().add_comment(key, body_markdown, public=public)

    slow = Slow()
    first = Dispatcher(
        app.extensions["db"].sessionmaker, lambda _s, _t: slow, policy=lease, clock=clock
    )
    assert first.run_once().delivered == ["ev-1:comment:internal"]
    assert others == [0, 0, 0] and len(slow.calls) == 1
