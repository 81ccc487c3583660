"""Waiting a bounded time for background work, without holding a read transaction meanwhile.

A web request that hands work to a job (a Forge run, a refresh, a site self-check) waits a bounded
time for it to end, then answers with what it has. Each look is its own short transaction, so a
waiting request never holds a snapshot (or a PostgreSQL connection's transaction) open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

State = TypeVar("State")
POLL_S = 0.1


def poll_until_ended(
    session: Session,
    read: Callable[[], State],
    ended: Callable[[State], bool],
    *,
    timeout_s: float,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> State:
    """``read()`` again every ``poll_s`` until ``ended(state)`` or ``timeout_s`` passed."""
    end = clock() + timeout_s
    while True:
        session.expire_all()
        state = read()
        session.commit()  # end the read transaction: no snapshot held while waiting
        if ended(state) or clock() >= end:
            return state
        sleep(min(poll_s, max(0.0, end - clock())))
