"""The durable job model: a job is a row with a lease; the queue only wakes workers; the sweeper
re-queues what a dead process left behind. On SQLite and PostgreSQL, with a fixed clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import jobs
from app.models import Job, WebhookEvent
from app.queue import JobFailed, execute, store
from app.queue.sweeper import Sweeper
from app.tickets import store as ticket_store
from tests.app.conftest import make_app
from tests.app.test_enrichment import site
from tests.app.test_webhook_jsm import issue_created, sign

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
POLICY = store.JobPolicy(lease=LEASE, max_attempts=3, base_delay=timedelta(seconds=10))


class Clock:
    """A settable clock that stands still (the conftest's ``app_config`` hands it to the app)."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_config(app_config: dict[str, Any], clock: Clock) -> dict[str, Any]:
    return {
        **app_config,
        "MULESIGHT_JOB_QUEUE": "sync",
        "MULESIGHT_WEBHOOK_SECRET": "s3cret-hook",
    }


@pytest.fixture
def db_app(app_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    app = make_app({**app_config, "MULESIGHT_DATABASE_URL": database_url})
    yield app
    app.extensions["db"].dispose()


@pytest.fixture
def recorded() -> Iterator[list[Mapping[str, Any]]]:
    """Registers ``test_record`` (appends its payload; ``{"fail": …}`` raises) for a test."""
    seen: list[Mapping[str, Any]] = []

    @jobs.job("test_record")
    def record(payload: Mapping[str, Any]) -> dict[str, Any]:
        seen.append(payload)
        if payload.get("fail") == "crash":
            raise RuntimeError("boom")
        if payload.get("fail") == "final":
            raise JobFailed("cannot", result={"status": 409})
        return {"n": payload.get("n")}

    yield seen
    jobs.JOBS.pop("test_record", None)


def submit(app: Flask, payload: Mapping[str, Any], key: str) -> int:
    with app.extensions["db"].session() as session:
        job_id = store.submit(session, "test_record", payload, key=key, now=NOW, policy=POLICY).id
        session.commit()
    return job_id


def row(app: Flask, job_id: int) -> Job:
    with app.extensions["db"].session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


# -- the record ----------------------------------------------------------------------------------


def test_submitting_a_key_twice_records_one_job(db_app: Flask) -> None:
    first = submit(db_app, {"n": 1}, "k1")
    assert submit(db_app, {"n": 2}, "k1") == first
    job = row(db_app, first)
    assert (job.status, job.payload, job.lease_until) == ("queued", {"n": 1}, NOW + LEASE)


def test_only_one_worker_claims_a_job(db_app: Flask) -> None:
    job_id = submit(db_app, {}, "k")
    sessions = db_app.extensions["db"].sessionmaker
    first = store.claim(sessions, job_id, "a", now=NOW, lease=LEASE)
    assert first is not None and first.attempts == 1
    assert store.claim(sessions, job_id, "b", now=NOW, lease=LEASE) is None
    job = row(db_app, job_id)
    assert (job.status, job.claimed_by, job.lease_until) == ("running", "a", NOW + LEASE)
    assert store.finish(sessions, job_id, "b", now=NOW) is False  # not b's to finish
    assert store.finish(sessions, job_id, "a", now=NOW, result={"ok": True}) is True
    job = row(db_app, job_id)
    assert (job.status, job.result, job.claimed_by) == ("done", {"ok": True}, None)


def test_the_sweeper_requeues_a_dead_workers_job_once_its_lease_expired(db_app: Flask) -> None:
    job_id = submit(db_app, {}, "k")
    sessions = db_app.extensions["db"].sessionmaker
    store.claim(sessions, job_id, "dead-worker", now=NOW, lease=LEASE)
    assert store.sweep(sessions, now=NOW + LEASE - timedelta(seconds=1), lease=LEASE) == []
    later = NOW + LEASE
    assert store.sweep(sessions, now=later, lease=LEASE) == [job_id]
    assert store.sweep(sessions, now=later, lease=LEASE) == []  # one sweeper wins
    job = row(db_app, job_id)
    assert (job.status, job.claimed_by, job.lease_until) == ("queued", None, later + LEASE)
    # The dead worker's late "done" does not count; the new claim does.
    assert store.finish(sessions, job_id, "dead-worker", now=later) is False
    assert store.claim(sessions, job_id, "b", now=later, lease=LEASE) is not None


def test_a_lost_wake_up_is_woken_again_after_the_lease(db_app: Flask) -> None:
    job_id = submit(db_app, {}, "k")  # recorded, never woken (the process died at once)
    sessions = db_app.extensions["db"].sessionmaker
    assert store.sweep(sessions, now=NOW + timedelta(seconds=59), lease=LEASE) == []
    assert store.sweep(sessions, now=NOW + LEASE, lease=LEASE) == [job_id]


def test_a_dead_workers_job_is_found_behind_a_backlog_that_is_left_untouched(
    db_app: Flask,
) -> None:
    """Queued jobs past their wake-by whose wake-ups still wait are a backlog: no write, no
    second wake-up — and however many there are, a dead worker's job is re-queued."""
    sessions = db_app.extensions["db"].sessionmaker
    backlog = [submit(db_app, {}, f"backlog-{n}") for n in range(3)]
    dead = submit(db_app, {}, "dead")
    store.claim(sessions, dead, "dead-worker", now=NOW + timedelta(seconds=30), lease=LEASE)
    asked: list[list[int]] = []

    def waiting(ids: list[int]) -> set[int]:
        asked.append(ids)
        return set(ids)

    later = NOW + LEASE + timedelta(seconds=30)
    assert store.sweep(sessions, now=later, lease=LEASE, limit=2, waiting=waiting) == [dead]
    assert asked == [backlog[:2]]  # the longest waiting first, at most `limit`
    assert {row(db_app, job_id).lease_until for job_id in backlog} == {NOW + LEASE}


def test_a_failing_job_waits_with_backoff_then_gives_up(db_app: Flask) -> None:
    job_id = submit(db_app, {}, "k")
    sessions = db_app.extensions["db"].sessionmaker
    now = NOW
    for attempt, delay in ((1, 10), (2, 20)):
        claimed = store.claim(sessions, job_id, "w", now=now, lease=LEASE)
        assert claimed is not None and claimed.attempts == attempt
        status = store.fail(
            sessions, job_id, "w", "Boom token=abc", now=now, policy=POLICY, attempts=attempt
        )
        assert status == "waiting"
        assert row(db_app, job_id).lease_until == now + timedelta(seconds=delay)
        assert store.sweep(sessions, now=now + timedelta(seconds=delay - 1), lease=LEASE) == []
        now += timedelta(seconds=delay)
        assert store.sweep(sessions, now=now, lease=LEASE) == [job_id]
    store.claim(sessions, job_id, "w", now=now, lease=LEASE)
    assert store.fail(sessions, job_id, "w", "x", now=now, policy=POLICY, attempts=3) == "failed"
    job = row(db_app, job_id)
    assert job.status == "failed" and job.finished_at == now
    assert store.sweep(sessions, now=now + timedelta(days=1), lease=LEASE) == []


# -- running ---------------------------------------------------------------------------------------


def test_execute_runs_a_job_once_and_records_its_result(
    app: Flask, recorded: list[Mapping[str, Any]]
) -> None:
    job_id = submit(app, {"n": 7}, "k")
    assert execute(app, job_id, "w") == "done"
    assert execute(app, job_id, "w") is None  # a duplicate wake-up does nothing
    assert recorded == [{"n": 7}]
    assert row(app, job_id).result == {"n": 7}


def test_a_crash_is_retried_and_a_job_failed_is_not(
    app: Flask, recorded: list[Mapping[str, Any]]
) -> None:
    crashing = submit(app, {"fail": "crash"}, "crash")
    assert execute(app, crashing, "w") == "waiting"
    assert "RuntimeError: boom" in (row(app, crashing).error or "")
    final = submit(app, {"fail": "final"}, "final")
    assert execute(app, final, "w") == "failed"
    job = row(app, final)
    assert (job.error, job.result) == ("cannot", {"status": 409})


def test_an_unknown_kind_fails_without_retrying(app: Flask) -> None:
    with app.extensions["db"].session() as session:
        session.add(Job(key="x", kind="no_such_job", payload={}, status="queued", lease_until=NOW))
        session.commit()
        job_id = session.scalar(sa.select(Job.id))
    assert execute(app, job_id, "w") == "failed"


def test_in_process_queue_runs_jobs_on_its_thread_and_stops(
    app: Flask, recorded: list[Mapping[str, Any]]
) -> None:
    queue = jobs.InProcessQueue(app)
    names: list[str] = []
    jobs.JOBS["test_thread"] = lambda _p: names.append(threading.current_thread().name)
    try:
        queue.enqueue("test_record", {"n": 1})
        queue.enqueue("test_thread", {})
        queue.enqueue("test_record", {"n": 2})
        queue.join()
        assert queue.running
    finally:
        queue.stop()
        jobs.JOBS.pop("test_thread", None)
    assert not queue.running
    assert recorded == [{"n": 1}, {"n": 2}] and names == ["mulesight-jobs"]
    with pytest.raises(KeyError):
        queue.enqueue("no_such_job", {})


def test_the_sweeper_wakes_what_a_dead_process_left(
    app: Flask, clock: Clock, recorded: list[Mapping[str, Any]]
) -> None:
    job_id = submit(app, {"n": 1}, "k")
    sessions = app.extensions["db"].sessionmaker
    store.claim(sessions, job_id, "dead", now=NOW, lease=LEASE)  # then the process was killed
    queue = jobs.InProcessQueue(app)
    try:
        sweeper = Sweeper(queue, interval=3600)
        sweeper.run_once()
        queue.join()
        assert recorded == []  # the lease still holds
        clock.advance(60)
        sweeper.run_once()
        queue.join()
    finally:
        queue.stop()
    assert recorded == [{"n": 1}] and row(app, job_id).status == "done"


def test_queue_selection(app: Flask) -> None:
    assert isinstance(jobs.get_queue(app), jobs.SyncQueue)
    assert jobs.get_queue(app) is jobs.get_queue(app)
    app.config.update(MULESIGHT_JOB_QUEUE=None)
    built = jobs.build_queue(app)
    assert isinstance(built, jobs.InProcessQueue) and not built.running
    assert built.threads == 2
    app.config.update(MULESIGHT_REDIS_URL="redis://127.0.0.1:6379/0", MULESIGHT_QUEUE_NAME="q-x")
    redis_queue = jobs.build_queue(app)
    assert isinstance(redis_queue, jobs.RedisQueue) and redis_queue.rq.name == "q-x"


# -- webhooks on the record -------------------------------------------------------------------------


def post(client: FlaskClient, payload: Mapping[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/jsm",
        data=body,
        headers={"X-Hub-Signature": sign(body, "s3cret-hook"), "Content-Type": "application/json"},
    )


class Recorder(jobs.SyncQueue):
    """Records jobs and wake-ups, runs nothing (a worker that never comes)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.woken: list[int] = []

    def wake(self, job_id: int) -> None:
        self.woken.append(job_id)


def test_an_accepted_webhook_is_an_event_and_its_job_in_one_transaction(
    app: Flask, client: FlaskClient
) -> None:
    queue = Recorder(app)
    jobs.set_queue(app, queue)
    assert post(client, issue_created(key="MSUP-9")).status_code == 202
    with app.extensions["db"].session() as session:
        event = session.scalars(sa.select(WebhookEvent)).one()
        job = session.scalars(sa.select(Job)).one()
    assert (job.key, job.kind, job.payload) == (
        f"event:{event.id}",
        "enrich_webhook_event",
        {"event_id": event.id},
    )
    assert queue.woken == [job.id]
    assert post(client, issue_created(key="MSUP-9")).json["duplicate"] is True
    assert queue.woken == [job.id]  # queued already: a redelivery wakes nothing new


def test_a_ticket_whose_worker_died_is_enriched_once_by_the_sweeper(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app.extensions["db"].session() as session:
        site(session, ("OPS", "healthy"))
        key = ticket_store.create_ticket(session, summary="placeholder").key
        session.commit()
    jobs.set_queue(app, Recorder(app))
    assert post(client, issue_created(key=key)).status_code == 202
    sessions = app.extensions["db"].sessionmaker
    store.claim(sessions, 1, "killed-worker", now=clock(), lease=LEASE)  # then SIGKILL
    queue = jobs.SyncQueue(app)
    jobs.set_queue(app, queue)
    sweeper = Sweeper(queue, interval=3600)
    sweeper.run_once()
    clock.advance(60)
    sweeper.run_once()
    sweeper.run_once()
    with app.extensions["db"].session() as session:
        assert session.scalars(sa.select(WebhookEvent.status)).one() == "done"
        assert session.scalars(sa.select(Job.status)).one() == "done"
        view = ticket_store.ticket_detail(session, key)
    assert [c.public for c in view.comments] == [False, True]
    assert len(view.attachments) == 2


def test_a_redelivery_queues_again_a_job_waiting_for_its_retry(
    app: Flask, client: FlaskClient
) -> None:
    queue = Recorder(app)
    jobs.set_queue(app, queue)
    post(client, issue_created(key="MSUP-3"))
    sessions = app.extensions["db"].sessionmaker
    store.claim(sessions, 1, "w", now=NOW, lease=LEASE)
    store.fail(sessions, 1, "w", "boom", now=NOW, policy=POLICY, attempts=1)
    assert post(client, issue_created(key="MSUP-3")).json["duplicate"] is True
    assert queue.woken == [1, 1]
    assert row(app, 1).status == "queued"


# -- Redis (RQ) --------------------------------------------------------------------------------------


def test_a_redis_worker_runs_the_recorded_job(
    app: Flask, redis_queue: jobs.RedisQueue, recorded: list[Mapping[str, Any]]
) -> None:
    from app.queue.worker import run_worker

    job_id = redis_queue.enqueue("test_record", {"n": 5})
    redis_queue.wake(job_id)  # a duplicate wake-up
    assert redis_queue.rq.count == 2
    run_worker(app, burst=True)
    assert recorded == [{"n": 5}]
    assert row(app, job_id).status == "done"
    assert redis_queue.rq.count == 0


def test_a_redis_outage_at_wake_up_loses_nothing(app: Flask) -> None:
    app.config.update(
        MULESIGHT_JOB_QUEUE=None,
        MULESIGHT_REDIS_URL="redis://127.0.0.1:9/0",  # nothing listens on the discard port
    )
    queue = jobs.build_queue(app)
    jobs.JOBS["test_noop"] = lambda _p: None
    try:
        job_id = queue.enqueue("test_noop", {})
    finally:
        jobs.JOBS.pop("test_noop", None)
    assert row(app, job_id).status == "queued"  # the sweeper wakes it once Redis is back


# -- a burst from one site shares one diagnosis ----------------------------------------------------


@pytest.mark.parametrize(("window", "runs"), [(300, 1), (0, 3)])
def test_a_burst_of_tickets_from_one_site_shares_one_fresh_diagnosis(
    app: Flask, client: FlaskClient, window: int, runs: int
) -> None:
    from app.models import DiagnosticRun

    app.config["MULESIGHT_SHARED_DIAGNOSIS_S"] = window
    with app.extensions["db"].session() as session:
        site(session, ("OPS", "healthy"))
        keys = [ticket_store.create_ticket(session, summary=f"t{n}").key for n in range(3)]
        session.commit()
    for number, key in enumerate(keys):
        payload = issue_created(key=key)
        payload["issue"]["id"] = str(30000 + number)
        assert post(client, payload).status_code == 202
    with app.extensions["db"].session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DiagnosticRun)) == runs
        assert set(session.scalars(sa.select(WebhookEvent.status))) == {"done"}
        for key in keys:
            assert len(ticket_store.ticket_detail(session, key).comments) == 2


# -- the commands ------------------------------------------------------------------------------------


def test_worker_needs_redis(app: Flask) -> None:
    from app.cli import worker

    result = app.test_cli_runner().invoke(worker, [])
    assert result.exit_code == 2
    assert "MULESIGHT_REDIS_URL" in result.output


def test_serve_and_worker_document_their_options(app: Flask) -> None:
    from app.cli import serve, worker

    runner = app.test_cli_runner()
    assert "--workers" in runner.invoke(serve, ["--help"]).output
    assert "--processes" in runner.invoke(worker, ["--help"]).output
    assert runner.invoke(serve, ["--workers", "0"]).exit_code == 2


# -- leases of live workers -------------------------------------------------------------------------


def wait_until(check: Any, patience: float = 30.0) -> None:
    """Poll ``check`` (a patience for a background thread, not a timing threshold)."""
    import time

    end = time.monotonic() + patience
    while not check():
        assert time.monotonic() < end, "gave up waiting"
        time.sleep(0.01)


def test_a_live_worker_renews_its_lease_so_the_sweeper_never_gives_its_job_away(
    app: Flask, clock: Clock
) -> None:
    """The job runs far longer than one lease; its heartbeat keeps it, and it runs once."""
    app.config["MULESIGHT_JOB_LEASE_S"] = 0.2  # renewed every 0.05 s of real time
    lease = timedelta(seconds=0.2)
    sessions = app.extensions["db"].sessionmaker
    runs: list[int] = []

    @jobs.job("test_slow")
    def slow(payload: Mapping[str, Any]) -> None:
        runs.append(payload["n"])
        for _ in range(3):  # three leases pass while it works
            clock.advance(1)
            wait_until(lambda: row(app, job_id).lease_until > clock())
            assert store.sweep(sessions, now=clock(), lease=lease) == []

    try:
        with app.extensions["db"].session() as session:
            job_id = store.submit(
                session, "test_slow", {"n": 1}, key="slow", now=NOW, policy=POLICY
            ).id
            session.commit()
        assert execute(app, job_id, "w") == "done"
    finally:
        jobs.JOBS.pop("test_slow", None)
    job = row(app, job_id)
    assert (runs, job.attempts) == ([1], 1)
    # Once it ended, nothing renews it: a finished job is never swept.
    clock.advance(60)
    assert store.sweep(sessions, now=clock(), lease=lease) == []


def test_renewing_needs_the_claim(db_app: Flask) -> None:
    job_id = submit(db_app, {}, "k")
    sessions = db_app.extensions["db"].sessionmaker
    store.claim(sessions, job_id, "a", now=NOW, lease=LEASE)
    later = NOW + timedelta(seconds=30)
    assert store.renew(sessions, job_id, "b", now=later, lease=LEASE) is False
    assert store.renew(sessions, job_id, "a", now=later, lease=LEASE) is True
    assert row(db_app, job_id).lease_until == later + LEASE
    store.finish(sessions, job_id, "a", now=later)
    assert store.renew(sessions, job_id, "a", now=later, lease=LEASE) is False


# -- pruning ---------------------------------------------------------------------------------------


def finished(app: Flask, key: str, at: datetime, *, failed: bool = False) -> int:
    job_id = submit(app, {}, key)
    sessions = app.extensions["db"].sessionmaker
    store.claim(sessions, job_id, "w", now=at, lease=LEASE)
    if failed:
        store.fail(sessions, job_id, "w", "x", now=at, policy=POLICY, attempts=9, retryable=False)
    else:
        store.finish(sessions, job_id, "w", now=at)
    return job_id


def keys(app: Flask) -> list[str]:
    with app.extensions["db"].session() as session:
        return sorted(session.scalars(sa.select(Job.key)))


def test_finished_jobs_are_deleted_after_the_retention_in_batches(db_app: Flask) -> None:
    week = timedelta(days=7)
    finished(db_app, "done-old", NOW)
    finished(db_app, "failed-old", NOW, failed=True)
    finished(db_app, "done-recent", NOW + timedelta(days=2))
    sessions = db_app.extensions["db"].sessionmaker
    store.claim(sessions, submit(db_app, {}, "running"), "w", now=NOW, lease=LEASE)
    submit(db_app, {}, "queued")
    assert store.prune(sessions, now=NOW + week, retention=week) == 0  # not older yet
    later = NOW + week + timedelta(seconds=1)
    assert store.prune(sessions, now=later, retention=week, batch=1, max_batches=1) == 1
    assert store.prune(sessions, now=later, retention=week, batch=1) == 1  # batch by batch
    assert keys(db_app) == ["done-recent", "queued", "running"]  # unfinished work is kept


def test_the_sweeper_prunes_finished_jobs_on_the_app_clock(app: Flask, clock: Clock) -> None:
    app.config["MULESIGHT_JOB_RETENTION_DAYS"] = 1
    finished(app, "done", NOW)
    queue = jobs.InProcessQueue(app)
    try:
        sweeper = Sweeper(queue, interval=3600)
        sweeper.run_once()
        assert keys(app) == ["done"]
        clock.advance(24 * 3600 + 1)
        sweeper.run_once()
    finally:
        queue.stop()
    assert keys(app) == []
