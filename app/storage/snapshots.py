"""Dataset snapshots: the cache of one dataset for one space × environment (``None``: org level).

A row keeps the last good data: ``fetched_at`` / ``payload`` / ``item_count`` change only on a
successful fetch; a failed attempt sets ``last_attempt_at``, ``last_error`` and ``coverage`` and
keeps the rest (the stale fallback). ``last_error`` reads ``"<outcome>: <message>"`` (a probe
outcome of report.md, then the client's message, which never carries a secret).

Writes are upserts on the (space, dataset, environment) index, safe against a concurrent refresh;
they do not commit — the refresh job that calls them commits once. Reads never commit.

Scheduling helpers (which spaces are due for the hourly scheduled refresh, and claiming one) live
here too: they read and write ``Space.last_refresh_scheduled_at`` only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import DatasetSnapshot, Space
from diagnostics.coverage import combine_derived
from diagnostics.model import CacheEntry

# Grace for the hourly trigger's jitter: a 24 h space refreshed at 09:00:05 is due at 09:00:01.
DUE_TOLERANCE = timedelta(minutes=5)
_ENV_KEY = func.coalesce(DatasetSnapshot.environment_id, literal_column("''"))
# An expression index: SQLAlchemy takes one at run time although its stub names only columns.
_CONFLICT_TARGET: list[Any] = [DatasetSnapshot.space_id, DatasetSnapshot.dataset, _ENV_KEY]


# -- writes ----------------------------------------------------------------------------------------


def store_success(
    session: Session,
    space_id: int,
    dataset: str,
    environment_id: str | None,
    *,
    at: datetime,
    payload: dict[str, Any],
    item_count: int,
    coverage: str,
    asset_version: str | None = None,
) -> None:
    """Record a successful fetch: new data, ``fetched_at = at``, no error."""
    values = {
        "fetched_at": at,
        "last_attempt_at": at,
        "last_error": None,
        "coverage": coverage,
        "item_count": item_count,
        "payload": payload,
        "asset_version": asset_version,
    }
    _upsert(session, space_id, dataset, environment_id, values)


_WRITTEN_ON_SUCCESS = (
    "fetched_at",
    "last_attempt_at",
    "last_error",
    "coverage",
    "item_count",
    "payload",
    "asset_version",
)


@dataclass(frozen=True)
class Fetched:
    """One successful fetch for :func:`store_successes`."""

    dataset: str
    environment_id: str | None
    payload: dict[str, Any]
    item_count: int
    coverage: str


def store_successes(
    session: Session, space_id: int, fetched: Collection[Fetched], *, at: datetime
) -> None:
    """Record many successful fetches in one statement (a refresh's environments, in batches):
    like :func:`store_success` for each, at a fraction of the cost per row."""
    if not fetched:
        return
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        for f in fetched:
            store_success(
                session,
                space_id,
                f.dataset,
                f.environment_id,
                at=at,
                payload=f.payload,
                item_count=f.item_count,
                coverage=f.coverage,
            )
        return
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(cast(Table, DatasetSnapshot.__table__))  # a declarative model's is a Table
    statement = statement.on_conflict_do_update(
        index_elements=_CONFLICT_TARGET,
        set_={name: statement.excluded[name] for name in _WRITTEN_ON_SUCCESS},
    )
    rows = [
        {
            "space_id": space_id,
            "dataset": f.dataset,
            "environment_id": f.environment_id,
            "fetched_at": at,
            "last_attempt_at": at,
            "last_error": None,
            "coverage": f.coverage,
            "item_count": f.item_count,
            "payload": f.payload,
            "asset_version": None,
        }
        for f in fetched
    ]
    session.execute(statement, rows)


def store_failure(
    session: Session,
    space_id: int,
    dataset: str,
    environment_id: str | None,
    *,
    at: datetime,
    outcome: str,
    error: str,
    coverage: str = "none",
) -> None:
    """Record a failed attempt; the last good data (``fetched_at``, ``payload``) is kept."""
    values = {"last_attempt_at": at, "last_error": f"{outcome}: {error}", "coverage": coverage}
    _upsert(session, space_id, dataset, environment_id, values)


def delete_other_environments(
    session: Session, space_id: int, dataset: str, keep: Collection[str | None]
) -> int:
    """Drop the dataset's rows of environments not in ``keep`` (deleted in Anypoint)."""
    keep_ids = [e for e in keep if e is not None]
    gone: ColumnElement[bool] = DatasetSnapshot.environment_id.is_not(None)
    if keep_ids:
        gone = and_(gone, DatasetSnapshot.environment_id.not_in(keep_ids))
    condition = gone if None in keep else or_(gone, DatasetSnapshot.environment_id.is_(None))
    result = session.execute(
        delete(DatasetSnapshot).where(
            DatasetSnapshot.space_id == space_id, DatasetSnapshot.dataset == dataset, condition
        ),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _upsert(
    session: Session,
    space_id: int,
    dataset: str,
    environment_id: str | None,
    values: Mapping[str, Any],
) -> None:
    """Insert the row or update ``values`` on it, atomically where the database allows."""
    key = {"space_id": space_id, "dataset": dataset, "environment_id": environment_id}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(DatasetSnapshot).values(**key, **values)
        statement = statement.on_conflict_do_update(index_elements=_CONFLICT_TARGET, set_=values)
        session.execute(statement)
        return
    row = get_snapshot(session, space_id, dataset, environment_id)  # other databases: plain ORM
    if row is None:
        session.add(DatasetSnapshot(**key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


# -- reads -----------------------------------------------------------------------------------------


def get_snapshot(
    session: Session, space_id: int, dataset: str, environment_id: str | None = None
) -> DatasetSnapshot | None:
    """One row (``environment_id=None``: the organization-level row)."""
    env = (
        DatasetSnapshot.environment_id.is_(None)
        if environment_id is None
        else DatasetSnapshot.environment_id == environment_id
    )
    return session.scalar(
        select(DatasetSnapshot)
        .where(DatasetSnapshot.space_id == space_id, DatasetSnapshot.dataset == dataset, env)
        .execution_options(populate_existing=True)
    )


def list_snapshots(
    session: Session,
    space_id: int,
    datasets: Iterable[str] | None = None,
    *,
    environment_id: str | None = None,
) -> list[DatasetSnapshot]:
    """The space's rows (of ``datasets``), organization-level first, then by environment.

    ``environment_id`` keeps that environment's rows and the organization-level ones, which
    apply to every environment (Exchange, Runtime Fabric targets).
    """
    query = select(DatasetSnapshot).where(DatasetSnapshot.space_id == space_id)
    if datasets is not None:
        query = query.where(DatasetSnapshot.dataset.in_(list(datasets)))
    if environment_id is not None:
        query = query.where(
            or_(
                DatasetSnapshot.environment_id.is_(None),
                DatasetSnapshot.environment_id == environment_id,
            )
        )
    query = query.order_by(DatasetSnapshot.dataset, _ENV_KEY).execution_options(
        populate_existing=True
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class DatasetCache:
    """The rows of one dataset taken together (all environments, or one and the org level)."""

    dataset: str
    rows: tuple[DatasetSnapshot, ...]

    @property
    def last_success(self) -> datetime | None:
        """The oldest successful fetch among the rows that have one: the data is as old as that."""
        times = [r.fetched_at for r in self.rows if r.fetched_at is not None]
        return min(times) if times else None

    @property
    def last_attempt_at(self) -> datetime | None:
        times = [r.last_attempt_at for r in self.rows if r.last_attempt_at is not None]
        return max(times) if times else None

    @property
    def last_attempt_failed(self) -> bool:
        return any(r.last_error for r in self.rows)

    @property
    def stale_fallback(self) -> bool:
        """Some data is served from the cache because its last refresh failed."""
        return any(r.last_error and r.fetched_at is not None for r in self.rows)

    @property
    def coverage(self) -> str:
        """``full`` / ``none`` when every row's last attempt was, else ``partial``."""
        if not self.rows:
            return "none"
        return combine_derived([r.coverage or "none" for r in self.rows])

    @property
    def item_count(self) -> int:
        return sum(r.item_count or 0 for r in self.rows if r.payload is not None)

    @property
    def asset_version(self) -> str | None:
        return next((r.asset_version for r in self.rows if r.asset_version), None)

    def entry(self) -> CacheEntry:
        """The engine's :class:`~diagnostics.model.CacheEntry` for this cache.

        ``last_attempt_failed`` (what the engine reports as ``stale_fallback``) is set when data
        is served after a failed refresh; an environment that never had data is a coverage gap.
        """
        return CacheEntry(
            self.dataset,
            last_success=self.last_success,
            last_attempt_failed=self.stale_fallback,
            items=self.item_count if self.rows else None,
            asset_version=self.asset_version,
        )


def dataset_cache(
    session: Session, space_id: int, dataset: str, *, environment_id: str | None = None
) -> DatasetCache:
    """One dataset's cache for a space (see :func:`list_snapshots` for ``environment_id``)."""
    rows = list_snapshots(session, space_id, [dataset], environment_id=environment_id)
    return DatasetCache(dataset, tuple(rows))


def cache_entries(session: Session, space_id: int) -> dict[str, CacheEntry]:
    """Every cached dataset of a space as the engine's ``AppState.cache`` (absent: never)."""
    by_dataset: dict[str, list[DatasetSnapshot]] = {}
    for row in list_snapshots(session, space_id):
        by_dataset.setdefault(row.dataset, []).append(row)
    return {key: DatasetCache(key, tuple(rows)).entry() for key, rows in by_dataset.items()}


def environment_names(session: Session, space_id: int) -> dict[str, str]:
    """Environment id → name, from the last good environments list (``diagnostics`` cache)."""
    row = get_snapshot(session, space_id, "diagnostics")
    items = (row.payload or {}).get("items", []) if row is not None else []
    return {
        str(item["id"]): str(item.get("name") or item["id"])
        for item in items
        if isinstance(item, dict) and "id" in item
    }


def error_outcome(last_error: str | None) -> str | None:
    """The probe outcome a ``last_error`` starts with (``forbidden``, ``timeout``, ...)."""
    if not last_error:
        return None
    outcome, sep, _ = last_error.partition(":")
    return outcome if sep and outcome.isidentifier() else "error"


# -- scheduling ------------------------------------------------------------------------------------


def is_due(space: Space, now: datetime, tolerance: timedelta = DUE_TOLERANCE) -> bool:
    """Whether the space's sync interval has elapsed since its last scheduled refresh."""
    last = space.last_refresh_scheduled_at
    return last is None or now - last >= timedelta(hours=space.sync_interval_hours) - tolerance


def due_spaces(
    session: Session,
    now: datetime,
    *,
    installation_id: str | None = None,
    tolerance: timedelta = DUE_TOLERANCE,
) -> list[Space]:
    """Spaces due for a scheduled refresh (of one installation, or all), longest-waiting first."""
    query = select(Space)
    if installation_id is not None:
        query = query.where(Space.installation_id == installation_id)
    query = query.order_by(
        Space.last_refresh_scheduled_at.asc().nulls_first(), Space.id
    ).execution_options(populate_existing=True)
    return [s for s in session.scalars(query) if is_due(s, now, tolerance)]


def claim_scheduled_refresh(session: Session, space: Space, now: datetime) -> bool:
    """Mark the space refreshed at ``now`` unless another worker did since it was read.

    The caller commits the claim together with the refresh job it records.

    ``False`` means a concurrent scheduled run claimed it first: leave it to that run.
    """
    seen = space.last_refresh_scheduled_at
    unchanged = (
        Space.last_refresh_scheduled_at.is_(None)
        if seen is None
        else Space.last_refresh_scheduled_at == seen
    )
    result = session.execute(
        update(Space)
        .where(Space.id == space.id, unchanged)
        .values(last_refresh_scheduled_at=now, updated_at=Space.updated_at),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1
