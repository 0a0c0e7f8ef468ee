"""``cadence report``: the results report."""

from __future__ import annotations

import re
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
        data = generate_report(ctx, since=start, until=stop, now=instant)
        if as_json:
            emit_json(data)
        elif as_csv:
            typer.echo(render_csv(data), nl=False)
        elif as_md:
            typer.echo(render_markdown(data), nl=False)
        else:
            typer.echo(render_text(data), nl=False)

    run(go)
