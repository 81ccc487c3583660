"""The durable outbox: every write to a ticket system is a row first, delivered afterwards.

Work that must reach a ticket (a comment, attachments, labels) is enqueued with :func:`enqueue`
in the same transaction as the work that caused it, under a unique idempotency key
(``"event-12:comment:internal"``): enqueueing a key twice keeps the first message, so a replayed
job sends nothing new. Payloads are redacted before they are stored.

:class:`Dispatcher` delivers due messages through a :class:`~app.tickets.TicketConnector`:

- **claim** — one statement marks a batch as owned by this run
  (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`` on PostgreSQL, the same conditional
  ``UPDATE`` under SQLite's single writer), so two workers never hold the same message. A claim
  is a lease, renewed while the worker delivers (:class:`~app.queue.heartbeat.Heartbeat`): a
  worker that dies mid-delivery leaves the message to be claimed again once its lease ran out.
- **deliver** — success marks it ``delivered`` with the ids the system answered; it is never sent
  again. No database work comes before a call or stays open across it: the run knows its lease
  from the claim and each renewal. A run's Service Management writes are marked together after
  its calls (one statement); a local store's write commits with its own mark. A message whose
  earlier claim expired without an outcome (the worker died mid-call: the comment may have
  been posted) is *in doubt*: before sending it again, a connector that can
  (:class:`~app.tickets.MarkerSearch`, Service Management) is asked for the message's own
  marker — a reference line every comment carries — and a found one counts as delivered; labels
  already on the ticket count as delivered too. A try that ended with no answer (a read
  timeout, a connection dropped mid-call) leaves its message in doubt the same way.
- **concurrently** — a batch's independent calls go out together (comments of one ticket stay in
  order, in one lane; attachments and labels each in their own), for connectors that allow it. A retryable :class:`~app.tickets.TicketError` (or an unexpected exception) schedules the
  next attempt with exponential backoff and jitter; a non-retryable one, or the last allowed
  attempt, marks it ``dead`` with ``last_error`` for a person to see (``mulesight outbox list``).

Payloads are redacted once, when stored (:func:`enqueue`); delivery sends the stored text as is.
Nothing lives only in memory: a restarted process (a new dispatcher) picks up where the last one
stopped. The clock and the jitter source are injected, so tests never sleep.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from app import clock
from app.models import OutboxMessage
from app.queue.heartbeat import Heartbeat
from app.tickets import Attachment, MarkerSearch, TicketConnector, TicketError
from diagnostics.redaction import Redactor, redact_text

log = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
STATUSES = (PENDING, DELIVERED, DEAD)

COMMENT = "comment"
ATTACH = "attach"
LABELS = "labels"
OPERATIONS = (COMMENT, ATTACH, LABELS)
ERROR_LIMIT = 1000
MAX_LANES = 4

Clock = Callable[[], datetime]
ConnectorFactory = Callable[[Session, str], TicketConnector | None]


def utcnow() -> datetime:
    return clock.now()


def _app_clock() -> Clock:
    """The current app's clock callable (the system clock outside an app context)."""
    from flask import current_app, has_app_context

    if has_app_context():
        return clock.clock_of(current_app)
    return utcnow


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late to try again. Delay n = min(max, base·2ⁿ⁻¹), jittered to 50–100 %."""

    max_attempts: int = 8
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RetryPolicy:
        """The ``MULESIGHT_OUTBOX_*`` settings of the app configuration."""
        return cls(
            max_attempts=int(config["MULESIGHT_OUTBOX_MAX_ATTEMPTS"]),
            base_delay=timedelta(seconds=float(config["MULESIGHT_OUTBOX_BASE_DELAY_S"])),
            max_delay=timedelta(seconds=float(config["MULESIGHT_OUTBOX_MAX_DELAY_S"])),
            lease=timedelta(seconds=float(config["MULESIGHT_OUTBOX_LEASE_S"])),
        )

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        exponential = self.base_delay * (1 << max(0, attempts - 1))
        capped = min(self.max_delay, exponential)
        return capped * (0.5 + 0.5 * rng.random())


# -- enqueueing -----------------------------------------------------------------------------------


def enqueue(
    session: Session,
    idempotency_key: str,
    *,
    target: str,
    operation: str,
    payload: Mapping[str, Any],
    now: datetime | None = None,
    redacted: bool = False,
    fresh: bool = False,
) -> OutboxMessage:
    """Add a message to the caller's transaction (no commit); an existing key is returned as is.

    The payload is redacted here unless the caller says it is ``redacted`` already (texts it
    passed through :func:`~diagnostics.redaction.redact_text`, renders of a stored report):
    each text is redacted once on its way out, not at every hop. ``fresh``: the caller found no
    stored message under its keys' prefix (:func:`has_messages`), so none is looked up again.

    Two transactions racing on one key: the second fails on the unique index at commit, and its
    caller rolls back — the first one's messages stand.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown outbox operation {operation!r}")
    existing = None if fresh else find_message(session, idempotency_key)
    if existing is not None:
        return existing
    for pending in session.new:  # enqueued earlier in this same transaction
        if isinstance(pending, OutboxMessage) and pending.idempotency_key == idempotency_key:
            return pending
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        target=target,
        operation=operation,
        payload=dict(payload) if redacted else Redactor().redact(dict(payload)),
        status=PENDING,
        attempts=0,
        next_attempt_at=now or utcnow(),
    )
    session.add(message)
    return message


def enqueue_comment(
    session: Session,
    idempotency_key: str,
    *,
    target: str,
    ticket: str,
    body: str,
    public: bool,
    now: datetime | None = None,
    redacted: bool = False,
    fresh: bool = False,
) -> OutboxMessage:
    return enqueue(
        session,
        idempotency_key,
        target=target,
        operation=COMMENT,
        payload={"ticket": ticket, "body": body, "public": public},
        now=now,
        redacted=redacted,
        fresh=fresh,
    )


def enqueue_attachments(
    session: Session,
    idempotency_key: str,
    *,
    target: str,
    ticket: str,
    files: Sequence[Attachment],
    public: bool,
    now: datetime | None = None,
    redacted: bool = False,
    fresh: bool = False,
) -> OutboxMessage:
    """Text files are stored (redacted) as text, anything else base64-encoded."""
    return enqueue(
        session,
        idempotency_key,
        target=target,
        operation=ATTACH,
        payload={"ticket": ticket, "files": [_file_payload(f) for f in files], "public": public},
        now=now,
        redacted=redacted,
        fresh=fresh,
    )


def enqueue_labels(
    session: Session,
    idempotency_key: str,
    *,
    target: str,
    ticket: str,
    labels: Sequence[str],
    now: datetime | None = None,
    fresh: bool = False,
) -> OutboxMessage:
    return enqueue(
        session,
        idempotency_key,
        target=target,
        operation=LABELS,
        payload={"ticket": ticket, "labels": list(labels)},
        now=now,
        fresh=fresh,
    )


def _file_payload(file: Attachment) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": file.name, "content_type": file.content_type}
    try:
        entry["text"] = file.data.decode("utf-8")
    except UnicodeDecodeError:
        entry["base64"] = base64.b64encode(file.data).decode("ascii")
    return entry


def _files(payload: Mapping[str, Any]) -> list[Attachment]:
    files = []
    for entry in payload.get("files") or ():
        if "text" in entry:  # redacted when enqueued
            data = str(entry["text"]).encode("utf-8")
        else:
            data = base64.b64decode(entry.get("base64") or "")
        files.append(Attachment(str(entry["name"]), str(entry["content_type"]), data))
    return files


# -- reading --------------------------------------------------------------------------------------


def has_messages(session: Session, prefix: str) -> bool:
    """Whether a message is stored under an idempotency key starting with ``prefix``."""
    found = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))
        .limit(1)
    )
    return found is not None


def find_message(session: Session, idempotency_key: str) -> OutboxMessage | None:
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    )


def list_messages(
    session: Session, *, status: str | None = None, prefix: str | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """Messages in creation order, optionally of one ``status`` or idempotency-key ``prefix``."""
    query = select(OutboxMessage).order_by(OutboxMessage.id).limit(max(1, limit))
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if prefix is not None:
        query = query.where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))
    return list(session.scalars(query))


# -- delivering -----------------------------------------------------------------------------------


@dataclass
class DispatchReport:
    """What one :meth:`Dispatcher.run_once` did, by idempotency key."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.dead)


def marker(idempotency_key: str) -> str:
    """The reference a message's comment carries, to find it again: ``ms-<16 hex>``."""
    return "ms-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:16]


def marker_line(idempotency_key: str) -> str:
    return f"MuleSight reference: {marker(idempotency_key)}"


def deliver(
    connector: TicketConnector,
    operation: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
) -> Any:
    """Make the one connector call a message stands for; returns what the system answered.

    With an ``idempotency_key`` and a connector that can search for markers, a comment ends with
    the message's :func:`marker_line` and attachments are posted with it as their comment.
    """
    ticket = str(payload["ticket"])
    marked = idempotency_key is not None and isinstance(connector, MarkerSearch)
    if operation == COMMENT:
        body = str(payload["body"])
        if marked:
            body = f"{body}\n\n{marker_line(idempotency_key)}"  # type: ignore[arg-type]  # `marked`: the key is set
        return connector.add_comment(ticket, body, public=bool(payload["public"]))
    if operation == ATTACH:
        files, public = _files(payload), bool(payload["public"])
        if marked:
            return connector.attach(  # type: ignore[call-arg]  # `marked`: a MarkerSearch connector
                ticket,
                files,
                public=public,
                note=marker_line(idempotency_key),  # type: ignore[arg-type]  # `marked`: the key is set
            )
        return connector.attach(ticket, files, public=public)
    if operation == LABELS:
        connector.add_labels(ticket, [str(label) for label in payload["labels"]])
        return None
    raise TicketError(f"unknown outbox operation {operation!r}", retryable=False)


LABELS_PRESENT = "present"


def already_delivered(
    connector: TicketConnector, operation: str, payload: Mapping[str, Any], idempotency_key: str
) -> str | None:
    """For a message in doubt: the id of the comment carrying its marker, or
    :data:`LABELS_PRESENT` when the ticket has the labels already; ``None``: send it.

    A connector that cannot search (the local store writes and marks delivered in one
    transaction) is never in doubt.
    """
    if not isinstance(connector, MarkerSearch):
        return None
    ticket = str(payload["ticket"])
    if operation == LABELS:
        labels = [str(label) for label in payload["labels"]]
        return LABELS_PRESENT if connector.has_labels(ticket, labels) else None
    if operation in (COMMENT, ATTACH):
        return connector.find_marker(ticket, marker(idempotency_key))
    return None


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this run claimed, with all delivery needs (the payload is never rewritten)."""

    id: int
    key: str
    target: str
    operation: str
    payload: Mapping[str, Any]
    in_doubt: bool  # an earlier claim ended without an outcome recorded: look before sending

    @property
    def ticket(self) -> str:
        return str(self.payload.get("ticket"))


@dataclass
class HeldClaim:
    """A dispatcher run's claim: its name, and until when its lease is surely held — set by the
    claim, moved on by each committed renewal. A run starts no call past it: by then another
    worker may have claimed the message."""

    name: str
    until: datetime


@dataclass(frozen=True)
class Sent:
    """A message whose call was made (or found made), not yet marked delivered."""

    message: ClaimedMessage
    result: Any
    at: datetime


_MARK_DELIVERED = (  # run on the connection: one statement for many messages (executemany)
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("message_id"), OutboxMessage.claimed_by == bindparam("claim")
    )
    .values(
        status=DELIVERED,
        delivered_at=bindparam("at"),
        attempts=OutboxMessage.attempts + 1,
        last_error=None,
        claimed_by=None,
        claimed_until=None,
        result=bindparam("outcome"),
    )
)


def _mark(session: Session, sent: Sequence[Sent], claim: str) -> int:
    """Mark ``sent`` delivered where ``claim`` still holds them, in the session's transaction;
    returns how many rows were marked (one message: 0 when the claim was lost)."""
    rows = [
        {
            "message_id": done.message.id,
            "claim": claim,
            "at": done.at,
            "outcome": {"ids": done.result}
            if isinstance(done.result, list)
            else {"id": done.result},
        }
        for done in sent
    ]
    marked: int = session.connection().execute(_MARK_DELIVERED, rows).rowcount
    return marked


def _log_delivered(message: ClaimedMessage) -> None:
    log.info("outbox delivered %s (%s %s)", message.key, message.target, message.operation)


class Dispatcher:
    """Delivers due outbox messages (see the module docstring).

    ``session_factory`` makes a new session per step (e.g. the app's ``sessionmaker``);
    ``connector_factory(session, target)`` gives the connector for a message's target (``None``
    if that target is not configured now: the message waits and counts an attempt).
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        connector_factory: ConnectorFactory,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        worker: str = "worker",
    ) -> None:
        self.session_factory = session_factory
        self.connector_factory = connector_factory
        self.policy = policy or RetryPolicy()
        # Bound now: deliveries run on pool threads, outside the caller's app context.
        self.clock = clock or _app_clock()
        self.rng = rng or random.Random()
        self.worker = worker[:40]

    def run_once(self, *, limit: int = 20, prefix: str | None = None) -> DispatchReport:
        """Claim the due messages (optionally only keys starting with ``prefix``), deliver them.

        The report lists keys in message order, however the calls interleaved.
        """
        held = HeldClaim(f"{self.worker}:{uuid.uuid4().hex[:16]}", self.clock() + self.policy.lease)
        batch = self._claim_batch(held.name, limit, prefix, until=held.until)
        outcomes: dict[int, tuple[str, str]] = {}
        lanes = self._lanes(batch)
        if lanes:
            with Heartbeat.for_lease(
                lambda: self._renew(held), self.policy.lease.total_seconds(), held.name
            ):
                sent: list[Sent] = []
                self._deliver_lanes(lanes, held, outcomes, sent)
                self._mark_delivered(sent, held.name)
            for done in sent:
                outcomes[done.message.id] = ("delivered", done.message.key)
        report = DispatchReport()
        for message_id in sorted(outcomes):
            kind, key = outcomes[message_id]
            getattr(report, kind).append(key)
        return report

    def _deliver_lanes(
        self,
        lanes: list[list[ClaimedMessage]],
        held: HeldClaim,
        outcomes: dict[int, tuple[str, str]],
        sent: list[Sent],
    ) -> None:
        if len(lanes) == 1:
            self._deliver_lane(lanes[0], held, outcomes, sent)
            return
        with ThreadPoolExecutor(min(MAX_LANES, len(lanes)), "outbox") as pool:
            futures = [
                pool.submit(self._deliver_lane, lane, held, outcomes, sent) for lane in lanes
            ]
            for done in futures:
                done.result()

    def _renew(self, held: HeldClaim) -> None:
        """Keep this run's claims while it delivers (a slow call must not let another worker
        take a message this one may be sending); ``held`` learns the new end once committed."""
        until = self.clock() + self.policy.lease
        with self.session_factory() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.claimed_by == held.name, OutboxMessage.status == PENDING)
                .values(claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        held.until = until

    def _lanes(self, batch: list[ClaimedMessage]) -> list[list[ClaimedMessage]]:
        """Independent calls in separate lanes: a ticket's comments in order in one lane, each
        attachment or label call alone; everything in one lane for a connector that is not
        ``concurrent`` (the local store)."""
        lanes: dict[Any, list[ClaimedMessage]] = {}
        for message in batch:
            if not self.concurrent(message.target):
                lane: Any = "serial"
            elif message.operation == COMMENT:
                lane = (message.target, message.ticket, COMMENT)
            else:
                lane = message.id
            lanes.setdefault(lane, []).append(message)
        return list(lanes.values())

    def concurrent(self, target: str) -> bool:
        return bool(getattr(self.connector_factory, "concurrent", lambda _t: False)(target))

    def _deliver_lane(
        self,
        lane: list[ClaimedMessage],
        held: HeldClaim,
        outcomes: dict[int, tuple[str, str]],
        sent: list[Sent],
    ) -> None:
        for message in lane:
            report = DispatchReport()
            self._deliver_one(message, held, report, sent)
            for kind in ("delivered", "retrying", "dead"):
                for key in getattr(report, kind):
                    outcomes[message.id] = (kind, key)

    def _claim(self, claim: str, limit: int, prefix: str | None) -> list[int]:
        return [message.id for message in self._claim_batch(claim, limit, prefix)]

    def _claim_batch(
        self, claim: str, limit: int, prefix: str | None, *, until: datetime | None = None
    ) -> list[ClaimedMessage]:
        """Claim due messages until ``until`` (default: a lease from now), in message order,
        read once with all their delivery needs.

        In doubt: an earlier claim ended without an outcome recorded (its worker died, or its
        call got no answer).
        """
        now = self.clock()
        claimable = (
            OutboxMessage.status == PENDING,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        with self.session_factory() as session:
            due = (
                select(
                    OutboxMessage.id,
                    OutboxMessage.idempotency_key,
                    OutboxMessage.claimed_by,
                    OutboxMessage.target,
                    OutboxMessage.operation,
                    OutboxMessage.payload,
                )
                .where(*claimable, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id)
                .limit(max(1, limit))
            )
            if prefix is not None:
                due = due.where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            candidates = {row.id: row for row in session.execute(due)}
            if not candidates:
                session.commit()
                return []
            # The rows are locked (PostgreSQL) and the guard is checked again (SQLite): what the
            # UPDATE returns is exactly what this claim owns.
            claimed = session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(candidates), *claimable)
                .values(claimed_by=claim, claimed_until=until or now + self.policy.lease)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            ).all()
            session.commit()
            return [
                ClaimedMessage(
                    id=row.id,
                    key=row.idempotency_key,
                    target=row.target,
                    operation=row.operation,
                    payload=dict(row.payload or {}),
                    in_doubt=row.claimed_by is not None,
                )
                for row in (candidates[mid] for mid in sorted(claimed))
            ]

    def _deliver_one(
        self, message: ClaimedMessage, held: HeldClaim, report: DispatchReport, sent: list[Sent]
    ) -> None:
        """Make the message's call (or find it made, when in doubt).

        No database work comes before the call, and none is held open during it. A write to a
        system that can find it again by its marker (:class:`~app.tickets.MarkerSearch`,
        Service Management) joins ``sent``, marked with the rest of the run: a crash before
        that leaves it in doubt, and whoever tries next finds the marker instead of sending it
        again. Any other write (the local store's) commits with its mark, or not at all.
        """
        key, target, operation = message.key, message.target, message.operation
        if self.clock() >= held.until:  # the lease may have run out: another worker may send
            return
        with self.session_factory() as session:  # opens a transaction only if the write needs one
            try:
                connector = self.connector_factory(session, target)
                if connector is None:
                    raise TicketError(f"no ticket system configured for {target!r}", retryable=True)
                found = (
                    already_delivered(connector, operation, message.payload, key)
                    if message.in_doubt
                    else None
                )
                if found is not None:
                    log.info("outbox %s was delivered by an earlier try (marker found)", key)
                    result: Any = found
                else:
                    result = deliver(connector, operation, message.payload, idempotency_key=key)
            except TicketError as exc:
                session.rollback()
                doubt = held.name if exc.outcome_unknown else None
                self._failed(session, message.id, exc.message, exc.retryable, report, doubt)
                return
            except Exception as exc:  # a bug or an unexpected library error: try again later
                log.exception("outbox delivery of %s crashed", key)
                session.rollback()
                self._failed(session, message.id, type(exc).__name__, True, report)
                return
            done = Sent(message, result, self.clock())
            if isinstance(connector, MarkerSearch):  # found again if the mark never comes
                sent.append(done)
                return
            if _mark(session, [done], held.name) == 0:  # the claim was lost: undo the write
                session.rollback()
                return
            session.commit()
        report.delivered.append(key)
        _log_delivered(message)

    def _mark_delivered(self, sent: list[Sent], claim: str) -> None:
        """Record what this run delivered, in one transaction."""
        if not sent:
            return
        with self.session_factory() as session:
            _mark(session, sent, claim)
            session.commit()
        for done in sent:
            _log_delivered(done.message)

    def _failed(
        self,
        session: Session,
        message_id: int,
        error: str,
        retryable: bool,
        report: DispatchReport,
        doubt: str | None = None,
    ) -> None:
        """Count a failed try. ``doubt``: the call may have been done (no answer came) — the
        claim's name stays on the message, so the next try looks before sending, as after a
        crash."""
        message = session.get(OutboxMessage, message_id)
        if message is None:
            return
        message.attempts += 1
        message.last_error = redact_text(error)[:ERROR_LIMIT]
        message.claimed_by, message.claimed_until = doubt, None
        if retryable and message.attempts < self.policy.max_attempts:
            wait = self.policy.delay(message.attempts, self.rng)
            message.next_attempt_at = self.clock() + wait
            report.retrying.append(message.idempotency_key)
            log.warning(
                "outbox %s failed (attempt %d), retrying in %.0f s: %s",
                message.idempotency_key,
                message.attempts,
                wait.total_seconds(),
                message.last_error,
            )
        else:
            message.status = DEAD
            report.dead.append(message.idempotency_key)
            log.error(
                "outbox %s gave up after %d attempt(s): %s",
                message.idempotency_key,
                message.attempts,
                message.last_error,
            )
        session.commit()


__all__ = [
    "ATTACH",
    "COMMENT",
    "DEAD",
    "DELIVERED",
    "LABELS",
    "LABELS_PRESENT",
    "PENDING",
    "DispatchReport",
    "Dispatcher",
    "RetryPolicy",
    "already_delivered",
    "deliver",
    "enqueue",
    "enqueue_attachments",
    "enqueue_comment",
    "enqueue_labels",
    "find_message",
    "has_messages",
    "list_messages",
    "marker",
    "marker_line",
]
