"""Ticket back ends behind one interface: Service Management (:mod:`app.tickets.jsm`) or the local
ticket store."""

from app.tickets.base import (
    Attachment,
    MarkerSearch,
    TicketConnector,
    TicketData,
    TicketError,
    is_retryable_status,
)

__all__ = [
    "Attachment",
    "MarkerSearch",
    "TicketConnector",
    "TicketData",
    "TicketError",
    "is_retryable_status",
]
