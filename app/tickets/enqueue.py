"""Enqueueing what enrichment composed: each comment, the report files and the labels become
one outbox message under an idempotency key, in the caller's transaction (the dispatcher
delivers them). :class:`Enrichment` records what was enqueued."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.models import DiagnosticRun
from app.services import outbox
from app.services.runs import render_stored
from app.tickets.base import Attachment


@dataclass
class Enrichment:
    """What :func:`enrich_ticket` found and enqueued (idempotency keys in ``messages``)."""

    ticket: str
    target: str
    site_url: str | None
    installation_id: str | None = None
    run_ids: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    severity: str | None = None
    security_impacting: bool = False
    missing: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    fresh: bool = field(default=False, repr=False)  # no message stored under this ref yet


def report_files(runs: Sequence[DiagnosticRun]) -> list[Attachment]:
    """``report.json`` and ``report.md`` (one pair per space when there are several): renders of
    the stored, redacted reports as they are (:func:`~app.services.runs.render_stored`)."""
    files = []
    for run in runs:
        suffix = f"-{run.report.get('space_key')}" if len(runs) > 1 else ""
        json_text, markdown = render_stored(run, "json"), render_stored(run, "markdown")
        files.append(Attachment(f"report{suffix}.json", "application/json", json_text.encode()))
        files.append(Attachment(f"report{suffix}.md", "text/markdown", markdown.encode()))
    return files


def comment(
    session: Session, result: Enrichment, key: str, body: str, *, public: bool, now: datetime
) -> None:
    # every body here went through redact_text
    _enqueue(
        session,
        result,
        key,
        outbox.enqueue_comment,
        body=body,
        public=public,
        now=now,
        redacted=True,
    )


def attach(
    session: Session, result: Enrichment, key: str, files: list[Attachment], *, now: datetime
) -> None:
    # renders of stored reports, redacted when they were stored
    _enqueue(
        session,
        result,
        key,
        outbox.enqueue_attachments,
        files=files,
        public=False,
        now=now,
        redacted=True,
    )


def labels(
    session: Session, result: Enrichment, key: str, labels: list[str], *, now: datetime
) -> None:
    _enqueue(session, result, key, outbox.enqueue_labels, labels=labels, now=now)


def _enqueue(
    session: Session,
    result: Enrichment,
    key: str,
    enqueue: Callable[..., object],
    **fields: Any,
) -> None:
    """Queue one message to ``result``'s ticket and record its key."""
    enqueue(session, key, target=result.target, ticket=result.ticket, fresh=result.fresh, **fields)
    result.messages.append(key)


__all__ = ["Enrichment", "attach", "comment", "labels", "report_files"]
