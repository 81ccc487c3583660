"""Installations (tenants) and their spaces' connections."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import storage
from app.crypto import SecretBox
from app.models import Installation, Space
from diagnostics.model import Connection, SpaceConfig

log = logging.getLogger(__name__)


def ensure_installation(
    session: Session, installation_id: str, cloud_id: str, site_url: str | None = None
) -> Installation:
    """The installation row, registered on the first verified token of a new installation.

    ``site_url`` (the token's ``context.siteUrl``, when Forge sends it) is recorded the first
    time it is seen, so that a ticket naming the site finds its installation; it is never
    overwritten (a later token naming another site is refused by :mod:`app.auth.forge`).
    """
    installation = session.get(Installation, installation_id)
    if installation is not None:
        if site_url and installation.site_url is None:
            installation.site_url = site_url
        return installation
    session.add(Installation(id=installation_id, cloud_id=cloud_id, site_url=site_url))
    try:
        session.flush()
        log.info("installation registered", extra={"installation_id": installation_id})
    except IntegrityError:  # registered by a concurrent first request
        session.rollback()
    installation = session.get(Installation, installation_id)
    assert installation is not None
    return installation


def find_space(session: Session, installation_id: str, key: str) -> Space | None:
    return session.scalar(
        select(Space).where(Space.installation_id == installation_id, Space.key == key)
    )


def get_space(session: Session, installation_id: str, key: str) -> Space:
    """The tenant's space ``key``; :class:`~app.storage.NotFound` if this tenant has none."""
    space = find_space(session, installation_id, key)
    if space is None:
        raise storage.NotFound(f"No MuleSight connection for space {key!r} on this site.")
    return space


def list_spaces(session: Session, installation_id: str) -> list[Space]:
    return list(
        session.scalars(
            select(Space).where(Space.installation_id == installation_id).order_by(Space.key)
        )
    )


def save_connection(
    session: Session,
    box: SecretBox,
    installation_id: str,
    *,
    space_key: str,
    client_id: str,
    control_plane: str,
    sync_interval_hours: int,
    organization_id: str | None = None,
    base_url: str | None = None,
    datasets_enabled: Mapping[str, bool] | None = None,
    client_secret: str | None = None,
    scenario: str | None = None,
) -> Space:
    """Create or replace a space's connection; ``client_secret=None`` keeps the stored secret."""

    def apply() -> Space:
        space = find_space(session, installation_id, space_key)
        if space is None:
            space = Space(installation_id=installation_id, key=space_key)
            session.add(space)
        space.client_id = client_id
        space.organization_id = organization_id
        space.control_plane = control_plane
        space.base_url = base_url
        space.sync_interval_hours = sync_interval_hours
        space.datasets_enabled = dict(datasets_enabled or {})
        space.scenario = scenario
        if client_secret is not None:
            space.client_secret_encrypted = box.encrypt(client_secret)
        session.flush()
        return space

    try:
        return apply()
    except IntegrityError:  # a concurrent first save created the space: update that one
        session.rollback()
        return apply()


def connection_for(space: Space, box: SecretBox) -> Connection:
    """The engine's :class:`~diagnostics.model.Connection` for a space (secret decrypted)."""
    secret = box.decrypt(space.client_secret_encrypted) if space.client_secret_encrypted else ""
    return Connection(
        client_id=space.client_id,
        client_secret=secret,
        organization_id=space.organization_id,
        control_plane=space.control_plane,
        base_url=space.base_url,
    )


def space_config(space: Space) -> SpaceConfig:
    """The engine's :class:`~diagnostics.model.SpaceConfig` for a space."""
    return SpaceConfig(
        key=space.key,
        sync_interval_hours=space.sync_interval_hours,
        datasets_enabled=dict(space.datasets_enabled),
    )
