"""Who is calling: Forge (tenant from the invocation token) or support (API token)."""

from __future__ import annotations

from flask import Flask

from app.auth import forge
from app.auth.forge import Tenant, forge_required
from app.auth.support import SupportPrincipal, support_required

__all__ = ["SupportPrincipal", "Tenant", "forge_required", "init_app", "support_required"]


def init_app(app: Flask) -> None:
    forge.init_app(app)
