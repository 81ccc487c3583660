"""What one webhook and one ticket cost: the statements intake and enrichment make, the worker's
job threads and CPU priority, renders shared by the tickets of one diagnosis.

Counts of SQL statements, never times: a regression here is a statement or a round trip more.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import responses
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import jobs
from app.db import pool_size as db_pool_size
from app.models import Job, OutboxMessage, WebhookEvent
from app.queue import store
from app.queue.worker import JobThreads, lower_priority, lower_session_priority
from app.services import runs as runs_service
from app.tickets import store as ticket_store
from tests.app.conftest import NOW, app_now, make_app
from tests.app.test_enrichment import site
from tests.app.test_outbox import JSM
from tests.app.test_outbox_crash import TICKET, ServiceManagement
from tests.app.test_webhook_jsm import issue_created, sign

SECRET = "s3cret-hook"


@pytest.fixture
def db_app(app_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    app = make_app(
        {
            **app_config,
            "MULESIGHT_DATABASE_URL": database_url,
            "MULESIGHT_JOB_QUEUE": "sync",
            "MULESIGHT_WEBHOOK_SECRET": SECRET,
        }
    )
    yield app
    app.extensions["db"].dispose()


class Statements:
    """The SQL statements (first word, table) and commits an engine runs while recording."""

    def __init__(self, engine: sa.Engine) -> None:
        self.seen: list[str] = []
        self.commits = 0
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def _commit(self, _conn: Any) -> None:
        self.commits += 1

    def clear(self) -> None:
        self.seen, self.commits = [], 0

    def starting(self, word: str) -> list[str]:
        return [s for s in self.seen if s.upper().startswith(word)]


class CommittedWhenWoken(jobs.SyncQueue):
    """Records wake-ups, and what another connection sees of the job at that moment."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.woken: list[tuple[int, str | None]] = []
        # not the app's engine (its statements are counted); no pool: nothing left open
        self.other = sa.create_engine(app.extensions["db"].url, poolclass=sa.pool.NullPool)

    def wake(self, job_id: int) -> None:
        with self.other.connect() as conn:
            status = conn.scalar(sa.select(Job.status).where(Job.id == job_id))
        self.woken.append((job_id, status))


def _signed(payload: Mapping[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    headers = {"X-Hub-Signature": sign(body, SECRET), "Content-Type": "application/json"}
    return {"data": body, "headers": headers}


def post(client: FlaskClient, payload: Mapping[str, Any]) -> Any:
    return client.post("/webhooks/jsm", **_signed(payload))


def test_a_first_delivery_is_stored_in_one_round_trip_then_woken(db_app: Flask) -> None:
    """PostgreSQL: one statement committed on its own (event and job); SQLite: two inserts and
    one commit. Either way the same rows, committed before the wake-up."""
    queue = CommittedWhenWoken(db_app)
    jobs.set_queue(db_app, queue)
    engine = db_app.extensions["db"].engine
    statements = Statements(engine)
    client = db_app.test_client()

    assert post(client, issue_created(key="SUP-1")).status_code == 202

    if engine.dialect.name == "postgresql":
        assert [s.split()[0].upper() for s in statements.seen] == ["WITH"]
        assert statements.commits == 0  # the server commits the lone statement
    else:
        assert [s.split()[0].upper() for s in statements.seen] == ["INSERT", "INSERT"]
        assert statements.commits == 1
    with db_app.extensions["db"].session() as session:
        event = session.scalars(sa.select(WebhookEvent)).one()
        job = session.scalars(sa.select(Job)).one()
    assert (job.key, job.kind, job.payload, job.status, job.attempts) == (
        f"event:{event.id}",
        jobs.ENRICH_WEBHOOK_EVENT,
        {"event_id": event.id},
        store.QUEUED,
        0,
    )
    assert min(event.received_at, job.created_at) >= NOW  # both on the app's clock
    assert max(event.received_at, job.created_at) <= app_now(db_app)
    assert job.lease_until == job.created_at + queue.policy.lease
    assert (job.installation_id, job.started_at, job.claimed_by) == (None, None, None)
    assert event.status == "received"
    assert queue.woken == [(job.id, store.QUEUED)]  # woken once committed, never before


def test_a_redelivery_stores_nothing_more(db_app: Flask) -> None:
    queue = CommittedWhenWoken(db_app)
    jobs.set_queue(db_app, queue)
    client = db_app.test_client()

    first = post(client, issue_created(key="SUP-1"))
    again = post(client, issue_created(key="SUP-1"))

    assert (first.status_code, first.json["duplicate"]) == (202, False)
    assert (again.status_code, again.json["duplicate"]) == (202, True)
    with db_app.extensions["db"].session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    assert len(queue.woken) == 1  # its job is queued already: nothing to wake again


def test_the_worker_is_woken_once_the_answer_has_gone_out(
    app: Flask, redis_queue: jobs.RedisQueue
) -> None:
    """The 202 does not wait on Redis: the wake-up is sent when the server closes the answer."""
    app.config["MULESIGHT_WEBHOOK_SECRET"] = SECRET
    client = app.test_client()

    answer = client.post("/webhooks/jsm", buffered=False, **_signed(issue_created(key="SUP-1")))

    assert answer.status_code == 202
    assert redis_queue.rq.count == 0  # answered, not yet closed: no wake-up so far
    answer.close()
    with app.extensions["db"].session() as session:
        job_id = session.scalars(sa.select(Job.id)).one()
    assert redis_queue.rq.job_ids == [redis_queue.wake_id(job_id)]


def test_a_lost_wake_up_leaves_the_answer_alone_and_the_sweeper_wakes_the_job(
    app: Flask, redis_queue: jobs.RedisQueue, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["MULESIGHT_WEBHOOK_SECRET"] = SECRET

    def redis_is_down(_job_id: int) -> None:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(redis_queue, "wake", redis_is_down)
    answer = app.test_client().post("/webhooks/jsm", **_signed(issue_created(key="SUP-1")))
    monkeypatch.undo()

    assert answer.status_code == 202
    assert redis_queue.rq.count == 0
    clock.advance(seconds=redis_queue.policy.lease.total_seconds() + 1)
    with app.extensions["db"].session() as session:
        job_id = session.scalars(sa.select(Job.id)).one()
    assert redis_queue.sweep() == [job_id]
    assert redis_queue.rq.job_ids == [redis_queue.wake_id(job_id)]


def test_every_thread_keeps_its_connection_open(db_app: Flask) -> None:
    """A pool smaller than the threads would open and close a PostgreSQL connection per request
    beyond it (a server process each time): the pool holds one per thread, background included."""
    engine = db_app.extensions["db"].engine
    threads = max(
        db_app.config["MULESIGHT_SERVE_THREADS"],
        db_app.config["MULESIGHT_WORKER_THREADS"],
        db_app.config["MULESIGHT_JOB_THREADS"],
    )
    if engine.dialect.name == "postgresql":
        assert engine.pool.size() == db_pool_size(db_app.config) == threads + 4
    else:  # SQLite: one writer at a time, SQLAlchemy's default pool
        assert engine.pool.size() == 5


def test_a_configured_pool_size_wins(app_config: dict[str, Any], database_url: str) -> None:
    options = {"pool_size": 3} if database_url.startswith("postgresql") else {}
    app = make_app(
        {**app_config, "MULESIGHT_DATABASE_URL": database_url, "DB_ENGINE_OPTIONS": options}
    )
    try:
        assert app.extensions["db"].engine.pool.size() == options.get("pool_size", 5)
    finally:
        app.extensions["db"].dispose()


def test_a_redelivery_stores_nothing_and_wakes_nothing(db_app: Flask) -> None:
    queue = CommittedWhenWoken(db_app)
    jobs.set_queue(db_app, queue)
    client = db_app.test_client()
    assert post(client, issue_created(key="SUP-1")).json["duplicate"] is False

    answer = post(client, issue_created(key="SUP-1"))

    assert (answer.status_code, answer.json["duplicate"]) == (202, True)
    assert len(queue.woken) == 1
    with db_app.extensions["db"].session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_a_claim_reads_the_job_in_the_same_statement(db_app: Flask) -> None:
    with db_app.extensions["db"].session() as session:
        job_id = store.add_new(
            session,
            "test_kind",
            {"n": 1},
            key="k",
            now=NOW,
            policy=store.JobPolicy(),
        )
        session.commit()
    statements = Statements(db_app.extensions["db"].engine)
    sessions = db_app.extensions["db"].sessionmaker

    claimed = store.claim(sessions, job_id, "w", now=NOW, lease=store.JobPolicy().lease)

    assert claimed == store.Claimed(job_id, "test_kind", {"n": 1}, 1)
    assert [s.split()[0].upper() for s in statements.seen] == ["UPDATE"]
    assert store.claim(sessions, job_id, "w2", now=NOW, lease=store.JobPolicy().lease) is None


# -- a ticket ----------------------------------------------------------------------------------------


def test_a_tickets_messages_are_looked_up_once_and_its_report_rendered_once_per_run(
    db_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tickets of one site share a diagnosis: one outbox look-up each (not one per message),
    and the stored report is rendered once for both tickets' attachments."""
    renders: list[tuple[str, str]] = []
    real = runs_service.render

    def counting(report: Any, fmt: str) -> str:
        renders.append((str(report.data.get("run_id")), fmt))
        return real(report, fmt)

    monkeypatch.setattr(runs_service, "render", counting)
    db_app.config["MULESIGHT_SHARED_DIAGNOSIS_S"] = 300
    with db_app.extensions["db"].session() as session:
        site(session, ("OPS", "api-manager-sandbox-only"))
        keys = [ticket_store.create_ticket(session, summary=f"t{n}").key for n in range(2)]
        session.commit()
    client = db_app.test_client()
    statements = Statements(db_app.extensions["db"].engine)

    for number, key in enumerate(keys):
        payload = issue_created(key=key)
        payload["issue"]["id"] = str(20000 + number)
        assert post(client, payload).status_code == 202

    with db_app.extensions["db"].session() as session:
        messages = session.scalars(sa.select(OutboxMessage)).all()
    assert len(messages) == 8 and {m.status for m in messages} == {"delivered"}
    selects = [s for s in statements.seen if s.startswith("SELECT") and " FROM outbox " in s]
    # one look-up of each ticket's prefix before its four messages, none per message
    assert (
        len(
            [
                s
                for s in selects
                if s.startswith("SELECT outbox.id FROM outbox WHERE (outbox.idempotency_key LIKE")
            ]
        )
        == 2
    )
    assert not [s for s in selects if "outbox.idempotency_key =" in s]
    # ... and one render of the shared run per format, for both tickets
    assert sorted(fmt for _run, fmt in renders) == ["json", "markdown"]
    assert len({run for run, _fmt in renders}) == 1


# -- the worker process --------------------------------------------------------------------------------


def test_job_threads_run_several_jobs_at_once(db_app: Flask) -> None:
    """Three jobs that each wait for the other two: they only finish if they run together."""
    together = threading.Barrier(3, timeout=30)
    jobs.JOBS["test_together"] = lambda _p: {"party": together.wait()}
    try:
        ids = []
        with db_app.extensions["db"].session() as session:
            for n in range(3):
                ids.append(
                    store.add_new(
                        session,
                        "test_together",
                        {},
                        key=f"t{n}",
                        now=NOW,
                        policy=store.JobPolicy(),
                    )
                )
            session.commit()
        threads = JobThreads(db_app, 3)
        for job_id in ids:
            threads.submit(job_id)
        threads.shutdown()
    finally:
        jobs.JOBS.pop("test_together", None)
    with db_app.extensions["db"].session() as session:
        rows = session.scalars(sa.select(Job).where(Job.id.in_(ids))).all()
    assert [r.status for r in rows] == ["done"] * 3
    assert sorted(r.result["party"] for r in rows) == [0, 1, 2]


def _niceness_in_child(first: int, second: int, out: Any) -> None:
    out.put((lower_priority(first), lower_priority(second)))


def test_a_worker_lowers_its_priority_once_and_never_raises_it() -> None:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_niceness_in_child, args=(5, 3, out))
    child.start()
    first, second = out.get(timeout=30)
    child.join(30)
    assert first >= 5
    assert second == first  # absolute: a child inheriting it stays, a lower ask changes nothing


AUTOGROUP = Path("/proc/self/autogroup")
# A process whose session never left the kernel's default group (no setsid since boot, as under
# some CI runners) reads an empty file: "root" stands for that group.
SESSION_NICE = (
    "import os; from app.queue.worker import lower_priority; lower_priority(7); "
    "print(os.getsid(0) == os.getpid(), "
    "(open('/proc/self/autogroup').read().split() or ['root'])[-1])"
)


def _this_sessions_group_nice() -> str:
    return (AUTOGROUP.read_text().split() or ["root"])[-1]


def _session_nice_in_child(*, own_session: bool) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", SESSION_NICE],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        start_new_session=own_session,
        env={**os.environ, "MULESIGHT_LOG_LEVEL": "WARNING"},
    )
    leader, nice = done.stdout.split()
    return leader, nice


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="this kernel groups no sessions (no autogroup)")
def test_a_worker_leading_its_own_session_lowers_the_sessions_cpu_group() -> None:
    """Linux shares the CPU between sessions first: a worker in a session of its own lowers the
    whole session, or its nice value would count only against itself."""
    assert _session_nice_in_child(own_session=True) == ("True", "7")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="this kernel groups no sessions (no autogroup)")
def test_a_worker_sharing_a_session_leaves_the_sessions_group_alone() -> None:
    """The session may hold the web processes: the worker's own nice value counts there."""
    before = _this_sessions_group_nice()

    assert _session_nice_in_child(own_session=False) == ("False", before)
    assert _this_sessions_group_nice() == before


def test_a_sessions_group_is_never_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("/autogroup-9 nice 12\n")
    monkeypatch.setattr(os, "getsid", lambda _pid: os.getpid())  # as if leading the session

    assert lower_session_priority(10, autogroup) is False
    assert autogroup.read_text() == "/autogroup-9 nice 12\n"
    assert lower_session_priority(15, autogroup) is True
    assert autogroup.read_text() == "15"


def test_a_session_in_the_kernels_default_group_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    autogroup = tmp_path / "autogroup"
    autogroup.write_text("")  # what Linux shows for the default group: nothing to lower
    monkeypatch.setattr(os, "getsid", lambda _pid: os.getpid())

    assert lower_session_priority(10, autogroup) is False
    assert autogroup.read_text() == ""


def test_the_worker_command_declares_its_threads_and_priority(app: Flask) -> None:
    from app.config import SETTINGS_BY_KEY

    assert SETTINGS_BY_KEY["MULESIGHT_WORKER_THREADS"].default > 1
    assert SETTINGS_BY_KEY["MULESIGHT_WORKER_NICE"].default > 0


# -- wake-ups on Redis -------------------------------------------------------------------------------


def test_a_backlog_is_not_a_lost_wake_up(
    app: Flask, redis_queue: jobs.RedisQueue, clock: Any
) -> None:
    """A job still waiting in Redis past its wake-by time gets no second wake-up from the
    sweeper (a backlog would only grow), and its row is not written; one whose wake-up is gone
    is woken again."""
    jobs.JOBS["test_noop"] = lambda _p: None
    try:
        job_id = redis_queue.enqueue("test_noop", {})
    finally:
        jobs.JOBS.pop("test_noop", None)
    assert redis_queue.rq.job_ids == [redis_queue.wake_id(job_id)]

    clock.advance(seconds=redis_queue.policy.lease.total_seconds() + 1)
    statements = Statements(app.extensions["db"].engine)
    assert redis_queue.sweep() == []
    assert redis_queue.rq.count == 1  # still the one wake-up
    assert not [s for s in statements.seen if not s.startswith("SELECT")]  # and no write

    redis_queue.rq.empty()  # the wake-up is lost (Redis flushed, say)
    clock.advance(seconds=redis_queue.policy.lease.total_seconds() + 1)
    assert redis_queue.sweep() == [job_id]
    assert redis_queue.rq.job_ids == [redis_queue.wake_id(job_id)]


def test_a_service_management_tickets_enrichment_costs_thirteen_statements_and_seven_commits(
    db_app: Flask,
) -> None:
    """Enriching a ticket whose diagnosis is shared, step by step: the job's claim; the read
    (event, installation, spaces); the space's row (locked) and its recent run; the
    messages' look-up and insert, and the event's ``done``; the messages' claim; the calls;
    their one mark; the job's end. Nothing is read twice, nothing is read before a call."""
    db_app.config.update(JSM, MULESIGHT_SHARED_DIAGNOSIS_S=300)
    with db_app.extensions["db"].session() as session:
        site(session, ("OPS", "api-manager-sandbox-only"))
        session.commit()
    client = db_app.test_client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        service_management = ServiceManagement(mock)
        assert post(client, issue_created(key=TICKET)).status_code == 202  # makes the shared run
        statements = Statements(db_app.extensions["db"].engine)
        second = issue_created(key=TICKET)
        second["issue"]["id"] = "20001"
        assert post(client, second).status_code == 202

    made = service_management.counts()
    assert (made["attachments"], made["labels"], made["public comment"]) == (2, 2, 2)
    verbs = [f"{s.split()[0]} {_table(s)}" for s in statements.seen]
    verbs = [v for n, v in enumerate(verbs) if v != "INSERT outbox" or verbs[n - 1] != v]
    postgres = db_app.extensions["db"].engine.dialect.name == "postgresql"
    intake = ["WITH webhook_events"] if postgres else ["INSERT webhook_events", "INSERT jobs"]
    assert verbs == [
        *intake,  # the event and its job (PostgreSQL: one statement, committed on its own)
        "UPDATE jobs",  # the job's claim
        "SELECT webhook_events",  # read
        "SELECT installations",
        "SELECT spaces",
        "SELECT spaces",  # the space, locked: a burst shares one run
        "SELECT diagnostic_runs",
        "SELECT outbox",  # compose: this ticket's messages, looked up once
        "INSERT outbox",  # one statement (SQLite: one per message)
        "UPDATE webhook_events",  # done, with the messages
        "SELECT outbox",  # the messages' claim
        "UPDATE outbox",
        "UPDATE outbox",  # their one mark, after the calls
        "UPDATE jobs",  # the job's end
    ]
    # intake (SQLite); the job's claim, read, run, compose, messages' claim, mark, end
    assert statements.commits == (7 if postgres else 8)


def _table(statement: str) -> str:
    words = statement.replace("(", " ").split()
    for word, following in itertools.pairwise(words):
        if word.upper() in ("FROM", "INTO", "UPDATE"):
            return following
    return "?"
