"""Every backend path the Forge manifest or the Custom UI names is served, with the method used.

``tests/test_manifest.py`` checks the manifest and the front end against ``BACKEND_PATHS``; this
checks ``BACKEND_PATHS`` (and the manifest's endpoint routes) against the Flask URL map.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.test_manifest import BACKEND_PATHS, manifest_route_paths

# The methods the callers use (forge/README.md; the platform POSTs to action and trigger routes).
METHODS: dict[str, set[str]] = {
    "/forge/v1/connection": {"GET", "PUT"},
    "/forge/v1/connection/test": {"POST"},
    "/forge/v1/scopes.csv": {"GET"},
    "/forge/v1/refresh": {"POST"},
    "/forge/v1/datasets/<dataset>": {"GET"},
    "/forge/v1/renders": {"POST"},
    "/forge/v1/spaces": {"GET"},
    "/forge/v1/runs": {"GET", "POST"},
    "/forge/v1/runs/<run_id>": {"GET"},
    "/forge/v1/runs/<run_id>/diff": {"GET"},
    "/forge/v1/scheduled/refresh": {"POST"},
    "/forge/v1/rovo/api-inventory": {"POST"},
    "/forge/v1/rovo/runtime-apps": {"POST"},
    "/forge/v1/rovo/refresh-dataset": {"POST"},
    "/forge/v1/rovo/endpoints": {"POST"},
}
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def served(app: Flask) -> dict[str, set[str]]:
    """Rule → methods of the app, placeholders normalised (``<int:run_id>`` → ``<run_id>``)."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        path = _CONVERTER.sub(r"<\1>", rule.rule)
        routes.setdefault(path, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    return routes


def test_every_named_path_has_its_methods_listed() -> None:
    assert set(METHODS) == BACKEND_PATHS | manifest_route_paths()


@pytest.mark.parametrize("path", sorted(BACKEND_PATHS | manifest_route_paths()))
def test_the_path_is_served_with_the_callers_methods(app: Flask, path: str) -> None:
    routes = served(app)
    assert path in routes, f"no route {path}"
    assert METHODS[path] <= routes[path], f"{path}: {sorted(METHODS[path] - routes[path])} missing"


def test_manifest_routes_are_posted_by_the_platform() -> None:
    for path in manifest_route_paths():
        assert METHODS[path] == {"POST"}, path
