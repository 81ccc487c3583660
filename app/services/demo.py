"""The embedded default: a local demo tenant, so the pages work without Forge in simulated mode.

In ``simulated`` mode, when no installation is configured yet, :func:`ensure_demo_tenant` creates
the installation of ``https://sparrow.atlassian.net`` and its space ``OPS``, talking to the
simulated Anypoint of ``MULESIGHT_SCENARIO`` (default ``api-manager-sandbox-only``, a failure worth
looking at). The pages call it lazily, on first use, never at import. In ``live`` mode there is no
demo tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import storage
from app.models import Installation, Space
from app.services.anypoint import is_simulated

DEMO_INSTALLATION_ID = "local-demo"
DEMO_CLOUD_ID = "local-demo"
DEMO_SITE_URL = "https://sparrow.atlassian.net"
DEMO_SPACE_KEY = "OPS"
DEMO_CLIENT_ID = "simulated-connected-app"
DEMO_SCENARIO = "api-manager-sandbox-only"


def demo_scenario(config: Mapping[str, Any]) -> str:
    """The scenario a new demo space starts on."""
    return config.get("MULESIGHT_SCENARIO") or DEMO_SCENARIO


def ensure_demo_tenant(session: Session, config: Mapping[str, Any]) -> Installation | None:
    """The local demo installation (created on first use), or ``None``.

    ``None`` in ``live`` mode, and in ``simulated`` mode as soon as a real installation exists,
    even when the demo was created before it: the unauthenticated self-check never serves a demo
    next to a site that installed the app.
    """
    if not is_simulated(config):
        return None
    real = select(Installation.id).where(Installation.id != DEMO_INSTALLATION_ID).limit(1)
    if session.scalar(real) is not None:
        return None
    installation = session.get(Installation, DEMO_INSTALLATION_ID)
    if installation is not None:
        return installation
    session.add(
        Installation(id=DEMO_INSTALLATION_ID, cloud_id=DEMO_CLOUD_ID, site_url=DEMO_SITE_URL)
    )
    session.add(
        Space(
            installation_id=DEMO_INSTALLATION_ID,
            key=DEMO_SPACE_KEY,
            client_id=DEMO_CLIENT_ID,
            control_plane="us",
            scenario=demo_scenario(config),
        )
    )
    try:
        session.flush()
    except IntegrityError:  # a concurrent first request created it
        session.rollback()
    return session.get(Installation, DEMO_INSTALLATION_ID)


def is_demo(installation: Installation) -> bool:
    return installation.id == DEMO_INSTALLATION_ID


def set_scenario(session: Session, space: Space, scenario: str) -> Space:
    """Point a demo space at another simulated scenario (the caller checks the name)."""
    if space.installation_id != DEMO_INSTALLATION_ID:
        raise storage.NotFound("Only the local demo space can switch scenarios.")
    space.scenario = scenario
    return space
