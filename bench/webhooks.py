"""Benchmark: Service Management webhooks through the production shape, on this machine.

``mulesight serve --workers 2`` (gunicorn) and ``mulesight worker --processes N`` on PostgreSQL
(a fresh schema) and Redis (a fresh queue name), simulated Anypoint, a Service Management
stand-in on loopback answering each call after 21 ms. Every address is loopback.

1. **Intake** — after a warm-up (two webhooks per site, enriched before the clock starts: a
   running deployment, not a fresh start), open loop: signed ``jira:issue_created`` webhooks
   at ``--rate``/s for ``--seconds`` s, each sent at its scheduled time from a process in a
   session of its own (how late the sender itself was is reported too); latency counts from
   the scheduled time to the 202. Prints p50/p99/max and errors, then how long the workers took
   to enrich the lot, and the CPU time the web processes spent per webhook and the worker
   processes per ticket (from /proc: what the cores must pay, however busy the machine is).
   Run ``--intake-runs`` times, each on a fresh deployment (latencies on this host vary by 2x
   from run to run): the figures are the median of the runs, the ``*_runs`` lists each run's;
   the last run also waits for the enrichment.
   **Intake alone** — the same with no worker on this host (as when workers have hosts of their
   own): what the web tier answers when enrichment does not share its cores.
2. **Burst** — ``--burst`` webhooks at once; time from each webhook to its ticket enriched
   (internal comment, attachments, labels and public comment all received): p50/p95/max.
3. **Crash** — another burst; once some of it is enriched, SIGKILL of every process (gunicorn
   master and workers, worker supervisor and workers), a restart, and the webhooks refused during
   the outage sent again (as Service Management retries a failed delivery). Counts tickets accepted
   but never enriched (lost) and tickets written to more than once (duplicated).
4. **Scaling** — a backlog of ``--backlog`` tickets, then 1, 2 and 4 worker processes
   (``--scaling``) started on it: tickets enriched per second (to the last ticket's last write),
   and the share of the cores left idle meanwhile (why it stops growing).

The last line is machine-readable JSON.

    .venv/bin/python bench/webhooks.py [--rate 200 --seconds 30 --burst 100 --backlog 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.app.test_webhook_jsm import SECRET, issue_created, sign  # noqa: E402
from tests.jsm_standin import JsmStandIn  # noqa: E402

POSTGRES = os.environ.get(
    "MULESIGHT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS = os.environ.get("MULESIGHT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
MULESIGHT = [sys.executable, "-c", "from app.cli import main; main()"]
SCENARIO = "api-manager-sandbox-only"  # a broken site: every ticket gets all four writes
LATENCY_S = 0.021


def cpu_seconds(group: int) -> float:
    """CPU time (user + system) of the live processes of process group ``group``, from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_ticks() -> tuple[int, int]:
    """(idle, total) clock ticks of every core so far, from /proc/stat (idle counts iowait)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])  # up to steal; guest time is within user


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- webhooks --------------------------------------------------------------------------------------


def webhook_body(number: int, sites: int) -> bytes:
    site = number % sites
    payload = issue_created(key=f"SUP-{number}", summary=f"Macro empty on site{site}.atlassian.net")
    payload["issue"]["id"] = str(100000 + number)
    fields = payload["issue"]["fields"]
    fields["description"] += f"\n\nSite: https://site{site}.atlassian.net"
    return json.dumps(payload).encode()


MAX_CONNECTIONS = 256  # the sender's keep-alive connections at most (more requests wait for one)
IDLE_REUSE_S = 2.0  # gunicorn closes a keep-alive connection idle for 5 s: never reuse one so old


def _request(host: str, port: int, body: bytes) -> bytes:
    """The raw HTTP/1.1 request of one signed webhook (built before the clock starts)."""
    head = (
        f"POST /webhooks/jsm HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Hub-Signature: {sign(body, SECRET)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], raw: bytes
) -> tuple[int, bool]:
    """Send one request on ``connection``; ``(status, keep the connection)``."""
    reader, writer = connection
    writer.write(raw)
    status = int((await reader.readline()).split()[1])
    length, keep = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "connection" and value.strip().lower() == "close":
            keep = False
    await reader.readexactly(length)
    return status, keep


class Sent(NamedTuple):
    """One webhook as the sender saw it (monotonic seconds; ``status`` 0: no answer)."""

    number: int
    due: float  # when it was to be sent: latency counts from here
    started: float  # when the sender got to it (late by ``started - due``: the sender's own lag)
    answered: float
    status: int


async def _send_open_loop(
    base: str, bodies: list[tuple[int, bytes]], rate: float, start: float
) -> list[Sent]:
    """Each webhook at ``start + i / rate`` (all at ``start`` when ``rate`` is 0) from one event
    loop over keep-alive connections: the sender's own cost per request stays far below the
    server's, so on a 2-core machine the figure is the service's, not the client's."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    requests_raw = [(number, _request(host, int(port), body)) for number, body in bodies]
    Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    idle: list[tuple[float, Connection]] = []  # (last used, connection), the newest last
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def connection() -> Connection:
        while idle:
            used, reusable = idle.pop()
            if time.monotonic() - used < IDLE_REUSE_S:
                return reusable
            reusable[1].close()
        return await asyncio.open_connection(host, int(port))

    async def send(index: int) -> Sent:
        number, raw = requests_raw[index]
        due = start + index / rate if rate else start
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        started = time.monotonic()
        async with slots:
            conn: Connection | None = None
            try:
                conn = await connection()
                status, keep = await asyncio.wait_for(_exchange(conn, raw), 30)
            except (OSError, EOFError, TimeoutError, ValueError, IndexError):
                status, keep = 0, False  # refused, reset or cut short: no answer
            answered = time.monotonic()
            if conn is not None and keep:
                idle.append((answered, conn))
            elif conn is not None:
                conn[1].close()
        return Sent(number, due, started, answered, status)

    results = await asyncio.gather(*(send(i) for i in range(len(requests_raw))))
    for _used, (_reader, writer) in idle:
        writer.close()
    return list(results)


def _sender(base: str, numbers: list[int], rate: float, sites: int, start: float, out: Any) -> None:
    """Child process: send each webhook at ``start + i / rate`` (open loop); report results.

    In a session of its own: Linux shares the CPU between sessions first, and Service
    Management sends from its own hosts, so the sender must not wait in line behind the bench's
    stand-in (which answers the workers' calls) to send on time. How late it still was is
    reported (``*_sender_late_p99_ms``)."""
    os.setsid()
    bodies = [(n, webhook_body(n, sites)) for n in numbers]
    out.put(asyncio.run(_send_open_loop(base, bodies, rate, start)))


def send_all(base: str, numbers: list[int], rate: float, sites: int) -> list[Sent]:
    """Each webhook as sent, in order."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.monotonic() + 1.0
    child = context.Process(target=_sender, args=(base, numbers, rate, sites, start, out))
    child.start()
    results = out.get()
    child.join()
    return results


# -- the deployment --------------------------------------------------------------------------------


class Deployment:
    def __init__(self, standin: JsmStandIn, logs: Path) -> None:
        self.schema = f"mulesight_bench_{uuid.uuid4().hex[:10]}"
        self.queue = f"mulesight-bench-{uuid.uuid4().hex[:10]}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.admin = sa.create_engine(POSTGRES)
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        url = sa.make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={self.schema}"})
        self.env = {
            **os.environ,
            "MULESIGHT_DATABASE_URL": url.render_as_string(hide_password=False),
            "MULESIGHT_REDIS_URL": REDIS,
            "MULESIGHT_QUEUE_NAME": self.queue,
            "MULESIGHT_SECRET_KEY": "bench-only-secret-key-0123456789",
            "MULESIGHT_WEBHOOK_SECRET": SECRET,
            "JSM_BASE_URL": standin.base_url,
            "MULESIGHT_OUTBOUND_ALLOW": "127.0.0.0/8",  # the stand-in is on loopback
            "JSM_EMAIL": "bot@bench.example",
            "JSM_API_TOKEN": "ATATT-bench",
            "JSM_SERVICE_DESK_ID": "7",
            "MULESIGHT_JOB_LEASE_S": "10",
            "MULESIGHT_OUTBOX_LEASE_S": "10",
            "MULESIGHT_SWEEP_INTERVAL_S": "2",
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: subprocess.Popen[bytes] | None = None
        self.engine = sa.create_engine(self.env["MULESIGHT_DATABASE_URL"])

    def seed(self, sites: int) -> None:
        from app import create_app
        from app.models import Installation, Space

        app = create_app(
            {
                "INSTANCE_PATH": str(self.logs / "instance"),
                "MULESIGHT_DATABASE_URL": self.env["MULESIGHT_DATABASE_URL"],
                "MULESIGHT_SECRET_KEY": self.env["MULESIGHT_SECRET_KEY"],
            }
        )
        with app.extensions["db"].session() as session:
            for n in range(sites):
                session.add(
                    Installation(
                        id=f"inst-{n}",
                        cloud_id=f"cloud-{n}",
                        site_url=f"https://site{n}.atlassian.net",
                    )
                )
                session.flush()
                session.add(
                    Space(
                        installation_id=f"inst-{n}",
                        key="OPS",
                        client_id="ca",
                        control_plane="us",
                        scenario=SCENARIO,
                    )
                )
            session.commit()
        app.extensions["db"].dispose()

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                [*MULESIGHT, *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_web(self) -> None:
        self.web = self._start("web", "serve", "--workers", "2", "--port", str(self.port))
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                if requests.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit("gunicorn did not come up")

    def start_workers(self, processes: int) -> None:
        """Start the workers and wait until RQ lists them all (each builds its app first)."""
        from redis import Redis
        from rq import Queue, Worker

        self.workers = self._start("workers", "worker", "--processes", str(processes))
        with Redis.from_url(REDIS) as redis:
            queue = Queue(self.queue, connection=redis)
            end = time.monotonic() + 120
            while len(Worker.all(queue=queue)) < processes and time.monotonic() < end:
                time.sleep(0.2)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the web processes and of the worker processes (live ones)."""
        return tuple(  # type: ignore[return-value]
            cpu_seconds(proc.pid) if proc is not None else 0.0 for proc in (self.web, self.workers)
        )

    def stop_workers(self) -> None:
        if self.workers is not None:
            os.killpg(self.workers.pid, signal.SIGTERM)
            self.workers.wait(60)
            self.workers = None

    def kill_everything(self) -> None:
        for proc in (self.web, self.workers):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.web = self.workers = None

    def stop(self) -> None:
        for proc in (self.web, self.workers):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.engine.dispose()
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
        from redis import Redis
        from rq import Queue

        with Redis.from_url(REDIS) as redis:
            Queue(self.queue, connection=redis).delete(delete_jobs=True)
            for key in redis.scan_iter(f"{self.queue}:*"):
                redis.delete(key)


# -- what the stand-in saw -------------------------------------------------------------------------


def writes(standin: JsmStandIn, ticket: str) -> tuple[int, int, int, int]:
    """(internal comments, public comments, attachment calls, label calls) on ``ticket``."""
    with standin.lock:
        comments = standin.comments.get(ticket, [])
        internal = sum(1 for c in comments if not c["public"] and c["body"].startswith("h2."))
        public = sum(1 for c in comments if c["public"])
        return (
            internal,
            public,
            len(standin.attachments.get(ticket, [])),
            len(standin.labels.get(ticket, [])),
        )


def enriched(standin: JsmStandIn, ticket: str) -> bool:
    return all(count >= 1 for count in writes(standin, ticket))


def wait_enriched(
    standin: JsmStandIn, tickets: list[str], patience: float, poll: float = 0.25
) -> float:
    """Seconds until every ticket is enriched (or ``patience`` passed: then NaN), to ``poll``.
    Each poll looks only at the tickets not yet enriched: the bench's CPU is the workers' too."""
    start = time.monotonic()
    pending = list(tickets)
    while time.monotonic() - start < patience:
        pending = [t for t in pending if not enriched(standin, t)]
        if not pending:
            return time.monotonic() - start
        time.sleep(poll)
    return float("nan")


def last_writes(standin: JsmStandIn, tickets: Iterable[str]) -> dict[str, float]:
    """When each of ``tickets`` written to was last written to (monotonic seconds)."""
    with standin.lock:
        return {t: standin.done_at[t] for t in tickets if t in standin.done_at}


# -- the phases ------------------------------------------------------------------------------------


WARM_UP = 40  # webhooks sent before an intake is measured: two per site


def warm_up(deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int) -> None:
    """Serve a few webhooks before the clock starts, and let the workers (if any) enrich them:
    the measured window is a running deployment's, its processes warm and each site's shared
    diagnosis made, not the first seconds of a fresh start."""
    numbers = list(range(first + 900_000, first + 900_000 + WARM_UP))
    results = send_all(deploy.base, numbers, 20, args.sites)
    if deploy.workers is not None:
        wait_enriched(standin, [f"SUP-{r.number}" for r in results if r.status == 202], 120)


def open_loop(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int, label: str
) -> tuple[list[Sent], list[str]]:
    """After a warm-up, ``--rate`` webhooks/s for ``--seconds``: each webhook as sent, and the
    accepted tickets."""
    warm_up(deploy, standin, args, first)
    numbers = list(range(first, first + int(args.rate * args.seconds)))
    log(f"{label}: {len(numbers)} webhooks at {args.rate}/s ...")
    results = send_all(deploy.base, numbers, args.rate, args.sites)
    tickets = [f"SUP-{r.number}" for r in results if r.status == 202]
    log(
        f"{label}: p99 {percentile(latencies_ms(results), 99):.1f} ms, "
        f"{len(numbers) - len(tickets)} errors"
    )
    return results, tickets


def latencies_ms(results: list[Sent]) -> list[float]:
    """From each accepted webhook's scheduled time to its 202."""
    return [(r.answered - r.due) * 1000 for r in results if r.status == 202]


def latency_figures(prefix: str, results: list[Sent]) -> dict[str, Any]:
    """Latency from each webhook's scheduled time to its 202, and the sender's own lateness."""
    latencies = latencies_ms(results)
    late = [(r.started - r.due) * 1000 for r in results]
    return {
        f"{prefix}_p50_ms": round(percentile(latencies, 50), 1),
        f"{prefix}_p99_ms": round(percentile(latencies, 99), 1),
        f"{prefix}_max_ms": round(max(latencies, default=float("nan")), 1),
        f"{prefix}_errors": len(results) - len(latencies),
        f"{prefix}_sender_late_p99_ms": round(percentile(late, 99), 1),
    }


def intake(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    web_cpu, worker_cpu = deploy.cpu()
    results, tickets = open_loop(deploy, standin, args, first, "intake")
    sent = len(results)
    web_cpu = deploy.cpu()[0] - web_cpu
    drained = wait_enriched(standin, tickets, args.patience)
    done = sum(1 for t in tickets if enriched(standin, t))
    worker_cpu = deploy.cpu()[1] - worker_cpu
    return {
        "webhooks": sent,
        **latency_figures("intake", results),
        "enriched": done,
        "drain_s_after_last_webhook": round(drained, 1),
        # CPU per item, whatever else the machine runs: what the 2 cores must pay
        "web_cpu_ms_per_webhook": round(web_cpu * 1000 / max(1, sent), 2),
        "worker_cpu_ms_per_ticket": round(worker_cpu * 1000 / max(1, done), 1),
    }


def across_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The intake latencies of every run (lists), and their median as the figure."""
    figures: dict[str, Any] = {}
    for key in ("intake_p50_ms", "intake_p99_ms", "intake_max_ms", "intake_sender_late_p99_ms"):
        values = [run[key] for run in runs if run.get(key) == run.get(key)]  # not NaN
        if values:
            figures[f"{key}_runs"] = values
            figures[key] = statistics.median(values)
    if runs:
        figures["intake_errors"] = sum(run["intake_errors"] for run in runs)
    return figures


def intake_latency(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    """An intake run that measures latency only (the last run also waits for enrichment)."""
    results, _tickets = open_loop(deploy, standin, args, first, "intake (latency)")
    return latency_figures("intake", results)


def intake_alone(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    results, _tickets = open_loop(deploy, standin, args, first, "intake alone (no worker here)")
    return latency_figures("alone_intake", results)  # enrichment: the intake phase


def burst(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    numbers = list(range(first, first + args.burst))
    log(f"burst: {len(numbers)} webhooks at once ...")
    results = send_all(deploy.base, numbers, 0, args.sites)
    sent = {f"SUP-{r.number}": r.due for r in results if r.status == 202}
    wait_enriched(standin, list(sent), args.patience)
    done = last_writes(standin, sent)
    times = [done[t] - sent[t] for t in sent if t in done and enriched(standin, t)]
    return {
        "burst": len(numbers),
        "burst_accepted": len(sent),
        "burst_enriched": len(times),
        "burst_p50_s": round(percentile(times, 50), 2),
        "burst_p95_s": round(percentile(times, 95), 2),
        "burst_max_s": round(max(times, default=float("nan")), 2),
    }


def crash(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    numbers = list(range(first, first + args.burst))
    tickets = [f"SUP-{n}" for n in numbers]
    log(f"crash: {len(numbers)} webhooks, SIGKILL of every process mid-burst ...")
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.monotonic() + 0.5
    rate = args.burst / 2.0  # the burst over 2 s, so the kill lands in the middle of it
    child = context.Process(
        target=_sender, args=(deploy.base, numbers, rate, args.sites, start, out)
    )
    child.start()
    while sum(1 for t in tickets if enriched(standin, t)) < max(1, args.burst // 10):
        time.sleep(0.05)
    deploy.kill_everything()
    results = out.get()
    child.join()
    accepted = [f"SUP-{r.number}" for r in results if r.status == 202]
    refused = [r.number for r in results if r.status != 202]
    enriched_at_kill = sum(1 for t in tickets if enriched(standin, t))
    log(
        f"crash: killed after {enriched_at_kill} enriched; {len(accepted)} accepted, {len(refused)} refused; restarting ..."
    )
    deploy.start_web()
    deploy.start_workers(args.processes)
    retried = send_all(deploy.base, refused, 0, args.sites) if refused else []
    accepted += [f"SUP-{r.number}" for r in retried if r.status == 202]
    recovered = wait_enriched(standin, accepted, args.patience)
    time.sleep(5)  # a few more sweeps: anything sent twice would show now
    lost = [t for t in accepted if not enriched(standin, t)]
    duplicated = [t for t in tickets if any(count > 1 for count in writes(standin, t))]
    return {
        "crash_accepted": len(accepted),
        "crash_enriched_before_kill": enriched_at_kill,
        "crash_lost": len(lost),
        "crash_duplicated": len(duplicated),
        "crash_recovered_s_after_restart": round(recovered, 1),
    }


def job_figures(deploy: Deployment, phase: str) -> dict[str, Any]:
    """How long a job took (median, ms) and how many ran more than once (a lease expired)."""
    with deploy.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT attempts, started_at, finished_at FROM jobs WHERE status = 'done'")
        ).all()
    durations = [(f - s).total_seconds() * 1000 for _a, s, f in rows if s and f]
    return {
        f"{phase}_job_median_ms": round(statistics.median(durations), 1) if durations else None,
        f"{phase}_jobs_run_more_than_once": sum(1 for a, _s, _f in rows if a > 1),
    }


def scaling(
    deploy: Deployment, standin: JsmStandIn, args: argparse.Namespace, first: int
) -> dict[str, Any]:
    throughput: dict[str, float] = {}
    idle: dict[str, float] = {}  # why throughput stops growing: the cores left idle meanwhile
    for processes in args.scaling:
        deploy.stop_workers()
        numbers = list(range(first, first + args.backlog))
        first += args.backlog
        results = send_all(deploy.base, numbers, 0, args.sites)
        tickets = [f"SUP-{r.number}" for r in results if r.status == 202]
        log(f"scaling: {len(tickets)} queued, starting {processes} worker process(es) ...")
        started = time.monotonic()
        deploy.start_workers(processes)
        idle_before, total_before = cpu_ticks()
        begun = time.monotonic()
        drained = wait_enriched(standin, tickets, args.patience, poll=0.05)
        idle_after, total_after = cpu_ticks()
        last = max(last_writes(standin, tickets).values(), default=begun)
        throughput[str(processes)] = (
            0.0 if math.isnan(drained) else round(len(tickets) / max(last - begun, 1e-3), 1)
        )
        idle[str(processes)] = round(
            100 * (idle_after - idle_before) / max(1, total_after - total_before), 1
        )
        log(
            f"scaling: {processes} process(es): {throughput[str(processes)]} tickets/s, "
            f"cores {idle[str(processes)]}% idle ({time.monotonic() - started:.0f} s)"
        )
    return {"throughput_tickets_per_s": throughput, "scaling_cpu_idle_percent": idle}


def process_counts(text: str) -> list[int]:
    """``--scaling``: worker process counts, comma-separated (``1,2,4``)."""
    counts = [int(n) for n in text.split(",")]
    if any(n < 1 for n in counts):
        raise ValueError(text)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--backlog", type=int, default=600)
    parser.add_argument(
        "--sites", type=int, default=20, help="customer sites the tickets come from"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes (phases 1-3)")
    parser.add_argument(
        "--scaling",
        type=process_counts,
        default=[1, 2, 4],
        help="worker processes to measure throughput with (phase 4), e.g. 1,2,4,8",
    )
    parser.add_argument(
        "--patience", type=float, default=300, help="longest wait for enrichment, s"
    )
    parser.add_argument(
        "--intake-runs",
        type=int,
        default=3,
        help="intake runs with workers, each on a fresh deployment (this host varies by 2x "
        "from run to run): min, median and max of their latencies; the last also waits for "
        "enrichment",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["intake", "intake_alone", "burst", "crash", "scaling"],
    )
    args = parser.parse_args()

    logs = Path(os.environ.get("MULESIGHT_BENCH_LOGS", f"/tmp/mulesight-bench-{os.getpid()}"))
    standin = JsmStandIn(latency=LATENCY_S).start()
    figures: dict[str, Any] = {
        "bench": "webhooks",
        "web_workers": 2,
        "worker_processes": args.processes,
        "sites": args.sites,
        "jsm_latency_ms": LATENCY_S * 1000,
        "cpus": os.cpu_count(),
    }
    intake_runs = [("intake", intake_latency)] * (max(1, args.intake_runs) - 1)
    phases = [
        (name, phase)
        for name, phase in (
            *intake_runs,
            ("intake", intake),
            ("intake_alone", intake_alone),
            ("burst", burst),
            ("crash", crash),
            ("scaling", scaling),
        )
        if name not in args.skip
    ]
    runs: list[dict[str, Any]] = []
    try:
        for index, (name, phase) in enumerate(phases):
            # Each phase on a fresh deployment (schema, queue): no phase waits behind another's backlog.
            deploy = Deployment(standin, logs / name)
            try:
                deploy.seed(args.sites)
                deploy.start_web()
                if name not in ("intake_alone", "scaling"):  # no workers / their own
                    deploy.start_workers(args.processes)
                result = phase(deploy, standin, args, index * 1_000_000)
                if name == "intake":
                    runs.append(result)
                figures.update(result)
                figures.update(job_figures(deploy, name))
            finally:
                deploy.stop()
        figures.update(across_runs(runs))
        figures["jsm_connections"] = standin.connections
        figures["jsm_requests"] = standin.requests
        figures["load_average_1m"] = round(os.getloadavg()[0], 1)
    finally:
        standin.stop()
    log(f"logs in {logs}")
    print(json.dumps(figures, default=str).replace("NaN", "null"))  # strict JSON: no NaN


if __name__ == "__main__":
    main()
