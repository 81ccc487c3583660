"""A message in doubt (its worker died mid-call) is looked for in Service Management by its marker
before it is sent again, so a comment the dead worker did post is not posted twice."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from flask import Flask
from sqlalchemy.orm import Session

from app.services import outbox
from app.services.outbox import Dispatcher, RetryPolicy, marker, marker_line
from app.tickets import Attachment
from app.tickets.connectors import TARGET_JSM, ConnectorFactory
from tests.app.test_outbox import BASE, COMMENT_URL, JSM, T0, Clock, comment, state

SEARCH_URL = COMMENT_URL  # GET lists the comments, POST adds one
ATTACH_URL = f"{BASE}/rest/servicedeskapi/request/SUP-7/attachment"
UPLOAD_URL = f"{BASE}/rest/servicedeskapi/servicedesk/7/attachTemporaryFile"
LABELS_URL = f"{BASE}/rest/api/3/issue/SUP-7"
KEY = "ev-1:comment:internal"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, **JSM}


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


def dispatcher(app: Flask, clock: Clock, worker: str = "w2") -> Dispatcher:
    return Dispatcher(
        app.extensions["db"].sessionmaker,
        ConnectorFactory(app.config),
        policy=RetryPolicy(),
        clock=clock,
        rng=random.Random(3),
        worker=worker,
    )


def crash_mid_delivery(app: Flask, clock: Clock) -> None:
    """A worker claims the due messages, then dies before recording any outcome."""
    dispatcher(app, clock, worker="w1")._claim("w1:killed", 10, None)
    clock.advance(minutes=5, seconds=1)  # its lease expires


def page(*bodies: str, last: bool = True, start: int = 0) -> dict[str, Any]:
    return {
        "values": [{"id": str(900 + start + n), "body": b} for n, b in enumerate(bodies)],
        "isLastPage": last,
    }


def test_the_marker_is_stable_short_and_says_nothing() -> None:
    assert marker(KEY) == marker(KEY) != marker("ev-2:comment:internal")
    assert marker(KEY).startswith("ms-") and len(marker(KEY)) == 19
    assert "ev-1" not in marker_line(KEY)


def test_a_comment_the_dead_worker_posted_is_found_not_posted_again(
    app: Flask, session: Session
) -> None:
    comment(session)
    clock = Clock()
    crash_mid_delivery(app, clock)
    with responses.RequestsMock() as jsm:
        jsm.get(SEARCH_URL, json=page("Other", last=False))
        jsm.get(SEARCH_URL, json=page(f"## Findings\n\n{marker_line(KEY)}", start=1))
        report = dispatcher(app, clock).run_once()
        assert [c.request.method for c in jsm.calls] == ["GET", "GET"]
        assert "internal=true" in jsm.calls[0].request.url
        assert "start=1" in jsm.calls[1].request.url
    assert report.delivered == [KEY]
    message = state(session, KEY)
    assert message.status == outbox.DELIVERED and message.result == {"id": "901"}


def test_a_comment_in_doubt_but_not_found_is_sent_once_with_its_marker(
    app: Flask, session: Session
) -> None:
    comment(session)
    clock = Clock()
    crash_mid_delivery(app, clock)
    with responses.RequestsMock() as jsm:
        jsm.get(SEARCH_URL, json=page("Someone else's comment"))
        jsm.post(COMMENT_URL, status=201, json={"id": "10010"})
        assert dispatcher(app, clock).run_once().delivered == [KEY]
        posted = json.loads(jsm.calls[1].request.body)
    assert posted["body"].endswith(marker_line(KEY))
    assert state(session, KEY).result == {"id": "10010"}


def test_a_first_try_is_not_in_doubt_and_searches_nothing(app: Flask, session: Session) -> None:
    comment(session)
    with responses.RequestsMock() as jsm:
        jsm.post(COMMENT_URL, status=201, json={"id": "10010"})
        assert dispatcher(app, Clock()).run_once().delivered == [KEY]
        assert [c.request.method for c in jsm.calls] == ["POST"]


def test_a_failed_search_leaves_the_message_for_later(app: Flask, session: Session) -> None:
    comment(session)
    clock = Clock()
    crash_mid_delivery(app, clock)
    with responses.RequestsMock() as jsm:
        jsm.get(SEARCH_URL, status=503)
        assert dispatcher(app, clock).run_once().retrying == [KEY]
        assert len(jsm.calls) == 1  # nothing posted while the outcome is unknown


def test_attachments_in_doubt_are_found_by_their_note(app: Flask, session: Session) -> None:
    outbox.enqueue_attachments(
        session,
        "ev-1:attach:internal",
        target=TARGET_JSM,
        ticket="SUP-7",
        files=[Attachment("report.md", "text/markdown", b"# Report")],
        public=False,
        now=T0,
    )
    session.commit()
    clock = Clock()
    crash_mid_delivery(app, clock)
    with responses.RequestsMock() as jsm:
        jsm.get(SEARCH_URL, json=page(marker_line("ev-1:attach:internal")))
        report = dispatcher(app, clock).run_once()
        assert [c.request.method for c in jsm.calls] == ["GET"]
    assert report.delivered == ["ev-1:attach:internal"]


@pytest.mark.parametrize(("on_ticket", "put"), [(["b", "a", "x"], False), (["b"], True)])
def test_labels_in_doubt_are_read_and_put_only_if_missing(
    app: Flask, session: Session, on_ticket: list[str], put: bool
) -> None:
    outbox.enqueue_labels(
        session, "ev-1:labels", target=TARGET_JSM, ticket="SUP-7", labels=["a", "b"], now=T0
    )
    session.commit()
    clock = Clock()
    crash_mid_delivery(app, clock)
    with responses.RequestsMock() as jsm:
        jsm.get(LABELS_URL, json={"key": "SUP-7", "fields": {"labels": on_ticket}})
        if put:
            jsm.put(LABELS_URL, status=204)
        assert dispatcher(app, clock).run_once().delivered == ["ev-1:labels"]
        assert [c.request.method for c in jsm.calls] == ["GET", "PUT"] if put else ["GET"]
        assert "fields=labels" in jsm.calls[0].request.url


def test_attachments_carry_their_marker_as_the_comment(app: Flask, session: Session) -> None:
    outbox.enqueue_attachments(
        session,
        "ev-1:attach:internal",
        target=TARGET_JSM,
        ticket="SUP-7",
        files=[
            Attachment("report.json", "application/json", b"{}"),
            Attachment("report.md", "text/markdown", b"# Report"),
        ],
        public=False,
        now=T0,
    )
    session.commit()
    with responses.RequestsMock() as jsm:
        for temporary in ("t1", "t2"):
            jsm.post(
                UPLOAD_URL, json={"temporaryAttachments": [{"temporaryAttachmentId": temporary}]}
            )
        jsm.post(ATTACH_URL, status=201, json={"attachments": {"values": [{"id": "5"}]}})
        assert dispatcher(app, Clock()).run_once().delivered == ["ev-1:attach:internal"]
        body = json.loads(jsm.calls[-1].request.body)
    assert sorted(body["temporaryAttachmentIds"]) == ["t1", "t2"]
    assert body["additionalComment"] == {"body": marker_line("ev-1:attach:internal")}


def test_a_ticket_s_comments_keep_their_order_while_other_calls_go_together(
    app: Flask, session: Session
) -> None:
    comment(session, "ev-1:comment:internal")
    outbox.enqueue_labels(
        session, "ev-1:labels", target=TARGET_JSM, ticket="SUP-7", labels=["a"], now=T0
    )
    comment(session, "ev-1:comment:public", body="Please send a screenshot")
    clock = Clock()
    with responses.RequestsMock() as jsm:
        jsm.post(COMMENT_URL, status=201, json={"id": "1"})
        jsm.put(LABELS_URL, status=204)
        report = dispatcher(app, clock).run_once()
        comments = [
            json.loads(c.request.body)["body"] for c in jsm.calls if c.request.method == "POST"
        ]
    assert report.delivered == ["ev-1:comment:internal", "ev-1:labels", "ev-1:comment:public"]
    assert comments[0].startswith("h2. Findings") and comments[1].startswith("Please send")
    clock.advance(days=1)
    assert dispatcher(app, clock).run_once().attempted == 0
