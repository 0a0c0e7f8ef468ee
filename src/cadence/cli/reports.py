"""``cadence report``: the results report."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

import typer

from cadence.cli.common import context, emit_json, parse_instant, run
from cadence.errors import ValidationError

_BARE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_until(value: str) -> datetime:
    """``--until``: an ISO time (exclusive), or a bare date, which includes that whole day (UTC)."""
    instant = parse_instant(value, what="--until")
    return instant + timedelta(days=1) if _BARE_DATE.fullmatch(value.strip()) else instant


def _shown_on_stderr() -> Callable[[str, int, int], None]:
    """A report's progress on stderr (never stdout: ``--json`` stays parseable): one line a step, with its time.

    On a terminal each step overwrites the last; elsewhere (a log) each is a line of its own.
    """
    tty = sys.stderr.isatty()
    started = time.monotonic()

    def show(step: str, done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        finished = done >= total
        line = f"report: {step} ({done}/{total}, {elapsed:.1f}s)" if not finished else f"report: done in {elapsed:.1f}s"
        if tty:
            typer.echo(f"\r\033[K{line}", err=True, nl=finished)
        else:
            typer.echo(line, err=True)

    return show


def report(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Enrollments from this date or time (ISO-8601, naive means UTC). Default: all.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="Enrollments before this time; a bare date includes that day. Default: --now.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object with a key per section.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print one CSV: section, item, metric, value.")] = False,
    as_md: Annotated[bool, typer.Option("--md", help="Print markdown tables.")] = False,
    now: Annotated[
        str | None,
        typer.Option("--now", help="The current time, ISO-8601 (naive means UTC): tasks due before it are overdue.",
                     show_default=False),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress",
                     help="Show each step on stderr as it starts. Default: when stderr is a terminal.",
                     show_default=False),
    ] = None,
) -> None:  # fmt: skip
    """Report results: funnel, steps, template variants, conversion, times, decisions and owners.

    The period selects enrollments by their enrollment time, and names and leads by their creation
    time; the report states every rule it counts by.
    """
    if sum((as_json, as_csv, as_md)) > 1:
        raise typer.BadParameter("choose one of --json, --csv and --md")

    def go() -> None:
        from cadence.services.reports import generate_report, render_csv, render_markdown, render_text

        instant = parse_instant(now)
        start = parse_instant(since, what="--since") if since is not None else None
        stop = parse_until(until) if until is not None else instant
        if start is not None and stop <= start:
            raise ValidationError(f"the period is empty: --until ({stop.isoformat()}) is not after --since")
        ctx = context()
        ctx.require_schema()
        show = sys.stderr.isatty() if progress is None else progress
        data = generate_report(ctx, since=start, until=stop, now=instant, progress=_shown_on_stderr() if show else None)
        if as_json:
            emit_json(data)
        elif as_csv:
            typer.echo(render_csv(data), nl=False)
        elif as_md:
            typer.echo(render_markdown(data), nl=False)
        else:
            typer.echo(render_text(data), nl=False)

    run(go)
