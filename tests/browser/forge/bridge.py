"""A test double of Forge's Custom UI host for ``@forge/bridge`` 7.x, and a Forge-like static host.

``@forge/bridge`` calls ``globalThis.__bridge.callBridge(cmd, payload)``. The double answers:

- ``getContext`` with the context the test gives (module key, extension, site URL, time zone);
- ``invoke`` (``invokeRemote``) by sending the call to the real running backend, as Forge Remote
  does: with a Forge Invocation Token minted for the site (``app.auth.devtokens``, the key
  ``mulesight forge-token`` uses) and the app-token headers that the page's resolver endpoint
  asks for in ``manifest.yml`` (``appSystemToken`` → ``x-forge-oauth-system``, ``appUserToken`` →
  ``x-forge-oauth-user``);
- ``navigate``, ``submit``, ``close`` by recording them (``window.__forge.calls``).

The pages are served from ``forge/static`` with a Content-Security-Policy like Forge's Custom UI
one: scripts and styles from the page's own origin only, no inline script or style.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from tests.browser import AXE

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "forge" / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; "
    "form-action 'none'"
)
TOKEN_HEADERS = {"appSystemToken": "x-forge-oauth-system", "appUserToken": "x-forge-oauth-user"}

INIT_SCRIPT = """
(() => {
  const calls = [];
  window.__forge = { calls };
  globalThis.__bridge = {
    callBridge: async (cmd, payload) => {
      calls.push({ cmd, payload: payload === undefined ? null : JSON.parse(JSON.stringify(payload)) });
      if (cmd === 'getContext') return JSON.parse(await window.__forgeHost('getContext', '{}'));
      if (cmd === 'invoke') {
        const answer = JSON.parse(await window.__forgeHost('invoke', JSON.stringify(payload)));
        return answer;
      }
      if (cmd === 'navigate' || cmd === 'submit' || cmd === 'close') return true;
      throw new Error(`The bridge double does not know ${cmd}`);
    },
  };
})();
"""


def endpoint_headers(resource: str) -> list[str]:
    """The app-token headers the resolver endpoint of ``resource``'s module asks for."""
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    modules = manifest["modules"]
    endpoint_key = next(
        module["resolver"]["endpoint"]
        for kind, entries in modules.items()
        if kind not in ("endpoint", "action", "scheduledTrigger", "rovo:agent")
        for module in entries
        if module.get("resource") == resource and "resolver" in module
    )
    endpoint = next(e for e in modules["endpoint"] if e["key"] == endpoint_key)
    auth = endpoint.get("auth") or {}
    return [TOKEN_HEADERS[name] for name, value in auth.items() if value.get("enabled")]


@dataclass
class StaticHost:
    """forge/static (and axe-core under /__axe__/) on 127.0.0.1 with Forge's CSP."""

    server: BaseWSGIServer
    base_url: str

    def url(self, resource: str) -> str:
        return f"{self.base_url}/{resource}/index.html"


def _static_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    request = Request(environ)
    path = request.path.lstrip("/")
    if path == "favicon.ico":
        return Response(status=204)(environ, start_response)
    file = AXE if path == "__axe__/axe.min.js" else (STATIC / path).resolve()
    if not file.is_file() or (file != AXE and STATIC.resolve() not in file.parents):
        return Response("not found", status=404)(environ, start_response)
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
    response = Response(file.read_bytes(), content_type=types.get(file.suffix, "text/plain"))
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response(environ, start_response)


def serve_static() -> Iterator[StaticHost]:
    server = make_server("127.0.0.1", 0, _static_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="forge-static", daemon=True)
    thread.start()
    try:
        yield StaticHost(server, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class ForgeHost:
    """What the page's Forge host knows: the backend, the site's token, the page's context."""

    backend_url: str
    mint: Callable[[], str]
    site_url: str
    now: Callable[[], datetime]
    remote_calls: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # console errors, CSP violations
    # (method, path prefix) → the error Forge answers instead of calling the backend
    forge_errors: dict[tuple[str, str], str] = field(default_factory=dict)
    # changes a backend answer before the page sees it: (method, path, body) → body
    rewrite: Callable[[str, str, Any], Any] | None = None
    # (method, path prefix) → how many answers to turn into "still running" (202) first
    pending: dict[tuple[str, str], int] = field(default_factory=dict)

    def invoke(self, resource: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Forge Remote: the call goes to the backend with a FIT and the endpoint's tokens."""
        method = payload["method"]
        path = payload["path"]
        for (wanted_method, prefix), message in self.forge_errors.items():
            if method == wanted_method and path.startswith(prefix):
                self.remote_calls.append({"method": method, "path": path, "status": None})
                return {"success": False, "error": {"message": message}}
        headers = {k: v for k, v in (payload.get("headers") or {}).items()}
        headers["Authorization"] = f"Bearer {self.mint()}"
        for name in endpoint_headers(resource):
            headers[name] = f"test-{name}-token"
        body = payload.get("body")
        response = requests.request(
            method,
            self.backend_url + path,
            headers=headers,
            data=None if body is None else json.dumps(body),
            timeout=25,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        status = response.status_code
        self.remote_calls.append({"method": method, "path": path, "status": status, "body": body})
        if self.rewrite is not None:
            answer = self.rewrite(method, path, answer)
        answer, status = self._pending(method, path, answer, status)
        return {
            "success": True,
            "payload": {"status": status, "headers": dict(response.headers), "body": answer},
        }

    def _pending(self, method: str, path: str, answer: Any, status: int) -> tuple[Any, int]:
        """Play the asynchronous run API: answer 202 {id, state} for the first calls asked for."""
        for (wanted_method, prefix), left in list(self.pending.items()):
            if left > 0 and method == wanted_method and path.startswith(prefix) and status < 300:
                self.pending[(wanted_method, prefix)] = left - 1
                run_id = (
                    (answer.get("id") or answer.get("run_id")) if isinstance(answer, dict) else None
                )
                return {"id": run_id, "state": "queued" if method == "POST" else "running"}, 202
        return answer, status


def open_page(page: Any, host: ForgeHost, static: StaticHost, resource: str, context: dict) -> None:
    """Open a Custom UI resource with the bridge double and ``context`` (merged into Forge's)."""
    full = {
        "siteUrl": host.site_url,
        "cloudId": "test-cloud",
        "localId": "ari-cloud-ecosystem--extension-73856157-5880-44b7-9347-6c0c688e1923-"
        "0f0c2f52-6a0b-4b8e-9d3a-5f4e3c2b1a00-static-test",
        "environmentId": "0f0c2f52-6a0b-4b8e-9d3a-5f4e3c2b1a00",
        "environmentType": "DEVELOPMENT",
        "accountId": "test-account",
        "locale": "en-US",
        "timezone": "Australia/Melbourne",
        **context,
    }

    def forge_host(cmd: str, data: str) -> str:
        if cmd == "getContext":
            return json.dumps(full)
        return json.dumps(host.invoke(resource, json.loads(data)))

    page.on("console", lambda m: host.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: host.problems.append(str(e)))
    page.clock.install(time=host.now())  # the page's clock is the backend's; time still runs
    page.expose_function("__forgeHost", forge_host)
    page.add_init_script(INIT_SCRIPT)
    page.goto(static.url(resource))
