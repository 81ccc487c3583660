"""`mulesight scenarios` and `mulesight simulate`: built-in scenarios and the simulated Anypoint."""

from __future__ import annotations

import click

from diagnostics.commands import InputError, cli
from diagnostics.simulator import ScenarioError, builtin_scenarios, load_scenario, serve
from diagnostics.simulator.server import DEFAULT_HOST, DEFAULT_PORT


@cli.command("scenarios")
def scenarios_command() -> None:
    """List the built-in scenarios, one per line: name  description."""
    try:
        found = builtin_scenarios()
    except ScenarioError as exc:
        raise click.ClickException(f"a built-in scenario is broken: {exc}") from None
    for name, description in found:
        click.echo(f"{name}  {description}".rstrip())


@cli.command("simulate")
@click.option(
    "--scenario",
    "scenario_ref",
    required=True,
    metavar="NAME_OR_FILE",
    help="A built-in scenario (see `mulesight scenarios`) or a scenario file.",
)
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
def simulate_command(scenario_ref: str, host: str, port: int) -> None:
    """Serve the simulated Anypoint of a scenario over HTTP until Ctrl-C.

    Prints the base URL on the first line of stdout; point a client at it, e.g.
    ANYPOINT_BASE_URL=http://127.0.0.1:8099 mulesight diagnose --live. Any client id and secret
    are accepted when the scenario's credentials are valid.
    """
    try:
        scenario = load_scenario(scenario_ref)
    except ScenarioError as exc:
        raise InputError(str(exc)) from None

    def ready(base_url: str) -> None:
        click.echo(base_url)
        click.echo(f"serving scenario {scenario.name}; press Ctrl-C to stop", err=True)

    try:
        serve(scenario, host, port, on_ready=ready)
    except OSError as exc:
        raise InputError(
            f"--host/--port: cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    click.echo("stopped", err=True)
