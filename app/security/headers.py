"""Security headers on every response, and ``Secure`` session cookies.

HTML (pages and HTML reports) gets a Content-Security-Policy with no inline script at all: scripts
and style sheets come from ``/static`` only; the one inline ``<style>`` of the self-contained HTML
report is allowed by its SHA-256 hash, nothing else inline is. Other responses get a policy that
allows nothing. Every response is ``nosniff``, may not be framed (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``) and sends no referrer.

The session cookie is ``Secure`` (and, as Flask makes it, ``HttpOnly``; ``SameSite=Lax``) unless
``MULESIGHT_LOCAL_DEVELOPMENT`` is set, for a developer's plain-http loopback server.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

from flask import Flask, Response

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' {report_style}; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
NON_HTML_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@cache
def report_style_hash() -> str:
    """The CSP source for the report template's inline ``<style>`` (its content is static)."""
    template = resources.files("diagnostics").joinpath("templates/report.html").read_text("utf-8")
    match = re.search(r"<style>(.*?)</style>", template, re.DOTALL)
    if match is None:
        return ""
    digest = hashlib.sha256(match.group(1).encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def page_policy() -> str:
    return PAGE_POLICY.format(report_style=report_style_hash())


def add_security_headers(response: Response) -> Response:
    for name, value in COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    policy = page_policy() if response.mimetype == "text/html" else NON_HTML_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    return response


def init_app(app: Flask) -> None:
    local = app.config.get("MULESIGHT_LOCAL_DEVELOPMENT", False)
    app.config["SESSION_COOKIE_SECURE"] = not local
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.after_request(add_security_headers)
