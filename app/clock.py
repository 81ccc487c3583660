"""The service's one clock: every "now" in ``app/`` comes from :func:`now`.

``create_app({"CLOCK": callable})`` injects a clock (tests pass a fixed or advancing one); by
default, and outside an app context, it is the system clock in UTC.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, has_app_context

from diagnostics.clock import Clock, utcnow

EXTENSION = "mulesight_clock"


def init_app(app: Flask, clock: Clock | None = None) -> None:
    app.extensions[EXTENSION] = clock or utcnow


def clock_of(app: Flask) -> Clock:
    """``app``'s clock (a test injects its own), usable outside an app context."""
    clock: Clock = app.extensions.get(EXTENSION, utcnow)
    return clock


def now() -> datetime:
    """The current time (timezone-aware) on the app's clock."""
    if has_app_context():
        return clock_of(current_app)()
    return utcnow()
