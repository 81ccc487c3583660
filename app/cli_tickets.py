"""``mulesight attach RUN_ID --ticket KEY`` and ``mulesight outbox dispatch|list``.

``attach`` enqueues the run's report for the ticket (internal comment, report.json, report.md,
labels) in the local store or Service Management (per ``JSM_*``), delivers it at once and prints
what was attached. Unknown runs and (local) tickets exit 2 with one line.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.audit import audit
from app.db import get_db
from app.models import OutboxMessage
from app.services import outbox
from app.storage import NotFound
from app.storage.runs import get_run_any_site
from app.tickets import store
from app.tickets.connectors import TARGET_LOCAL, dispatch_pending, target_for
from app.tickets.enrichment import attach_run
from diagnostics.commands import InputError

CLI_ACTOR = "cli"


@click.command("attach")
@click.argument("run_id")
@click.option("--ticket", "ticket_key", required=True, help="The ticket key, e.g. MSUP-1.")
@with_appcontext
def attach(run_id: str, ticket_key: str) -> None:
    """Attach a stored report to a ticket (local store or Service Management)."""
    config, db = current_app.config, get_db()
    target = target_for(config)
    with db.session() as session:
        try:
            run = get_run_any_site(session, run_id)
        except NotFound:
            raise InputError(f"No diagnostics run {run_id!r}.") from None
        try:
            opened_at = (
                store.get_ticket(session, ticket_key).created_at if target == TARGET_LOCAL else None
            )
        except NotFound as exc:
            raise InputError(str(exc)) from None
        result = attach_run(session, run, ticket_key, target=target, opened_at=opened_at)
        audit(
            CLI_ACTOR,
            "run.attach",
            run.installation_id,
            target=f"{run.id} {ticket_key}",
            session=session,
        )
        session.commit()  # the messages are durable before they are dispatched
    report = dispatch_pending(config, db.sessionmaker, prefix=f"attach:{run_id}:{ticket_key}:")
    where = "the local ticket store" if target == TARGET_LOCAL else "Service Management"
    with db.session() as session:
        messages = [outbox.find_message(session, key) for key in result.messages]
    click.echo(
        f"Run {run_id} → {ticket_key} in {where} (verdict {run.verdict}, {result.severity}):"
    )
    for message in messages:
        if message is None:
            continue
        what = _describe(message)
        state = message.status + (f" ({message.last_error})" if message.last_error else "")
        click.echo(f"  {what}: {state}")
    if report.dead or any(m is not None and m.status != outbox.DELIVERED for m in messages):
        click.echo(
            "Some parts are not delivered yet: `mulesight outbox dispatch` retries.", err=True
        )


def _describe(message: OutboxMessage) -> str:
    payload = message.payload
    if message.operation == outbox.COMMENT:
        return f"{'public' if payload.get('public') else 'internal'} comment"
    if message.operation == outbox.ATTACH:
        return "internal attachments " + ", ".join(f["name"] for f in payload.get("files", []))
    return "labels " + ", ".join(payload.get("labels", []))


@click.group("outbox")
def outbox_group() -> None:
    """Writes to ticket systems waiting for delivery."""


@outbox_group.command("dispatch")
@click.option("--prefix", default=None, help="Only messages whose key starts with this.")
@with_appcontext
def outbox_dispatch(prefix: str | None) -> None:
    """Deliver every due message now (retries included); run it from cron or a timer."""
    report = dispatch_pending(
        current_app.config, get_db().sessionmaker, prefix=prefix, worker="cli"
    )
    click.echo(
        f"delivered {len(report.delivered)}, retrying {len(report.retrying)}, "
        f"dead {len(report.dead)}"
    )


@outbox_group.command("list")
@click.option("--status", type=click.Choice(outbox.STATUSES), default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def outbox_list(status: str | None, limit: int) -> None:
    """List messages: key, target, operation, status, attempts, next attempt, last error."""
    with get_db().session() as session:
        for m in outbox.list_messages(session, status=status, limit=limit):
            click.echo(
                "\t".join(
                    [
                        m.idempotency_key,
                        m.target,
                        m.operation,
                        m.status,
                        str(m.attempts),
                        m.next_attempt_at.isoformat(timespec="seconds"),
                        m.last_error or "-",
                    ]
                )
            )


def register(group: click.Group) -> click.Group:
    """Add ``attach`` and ``outbox`` to the ``mulesight`` group."""
    group.add_command(attach)
    group.add_command(outbox_group)
    return group


__all__ = ["attach", "outbox_group", "register"]
