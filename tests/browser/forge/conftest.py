"""Fixtures of the Forge page tests: the backend with Forge auth on, forge/static with Forge's CSP,
the bridge double, and helpers to connect spaces and open pages.

- ``forge_backend``: ``create_app`` (simulated Anypoint, SQLite) with ``FORGE_APP_ID`` set, on a
  free port, for the session; ``mint()`` gives a fresh Forge Invocation Token for ``SITE_URL``.
- ``forge``: a :class:`~tests.browser.forge.bridge.ForgeHost` per test; ``forge.open(page,
  resource, context)`` opens a page; ``forge.api(method, path, body)`` calls the backend as the
  site (to connect spaces and refresh data as an admin would have before).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.auth import devtokens
from app.clock import EXTENSION as CLOCK
from app.config import ENV_VARIABLES
from tests.app.conftest import TestClock
from tests.browser import AXE
from tests.browser.forge.bridge import ForgeHost, StaticHost, open_page, serve_static

APP_ID = "ari:cloud:ecosystem::app/73856157-5880-44b7-9347-6c0c688e1923"
SITE_URL = "https://sparrow-logistics.atlassian.net"
SECRET = "browser-test-secret-7Qm2Zp9X"


@dataclass
class Backend:
    app: Flask
    base_url: str
    instance_path: str

    def now(self) -> datetime:
        """Now on the app's clock (the pages' clock is set to it too)."""
        return self.app.extensions[CLOCK]()

    def mint(self) -> str:
        key = devtokens.local_signing_key(self.instance_path)
        return devtokens.mint_local_token(key, site_url=SITE_URL, app_id=APP_ID, minutes=10)


@pytest.fixture(scope="session")
def forge_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    instance = str(tmp_path_factory.mktemp("forge-pages") / "instance")
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_VARIABLES:  # the developer's own settings never leak in
            mp.delenv(name, raising=False)
        app = create_app(
            {
                "INSTANCE_PATH": instance,
                "MULESIGHT_ANYPOINT_MODE": "simulated",
                "MULESIGHT_JOB_QUEUE": "sync",
                "FORGE_APP_ID": APP_ID,
                "CLOCK": TestClock(),  # 2026-11-23 09:30 UTC, then running, whatever today is
            }
        )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="forge-backend", daemon=True)
    thread.start()
    try:
        yield Backend(app, f"http://127.0.0.1:{server.server_port}", instance)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["db"].dispose()


@pytest.fixture(scope="session")
def forge_static() -> Iterator[StaticHost]:
    yield from serve_static()


class Forge(ForgeHost):
    static: StaticHost

    def open(self, page: Any, resource: str, context: dict[str, Any]) -> None:
        open_page(page, self, self.static, resource, context)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(
            method,
            self.backend_url + path,
            headers={"Authorization": f"Bearer {self.mint()}", "Content-Type": "application/json"},
            data=None if body is None else json.dumps(body),
            timeout=25,
        )
        assert response.status_code < 300, response.text
        return response.json()

    def connect(self, space_key: str, scenario: str) -> None:
        """The space's connection on a simulated scenario, and its data refreshed once."""
        self.api(
            "PUT",
            "/forge/v1/connection",
            {
                "space_key": space_key,
                "client_id": "mulesight-browser-test",
                "client_secret": SECRET,
                "control_plane": "us",
                "scenario": scenario,
            },
        )
        self.api("POST", "/forge/v1/refresh", {"space_key": space_key})


@pytest.fixture
def forge(forge_backend: Backend, forge_static: StaticHost) -> Iterator[Forge]:
    host = Forge(
        backend_url=forge_backend.base_url,
        mint=forge_backend.mint,
        site_url=SITE_URL,
        now=forge_backend.now,
    )
    host.static = forge_static
    yield host
    assert host.problems == [], f"console errors or CSP violations: {host.problems}"


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A Confluence-sized frame for the pages (console errors are collected by ``forge.open``)."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 800})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page (loaded from forge's devDependencies, never a CDN)."""
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed at {AXE}: run `npm --prefix forge ci`")
    page.add_script_tag(url="/__axe__/axe.min.js")
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )


def assert_small_live_regions(page: Any) -> None:
    """No whole page or <main> is a live region: only small status lines announce changes."""
    assert page.locator("main[aria-live], body[aria-live], main[role=status]").count() == 0
    for region in page.locator("[aria-live], [role=status]").all():
        assert region.locator("table, section, h1, h2").count() == 0
