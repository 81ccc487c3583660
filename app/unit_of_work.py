"""Units of work: the only places that commit.

Repositories (:mod:`app.storage`) and services (:mod:`app.services`, :mod:`app.tickets`) add,
change and ``flush()``; the boundary that runs them commits once:

- an HTTP request: :func:`init_app` commits the request's session after a response below 500 and
  rolls it back after a server error (a handled 4xx keeps what was written before it, as a refused
  request that registered its installation did before); a step that must stay written whatever
  follows (authentication registering an installation) ends with :func:`commit_step`;
- a CLI command or anything else in an app context: ``with context_unit_of_work() as session:``;
- a job or a step of its own: ``with unit_of_work(db) as session:`` — a fresh session committed
  when the block ends, rolled back if it raises. A boundary that needs a durability point (a row
  others must see before a long step) opens one unit of work per step, in order.

The queue and outbox machinery commits on its own (claims, leases, heartbeats, delivered marks):
see ``COMMIT_ALLOWLIST`` in ``tests/app/test_unit_of_work.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, g
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import Database, get_db, get_session


@contextmanager
def unit_of_work(db: Database | None = None) -> Iterator[Session]:
    """A new session, committed when the block succeeds, rolled back if it raises, then closed."""
    with (db or get_db()).sessionmaker() as session, _committed(session):
        yield session


@contextmanager
def context_unit_of_work() -> Iterator[Session]:
    """The app context's session (see :func:`app.db.get_session`), committed once at the end."""
    session = get_session()
    with _committed(session):
        yield session


@contextmanager
def _committed(session: Session) -> Iterator[None]:
    """Commit ``session`` when the block succeeds; roll it back if it raises."""
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    session.commit()


_FLUSHED = "mulesight_flushed"


@event.listens_for(Session, "after_flush")
def _mark_flushed(session: Session, _context: Any) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _clear_flushed(session: Session) -> None:
    session.info.pop(_FLUSHED, None)


def commit_step(session: Session) -> None:
    """Commit what a step of the request wrote, if anything: a durability point of its own.

    Authentication registers an installation or records a token's use; that stays written
    whatever the request does next (a later rollback, a job reading the row).
    """
    if session.info.get(_FLUSHED) or session.new or session.dirty or session.deleted:
        session.commit()


def _end_request(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None:
        # A session a failed statement left to roll back (answered as a 4xx) keeps nothing.
        if response.status_code < 500 and session.is_active:
            session.commit()
        else:
            session.rollback()
    return response


def init_app(app: Flask) -> None:
    """Commit each request's session at the end of a request that did not fail."""
    app.after_request(_end_request)
