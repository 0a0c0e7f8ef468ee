"""The ``cadence`` command line (Typer): a module per command group, each parsing arguments and printing.

The use cases live in :mod:`cadence.services`; what the command modules share (options, the
context, output, exit codes) in :mod:`cadence.cli.common`. This module builds the ``cadence`` app
from them, in the order ``cadence --help`` lists them, and runs it.

Exit codes: 0 success, 1 error (a message on stderr, no traceback), 2 usage error, 3 partial import.
Every command that depends on the time or records one takes ``--now`` (ISO-8601; default: the clock).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from cadence.cli.accounts import accounts_app
from cadence.cli.api_keys import api_keys_app
from cadence.cli.audit import audit_app
from cadence.cli.cadences import cadences_app
from cadence.cli.common import reset_context
from cadence.cli.database import init
from cadence.cli.decisions import decisions_app
from cadence.cli.demo import demo
from cadence.cli.due import due
from cadence.cli.enrollments import decide, enroll, pause, plan, reply, resume
from cadence.cli.inbound import inbound_app
from cadence.cli.leads import leads_app
from cadence.cli.mail import mail_app
from cadence.cli.mailboxes import domains_app, mailboxes_app
from cadence.cli.postcards import postcards_app
from cadence.cli.reports import report
from cadence.cli.reps import reps_app
from cadence.cli.runs import prefect_unreachable, run_once, serve, simulate, sync_replies_command
from cadence.cli.suppress import suppress_app
from cadence.cli.tasks import tasks_app
from cadence.cli.templates import templates_app
from cadence.cli.users import users_app
from cadence.cli.web import web
from cadence.cli.webhooks import webhooks_app
from cadence.errors import shown

__all__ = ["app", "console", "main", "reset_context"]

app = typer.Typer(
    name="cadence",
    help="Make sure every sales lead is followed up: cadences of emails and rep tasks until a decision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("report")(report)
app.command()(init)
app.command()(enroll)
app.command()(pause)
app.command()(resume)
app.command()(plan)
app.command()(due)
app.command()(decide)
app.command()(reply)
app.command("run")(run_once)
app.command("sync-replies")(sync_replies_command)
app.command()(simulate)
app.command()(serve)
app.command()(web)
app.command()(demo)
app.add_typer(reps_app, name="reps")
app.add_typer(leads_app, name="leads")
app.add_typer(accounts_app, name="accounts")
app.add_typer(cadences_app, name="cadences")
app.add_typer(suppress_app, name="suppress")
app.add_typer(decisions_app, name="decisions")
app.add_typer(tasks_app, name="tasks")
app.add_typer(postcards_app, name="postcards")
app.add_typer(templates_app, name="templates")
app.add_typer(users_app, name="users")
app.add_typer(inbound_app, name="inbound")
app.add_typer(mail_app, name="mail")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(mailboxes_app, name="mailboxes")
app.add_typer(domains_app, name="domains")
app.add_typer(audit_app, name="audit")


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
