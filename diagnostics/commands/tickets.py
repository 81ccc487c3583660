"""`mulesight ticket check`: does a support ticket have the required details, and no secrets?"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from diagnostics.commands import (
    EXIT_BROKEN,
    EXIT_DEGRADED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    InputError,
    cli,
)
from diagnostics.errors import TicketError
from diagnostics.redaction import RedactionError
from diagnostics.tickets import parse_ticket_text, read_ticket, render_reading_text

EXIT_BY_STATUS = {"complete": EXIT_OK, "missing": EXIT_DEGRADED, "sensitive": EXIT_BROKEN}


@cli.group()
def ticket() -> None:
    """Support tickets: check the required details before triage."""


def read_ticket_file(file: str) -> str:
    """The ticket's text; ``-`` reads stdin. Unreadable input is an :class:`InputError`."""
    name = "stdin" if file == "-" else file
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a ticket file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    if not text.strip():
        raise InputError(f"{name}: the ticket is empty")
    return text


@ticket.command()
@click.argument("file", metavar="FILE")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def check(file: str, fmt: str) -> None:
    """Check a ticket (JSON {summary, description, ...}, a webhook payload, or plain text; - for
    stdin) for the required details and for sensitive data.

    Exit codes: 0 complete, 4 details missing, 3 sensitive data found (takes precedence),
    2 unreadable input, 1 redaction failed (nothing shown).
    """
    text = read_ticket_file(file)
    try:
        reading = read_ticket(parse_ticket_text(text))
    except TicketError as exc:
        raise InputError(f"{'stdin' if file == '-' else file}: {exc}") from None
    except RedactionError:
        click.echo("Error: redaction failed; nothing is shown", err=True)
        sys.exit(EXIT_RUN_FAILED)
    if fmt == "json":
        click.echo(json.dumps(reading.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_reading_text(reading))
    sys.exit(EXIT_BY_STATUS[reading.status])
