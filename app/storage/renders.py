"""Render telemetry reported by the macros."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import storage
from app.models import RenderEvent, Space
from diagnostics import model
from diagnostics.redaction import Redactor


def record_renders(
    session: Session, installation_id: str, events: Iterable[Mapping[str, Any]]
) -> int:
    """Store render events (dicts with ``space_key``, ``macro``, ``mode``, ``page_id``, ``status``,
    ``error``, ``at``) of the tenant's spaces; :class:`~app.storage.NotFound` names the first
    unknown space and stores nothing. Error texts are redacted before they are stored.
    """
    events = list(events)
    keys = {e["space_key"] for e in events}
    space_ids: dict[str, int] = {
        key: space_id
        for key, space_id in session.execute(
            select(Space.key, Space.id).where(
                Space.installation_id == installation_id, Space.key.in_(keys)
            )
        )
    }
    missing = sorted(keys - space_ids.keys())
    if missing:
        raise storage.NotFound(f"No MuleSight connection for space {missing[0]!r} on this site.")
    redactor = Redactor()
    session.add_all(
        RenderEvent(
            space_id=space_ids[e["space_key"]],
            macro=e["macro"],
            mode=e.get("mode"),
            page_id=e.get("page_id"),
            status=e["status"],
            error=redactor.redact_text(e["error"]) if e.get("error") else None,
            at=e["at"],
        )
        for e in events
    )
    return len(events)


def recent_renders(
    session: Session, space: Space, limit: int = 500
) -> tuple[model.RenderEvent, ...]:
    """The space's latest render events, newest first, as the engine's value type."""
    rows = session.scalars(
        select(RenderEvent)
        .where(RenderEvent.space_id == space.id)
        .order_by(RenderEvent.at.desc(), RenderEvent.id.desc())
        .limit(limit)
    )
    return tuple(
        model.RenderEvent(
            macro=r.macro,
            page_id=r.page_id or "",
            status=r.status,
            at=r.at,
            mode=r.mode,
            space_key=space.key,
            error=r.error,
        )
        for r in rows
    )
