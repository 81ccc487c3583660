"""The audit log: every support read of a tenant's data, and every change of access."""

from __future__ import annotations

import logging

from flask import g
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_session
from app.models import AuditLog

log = logging.getLogger(__name__)


def audit(
    actor: str,
    action: str,
    installation: str | None = None,
    space_key: str | None = None,
    target: str | None = None,
    *,
    session: Session | None = None,
) -> AuditLog:
    """Record one entry (committed with the request or command's unit of work): ``audit(g.support.actor, "run.read", inst, "OPS", run_id)``.

    ``session`` defaults to the request's session; pass one outside a request (CLI).
    """
    session = session or get_session()
    entry = AuditLog(
        actor=actor, action=action, installation_id=installation, space_key=space_key, target=target
    )
    session.add(entry)
    session.flush()
    log.info(
        "audit %s %s",
        actor,
        action,
        extra={"installation_id": installation, "space_key": space_key, "target": target},
    )
    return entry


def current_actor() -> str | None:
    """The actor of the current request: ``forge:<accountId>`` or ``support:<name>``."""
    for principal in (g.get("support"), g.get("tenant")):
        if principal is not None:
            return str(principal.actor)
    return None


def audit_entries(
    session: Session, installation: str | None = None, limit: int = 100
) -> list[AuditLog]:
    """The latest entries, newest first (of one installation if given)."""
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    if installation is not None:
        query = query.where(AuditLog.installation_id == installation)
    return list(session.scalars(query))
