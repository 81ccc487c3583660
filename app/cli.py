"""The ``mulesight`` console script: the engine's commands plus ``serve``, ``token`` and ``db``.

Service commands build the app with :func:`app.create_app` (through Flask's ``ScriptInfo``, so a
test can hand them its own app with ``app.test_cli_runner()``). Errors print one line and exit 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click
from flask import Flask
from flask.cli import ScriptInfo, with_appcontext
from werkzeug.serving import run_simple

from app import cli_dev, cli_keys, cli_settings, cli_tickets, create_app, storage
from app.audit import audit
from app.config import ConfigError
from app.context import real_app
from app.db import get_db, get_session
from app.jobs import get_queue
from app.models import SUPPORT_ROLES
from app.queue.backends import RedisQueue
from app.storage.support_tokens import TokenNameTaken
from app.unit_of_work import context_unit_of_work
from diagnostics.commands import InputError, register_engine_commands

CLI_ACTOR = "cli"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Production: gunicorn with N web processes (app/gunicorn_conf.py). "
    "Without it: the development server with in-process jobs.",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Run the companion backend (embedded defaults: SQLite, simulated Anypoint)."""
    try:
        app = create_app()  # checks the configuration and applies the migrations once
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    if workers is not None:
        app.extensions["db"].dispose()
        click.echo(f"MuleSight backend on http://{shown}:{port}/ ({workers} gunicorn workers)")
        serve_gunicorn(f"{shown}:{port}", workers)
        return
    click.echo(f"MuleSight backend on http://{shown}:{port}/ (Ctrl+C to stop)")
    get_queue(app).start()
    run_simple(host, port, app, threaded=True, use_reloader=False)


def serve_gunicorn(bind: str, workers: int) -> None:
    """gunicorn with the repository's settings (``app.gunicorn_conf``) on ``create_app()``."""
    from gunicorn.app.wsgiapp import WSGIApplication

    argv = ["gunicorn", "-c", "python:app.gunicorn_conf", "--bind", bind, "--workers", str(workers)]
    argv.append("app:create_app()")
    saved, sys.argv = sys.argv, argv
    try:
        WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").run()
    finally:
        sys.argv = saved


@click.command()
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes on this host (each runs MULESIGHT_WORKER_THREADS jobs at once "
    "and a sweeper).",
)
@with_appcontext
def worker(processes: int) -> None:
    """Run background workers on the Redis queue (MULESIGHT_REDIS_URL required).

    Runs until SIGTERM: each process finishes its current job, then exits. A process killed
    outright loses nothing: its job is run again once its lease expires.
    """
    from app.queue.worker import child_command, lower_priority, run_worker, supervise

    app = real_app()
    if not app.config.get("MULESIGHT_REDIS_URL"):
        raise InputError("mulesight worker needs MULESIGHT_REDIS_URL (the Redis job queue)")
    lower_priority(int(app.config.get("MULESIGHT_WORKER_NICE") or 0))  # the children inherit it
    if processes == 1:
        queue = get_queue(app)
        where = queue.name if isinstance(queue, RedisQueue) else "the job queue"
        click.echo(f"MuleSight worker {os.getpid()} on {where}", err=True)
        run_worker(app)
        return
    app.extensions["db"].dispose()
    click.echo(f"MuleSight workers: {processes} processes", err=True)
    supervise(processes, child_command())


@click.group()
def token() -> None:
    """Support API tokens (stored hashed; shown once at creation)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what the token is for (unique).")
@click.option("--role", type=click.Choice(SUPPORT_ROLES), default="viewer", show_default=True)
@with_appcontext
def token_create(name: str, role: str) -> None:
    """Mint a support token and print it once."""
    try:
        with context_unit_of_work() as session:
            _row, clear = storage.create_support_token(session, name, role)
            audit(CLI_ACTOR, "support_token.create", target=name)
    except (TokenNameTaken, ValueError) as exc:
        raise InputError(str(exc)) from None
    click.echo(clear)
    click.echo(
        f"Support token {name!r} ({role}) created. Store it now: it cannot be shown again.",
        err=True,
    )


@token.command("list")
@with_appcontext
def token_list() -> None:
    """List the tokens: name, role, prefix, created, last used, revoked."""
    for row in storage.list_support_tokens(get_session()):
        click.echo(
            "\t".join(
                [
                    row.name,
                    row.role,
                    f"mst_{row.prefix}_…",
                    row.created_at.isoformat(timespec="seconds"),
                    row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "-",
                    f"revoked {row.revoked_at.isoformat(timespec='seconds')}"
                    if row.revoked_at
                    else "active",
                ]
            )
        )


@token.command("revoke")
@click.argument("name")
@with_appcontext
def token_revoke(name: str) -> None:
    """Revoke a token by name (it stops working at once)."""
    try:
        with context_unit_of_work() as session:
            storage.revoke_support_token(session, name)
            audit(CLI_ACTOR, "support_token.revoke", target=name)
    except storage.NotFound as exc:
        raise InputError(str(exc)) from None
    click.echo(f"Support token {name!r} revoked.", err=True)


@click.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply the migrations (start-up does this too unless MULESIGHT_AUTO_MIGRATE is false)."""
    get_db().upgrade()
    click.echo(f"Database {get_db()!r} is up to date.", err=True)


def build_cli(group: click.Group) -> click.Group:
    """``group`` with the service's commands added."""
    for command in (serve, worker, token, db):
        group.add_command(command)
    cli_tickets.register(group)  # attach, outbox
    cli_dev.register(group)  # forge-token
    cli_settings.register(group)  # settings
    cli_keys.register(group)  # keys rotate
    return group


def _load_app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def run(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group``; a usage or input error prints one line on stderr. Returns the exit code."""
    try:
        result = group.main(
            args=list(argv) if argv is not None else None,
            prog_name="mulesight",
            standalone_mode=False,
            obj=ScriptInfo(create_app=_load_app),
        )
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: show its help
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"Error: {' '.join(exc.format_message().split())}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run(build_cli(register_engine_commands())))


__all__ = ["build_cli", "main", "run"]
