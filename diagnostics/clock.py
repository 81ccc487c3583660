"""The one source of the current time for the engine.

Nothing in ``diagnostics`` reads the system clock directly: a run takes ``now`` from its options
and everything else calls :func:`utcnow`, so a test fixes time in one place (or passes ``now``)
and a suite moved years ahead (``pytest --clock-years-ahead``) behaves the same. Durations and
deadlines use ``time.monotonic``, which no calendar date can break.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
