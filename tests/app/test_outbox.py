"""The outbox: idempotent enqueue, retries with backoff on an injected clock, dead letters,
restarts, and claims that keep two workers off the same message (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from app.models import OutboxMessage
from app.services import outbox
from app.services.outbox import Dispatcher, RetryPolicy
from app.tickets import Attachment, TicketConnector, TicketData, TicketError
from app.tickets.connectors import TARGET_JSM, TARGET_LOCAL, ConnectorFactory
from app.tickets.store import LocalTicketStore, create_ticket, ticket_detail
from tests.app.conftest import make_app

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
BASE = "https://sparrow-support.atlassian.net"
COMMENT_URL = f"{BASE}/rest/servicedeskapi/request/SUP-7/comment"
JSM = {
    "JSM_BASE_URL": BASE,
    "JSM_EMAIL": "bot@sparrow.example",
    "JSM_API_TOKEN": "ATATT-outbox-token",
    "JSM_SERVICE_DESK_ID": "7",
}


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


class FakeConnector:
    """Records calls; ``failures`` is a list of errors to raise first, in order."""

    def __init__(self, failures: Sequence[Exception] = ()) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, str, Any]] = []
        self.lock = threading.Lock()

    def _call(self, op: str, key: str, what: Any) -> None:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.calls.append((op, key, what))

    def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
        self._call("comment", key, (body_markdown, public))
        return str(len(self.calls))

    def attach(self, key: str, files: Sequence[Attachment], *, public: bool) -> list[str]:
        self._call("attach", key, [(f.name, f.data) for f in files])
        return [f"a{i}" for i, _ in enumerate(files)]

    def add_labels(self, key: str, labels: Sequence[str]) -> None:
        self._call("labels", key, list(labels))

    def get_ticket(self, key: str) -> TicketData:
        return TicketData(key=key, summary="", description="")


def retryable(status: int = 503) -> TicketError:
    return TicketError.for_status(f"JSM comment on SUP-7 failed: HTTP {status}", status)


@pytest.fixture
def app(app_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    app = make_app({**app_config, **JSM, "MULESIGHT_DATABASE_URL": database_url})
    yield app
    app.extensions["db"].dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["db"].session() as session:
        yield session


def dispatcher(
    app: Flask,
    connector: TicketConnector | None,
    clock: Clock,
    *,
    max_attempts: int = 5,
    worker: str = "w1",
) -> Dispatcher:
    return Dispatcher(
        app.extensions["db"].sessionmaker,
        lambda _session, _target: connector,
        policy=RetryPolicy(max_attempts=max_attempts),
        clock=clock,
        rng=random.Random(7),
        worker=worker,
    )


def comment(session: Session, key: str = "ev-1:comment:internal", **kw: Any) -> OutboxMessage:
    kw.setdefault("body", "## Findings")
    message = outbox.enqueue_comment(
        session, key, target=TARGET_JSM, ticket="SUP-7", public=False, now=T0, **kw
    )
    session.commit()
    return message


def state(session: Session, key: str) -> OutboxMessage:
    session.expire_all()
    message = outbox.find_message(session, key)
    assert message is not None
    return message


def test_enqueue_is_idempotent_and_redacts(session: Session) -> None:
    first = comment(session, body="token: client_secret=Zq8vN2rT5wXyB7pK4mLs")
    again = comment(session, body="something else")
    assert again.id == first.id
    assert len(outbox.list_messages(session)) == 1
    assert "Zq8vN2rT5wXyB7pK4mLs" not in first.payload["body"]
    assert first.status == outbox.PENDING and first.attempts == 0


def test_jsm_503_twice_then_201_delivers_exactly_once(app: Flask, session: Session) -> None:
    comment(session)
    clock = Clock()
    factory = ConnectorFactory(app.config)
    run = Dispatcher(app.extensions["db"].sessionmaker, factory, clock=clock, rng=random.Random(1))
    with responses.RequestsMock() as jsm:
        jsm.post(COMMENT_URL, status=503, json={"errorMessage": "busy"})
        jsm.post(COMMENT_URL, status=503, json={"errorMessage": "busy"})
        jsm.post(COMMENT_URL, status=201, json={"id": "10010"})

        assert run.run_once().retrying == ["ev-1:comment:internal"]
        first_retry = state(session, "ev-1:comment:internal").next_attempt_at
        assert T0 + timedelta(seconds=15) <= first_retry <= T0 + timedelta(seconds=30)
        assert run.run_once().attempted == 0  # not due yet: no call
        clock.at = first_retry
        assert run.run_once().retrying == ["ev-1:comment:internal"]
        message = state(session, "ev-1:comment:internal")
        assert message.attempts == 2 and "HTTP 503" in (message.last_error or "")
        assert timedelta(seconds=30) <= message.next_attempt_at - clock.at <= timedelta(60)
        clock.at = message.next_attempt_at
        assert run.run_once().delivered == ["ev-1:comment:internal"]
        clock.advance(days=30)
        assert run.run_once().attempted == 0
        assert len(jsm.calls) == 3
    factory.close()
    message = state(session, "ev-1:comment:internal")
    assert message.status == outbox.DELIVERED and message.attempts == 3
    assert message.result == {"id": "10010"} and message.delivered_at == clock.at - timedelta(30)


def test_a_new_dispatcher_resumes_pending_messages(app: Flask, session: Session) -> None:
    comment(session, "ev-1:comment:internal")
    outbox.enqueue_labels(
        session, "ev-1:labels", target=TARGET_JSM, ticket="SUP-7", labels=["a"], now=T0
    )
    session.commit()
    clock = Clock()
    down = FakeConnector([retryable(), retryable()])
    assert len(dispatcher(app, down, clock).run_once().retrying) == 2

    # The process restarts: a new dispatcher and connector, nothing kept in memory.
    clock.advance(hours=1)
    up = FakeConnector()
    report = dispatcher(app, up, clock, worker="w2").run_once()
    assert report.delivered == ["ev-1:comment:internal", "ev-1:labels"]
    assert [c[0] for c in up.calls] == ["comment", "labels"]


def test_a_crashed_worker_s_claim_expires_and_another_delivers(
    app: Flask, session: Session
) -> None:
    comment(session)
    clock = Clock()
    crashed = dispatcher(app, FakeConnector(), clock)
    assert crashed._claim("w1:crashed", 10, None) == [state(session, "ev-1:comment:internal").id]

    other = FakeConnector()
    assert dispatcher(app, other, clock, worker="w2").run_once().attempted == 0
    clock.advance(minutes=5, seconds=1)  # past the lease
    assert dispatcher(app, other, clock, worker="w2").run_once().delivered
    assert len(other.calls) == 1


def test_a_delivered_message_is_never_sent_again(app: Flask, session: Session) -> None:
    comment(session)
    clock = Clock()
    connector = FakeConnector()
    assert dispatcher(app, connector, clock).run_once().delivered
    comment(session)  # the same job replayed: same key
    for _ in range(3):
        clock.advance(days=1)
        assert dispatcher(app, connector, clock).run_once().attempted == 0
    assert len(connector.calls) == 1


def test_dead_after_max_attempts_and_visible(app: Flask, session: Session) -> None:
    comment(session)
    clock = Clock()
    connector = FakeConnector([retryable(429)] * 10)
    for _ in range(3):
        dispatcher(app, connector, clock, max_attempts=3).run_once()
        clock.advance(hours=2)
    message = state(session, "ev-1:comment:internal")
    assert message.status == outbox.DEAD and message.attempts == 3
    assert "HTTP 429" in (message.last_error or "")
    assert [m.idempotency_key for m in outbox.list_messages(session, status=outbox.DEAD)] == [
        "ev-1:comment:internal"
    ]
    clock.advance(days=1)
    assert dispatcher(app, FakeConnector(), clock).run_once().attempted == 0


def test_a_permanent_error_is_dead_at_once(app: Flask, session: Session) -> None:
    comment(session)
    permanent = TicketError.for_status("JSM comment on SUP-7 failed: HTTP 404", 404)
    report = dispatcher(app, FakeConnector([permanent]), Clock()).run_once()
    assert report.dead == ["ev-1:comment:internal"]
    assert state(session, "ev-1:comment:internal").attempts == 1


def test_an_unexpected_exception_is_retried_without_its_message(
    app: Flask, session: Session
) -> None:
    comment(session)
    report = dispatcher(app, FakeConnector([RuntimeError("boom secret")]), Clock()).run_once()
    assert report.retrying == ["ev-1:comment:internal"]
    assert state(session, "ev-1:comment:internal").last_error == "RuntimeError"


def test_an_unconfigured_target_waits(app: Flask, session: Session) -> None:
    comment(session)
    report = dispatcher(app, None, Clock()).run_once()
    assert report.retrying == ["ev-1:comment:internal"]
    assert state(session, "ev-1:comment:internal").status == outbox.PENDING


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_delay=timedelta(seconds=10), max_delay=timedelta(minutes=5))
    rng = random.Random(3)
    for attempts, full in ((1, 10), (2, 20), (3, 40), (6, 300), (20, 300)):
        for _ in range(20):
            wait = policy.delay(attempts, rng).total_seconds()
            assert full / 2 <= wait <= full


def test_two_workers_never_send_the_same_message(app: Flask, session: Session) -> None:
    for n in range(12):
        comment(session, f"ev-{n}:comment:internal", body=f"message {n}")
    connector = FakeConnector()
    barrier = threading.Barrier(2)
    clock = Clock()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            dispatcher(app, connector, clock, worker=name).run_once()
        except BaseException as exc:  # surfaced below, not as a thread warning
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    bodies = sorted(call[2][0] for call in connector.calls)
    assert bodies == sorted({f"message {n}" for n in range(12)})
    assert all(m.status == outbox.DELIVERED for m in outbox.list_messages(session))


def test_local_target_writes_and_marks_delivered_together(app: Flask, session: Session) -> None:
    ticket = create_ticket(session, summary="Macro empty")
    files = [Attachment("report.json", "application/json", b'{"verdict": "broken"}')]
    outbox.enqueue_attachments(
        session, "x:attach", target=TARGET_LOCAL, ticket=ticket.key, files=files, public=False
    )
    outbox.enqueue_comment(
        session, "x:comment", target=TARGET_LOCAL, ticket=ticket.key, body="hi", public=True
    )
    session.commit()
    run = Dispatcher(app.extensions["db"].sessionmaker, ConnectorFactory(app.config))
    assert run.run_once().delivered == ["x:attach", "x:comment"]
    view = ticket_detail(session, ticket.key)
    assert [(a.name, a.public) for a in view.attachments] == [("report.json", False)]
    assert [(c.body, c.public) for c in view.comments] == [("hi", True)]
    assert isinstance(LocalTicketStore(session), TicketConnector)


def test_a_claim_is_one_read_and_one_update_and_says_what_is_in_doubt(
    app: Flask, session: Session
) -> None:
    """Claiming reads the due messages with what delivery needs, then one UPDATE returns what the
    claim owns: two statements and one commit, whatever the batch size."""
    comment(session)
    comment(session, key="ev-1:comment:public")
    clock = Clock()
    dispatcher(app, FakeConnector(), clock)._claim("w1:crashed", 10, None)  # dies: in doubt
    comment(session, key="ev-2:comment:internal")
    clock.advance(minutes=5, seconds=1)  # past the crashed claim's lease
    statements: list[str] = []
    engine = app.extensions["db"].engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0]))

    batch = dispatcher(app, FakeConnector(), clock, worker="w2")._claim_batch("w2:1", 10, None)

    assert [s.upper() for s in statements] == ["SELECT", "UPDATE"]
    assert [(message.in_doubt, message.ticket) for message in batch] == [
        (True, "SUP-7"),
        (True, "SUP-7"),
        (False, "SUP-7"),
    ]
    assert [m.claimed_by for m in outbox.list_messages(session)] == ["w2:1"] * 3


def test_a_local_write_commits_with_its_mark_and_the_payload_is_read_once(
    app: Flask, session: Session
) -> None:
    """The claim read the message (payloads hold whole reports). A connector that cannot find
    its writes again (the local store) writes and marks delivered in one transaction, with no
    look-up of the message or its lease in between."""
    comment(session)
    statements: list[str] = []
    engine = app.extensions["db"].engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    assert dispatcher(app, FakeConnector(), Clock()).run_once().delivered

    assert sum("outbox.payload" in s for s in statements) == 1  # the claim's read
    assert [s.split()[0].upper() for s in statements] == ["SELECT", "UPDATE", "UPDATE"]
    assert state(session, "ev-1:comment:internal").status == outbox.DELIVERED
    assert state(session, "ev-1:comment:internal").attempts == 1


class MarkerConnector(FakeConnector):
    """A connector that finds its own writes (as Service Management does); it notes how many
    database connections are in use while each call is made."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        self.engine = engine
        self.in_use: list[int] = []

    def _call(self, op: str, key: str, what: Any) -> None:
        self.in_use.append(self.engine.pool.checkedout())
        super()._call(op, key, what)

    def find_marker(self, key: str, marker: str) -> str | None:
        return next((str(i) for i, c in enumerate(self.calls) if marker in str(c[2])), None)

    def has_labels(self, key: str, labels: Sequence[str]) -> bool:
        return any(op == "labels" and list(what) == list(labels) for op, _k, what in self.calls)


def test_service_management_calls_hold_no_database_connection_and_are_marked_together(
    app: Flask, session: Session
) -> None:
    """Nothing is read before a call and no transaction stays open across it; a run's
    writes to a system that can find them again are marked delivered in one statement."""
    comment(session)
    comment(session, key="ev-1:comment:public")
    outbox.enqueue_labels(
        session, "ev-1:labels", target=TARGET_JSM, ticket="SUP-7", labels=["x"], now=T0
    )
    session.commit()
    session.close()
    engine = app.extensions["db"].engine
    connector = MarkerConnector(engine)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    report = dispatcher(app, connector, Clock()).run_once()

    assert len(report.delivered) == 3 and len(connector.calls) == 3
    assert connector.in_use == [0, 0, 0]
    assert [s.split()[0].upper() for s in statements] == ["SELECT", "UPDATE", "UPDATE"]
    messages = outbox.list_messages(session)
    assert [(m.status, m.result) for m in messages] == [
        (outbox.DELIVERED, {"id": "1"}),
        (outbox.DELIVERED, {"id": "2"}),
        (outbox.DELIVERED, {"id": None}),
    ]


def test_writes_made_but_not_yet_marked_are_found_not_sent_again(
    app: Flask, session: Session
) -> None:
    """The worker dies after its calls, before their one mark: the next run, once the lease
    has run out, finds each write by its marker and sends nothing twice."""
    comment(session)
    outbox.enqueue_labels(
        session, "ev-1:labels", target=TARGET_JSM, ticket="SUP-7", labels=["x"], now=T0
    )
    session.commit()
    connector, clock = MarkerConnector(app.extensions["db"].engine), Clock()
    dying = dispatcher(app, connector, clock)
    dying._mark_delivered = lambda *_a: (_ for _ in ()).throw(KeyboardInterrupt)  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        dying.run_once()
    assert {m.status for m in outbox.list_messages(session)} == {outbox.PENDING}

    clock.advance(minutes=5, seconds=1)
    report = dispatcher(app, connector, clock, worker="w2").run_once()

    assert len(report.delivered) == 2
    assert len(connector.calls) == 2  # each write made once
    assert {m.status for m in outbox.list_messages(session)} == {outbox.DELIVERED}


def test_no_call_starts_once_the_claims_lease_may_have_run_out(
    app: Flask, session: Session
) -> None:
    """A run that stalled past its lease (no renewal got through) sends nothing more: another
    worker may hold the messages by now."""
    comment(session)
    comment(session, key="ev-1:comment:public")
    clock = Clock()

    class Stalling(FakeConnector):
        def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
            clock.advance(minutes=5, seconds=1)  # the process stood still past its lease
            return super().add_comment(key, body_markdown, public=public)

    connector = Stalling()
    report = dispatcher(app, connector, clock).run_once()

    assert report.delivered == ["ev-1:comment:internal"] and len(connector.calls) == 1
    assert state(session, "ev-1:comment:public").status == outbox.PENDING
