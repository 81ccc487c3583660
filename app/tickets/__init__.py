"""Tickets, in one package.

- :mod:`~app.tickets.base`: the connector interface (:class:`TicketConnector`) and its data;
- :mod:`~app.tickets.jsm`: Service Management; :mod:`~app.tickets.store`: the local ticket store;
  :mod:`~app.tickets.connectors`: which of the two the service writes to, and the dispatch;
- :mod:`~app.tickets.markup`: Markdown → Jira comment body (ADF → text is the engine's);
- enrichment of a new ticket in three steps: :mod:`~app.tickets.reading` (the ticket and what
  it names), :mod:`~app.tickets.compose` (the comments, pure functions),
  :mod:`~app.tickets.enqueue` (the outbox messages), run by :mod:`~app.tickets.enrichment`.

What a ticket's text says in detail is the engine's reading (:mod:`diagnostics.tickets`).
"""

from app.tickets.base import (
    Attachment,
    MarkerSearch,
    TicketConnector,
    TicketData,
    TicketError,
)

__all__ = [
    "Attachment",
    "MarkerSearch",
    "TicketConnector",
    "TicketData",
    "TicketError",
]
