"""The probe runner: the only place that owns threads, per-probe budgets and the run deadline.

It executes every plan — a diagnosis that samples and a refresh crawl that reads every page —
the same way: probes run concurrently on the run's own ``concurrency`` threads (the client's
per-host rate limiter paces them, its retry policy retries them), the deepest planned probe
first, so a listing's items are visited, and let go of, before more is listed. A run returns
within its deadline whatever Anypoint does: a probe still waiting at the deadline is recorded as
``timeout`` and the probes that depend on it as skipped. An exception inside a probe becomes an
``error`` record, never a crashed run. ``on_record`` sees each record as it is made (a crawl
streams them into its cache).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from queue import Empty, SimpleQueue
from typing import Any, Protocol

from diagnostics.anypoint import ApiResult
from diagnostics.errors import (
    AnypointError,
    AnypointTimeout,
    AuthenticationError,
    DestinationRefusedError,
    ForbiddenError,
    RateLimitedError,
)
from diagnostics.planner import ProbePlan, ProbeTask
from diagnostics.probes import ProbeRecord
from diagnostics.statuses import Outcome

log = logging.getLogger("diagnostics.runner")


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

    def paginate(
        self,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        page_size: int = ...,
        items: Callable[[Any], list[Any]] | None = None,
        total: Callable[[Any], int | None] | None = None,
        deadline: float | None = None,
        on_page: Callable[[ApiResult], None] | None = None,
    ) -> Iterator[Any]: ...


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


def classify_error(exc: AnypointError) -> Outcome:
    """Map the client's exception tree to the report's probe outcomes."""
    if isinstance(exc, AuthenticationError | ForbiddenError):
        return Outcome.FORBIDDEN
    if isinstance(exc, AnypointTimeout):
        return Outcome.TIMEOUT
    if isinstance(exc, RateLimitedError):
        return Outcome.RATE_LIMITED
    return Outcome.ERROR


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

    def run(
        self,
        plan: ProbePlan,
        *,
        deadline: float | None = None,
        on_record: Callable[[ProbeRecord], None] | None = None,
        keep: bool = True,
    ) -> RunResult:
        """Run ``plan`` to the end or to the deadline (``deadline``, a value of the runner's
        clock, when earlier than the settings' ``deadline_s`` from now). ``keep=False``: the
        records only go to ``on_record`` (the result holds none), so a crawl that streams them
        holds no more of them than are running."""
        started = self.clock()
        own = started + self.settings.deadline_s
        deadline = own if deadline is None else min(own, deadline)
        records = _Records(on_record, keep)
        tasks, skipped = plan.initial()
        records.extend(skipped)
        # Workers hand finished records back through one queue: cheaper per probe than waiting
        # on every running future each time one finishes.
        finished: SimpleQueue[tuple[int, ProbeRecord]] = SimpleQueue()
        waiting = _Waiting(plan, self.clock)
        waiting.extend(tasks)
        running: dict[int, tuple[ProbeTask, float]] = {}
        tickets = count()
        # Handed to the workers ahead of need, so a worker never waits while this thread
        # hands a record on (a crawl writes a batch of rows to its cache there).
        ahead = 2 * self.settings.concurrency
        workers = _Workers(
            self.settings.concurrency,
            lambda ticket, task: self._work(ticket, task, deadline, finished),
        )

        def hand_out() -> None:
            while waiting and len(running) < ahead:
                task, planned_at = waiting.pop()
                ticket = next(tickets)
                running[ticket] = (task, planned_at)
                workers.put(ticket, task)

        hit_deadline = False
        try:
            workers.start()
            hand_out()
            while running:
                try:
                    ticket, record = finished.get(timeout=max(deadline - self.clock(), 0))
                except Empty:
                    hit_deadline = True
                    break
                task, _ = running.pop(ticket)
                follow, skipped = plan.after(task, record)
                waiting.extend(follow)
                hand_out()  # first keep Anypoint busy, then hand the record on
                records.append(record)
                records.extend(skipped)
                if plan.crawl:  # streamed to on_record; the planner took what it needed
                    record.items = None
            if hit_deadline:
                records.extend(self._expire(plan, [*running.values(), *waiting.drain()]))
        finally:
            workers.stop()
        return RunResult(records.kept, (self.clock() - started) * 1000, hit_deadline)

    def _work(
        self,
        ticket: int,
        task: ProbeTask,
        run_deadline: float,
        finished: SimpleQueue[tuple[int, ProbeRecord]],
    ) -> None:
        finished.put((ticket, self._execute(task, run_deadline)))

    def _expire(
        self, plan: ProbePlan, unfinished: list[tuple[ProbeTask, float]]
    ) -> list[ProbeRecord]:
        """Probes still waiting at the deadline become ``timeout``; their dependants skipped."""
        records: list[ProbeRecord] = []
        now = self.clock()
        message = f"still waiting at the run deadline ({self.settings.deadline_s:g} s)"
        for task, submitted in unfinished:
            record = ProbeRecord(
                probe=task.probe,
                environment_id=task.environment_id,
                path=task.path,
                outcome=Outcome.TIMEOUT,
                elapsed_ms=(now - submitted) * 1000,
                message=message,
                parent_item=task.parent_item,
            )
            records.append(record)
            records.extend(_skipped_descendants(plan, task, record))
        return records

    def _execute(self, task: ProbeTask, run_deadline: float) -> ProbeRecord:
        started = self.clock()
        deadline = min(run_deadline, started + self.settings.probe_budget_s)
        record = ProbeRecord(
            probe=task.probe,
            environment_id=task.environment_id,
            path=task.path,
            outcome=Outcome.ERROR,
            parent_item=task.parent_item,
        )
        try:
            if task.crawl:
                self._crawl(task, record, deadline)
            else:
                self._sample(task, record, deadline)
        except AnypointError as exc:
            record.outcome = classify_error(exc)
            record.status = exc.status or record.status  # a shape error keeps the answer's 200
            record.attempts += exc.attempts
            record.message = exc.message
            if isinstance(exc, DestinationRefusedError):
                record.refused = (exc.host, exc.reason)
        except Exception as exc:  # a crashed probe is an error result, never a crashed run
            log.exception("probe %s crashed", task.probe.key)
            record.message = f"internal error while probing: {type(exc).__name__}"
        record.elapsed_ms = (self.clock() - started) * 1000
        return record

    def _sample(self, task: ProbeTask, record: ProbeRecord, deadline: float) -> None:
        """One answer, read leniently: a diagnosis."""
        if task.probe.role == "token":
            result = self.client.authenticate(deadline=deadline)
        else:
            result = self.client.get(
                task.path,
                params=task.params or None,
                headers=task.headers or None,
                deadline=deadline,
            )
        _count(record, result)
        record.data = result.data
        record.items = task.probe.payload.sampled_items(result.data)
        record.outcome = Outcome.EMPTY if record.items == [] else Outcome.OK

    def _crawl(self, task: ProbeTask, record: ProbeRecord, deadline: float) -> None:
        """Every item of every page, read strictly: a refresh."""
        payload = task.probe.payload
        read = payload.read or _as_object
        headers = task.headers or None
        params = task.params
        if payload.paged:
            query = {k: v for k, v in params.items() if k not in ("offset", "limit")}
            pages = self.client.paginate(
                task.path,
                params=query or None,
                headers=headers,
                page_size=int(task.bindings.get("page_size", 100)),
                items=read,
                total=payload.total,
                deadline=deadline,
                on_page=lambda result: _count(record, result),
            )
            items = list(pages)
        else:
            result = self.client.get(
                task.path, params=params or None, headers=headers, deadline=deadline
            )
            _count(record, result)
            items = read(result.data)
        record.items = payload.finish(items) if payload.finish else items
        record.outcome = Outcome.OK if record.items else Outcome.EMPTY


class _Waiting:
    """Planned probes not yet handed to a worker: the deepest in the plan first (then in the
    order planned), so a listing's items are visited — and let go of — soon after it answers,
    and the longest chains of dependent probes are never left for last."""

    def __init__(self, plan: ProbePlan, clock: Callable[[], float]) -> None:
        self._catalogue = plan.catalogue
        self._clock = clock
        self._depth: dict[str, int] = {}
        self._heap: list[tuple[int, int, ProbeTask, float]] = []
        self._order = count()

    def __bool__(self) -> bool:
        return bool(self._heap)

    def extend(self, tasks: list[ProbeTask]) -> None:
        now = self._clock()
        for task in tasks:
            entry = (-self._depth_of(task.probe.key), next(self._order), task, now)
            heapq.heappush(self._heap, entry)

    def pop(self) -> tuple[ProbeTask, float]:
        _, _, task, planned_at = heapq.heappop(self._heap)
        return task, planned_at

    def drain(self) -> list[tuple[ProbeTask, float]]:
        left = [(task, planned_at) for _, _, task, planned_at in sorted(self._heap)]
        self._heap.clear()
        return left

    def _depth_of(self, key: str) -> int:
        if key not in self._depth:
            probe = self._catalogue.probes_by_key[key]
            self._depth[key] = 1 + max((self._depth_of(d) for d in probe.depends_on), default=0)
        return self._depth[key]


class _Workers:
    """The run's threads: each takes a probe from the queue and runs it, until stopped.

    One thread starts at once and takes the first probes; a helper starts the others meanwhile
    (starting a thread waits for it to be scheduled, which on a busy machine takes long enough
    to hold up the probes that follow the token). Stopping drops what no worker has taken; a
    probe already running ends by its own deadline.
    """

    def __init__(self, size: int, work: Callable[[int, ProbeTask], None]) -> None:
        self._size = size
        self._work = work
        self._queue: SimpleQueue[tuple[int, ProbeTask] | None] = SimpleQueue()
        self._stopped = False

    def start(self) -> None:
        self._thread(0).start()
        if self._size > 1:
            threading.Thread(target=self._start_others, name="probe_starter", daemon=True).start()

    def _start_others(self) -> None:
        for n in range(1, self._size):
            if self._stopped:
                return
            self._thread(n).start()

    def _thread(self, n: int) -> threading.Thread:
        return threading.Thread(target=self._loop, name=f"probe_{n}", daemon=True)

    def put(self, ticket: int, task: ProbeTask) -> None:
        self._queue.put((ticket, task))

    def stop(self) -> None:
        self._stopped = True
        for _ in range(self._size):
            self._queue.put(None)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            if not self._stopped:
                self._work(*item)


class _Records:
    """The records of a run, handed to ``on_record`` as they are made."""

    def __init__(self, on_record: Callable[[ProbeRecord], None] | None, keep: bool) -> None:
        self.kept: list[ProbeRecord] = []
        self._on_record = on_record
        self._keep = keep

    def append(self, record: ProbeRecord) -> None:
        if self._keep:
            self.kept.append(record)
        if self._on_record is not None:
            self._on_record(record)

    def extend(self, records: list[ProbeRecord]) -> None:
        for record in records:
            self.append(record)


def _count(record: ProbeRecord, result: ApiResult) -> None:
    """Add one successful call (a page) to the record's status, attempts and elapsed time."""
    record.status = result.status
    record.attempts += result.attempts


def _as_object(data: Any) -> list[Any]:
    """A single-object answer as a one-item list (a probe that declares no reader)."""
    return [] if data is None else [data]


def _skipped_descendants(
    plan: ProbePlan, task: ProbeTask, record: ProbeRecord
) -> list[ProbeRecord]:
    follow, skipped = plan.after(task, record)
    assert not follow, "a failed probe never plans children"
    return skipped
