"""The probe runner: the only place that owns threads, per-probe budgets and the run deadline.

Probes run concurrently (bounded by ``concurrency``; the client's per-host rate limiter paces
them). A run returns within its deadline whatever Anypoint does: a probe still waiting at the
deadline is recorded as ``timeout`` and the probes that depend on it as skipped. An exception
inside a probe becomes an ``error`` record, never a crashed run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from diagnostics.errors import (
    AnypointError,
    AnypointTimeout,
    AuthenticationError,
    ForbiddenError,
    RateLimitedError,
)
from diagnostics.planner import ProbePlan, ProbeTask, extract_items
from diagnostics.probes import ProbeRecord

log = logging.getLogger("diagnostics.runner")

TOKEN_PROBE = "diagnostics.token"


class ProbeClient(Protocol):
    """What the runner needs of an Anypoint client (``diagnostics.anypoint.AnypointClient``)."""

    def authenticate(self, deadline: float | None = None) -> Any: ...

    def get(
        self,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        deadline: float | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int = 32
    deadline_s: float = 20.0
    probe_budget_s: float = 15.0


@dataclass
class RunResult:
    records: list[ProbeRecord]
    elapsed_ms: float
    hit_deadline: bool


def classify_error(exc: AnypointError) -> str:
    """Map the client's exception tree to the report's probe outcomes."""
    if isinstance(exc, AuthenticationError | ForbiddenError):
        return "forbidden"
    if isinstance(exc, AnypointTimeout):
        return "timeout"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    return "error"


class ProbeRunner:
    def __init__(
        self,
        client: ProbeClient,
        settings: RunnerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.settings = settings or RunnerSettings()
        self.clock = clock

    def run(self, plan: ProbePlan) -> RunResult:
        started = self.clock()
        deadline = started + self.settings.deadline_s
        tasks, records = plan.initial()
        running: dict[Future[ProbeRecord], tuple[ProbeTask, float]] = {}
        executor = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="probe"
        )
        hit_deadline = False
        try:
            for task in tasks:
                self._submit(executor, running, task, deadline)
            while running:
                remaining = deadline - self.clock()
                done, _ = wait(running, timeout=max(remaining, 0), return_when=FIRST_COMPLETED)
                if not done:
                    hit_deadline = True
                    break
                for future in done:
                    task, _ = running.pop(future)
                    record = future.result()
                    records.append(record)
                    follow, skipped = plan.after(task, record)
                    records.extend(skipped)
                    for child in follow:
                        self._submit(executor, running, child, deadline)
            if hit_deadline:
                records.extend(self._expire(plan, running))
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return RunResult(records, (self.clock() - started) * 1000, hit_deadline)

    def _submit(
        self,
        executor: ThreadPoolExecutor,
        running: dict[Future[ProbeRecord], tuple[ProbeTask, float]],
        task: ProbeTask,
        run_deadline: float,
    ) -> None:
        future = executor.submit(self._execute, task, run_deadline)
        running[future] = (task, self.clock())

    def _expire(
        self, plan: ProbePlan, running: dict[Future[ProbeRecord], tuple[ProbeTask, float]]
    ) -> list[ProbeRecord]:
        """Probes still waiting at the deadline become ``timeout``; their dependants skipped."""
        records: list[ProbeRecord] = []
        now = self.clock()
        message = f"still waiting at the run deadline ({self.settings.deadline_s:g} s)"
        for task, submitted in running.values():
            record = ProbeRecord(
                probe=task.probe,
                environment_id=task.environment_id,
                path=task.path,
                outcome="timeout",
                elapsed_ms=(now - submitted) * 1000,
                message=message,
            )
            records.append(record)
            records.extend(_skipped_descendants(plan, task, record))
        return records

    def _execute(self, task: ProbeTask, run_deadline: float) -> ProbeRecord:
        started = self.clock()
        deadline = min(run_deadline, started + self.settings.probe_budget_s)
        record = ProbeRecord(
            probe=task.probe, environment_id=task.environment_id, path=task.path, outcome="error"
        )
        try:
            if task.probe.key == TOKEN_PROBE:
                result = self.client.authenticate(deadline=deadline)
            else:
                result = self.client.get(
                    task.path,
                    params=task.params or None,
                    headers=task.headers or None,
                    deadline=deadline,
                )
            record.status = result.status
            record.attempts = result.attempts
            record.data = result.data
            record.items = extract_items(task.probe, result.data)
            record.outcome = "empty" if record.items == [] else "ok"
        except AnypointError as exc:
            record.outcome = classify_error(exc)
            record.status = exc.status
            record.attempts = exc.attempts
            record.message = exc.message
        except Exception as exc:  # a crashed probe is an error result, never a crashed run
            log.exception("probe %s crashed", task.probe.key)
            record.message = f"internal error while probing: {type(exc).__name__}"
        record.elapsed_ms = (self.clock() - started) * 1000
        return record


def _skipped_descendants(
    plan: ProbePlan, task: ProbeTask, record: ProbeRecord
) -> list[ProbeRecord]:
    follow, skipped = plan.after(task, record)
    assert not follow, "a failed probe never plans children"
    return skipped
