"""``mulesight worker``: processes that run the recorded jobs RQ wakes, plus a sweeper each.

Each process builds the app once (:func:`worker_app`), then an RQ ``SimpleWorker`` runs every
wake-up in that process (no fork per job: the app, its database pool and the Service Management
session stay warm). SIGTERM is RQ's warm shutdown: the current job finishes, the process exits;
SIGKILL loses nothing — the job's row stays ``running`` until its lease expires, then a sweeper
(every worker process runs one) queues it again.

With ``--processes N`` a small supervisor starts N such processes, starts a new one when one
dies, and forwards SIGTERM / SIGINT to all of them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from flask import Flask

from app.queue.runner import execute

log = logging.getLogger(__name__)

_APP: Flask | None = None
RESTART_PAUSE_S = 1.0


def worker_app() -> Flask:
    """This process's app (built on first use from the environment)."""
    global _APP
    if _APP is None:
        from app import create_app

        _APP = create_app()
    return _APP


def perform(job_id: int) -> str | None:
    """What RQ runs for a wake-up: run the recorded job ``job_id`` if it is still queued."""
    return execute(worker_app(), int(job_id), f"worker-{os.getpid()}")


def run_worker(app: Flask, *, burst: bool = False) -> None:
    """Run one worker in this process until SIGTERM (or, with ``burst``, until the queue is empty)."""
    from rq import SimpleWorker

    from app.jobs import get_queue
    from app.queue.backends import RedisQueue
    from app.queue.sweeper import Sweeper

    global _APP
    _APP = app
    queue = get_queue(app)
    if not isinstance(queue, RedisQueue):
        raise RuntimeError("mulesight worker needs MULESIGHT_REDIS_URL")
    sweeper = Sweeper(queue, float(app.config.get("MULESIGHT_SWEEP_INTERVAL_S") or 10))
    sweeper.run_once()  # what died with the previous processes, at once
    sweeper.start()
    try:
        worker = SimpleWorker([queue.rq], connection=queue.redis)
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    finally:
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


__all__ = ["child_command", "perform", "run_worker", "supervise", "worker_app"]
