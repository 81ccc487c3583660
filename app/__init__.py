"""The MuleSight companion backend: ``create_app()`` (``mulesight serve``, or any WSGI server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from app import api, auth, clock, config, crypto, db, errors, logging, security, unit_of_work
from app.blueprints import console, forge, health, selfcheck, support, webhooks

# Modules adding their routes to forge.bp and support.bp (one blueprint per audience).
from app.blueprints import forge_data, forge_runs, tickets  # noqa: F401  # isort: skip

# flask-smorest blueprints, one per audience, registered through app.api: the JSON ones are
# documented from their schemas, the selfcheck and console pages (HTML) are not in /openapi.json.
BLUEPRINTS = (health.bp, forge.bp, support.bp, webhooks.bp, selfcheck.bp, console.bp)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment (see ``service.md``); ``test_config`` overrides.

    ``test_config`` may also hold ``INSTANCE_PATH`` (the instance folder: SQLite file, secret key)
    and ``CLOCK`` (a callable returning the current aware datetime; see :mod:`app.clock`).
    Start-up applies the database migrations unless ``MULESIGHT_AUTO_MIGRATE`` is false.
    """
    overrides = dict(test_config or {})
    app = Flask(
        __name__, instance_path=config.instance_path(overrides), instance_relative_config=True
    )
    clock.init_app(app, overrides.pop("CLOCK", None))
    overrides.pop("INSTANCE_PATH", None)
    config.configure(app, overrides)
    for part in (logging, errors, security, crypto, db, unit_of_work, auth):
        part.init_app(app)
    api.init_app(app, BLUEPRINTS)
    return app
