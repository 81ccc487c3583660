"""The sweeper: a daemon thread that, every ``interval`` seconds, re-queues and wakes the jobs
nobody is doing, delivers the outbox messages that came due (retries, or a dead worker's) and
deletes finished jobs older than ``MULESIGHT_JOB_RETENTION_DAYS``.

It runs in every worker process and in the embedded default, whatever the load: several
sweepers at once are safe, as every re-queue and outbox claim is a conditional update.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.queue.backends import JobQueue

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, queue: JobQueue, interval: float) -> None:
        self.queue = queue
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def start(self) -> None:
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopped.clear()
            self._thread = threading.Thread(
                target=self._loop, name="mulesight-sweeper", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopped.set()
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            self.run_once()

    def run_once(self) -> None:
        """One pass; a failure (database away) is logged and the next pass tries again."""
        try:
            self.queue.sweep()
        except Exception:
            log.exception("sweeping jobs failed")
        try:
            dispatch_due(self.queue)
        except Exception:
            log.exception("sweeping the outbox failed")
        try:
            self.queue.prune()
        except Exception:
            log.exception("pruning finished jobs failed")


def dispatch_due(queue: JobQueue) -> None:
    """Deliver the outbox messages that are due and unclaimed (or whose claim expired)."""
    from app.tickets.connectors import dispatch_pending

    app = queue.app
    with app.app_context():
        dispatch_pending(app.config, app.extensions["db"].sessionmaker, worker="sweeper")


__all__ = ["Sweeper", "dispatch_due"]
