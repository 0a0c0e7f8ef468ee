"""The ``cadence`` command line (Typer): a module per command group, each parsing arguments and printing.

The use cases live in :mod:`cadence.services`; what the command modules share (options, the
context, output, exit codes) in :mod:`cadence.cli.common`. This module names every command and
where it lives (:data:`COMMANDS`, in the order ``cadence --help`` lists them) and runs the app.
A command's module is imported, and Typer builds its options, only when that command runs
(``cadence --help`` imports them all): a read command does not pay for the other 80 or so.

Exit codes: 0 success, 1 error (a message on stderr, no traceback), 2 usage error, 3 partial import.
Every command that depends on the time or records one takes ``--now`` (ISO-8601; default: the clock).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from cadence.cli.common import reset_context
from cadence.errors import shown

__all__ = ["COMMANDS", "app", "console", "main", "reset_context"]

COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("reports", "report"),
    "init": ("database", "init"),
    "enroll": ("enrollments", "enroll"),
    "pause": ("enrollments", "pause"),
    "resume": ("enrollments", "resume"),
    "plan": ("enrollments", "plan"),
    "due": ("due", "due"),
    "decide": ("enrollments", "decide"),
    "reply": ("enrollments", "reply"),
    "run": ("runs", "run_once"),
    "sync-replies": ("runs", "sync_replies_command"),
    "simulate": ("runs", "simulate"),
    "serve": ("runs", "serve"),
    "web": ("web", "web"),
    "demo": ("demo", "demo"),
    "reps": ("reps", "reps_app"),
    "leads": ("leads", "leads_app"),
    "accounts": ("accounts", "accounts_app"),
    "cadences": ("cadences", "cadences_app"),
    "suppress": ("suppress", "suppress_app"),
    "decisions": ("decisions", "decisions_app"),
    "tasks": ("tasks", "tasks_app"),
    "postcards": ("postcards", "postcards_app"),
    "templates": ("templates", "templates_app"),
    "users": ("users", "users_app"),
    "inbound": ("inbound", "inbound_app"),
    "mail": ("mail", "mail_app"),
    "api-keys": ("api_keys", "api_keys_app"),
    "webhooks": ("webhooks", "webhooks_app"),
    "mailboxes": ("mailboxes", "mailboxes_app"),
    "domains": ("mailboxes", "domains_app"),
    "audit": ("audit", "audit_app"),
}
"""Every command of ``cadence``: its name, the module of :mod:`cadence.cli` that defines it, and the
function (a command) or Typer app (a group of commands) there."""


def load_command(name: str) -> TyperCommand | TyperGroup:
    """The click command (or group) ``cadence NAME``, built by Typer from the module that defines it."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"cadence.cli.{module}"), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)  # a Typer app of one command is that command
    single.command(name)(target)
    command = typer.main.get_command(single)
    if not isinstance(command, TyperCommand):
        raise TypeError(f"cadence {name}: Typer built a {type(command).__name__}, not a command")
    return command


class LazyGroup(TyperGroup):
    """The ``cadence`` group: a command is loaded (:func:`load_command`) when it is asked for.

    The "Lazily Loading Subcommands" pattern of Click's documentation: ``list_commands`` names
    them all, ``get_command`` imports one.
    """

    def list_commands(self, ctx: object) -> list[str]:
        """Every command's name, in the order of :data:`COMMANDS`."""
        return list(COMMANDS)

    def get_command(self, ctx: object, cmd_name: str) -> TyperCommand | TyperGroup | None:
        """The command ``cmd_name``, loaded now; None when there is none.

        An unknown name loads every command into the group: Typer's "Did you mean ...?" picks
        from the commands a group holds.
        """
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        for name in COMMANDS:
            self.add_command(load_command(name), name)
        return None


app = typer.Typer(
    name="cadence",
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def cadence() -> None:
    """Make sure every sales lead is followed up: cadences of emails and rep tasks until a decision."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (2 for a usage error, with click's own message)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="cadence")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug in cadence: one line that says so, not a traceback (CADENCE_TRACEBACK=1 shows it)
        if os.environ.get("CADENCE_TRACEBACK"):
            raise
        from cadence.cli.runs import prefect_unreachable

        if (problem := prefect_unreachable(exc)) is not None:
            typer.echo(f"error: {problem}", err=True)
            return 1
        typer.echo(
            f"error: internal error ({type(exc).__name__}: {shown(str(exc))[1:-1]}): a bug in cadence; "
            "please report it with the command that caused it",
            err=True,
        )
        return 1
    return 0


def console() -> None:
    """The ``cadence`` console script."""
    sys.exit(main())
