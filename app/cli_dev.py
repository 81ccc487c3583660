"""`mulesight forge-token`: a Forge Invocation Token for trying the service locally."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.auth import devtokens
from diagnostics.commands import InputError


@click.command("forge-token")
@click.option(
    "--site", "site_url", required=True, help="The Confluence site, e.g. https://acme.atlassian.net"
)
@click.option("--account", default="local-admin", show_default=True, help="The acting account id.")
@click.option("--minutes", type=click.IntRange(1, 24 * 60), default=60, show_default=True)
@with_appcontext
def forge_token(site_url: str, account: str, minutes: int) -> None:
    """Print a Forge Invocation Token for SITE (simulated mode only; aud = FORGE_APP_ID).

    Use it as `Authorization: Bearer <token>` on the /forge/v1 routes, as Forge itself would.
    """
    config = current_app.config
    if config["MULESIGHT_ANYPOINT_MODE"] != "simulated":
        raise InputError(
            "forge-token works in simulated mode only (MULESIGHT_ANYPOINT_MODE=simulated)"
        )
    if not config.get("FORGE_APP_ID"):
        raise InputError(
            "set FORGE_APP_ID first (any app ARI, e.g. ari:cloud:ecosystem::app/mulesight-local): "
            "without it the service refuses every Forge request"
        )
    if not site_url.startswith("https://"):
        raise InputError(f"--site: {site_url!r} must be an https:// site URL")
    key = devtokens.local_signing_key(current_app.instance_path)
    click.echo(
        devtokens.mint_local_token(
            key,
            site_url=site_url,
            app_id=config["FORGE_APP_ID"],
            account_id=account,
            minutes=minutes,
        )
    )


def register(group: click.Group) -> None:
    group.add_command(forge_token)
