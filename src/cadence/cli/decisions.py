"""``cadence decisions``: how each lead's cadence ended, and why."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, emit_json, run, session, table

decisions_app = typer.Typer(help="Decisions: how each lead's cadence ended, and why.", no_args_is_help=True)


@decisions_app.command("list")
def decisions_list(
    outcome: Annotated[str | None, typer.Option(help="Only this outcome.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List decisions, newest first, with their reasons and qualifying answers."""

    def go() -> None:
        from cadence.core.decisions import parse_outcome
        from cadence.services.lead_views import list_decisions

        chosen = parse_outcome(outcome) if outcome else None
        with session() as s:
            items = list_decisions(s, outcome=chosen.value if chosen else None)
        if as_json:
            emit_json(items)
            return
        rows = [
            (d["at"][:16], d["ref"], d["outcome"], "skipped" if d["qualification_skipped"] else "", d["reason"])
            for d in items
        ]
        typer.echo(table(rows, ["at (UTC)", "lead", "outcome", "qualification", "reason"]))
        typer.echo(f"{len(items)} decision(s)")

    run(go)
