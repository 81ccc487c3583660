"""The application behind Flask's ``current_app`` proxy."""

from __future__ import annotations

from flask import Flask, current_app


def real_app() -> Flask:
    """The app itself, not the proxy: for what outlives the request (queues, workers, threads)."""
    # Flask's stub types the proxy as Flask, which has no _get_current_object.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # see above
    return app
