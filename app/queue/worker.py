"""``mulesight worker``: processes that run the recorded jobs RQ wakes, plus a sweeper each.

Each process builds the app once (:func:`worker_app`), then an RQ ``SimpleWorker`` takes the
wake-ups in that process (no fork per job: the app, its database pool and the Service Management
session stay warm) and hands each to a :class:`JobThreads` pool, so ``MULESIGHT_WORKER_THREADS``
jobs run at once — a job mostly waits on Service Management and the database, so one process
keeps several going. A wake-up is taken only when a thread is free. SIGTERM is RQ's warm
shutdown: the jobs in hand finish, the process exits; SIGKILL loses nothing — their rows stay
``running`` until their leases expire, then a sweeper (every worker process runs one) queues them
again.

Worker processes lower their CPU priority (``MULESIGHT_WORKER_NICE``), and their session's CPU
group when they lead a session (:func:`lower_session_priority`): on a host shared with web
processes, a webhook is answered first and the enrichment waits a little.

With ``--processes N`` a small supervisor starts N such processes, starts a new one when one
dies, and forwards SIGTERM / SIGINT to all of them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from flask import Flask

from app.heap import freeze_startup_objects
from app.queue.runner import execute

log = logging.getLogger(__name__)

_APP: Flask | None = None
_THREADS: JobThreads | None = None
RESTART_PAUSE_S = 1.0


def worker_app() -> Flask:
    """This process's app (built on first use from the environment)."""
    global _APP
    if _APP is None:
        from app import create_app

        _APP = create_app()
    return _APP


class JobThreads:
    """Run recorded jobs on ``threads`` threads; :meth:`submit` waits for a free one."""

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.threads = max(1, threads)
        self._free = threading.BoundedSemaphore(self.threads)
        self._pool = ThreadPoolExecutor(self.threads, "mulesight-job")

    def submit(self, job_id: int) -> None:
        self._free.acquire()
        try:
            self._pool.submit(self._run, job_id)
        except BaseException:
            self._free.release()
            raise

    def _run(self, job_id: int) -> None:
        try:
            execute(self.app, job_id, f"worker-{os.getpid()}")
        except Exception:
            log.exception("job %s failed", job_id)
        finally:
            self._free.release()

    def shutdown(self) -> None:
        """Wait for the jobs in hand, then end the threads."""
        self._pool.shutdown(wait=True)


def perform(job_id: int) -> str | None:
    """What RQ runs for a wake-up: run the recorded job ``job_id`` if it is still queued — on
    this process's job threads when it has them (the outcome is then in the job's row)."""
    if _THREADS is not None:
        _THREADS.submit(int(job_id))
        return None
    return execute(worker_app(), int(job_id), f"worker-{os.getpid()}")


def lower_priority(niceness: int) -> int:
    """Make this process at least ``niceness`` nice — absolute, so a child that inherited it
    stays there — and its session's scheduling group too when it leads one; returns the
    niceness now."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except OSError as exc:  # not allowed here (a container's policy): run as we are
            log.warning("could not lower the worker's CPU priority: %s", exc)
    lower_session_priority(niceness)
    return os.getpriority(os.PRIO_PROCESS, 0)


AUTOGROUP = Path("/proc/self/autogroup")


def lower_session_priority(niceness: int, autogroup: Path = AUTOGROUP) -> bool:
    """Lower the CPU priority of this session's scheduling group, when this process leads the
    session; ``True`` if it did.

    Linux with autogroup on (most desktop and many server kernels) shares the CPU between
    sessions first, and a process's nice value counts only against the processes of its own
    session. Workers started in a session of their own (``setsid``, a process supervisor, a
    new terminal) would otherwise get as much CPU as the web processes however nice they are
    (measured: docs/deploy.md, "Scaling each part"). A worker that shares its session (with the
    web processes, say) leaves the group alone: its own nice value already counts there. Under
    systemd or in a container the cgroup decides instead (see docs/deploy.md); writing here is
    harmless.
    """
    if os.getsid(0) != os.getpid() or not autogroup.exists():
        return False
    try:
        group = autogroup.read_text()
        if "nice" not in group:  # the kernel's default group, shared with the whole host
            return False
        current = int(group.split("nice")[-1])
        if niceness <= current:
            return False
        autogroup.write_text(str(niceness))
    except (OSError, ValueError) as exc:
        log.warning("could not lower the worker session's CPU priority: %s", exc)
        return False
    return True


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Run one worker in this process until SIGTERM (or, with ``burst``, until the queue is empty)."""
    from rq import SimpleWorker

    from app.jobs import get_queue
    from app.queue.backends import RedisQueue
    from app.queue.sweeper import Sweeper

    global _APP, _THREADS
    _APP = app
    queue = get_queue(app)
    if not isinstance(queue, RedisQueue):
        raise RuntimeError("mulesight worker needs MULESIGHT_REDIS_URL")
    sweeper = Sweeper(queue, float(app.config.get("MULESIGHT_SWEEP_INTERVAL_S") or 10))
    sweeper.run_once()  # what died with the previous processes, at once
    sweeper.start()
    threads = int(app.config.get("MULESIGHT_WORKER_THREADS") or 1)
    _THREADS = JobThreads(app, threads) if threads > 1 else None
    freeze_startup_objects()
    try:
        worker = SimpleWorker([queue.rq], connection=queue.redis)
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    finally:
        if _THREADS is not None:
            _THREADS.shutdown()
            _THREADS = None
        sweeper.stop()


def supervise(processes: int, command: list[str]) -> int:
    """Keep ``processes`` copies of ``command`` running until SIGTERM/SIGINT; returns 0."""
    children: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def start_one() -> None:
        child = subprocess.Popen(command)
        children[child.pid] = child

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(processes):
        start_one()
    while children:
        for pid, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            del children[pid]
            if not stopping:
                log.warning("worker process %s ended (%s); starting another", pid, code)
                time.sleep(RESTART_PAUSE_S)
                start_one()
        time.sleep(0.2)
    return 0


def child_command() -> list[str]:
    """The command line of one worker process (``mulesight worker --processes 1``)."""
    return [sys.executable, "-c", "from app.cli import main; main()", "worker", "--processes", "1"]


__all__ = [
    "JobThreads",
    "child_command",
    "lower_priority",
    "lower_session_priority",
    "perform",
    "run_worker",
    "supervise",
    "worker_app",
]
