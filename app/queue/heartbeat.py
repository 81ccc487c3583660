"""Keep a lease while the work it covers runs: renew it from a daemon thread every few seconds.

A lease only says "this process is alive and on it". Work may take longer than one lease (a slow
diagnosis on a loaded machine, a slow Service Management call), and a lease that ran out under a
live worker would hand its job or message to a second one — work done twice. So the owner renews
it every ``interval`` (a fraction of the lease) for as long as it runs; only a process that died
stops renewing, and only then does its lease run out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

RENEWALS_PER_LEASE = 4


class Heartbeat:
    """``with Heartbeat(renew, interval): ...`` calls ``renew()`` every ``interval`` seconds
    until the block ends. A failed renewal is logged; the next one tries again."""

    def __init__(self, renew: Callable[[], object], interval: float, name: str) -> None:
        self.renew = renew
        self.interval = max(0.05, interval)
        self.name = name
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{name}", daemon=True)

    @classmethod
    def for_lease(cls, renew: Callable[[], object], lease_s: float, name: str) -> Heartbeat:
        return cls(renew, lease_s / RENEWALS_PER_LEASE, name)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.renew()
            except Exception:  # database away for a moment: the lease may still be saved
                log.warning("renewing the lease of %s failed", self.name, exc_info=True)


__all__ = ["RENEWALS_PER_LEASE", "Heartbeat"]
