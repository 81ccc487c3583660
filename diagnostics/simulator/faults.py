"""Scenario faults: which request a fault answers, and how many times it still may.

Faults are tried in order; the first that matches a request answers it. A fault with ``times: N``
answers the first N requests it matches, then steps aside. The counters live in a
:class:`FaultBook`, one per simulation, and are safe to share between threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

_ENVIRONMENT_SEGMENT = re.compile(r"/environments/([^/]+)")


@dataclass(frozen=True)
class Fault:
    """One entry of a scenario's ``faults`` list."""

    path: re.Pattern[str]
    status: int | None = None
    times: int | None = None
    environment: str | None = None
    method: str | None = None
    timeout: bool = False
    body: Mapping[str, object] | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str, headers: Mapping[str, str]) -> bool:
        """``headers`` must look keys up case-insensitively."""
        if self.method is not None and self.method != method.upper():
            return False
        if not self.path.search(path):
            return False
        if self.environment is None:
            return True
        segment = _ENVIRONMENT_SEGMENT.search(path)
        return self.environment in (headers.get("X-ANYPNT-ENV-ID"), segment and segment.group(1))


class FaultBook:
    """The faults of one simulation and how often each has answered."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self.faults = faults
        self._used = [0] * len(faults)
        self._lock = threading.Lock()

    def take(self, method: str, path: str, headers: Mapping[str, str]) -> Fault | None:
        """The fault that answers this request (counting it), or ``None``."""
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.times is not None and self._used[index] >= fault.times:
                    continue
                if fault.matches(method, path, headers):
                    self._used[index] += 1
                    return fault
        return None

    def used(self) -> tuple[int, ...]:
        """How many requests each fault has answered so far."""
        with self._lock:
            return tuple(self._used)
