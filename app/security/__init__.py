"""The service's own defences: request parsing with limits, and security headers.

Outbound URL checks (SSRF) live in :mod:`app.net`. The threat model: ``docs/security.md``.
"""

from __future__ import annotations

from flask import Flask

from app.security import headers, inputs


def init_app(app: Flask) -> None:
    inputs.init_app(app)
    headers.init_app(app)
