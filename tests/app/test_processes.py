"""The production shape, for real: ``mulesight serve --workers 2`` (gunicorn) and two
``mulesight worker`` processes on PostgreSQL and Redis, a Service Management stand-in on loopback.

Signed webhooks go in; a worker is killed with SIGKILL while its comment is on the wire (the
stand-in has it, the worker never hears back); every ticket still ends enriched exactly once —
one internal comment, one set of attachments, labels, one public comment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from app.models import Job, OutboxMessage, WebhookEvent
from tests.app.conftest import POSTGRES_URL, make_app
from tests.app.test_webhook_jsm import SECRET, connect_site, issue_created, sign
from tests.jsm_standin import JsmStandIn

# The processes it starts read the system clock, which --clock-years-ahead cannot move.
pytestmark = [pytest.mark.postgres, pytest.mark.real_clock]

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 8
PATIENCE_S = 180  # how long to wait for the processes before declaring failure (not a threshold)
MULESIGHT = [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], patience: float = PATIENCE_S) -> Any:
    end = time.monotonic() + patience
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server answers at 127.0.0.1:6379")
    return url


@pytest.fixture
def schema_url(postgres_admin: sa.Engine) -> Iterator[str]:
    schema = f"mulesight_proc_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def standin() -> Iterator[JsmStandIn]:
    server = JsmStandIn(latency=0.02, hold_first_comment=True).start()
    yield server
    server.stop()


@pytest.fixture
def environment(
    schema_url: str, redis_url: str, standin: JsmStandIn, tmp_path: Path
) -> Iterator[dict[str, str]]:
    queue = f"mulesight-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "MULESIGHT_DATABASE_URL": schema_url,
        "MULESIGHT_REDIS_URL": redis_url,
        "MULESIGHT_QUEUE_NAME": queue,
        "MULESIGHT_SECRET_KEY": "a-shared-secret-key-for-this-test-only",
        "MULESIGHT_WEBHOOK_SECRET": SECRET,
        "JSM_BASE_URL": standin.base_url,
        "MULESIGHT_OUTBOUND_ALLOW": "127.0.0.0/8",  # the stand-in is on loopback
        "JSM_EMAIL": "bot@sparrow.example",
        "JSM_API_TOKEN": "ATATT-standin-token",
        "JSM_SERVICE_DESK_ID": "7",
        # Short leases so that a killed worker's job and message come back within seconds. A live
        # worker renews its leases (app.queue.heartbeat), so a slow job on a loaded machine keeps
        # them: only the killed worker's run out.
        "MULESIGHT_JOB_LEASE_S": "5",
        "MULESIGHT_OUTBOX_LEASE_S": "5",
        "MULESIGHT_SWEEP_INTERVAL_S": "1",
        "PYTHONUNBUFFERED": "1",
    }
    yield env
    from redis import Redis
    from rq import Queue

    with Redis.from_url(redis_url) as redis:
        Queue(queue, connection=redis).delete(delete_jobs=True)


@pytest.fixture
def seeded(environment: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """The site's installation and space, stored through the app itself (migrating the schema)."""
    app = make_app(
        {
            "INSTANCE_PATH": str(tmp_path / "seed"),
            "MULESIGHT_DATABASE_URL": environment["MULESIGHT_DATABASE_URL"],
            "MULESIGHT_SECRET_KEY": environment["MULESIGHT_SECRET_KEY"],
        }
    )
    connect_site(app, scenario="api-manager-sandbox-only")
    yield app
    app.extensions["db"].dispose()


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [*MULESIGHT, *args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def processes(environment: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    running = Processes(environment, tmp_path)
    yield running
    running.stop_all()


def webhook(base: str, number: int) -> tuple[str, requests.Response]:
    key = f"SUP-{1000 + number}"
    payload = issue_created(key=key)
    payload["issue"]["id"] = str(20000 + number)
    body = json.dumps(payload).encode()
    answer = requests.post(
        f"{base}/webhooks/jsm",
        data=body,
        headers={"X-Hub-Signature": sign(body), "Content-Type": "application/json"},
        timeout=30,
    )
    return key, answer


def claimer_pid(app: Any, ticket: str) -> int:
    """The pid of the process whose outbox claim covers ``ticket``'s internal comment."""
    with app.extensions["db"].session() as session:
        event_id = next(
            e.id
            for e in session.scalars(sa.select(WebhookEvent))
            if e.payload["issue"]["key"] == ticket
        )
        message = session.scalar(
            sa.select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"event-{event_id}:comment:internal"
            )
        )
        assert message is not None and message.claimed_by, "the comment is not claimed"
        match = re.search(r"pid(\d+)", message.claimed_by)
        assert match, message.claimed_by
        return int(match.group(1))


def all_settled(app: Any) -> bool:
    with app.extensions["db"].session() as session:
        jobs = session.scalars(sa.select(Job.status)).all()
        messages = session.scalars(sa.select(OutboxMessage.status)).all()
    return (
        len(jobs) == TICKETS
        and all(s == "done" for s in jobs)
        and len(messages) == 4 * TICKETS
        and all(s == "delivered" for s in messages)
    )


def settled_state(app: Any) -> str:
    """Job and outbox rows by kind/status: what a failed wait reports."""
    with app.extensions["db"].session() as session:
        jobs = session.execute(sa.select(Job.kind, Job.status, Job.attempts, Job.error)).all()
        messages = session.execute(
            sa.select(OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.attempts)
        ).all()
    return f"jobs={[tuple(j) for j in jobs]} messages={[tuple(m) for m in messages]}"


def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(
    seeded: Any, processes: Processes, standin: JsmStandIn
) -> None:
    port = free_port()
    web = processes.start("web", "serve", "--workers", "2", "--port", str(port))
    workers = [processes.start(f"worker{n}", "worker", "--processes", "1") for n in (1, 2)]
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert web.poll() is None, "gunicorn exited"
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or still booting
            return False

    wait_for("gunicorn", up)
    accepted = [webhook(base, n) for n in range(TICKETS)]
    assert [answer.status_code for _key, answer in accepted] == [202] * TICKETS
    tickets = [key for key, _answer in accepted]

    # A worker posts the first internal comment; the stand-in keeps it and holds the answer.
    wait_for("the first comment", standin.held.is_set)
    victim = claimer_pid(seeded, str(standin.held_ticket))
    assert victim in [w.pid for w in workers]
    os.kill(victim, signal.SIGKILL)
    next(w for w in workers if w.pid == victim).wait(10)
    standin.release()

    try:
        wait_for("every ticket enriched", lambda: all_settled(seeded))
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {settled_state(seeded)}") from None
    time.sleep(2)  # a few more sweeps: nothing may be sent again
    seen = standin.snapshot()
    for ticket in tickets:
        comments = seen["comments"].get(ticket, [])
        internal = [c for c in comments if not c["public"] and c["body"].startswith("h2.")]
        public = [c for c in comments if c["public"]]
        assert len(internal) == 1, (ticket, internal)
        assert len(public) == 1, (ticket, public)
        assert len(seen["attachments"].get(ticket, [])) == 1, ticket
        assert len(seen["labels"].get(ticket, [])) == 1, ticket
    # The comment whose outcome was unknown was found by its marker, not posted again.
    assert standin.searches[str(standin.held_ticket)] >= 1
    survivor = next(w for w in workers if w.pid != victim)
    assert survivor.poll() is None and web.poll() is None
