"""`mulesight diagnose`: run diagnostics on a scenario or a live Anypoint organization."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click

from diagnostics.anypoint import resolve_base_url
from diagnostics.catalogue import DATASET_KEYS
from diagnostics.commands import EXIT_RUN_FAILED, InputError, cli
from diagnostics.engine import RunInput, RunOptions, run_diagnostics
from diagnostics.errors import DiagnosticsError
from diagnostics.model import CONTROL_PLANES, AppState, Connection
from diagnostics.render import FORMATS, render
from diagnostics.simulator import ScenarioError, load_scenario, simulated_session

LIVE_VARIABLES = ("ANYPOINT_CLIENT_ID", "ANYPOINT_CLIENT_SECRET", "ANYPOINT_ORG_ID")
SIMULATED_CLIENT_ID = "mulesight-simulated-client"
SIMULATED_CLIENT_SECRET = "simulated-secret-not-a-real-one"


def parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--now: {value!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        raise InputError(f"--now: {value!r} has no UTC offset (e.g. 2026-11-23T10:00:00+11:00)")
    return parsed


def _scenario_input(name: str, org: str | None, envs: tuple[str, ...]) -> RunInput:
    try:
        scenario = load_scenario(name)
    except ScenarioError as exc:
        raise InputError(str(exc)) from None
    known = {e.id for e in scenario.environments()}
    unknown = [e for e in envs if e not in known]
    if unknown:
        raise InputError(
            f"--env: {', '.join(unknown)} is not an environment of scenario {scenario.name} "
            f"(known: {', '.join(sorted(known))})"
        )
    base_url = resolve_base_url(scenario.control_plane)
    connection = Connection(
        client_id=SIMULATED_CLIENT_ID,
        client_secret=SIMULATED_CLIENT_SECRET,
        organization_id=org or scenario.organization().id,
        control_plane=scenario.control_plane,
        base_url=base_url,
    )
    return RunInput(
        connection=connection,
        state=scenario.app_state(),
        now=scenario.now,
        session=simulated_session(scenario, base_url),
    )


def _live_input(org: str | None) -> RunInput:
    missing = [
        v for v in LIVE_VARIABLES if not os.environ.get(v) and not (v.endswith("ORG_ID") and org)
    ]
    if missing:
        raise InputError(f"--live needs the environment variable(s) {', '.join(missing)}")
    plane = os.environ.get("ANYPOINT_CONTROL_PLANE", "us")
    base_url = os.environ.get("ANYPOINT_BASE_URL") or None
    if plane not in CONTROL_PLANES:
        raise InputError(
            f"ANYPOINT_CONTROL_PLANE: {plane!r} is not one of {', '.join(CONTROL_PLANES)}"
        )
    if plane == "custom" and not base_url:
        raise InputError("ANYPOINT_CONTROL_PLANE=custom needs ANYPOINT_BASE_URL")
    connection = Connection(
        client_id=os.environ["ANYPOINT_CLIENT_ID"],
        client_secret=os.environ["ANYPOINT_CLIENT_SECRET"],
        organization_id=org or os.environ["ANYPOINT_ORG_ID"],
        control_plane=plane,
        base_url=base_url,
    )
    return RunInput(connection=connection, state=AppState(cache_known=False))


@cli.command()
@click.option(
    "--scenario", "scenario", metavar="NAME_OR_FILE", help="A built-in scenario or a scenario file."
)
@click.option(
    "--live", is_flag=True, help="Probe the Anypoint organization of ANYPOINT_* variables."
)
@click.option(
    "--org", metavar="ID", help="Organization id (overrides the scenario's / ANYPOINT_ORG_ID)."
)
@click.option(
    "--env", "envs", multiple=True, metavar="ID", help="Only these environments (repeatable)."
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Choice(DATASET_KEYS),
    help="Only these datasets.",
)
@click.option(
    "--now", metavar="ISO", help="The clock of the run (default: the scenario's, or now)."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write here."
)
@click.option(
    "--deadline",
    type=click.FloatRange(1, 25),
    default=20.0,
    show_default=True,
    help="Seconds the whole run may take (a Forge remote call gets 25 s).",
)
def diagnose(
    scenario: str | None,
    live: bool,
    org: str | None,
    envs: tuple[str, ...],
    datasets: tuple[str, ...],
    now: str | None,
    fmt: str,
    output: Path | None,
    deadline: float,
) -> None:
    """Why is MuleSight broken on this site? Probe Anypoint and print the report.

    Exit codes: 0 healthy, 4 degraded, 3 broken, 2 invalid input, 1 the run could not complete.
    """
    if bool(scenario) == live:
        raise InputError("give exactly one of --scenario NAME_OR_FILE or --live")
    run = _live_input(org) if live else _scenario_input(scenario or "", org, envs)
    clock = parse_now(now)
    if clock is not None:
        run = RunInput(run.connection, run.state, clock, run.session)
    options = RunOptions(environments=envs, datasets=datasets, deadline_s=deadline)
    try:
        report = run_diagnostics(run, options)
    except DiagnosticsError as exc:
        click.echo(f"Error: the run could not complete: {exc}", err=True)
        sys.exit(EXIT_RUN_FAILED)
    color = fmt == "text" and output is None and sys.stdout.isatty()
    text = render(report, fmt, color=color) if fmt == "text" else render(report, fmt)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Report written to {output} ({report.verdict})", err=True)
    else:
        click.echo(text)
    sys.exit(report.exit_code)
