"""Stored diagnostics runs, and the support look-ups of sites (installations) around them.

Tenant-scoped functions take the tenant's ``installation_id`` and answer :class:`NotFound` for a
run of another tenant, with a message that names only what the caller sent. Functions named
``*_any_site`` are for support routes (every tenant, audited by the caller).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from app import storage
from app.models import DiagnosticRun, Installation, Space

MAX_LIMIT = 100


@dataclass(frozen=True)
class RunRow:
    """One line of a run listing (the report itself is not loaded)."""

    id: str
    installation_id: str
    space_key: str | None
    verdict: str
    requested_by: str
    created_at: datetime


def add_run(session: Session, run: DiagnosticRun) -> DiagnosticRun:
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, installation_id: str, run_id: str) -> DiagnosticRun:
    """The tenant's run ``run_id``; :class:`NotFound` if this tenant has none by that id."""
    run = session.scalar(
        select(DiagnosticRun).where(
            DiagnosticRun.id == run_id, DiagnosticRun.installation_id == installation_id
        )
    )
    if run is None:
        raise storage.NotFound("No such diagnostics run on this site.")
    return run


def get_run_any_site(session: Session, run_id: str) -> DiagnosticRun:
    run = session.get(DiagnosticRun, run_id)
    if run is None:
        raise storage.NotFound("No such diagnostics run.")
    return run


def _rows(
    query: Select[*tuple[Any, ...]], space_key: str | None, limit: int
) -> Select[*tuple[Any, ...]]:
    query = query.outerjoin(Space, Space.id == DiagnosticRun.space_id)
    if space_key is not None:
        query = query.where(Space.key == space_key)
    return query.order_by(DiagnosticRun.created_at.desc(), DiagnosticRun.id).limit(
        max(1, min(limit, MAX_LIMIT))
    )


_ROW_COLUMNS = (
    DiagnosticRun.id,
    DiagnosticRun.installation_id,
    Space.key,
    DiagnosticRun.verdict,
    DiagnosticRun.requested_by,
    DiagnosticRun.created_at,
)


def list_runs(
    session: Session,
    installation_id: str,
    *,
    space_key: str | None = None,
    limit: int = 20,
    requested_by_prefix: str | None = None,
) -> list[RunRow]:
    """The tenant's latest runs, newest first (of one space, of one kind of requester, if given)."""
    query = select(*_ROW_COLUMNS).where(DiagnosticRun.installation_id == installation_id)
    if requested_by_prefix is not None:
        query = query.where(DiagnosticRun.requested_by.startswith(requested_by_prefix))
    return [RunRow(*row) for row in session.execute(_rows(query, space_key, limit))]


def list_runs_any_site(
    session: Session,
    *,
    installation_ids: Sequence[str] | None = None,
    space_key: str | None = None,
    limit: int = 20,
) -> list[RunRow]:
    """The latest runs of every site (or of ``installation_ids``), newest first."""
    query = select(*_ROW_COLUMNS)
    if installation_ids is not None:
        query = query.where(DiagnosticRun.installation_id.in_(installation_ids))
    return [RunRow(*row) for row in session.execute(_rows(query, space_key, limit))]


def previous_run(session: Session, run: DiagnosticRun) -> DiagnosticRun | None:
    """The latest run of the same tenant and space that is older than ``run``."""
    if run.space_id is None:
        same_space: ColumnElement[bool] = DiagnosticRun.space_id.is_(None)
    else:
        same_space = DiagnosticRun.space_id == run.space_id
    return session.scalar(
        select(DiagnosticRun)
        .where(
            DiagnosticRun.installation_id == run.installation_id,
            same_space,
            DiagnosticRun.created_at < run.created_at,
        )
        .order_by(DiagnosticRun.created_at.desc())
        .limit(1)
    )


# -- support look-ups of sites ---------------------------------------------------------------------


def path_key(installation_id: str) -> str:
    """The URL-path-safe name of an installation: its ARI's last segment (ARIs contain ``/``)."""
    return installation_id.rsplit("/", 1)[-1]


def resolve_installation(session: Session, ref: str) -> Installation:
    """The installation named by its id or its :func:`path_key`; :class:`NotFound` otherwise."""
    installation = session.get(Installation, ref)
    if installation is None and ref and "/" not in ref:
        matches = list(
            session.scalars(
                select(Installation).where(Installation.id.endswith(f"/{ref}", autoescape=True))
            )
        )
        installation = matches[0] if len(matches) == 1 else None
    if installation is None:
        raise storage.NotFound(f"No installation {ref!r}.")
    return installation


def installations_matching(session: Session, site: str) -> list[Installation]:
    """Installations whose id, path key, cloud id or site URL is exactly ``site``."""
    url = site.rstrip("/")
    return list(
        session.scalars(
            select(Installation)
            .where(
                or_(
                    Installation.id == site,
                    Installation.id.endswith(f"/{site}", autoescape=True),
                    Installation.cloud_id == site,
                    Installation.site_url.in_([url, f"{url}/"]),
                )
            )
            .order_by(Installation.id)
        )
    )


@dataclass(frozen=True)
class FoundSite:
    """A site a search found: its spaces (all of them, or those that matched) and their latest runs."""

    installation: Installation
    spaces: list[Space]
    latest: dict[str, tuple[str, datetime]]  # space key -> (verdict, created_at) of its latest run


def search_sites(session: Session, q: str | None, limit: int = 50) -> list[FoundSite]:
    """Sites matching ``q`` (all if empty), in one query; the support API and the console share it.

    A site matches when its URL, cloud id or installation id contains ``q`` (case-insensitive):
    it comes with all its spaces. Otherwise it matches through its spaces whose key or Anypoint
    organization id contains ``q`` — or the organization id or name its latest report names — and
    comes with those spaces only. At most ``limit`` sites, by site URL.
    """
    latest_run = (
        select(DiagnosticRun.id)
        .where(DiagnosticRun.space_id == Space.id)
        .order_by(DiagnosticRun.created_at.desc(), DiagnosticRun.id)
        .limit(1)
        .correlate(Space)
        .scalar_subquery()
    )

    def joined(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        query = query.outerjoin(Space, Space.installation_id == Installation.id).outerjoin(
            DiagnosticRun, DiagnosticRun.id == latest_run
        )
        if not q:
            return query
        return query.where(
            or_(
                *(
                    column.icontains(q, autoescape=True)
                    for column in (
                        Installation.site_url,
                        Installation.cloud_id,
                        Installation.id,
                        Space.key,
                        Space.organization_id,
                        DiagnosticRun.report["organization_id"].as_string(),
                        DiagnosticRun.report["organization_name"].as_string(),
                    )
                )
            )
        )

    found = (
        joined(select(Installation.id, Installation.site_url))
        .distinct()
        .order_by(Installation.site_url, Installation.id)
        .limit(max(1, min(limit, MAX_LIMIT)))
    )
    rows = session.execute(
        joined(select(Installation, Space, DiagnosticRun.verdict, DiagnosticRun.created_at))
        .where(Installation.id.in_(select(found.subquery().c.id)))
        .order_by(Installation.site_url, Installation.id, Space.key)
    )
    sites: dict[str, FoundSite] = {}
    for installation, space, verdict, created_at in rows:
        site = sites.setdefault(installation.id, FoundSite(installation, [], {}))
        if space is not None:
            site.spaces.append(space)
            if verdict is not None:
                site.latest[space.key] = (verdict, created_at)
    return list(sites.values())
