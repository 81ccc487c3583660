"""The one small interface every ticket back end implements (Service Management, the local store).

Connectors make exactly one attempt per call and report failures as :class:`TicketError` (the
engine's, :mod:`diagnostics.errors`: one ticket error for reading and writing); the outbox decides
whether and when to try again, from ``retryable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from diagnostics.errors import TicketError


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class TicketData:
    """What the diagnostics need from a ticket.

    ``fields`` holds the back end's raw fields; ``site_url`` is the customer's Atlassian site the
    ticket is about when the back end records it (the local store does; for Service Management the
    caller reads it from ``fields``/``description``).
    """

    key: str
    summary: str
    description: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    site_url: str | None = None


@runtime_checkable
class TicketConnector(Protocol):
    """Comments, attachments and labels on a ticket, plus reading it.

    ``public=False`` means internal (agents only). Every method raises :class:`TicketError`.
    """

    def add_comment(self, key: str, body_markdown: str, *, public: bool) -> str:
        """Add a comment; returns its id."""
        ...

    def attach(self, key: str, files: Sequence[Attachment], *, public: bool) -> list[str]:
        """Attach files; returns the new attachments' ids."""
        ...

    def add_labels(self, key: str, labels: Sequence[str]) -> None:
        """Add labels, keeping the ticket's existing ones."""
        ...

    def get_ticket(self, key: str) -> TicketData: ...


@runtime_checkable
class MarkerSearch(Protocol):
    """A connector that can find its own earlier writes on a ticket (see the outbox).

    Used when an earlier try's outcome is unknown, for systems with no idempotency key of their
    own: look for the write before sending it again.
    """

    def find_marker(self, key: str, marker: str) -> str | None:
        """The id of a comment on ticket ``key`` whose body contains ``marker``, else ``None``."""
        ...

    def has_labels(self, key: str, labels: Sequence[str]) -> bool:
        """Whether ticket ``key`` carries every one of ``labels`` already."""
        ...


__all__ = ["Attachment", "MarkerSearch", "TicketConnector", "TicketData", "TicketError"]
