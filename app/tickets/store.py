"""The local ticket store: tickets in the service's own database, used when Service Management is
not configured (and by the support console).

:class:`LocalTicketStore` implements :class:`~app.tickets.TicketConnector` on the ``tickets``,
``ticket_comments`` and ``ticket_attachments`` tables; keys read ``MSUP-<n>``. Every body written
passes through the redaction module first. The browse functions (:func:`list_tickets`,
:func:`ticket_detail`, :func:`create_ticket`) serve the support routes.

The store writes through the session it is given and never commits: the caller's unit of work
does (:mod:`app.unit_of_work`) — for the outbox dispatcher, the write together with the
message's "delivered" mark.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import storage
from app.models import Ticket, TicketAttachment, TicketComment
from app.tickets import Attachment, TicketData, TicketError
from diagnostics.redaction import Redactor, redact_text

KEY_PREFIX = "MSUP"
DEFAULT_AUTHOR = "MuleSight"
MAX_LIMIT = 200
_TEXT_TYPES = ("application/json", "application/xml", "application/yaml")


@dataclass(frozen=True)
class CommentView:
    id: int
    author: str
    body: str
    public: bool
    created_at: datetime


@dataclass(frozen=True)
class AttachmentView:
    """An attachment's metadata (not its content)."""

    id: int
    name: str
    content_type: str
    size: int
    public: bool
    created_at: datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket with its comments and attachments' metadata, oldest first."""

    ticket: Ticket
    comments: list[CommentView]
    attachments: list[AttachmentView]


def ticket_key(number: int) -> str:
    return f"{KEY_PREFIX}-{number}"


def create_ticket(
    session: Session,
    *,
    summary: str,
    description: str | None = None,
    site_url: str | None = None,
    severity: str | None = None,
    fields: Mapping[str, Any] | None = None,
    installation_id: str | None = None,
) -> Ticket:
    """A new local ticket; its key (``MSUP-<id>``) comes from the row id, so it never collides.

    Summary, description and fields are redacted before they are stored; the caller commits.
    """
    redactor = Redactor()
    ticket = Ticket(
        key=f"new-{uuid.uuid4().hex[:24]}",
        summary=redactor.redact_text(summary)[:255],
        description=redactor.redact_text(description) if description else None,
        site_url=site_url,
        severity=severity,
        fields=redactor.redact(dict(fields or {})),
        installation_id=installation_id,
        labels=[],
    )
    session.add(ticket)
    session.flush()
    ticket.key = ticket_key(ticket.id)
    session.flush()
    return ticket


def find_ticket(session: Session, key: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.key == key))


def get_ticket(session: Session, key: str) -> Ticket:
    """The local ticket ``key``; :class:`~app.storage.NotFound` if there is none."""
    ticket = find_ticket(session, key)
    if ticket is None:
        raise storage.NotFound(f"No ticket {key!r} in the local ticket store.")
    return ticket


def list_tickets(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[Ticket]:
    """Local tickets, newest first."""
    query = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if status is not None:
        query = query.where(Ticket.status == status)
    query = query.limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))
    return list(session.scalars(query))


def ticket_detail(session: Session, key: str) -> TicketView:
    """The ticket with its comments and attachment metadata; :class:`NotFound` if unknown."""
    ticket = get_ticket(session, key)
    comments = session.scalars(
        select(TicketComment)
        .where(TicketComment.ticket_id == ticket.id)
        .order_by(TicketComment.created_at, TicketComment.id)
    )
    size = func.coalesce(
        func.length(TicketAttachment.body_bytes), func.length(TicketAttachment.body_text), 0
    )
    attachments = session.execute(
        select(TicketAttachment, size)
        .where(TicketAttachment.ticket_id == ticket.id)
        .order_by(TicketAttachment.created_at, TicketAttachment.id)
    )
    return TicketView(
        ticket=ticket,
        comments=[CommentView(c.id, c.author, c.body, c.public, c.created_at) for c in comments],
        attachments=[
            AttachmentView(a.id, a.name, a.content_type, int(n or 0), a.public, a.created_at)
            for a, n in attachments
        ],
    )


def attachment_content(session: Session, key: str, attachment_id: int) -> Attachment:
    """One attachment's content; :class:`NotFound` unless it belongs to ticket ``key``."""
    ticket = get_ticket(session, key)
    row = session.get(TicketAttachment, attachment_id)
    if row is None or row.ticket_id != ticket.id:
        raise storage.NotFound(f"No attachment {attachment_id} on ticket {key!r}.")
    data = row.body_bytes if row.body_bytes is not None else (row.body_text or "").encode()
    return Attachment(row.name, row.content_type, data)


def _is_text(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_TYPES or base.endswith("+json")


class LocalTicketStore:
    """A :class:`~app.tickets.TicketConnector` on the local ticket tables."""

    def __init__(self, session: Session, *, author: str = DEFAULT_AUTHOR) -> None:
        self.session = session
        self.author = author

    def __repr__(self) -> str:
        return "LocalTicketStore()"

    def _ticket(self, key: str) -> Ticket:
        ticket = find_ticket(self.session, key)
        if ticket is None:
            raise TicketError(
                f"No ticket {key!r} in the local ticket store", retryable=False, status=404
            )
        return ticket

    def _done(self) -> None:
        self.session.flush()  # ids are set; the caller's unit of work commits

    # --- TicketConnector ---

    def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
        ticket = self._ticket(key)
        comment = TicketComment(
            ticket_id=ticket.id,
            author=self.author,
            body=redact_text(body_markdown),
            public=public,
        )
        self.session.add(comment)
        self._done()
        return str(comment.id)

    def attach(self, key: str, files: Sequence[Attachment], *, public: bool) -> list[str]:
        """Text files (``text/*``, JSON, ...) are stored redacted as text; others as bytes."""
        ticket = self._ticket(key)
        rows = []
        for file in files:
            row = TicketAttachment(
                ticket_id=ticket.id, name=file.name, content_type=file.content_type, public=public
            )
            if _is_text(file.content_type):
                row.body_text = redact_text(file.data.decode("utf-8", errors="replace"))
            else:
                row.body_bytes = file.data
            rows.append(row)
        self.session.add_all(rows)
        self._done()
        return [str(row.id) for row in rows]

    def add_labels(self, key: str, labels: Sequence[str]) -> None:
        ticket = self._ticket(key)
        merged = list(ticket.labels or [])
        merged += [label for label in dict.fromkeys(labels) if label not in merged]
        ticket.labels = merged
        self._done()

    def get_ticket(self, key: str) -> TicketData:
        ticket = self._ticket(key)
        return TicketData(
            key=ticket.key,
            summary=ticket.summary,
            description=ticket.description or "",
            fields={**(ticket.fields or {}), "created": ticket.created_at.isoformat()},
            site_url=ticket.site_url,
        )


__all__ = [
    "KEY_PREFIX",
    "AttachmentView",
    "CommentView",
    "LocalTicketStore",
    "TicketView",
    "attachment_content",
    "create_ticket",
    "find_ticket",
    "get_ticket",
    "list_tickets",
    "ticket_detail",
    "ticket_key",
]


def ticket_severity(ticket: Ticket) -> tuple[str | None, str]:
    """A ticket's severity and where it came from: set on the ticket, else the one diagnostics
    suggested (its ``mulesight-sev-N`` label), else ``(None, "none")``."""
    if ticket.severity:
        return ticket.severity, "ticket"
    suggested = [lb for lb in ticket.labels or [] if str(lb).startswith("mulesight-sev-")]
    if suggested:
        return f"Sev {suggested[-1].rsplit('-', 1)[-1]}", "suggested"
    return None, "none"
