"""The engine's `mulesight` sub-commands (no Flask here).

Each module in this package adds its commands to :data:`cli`; ``app.cli`` adds the service's
commands (``serve``, ``token``, ``attach``) and is the console-script entry point.

Exit codes follow the contract (cli.md): 0 healthy / complete, 4 degraded / details missing,
3 broken / sensitive data, 2 invalid input, 1 the run itself could not complete.
"""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_BROKEN = 3
EXIT_DEGRADED = 4


class InputError(click.ClickException):
    """Bad arguments or a bad input file: one line on stderr, exit code 2."""

    exit_code = EXIT_INVALID_INPUT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """MuleSight support diagnostics: why is MuleSight broken on this site?"""


def register_engine_commands() -> click.Group:
    """Import the command modules so that they attach themselves to :data:`cli`."""
    from diagnostics.commands import diagnose, policy, simulate, tickets  # noqa: F401

    return cli
