"""Security headers on every page, report and JSON answer; Secure session cookies; no inline script
or style in the templates (the CSP would block it). See docs/security.md ("Pages")."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.cli import token
from tests.app.conftest import make_app

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
REPORT_TEMPLATE = Path(__file__).resolve().parents[2] / "diagnostics" / "templates" / "report.html"


def directives(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    parts = [p.strip().split(" ", 1) for p in policy.split(";") if p.strip()]
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def assert_page_headers(response: Any) -> dict[str, str]:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = directives(response)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    return csp


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_the_self_check_page_and_its_report_carry_the_headers(client: FlaskClient) -> None:
    page = client.get("/selfcheck", follow_redirects=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert_page_headers(page)
    html = page.get_data(as_text=True)
    ran = client.post("/selfcheck/OPS/run", data={"csrf_token": csrf(html)}, follow_redirects=True)
    assert ran.status_code == 200
    assert_page_headers(ran)
    run_id = re.search(r"/selfcheck/runs/([0-9a-f-]{36})", ran.get_data(as_text=True))
    assert run_id, "the page links the run's exports"
    report = client.get(f"/selfcheck/runs/{run_id.group(1)}/report.html")
    assert report.status_code == 200 and report.mimetype == "text/html"
    csp = assert_page_headers(report)
    # The self-contained report keeps its one <style>: allowed by hash, not by 'unsafe-inline'.
    style = re.search(r"<style>(.*?)</style>", report.get_data(as_text=True), re.DOTALL)
    assert style
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp["style-src"].split()


def test_console_pages_and_errors_carry_the_headers(client: FlaskClient) -> None:
    for url in ("/console", "/console/ticket", "/no-such-page"):
        response = client.get(url, follow_redirects=True)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_json_answers_allow_nothing_to_load(client: FlaskClient) -> None:
    for url in ("/healthz", "/openapi.json", "/forge/v1/connection"):
        response = client.get(url)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert directives(response)["default-src"] == "'none'"


def _signed_in_cookie(config: dict[str, Any]) -> str:
    app = make_app(config)
    try:
        secret = app.test_cli_runner().invoke(
            token, ["create", "--name", "ada", "--role", "viewer"]
        )
        client = app.test_client()
        form = client.get("/console").get_data(as_text=True)
        answer = client.post(
            "/console/sign-in", data={"csrf_token": csrf(form), "token": secret.stdout.strip()}
        )
        assert answer.status_code == 303
        cookies = answer.headers.getlist("Set-Cookie")
        assert cookies
        return cookies[-1]
    finally:
        app.extensions["db"].dispose()


def test_the_session_cookie_is_secure_unless_local_development(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    cookie = _signed_in_cookie(app_config)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    local = {
        **app_config,
        "INSTANCE_PATH": str(tmp_path / "dev"),
        "MULESIGHT_LOCAL_DEVELOPMENT": "1",
    }
    cookie = _signed_in_cookie(local)
    assert "Secure" not in cookie and "HttpOnly" in cookie


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style", re.IGNORECASE),
    "event handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_has_inline_script_or_style(template: Path) -> None:
    text = template.read_text(encoding="utf-8")
    found = [name for name, pattern in INLINE.items() if pattern.search(text)]
    assert not found, f"{template.name}: {found} would be blocked by the Content-Security-Policy"


def test_the_report_template_has_only_its_hashed_style() -> None:
    text = REPORT_TEMPLATE.read_text(encoding="utf-8")
    assert len(re.findall(r"<style", text)) == 1
    for name in ("inline script", "style attribute", "event handler", "javascript: URL"):
        assert not INLINE[name].search(text), name
