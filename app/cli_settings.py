"""``mulesight settings``: the reference of every setting the service reads."""

from __future__ import annotations

import click

from app.config import settings_reference


@click.command()
def settings() -> None:
    """Print every setting (environment variable, default, meaning) as Markdown."""
    click.echo(settings_reference(), nl=False)


def register(group: click.Group) -> None:
    group.add_command(settings)
