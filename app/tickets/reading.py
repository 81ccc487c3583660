"""Reading a ticket: the ticket to enrich (:class:`TicketInput`) from a Service Management
webhook body or a connector's :class:`~app.tickets.base.TicketData`, and what its text names
(site URL, space keys, secrets). What the ticket says in detail is the engine's reading
(:func:`diagnostics.tickets.read_ticket`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app import clock
from app.tickets.base import TicketData
from diagnostics.tickets import TicketDocument, TicketReading

ISSUE_CREATED = "jira:issue_created"
_MARKER = re.compile(r"\[REDACTED:([a-z_]+)\]")
_SPACE_PATTERNS = (
    re.compile(r"/wiki/spaces/(~?[A-Za-z0-9_]+)"),
    re.compile(r"/display/(~?[A-Za-z0-9_]+)"),
    re.compile(r"\bspace(?:\s+key)?\s*[:=]\s*[\"'`]?(~?[A-Za-z0-9_]+)", re.IGNORECASE),
    re.compile(r"\bspace\s+[\"'`]?([A-Z][A-Z0-9_]+)\b"),
    re.compile(r"\b([A-Z][A-Z0-9_]+)[\"'`]?\s+space\b"),
)


@dataclass(frozen=True)
class TicketInput:
    """A ticket to enrich: ``document`` is what :func:`read_ticket` reads."""

    key: str
    document: Mapping[str, Any]
    opened_at: datetime
    site_url: str | None = None


def is_issue_created(payload: Any) -> bool:
    """A Service Management ``jira:issue_created`` webhook body (the fields we rely on)."""
    if not isinstance(payload, Mapping) or payload.get("webhookEvent") != ISSUE_CREATED:
        return False
    issue = payload.get("issue")
    return (
        isinstance(issue, Mapping)
        and isinstance(issue.get("key"), str)
        and bool(issue["key"].strip())
        and isinstance(issue.get("fields"), Mapping)
    )


def ticket_from_webhook(payload: Mapping[str, Any], now: datetime | None = None) -> TicketInput:
    issue = payload["issue"]
    opened = _parse_time(issue["fields"].get("created")) or _epoch_ms(payload.get("timestamp"))
    return TicketInput(str(issue["key"]), payload, opened or now or clock.now())


def ticket_from_data(data: TicketData, now: datetime | None = None) -> TicketInput:
    fields = {**data.fields, "summary": data.summary, "description": data.description}
    opened = _parse_time(data.fields.get("created"))
    return TicketInput(
        data.key, {"key": data.key, "fields": fields}, opened or now or clock.now(), data.site_url
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def normalize_site_url(url: str | None) -> str | None:
    """``https://acme.atlassian.net`` from ``acme.atlassian.net``, ``https://ACME.atlassian.net/wiki/``…"""
    if not url or not url.strip():
        return None
    text = url.strip()
    host = (urlsplit(text if "//" in text else f"//{text}").hostname or "").lower().rstrip(".")
    return f"https://{host}" if host else None


def space_keys_in(text: str) -> list[str]:
    """Space keys a ticket names (``/wiki/spaces/OPS``, ``space: OPS``, ``the OPS space``)."""
    found: list[str] = []
    for pattern in _SPACE_PATTERNS:
        for match in pattern.finditer(text):
            if match.group(1) not in found:
                found.append(match.group(1))
    return found


def security_kinds(document: TicketDocument, reading: TicketReading) -> list[str]:
    """Kinds of secret in the ticket: found by the reading, or already redacted before storage."""
    kinds = [s["kind"] for s in reading.sensitive]
    kinds += _MARKER.findall(document.everything)
    return list(dict.fromkeys(kinds))


__all__ = [
    "ISSUE_CREATED",
    "TicketInput",
    "is_issue_created",
    "normalize_site_url",
    "security_kinds",
    "space_keys_in",
    "ticket_from_data",
    "ticket_from_webhook",
]
