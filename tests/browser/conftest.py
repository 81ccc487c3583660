"""Fixtures: one app served on a free local port, one Chromium, a fresh browser context per test.

- ``live_server``: ``create_app`` on a temporary instance folder (SQLite, simulated Anypoint) in
  a background thread (``werkzeug.serving.make_server``); ``.url(path)`` and ``.app``.
- ``browser``: Debian's Chromium launched by Playwright (never a downloaded browser).
- ``page``: a 1280×800 page in a new context; ``shot(page, name)`` saves a screenshot under
  ``tests/artifacts/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from app.config import ENV_VARIABLES
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000


@dataclass
class LiveServer:
    app: Flask
    server: BaseWSGIServer
    base_url: str

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app, simulated mode, on 127.0.0.1 and a free port, for the whole session."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_VARIABLES:  # the developer's own settings never leak in
            mp.delenv(name, raising=False)
        app = create_app(
            {
                "INSTANCE_PATH": str(tmp_path_factory.mktemp("browser") / "instance"),
                "MULESIGHT_ANYPOINT_MODE": "simulated",
                "MULESIGHT_JOB_QUEUE": "sync",
            }
        )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, server, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["db"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORT, base_url=live_server.base_url)
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., None]:
    """``shot(page, name, full_page=True)``: a screenshot in tests/artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def save(page: Any, name: str, *, full_page: bool = True) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{test}-{name}.png"), full_page=full_page)

    return save
