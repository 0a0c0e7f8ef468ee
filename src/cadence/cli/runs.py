"""``cadence run``, ``sync-replies``, ``simulate`` and ``serve``: the Prefect flows, run from the command line.

Prefect is imported inside the commands, after :func:`quiet_prefect`: it is slow to import and
reads its settings then. :func:`prefect_unreachable` says what to do when its API cannot be reached.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Annotated

import typer

from cadence.cli.common import NowOption, context, emit_json, parse_instant, run
from cadence.errors import ValidationError, shown

EPHEMERAL_STARTUP_TIMEOUT_S = 120
"""How long a run waits for Prefect's own server to start, when no ``PREFECT_API_URL`` is set."""


def quiet_prefect() -> None:
    """Prefect settings every cadence process wants (set before Prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The ephemeral server records task runs one event at a time by default: with a task run per
    # batch over a long simulation it falls behind and is cut off mid-write when the process exits.
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "500")
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE", "500")
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL", "1")
    # With no PREFECT_API_URL, Prefect starts a server of its own on a fresh SQLite database and gives
    # it 20 s by default; on a busy 2-core machine its migrations alone took 19.5 s, and a run
    # (`cadence demo` once) gave up at the timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(EPHEMERAL_STARTUP_TIMEOUT_S))


TEMPORARY_SERVER_HINT = (
    "note: no Prefect server is set (PREFECT_API_URL), so this run started a temporary one first (10-20 s); "
    "to skip that, keep one running (`prefect server start`) and set PREFECT_API_URL=http://127.0.0.1:4200/api"
)


def hint_temporary_server() -> None:
    """Say on stderr, in one line, how to avoid the temporary Prefect server when the run started one."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        typer.echo(TEMPORARY_SERVER_HINT, err=True)


def parse_duration(value: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` as a :class:`timedelta` (at least one second)."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number = text[:-1]
    if not (2 <= len(text) <= 12 and text[-1] in units and number.isascii() and number.isdigit() and int(number) >= 1):
        raise ValidationError(f"{shown(value)} is not a duration such as 30m, 1h or 2d")
    seconds = int(number) * units[text[-1]]
    if seconds > 366 * 86400:
        raise ValidationError(f"{shown(value)} is longer than a year")
    return timedelta(seconds=seconds)


def run_once(
    now: NowOption = None,
    batch_size: Annotated[int | None, typer.Option(min=1, max=10_000, help="Due steps per batch.")] = None,
) -> None:
    """Run the advance flow once: every due step becomes an email or a rep task.

    Leads whose snooze is over are enrolled again first, so that their first step runs in this pass.
    """

    def go() -> None:
        quiet_prefect()
        import asyncio

        from flows.advance import advance_cadences

        instant = parse_instant(now)
        context().require_schema()
        emit_json(asyncio.run(advance_cadences(now=instant, batch_size=batch_size)))
        hint_temporary_server()  # after: a run that fails says one line, the error (which names PREFECT_API_URL)

    run(go)


def sync_replies_command(now: NowOption = None) -> None:
    """Read the replies mailboxes once (CADENCE_IMAP_*, and each sending mailbox with an inbox of its own):
    replies stop cadences, out-of-office notes pause them, bounces and unsubscribes end them."""

    def go() -> None:
        quiet_prefect()
        import asyncio

        from cadence.errors import ConfigurationError
        from cadence.services.reply_runs import inboxes
        from flows.replies import NOTHING_TO_READ, sync_replies_flow

        at = parse_instant(now)  # arguments first, then the database
        ctx = context()
        ctx.require_schema()
        if inboxes(ctx) == ([], []):
            raise ConfigurationError(NOTHING_TO_READ)
        emit_json(asyncio.run(sync_replies_flow(now=at)))
        hint_temporary_server()

    run(go)


def simulate(
    start: Annotated[str, typer.Option(help="Start of the simulated period (ISO-8601).")],
    end: Annotated[str, typer.Option(help="End of the simulated period (ISO-8601).")],
    every: Annotated[str, typer.Option(help="Tick at least this often (30m, 1h, 1d).")] = "1h",
) -> None:
    """Run the advance code path on a simulated clock over a period, in one flow run."""

    def go() -> None:
        quiet_prefect()
        import asyncio

        from flows.advance import simulate_cadences

        begin, finish = parse_instant(start, what="--start"), parse_instant(end, what="--end")
        if finish < begin:
            raise ValidationError("--end is before --start")
        if finish - begin > timedelta(days=3660):
            raise ValidationError("simulate at most ten years at once")
        step = parse_duration(every)
        context().require_schema()
        emit_json(asyncio.run(simulate_cadences(begin, finish, int(step.total_seconds()))))

    run(go)


def serve() -> None:
    """Serve every deployment on this machine with Prefect (advance every 5 minutes, rep digest each morning)."""

    def go() -> None:
        quiet_prefect()
        from flows.serve import serve_all

        context().require_schema()
        serve_all()

    run(go)


def prefect_unreachable(exc: BaseException) -> str | None:
    """What to tell an operator when Prefect's API could not be reached or started, or None for another error.

    Prefect raises a bare RuntimeError for both, which would otherwise read as a bug in cadence.
    """
    if not isinstance(exc, RuntimeError):
        return None
    text = str(exc)
    if text.startswith("Timed out while attempting to connect to ephemeral Prefect API server"):
        waited = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "?")
        return (
            f"Prefect's own API server (started because PREFECT_API_URL is not set) did not start within {waited} s; "
            "give it longer with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL to a "
            "running Prefect server"
        )
    if text.startswith("Failed to reach API at "):
        url = text.removeprefix("Failed to reach API at ")
        return (
            f"the Prefect API at {shown(url)} (PREFECT_API_URL) did not answer: start that server, or point "
            "PREFECT_API_URL at one that runs"
        )
    return None
