"""``cadence due``: what is due now, and which emails may or may not have gone out."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table


def due(
    now: NowOption = None,
    as_json: JsonOption = False,
    uncertain: Annotated[
        bool, typer.Option("--uncertain", help="List emails whose send outcome is unknown after a crash.")
    ] = False,
) -> None:
    """What is due as of --now (or, with --uncertain, which emails may or may not have gone out). Writes nothing."""

    def go() -> None:
        from cadence.services.lead_views import due_items, uncertain_items

        if uncertain:
            with session() as s:
                found = uncertain_items(s)
            if as_json:
                emit_json(found)
            else:
                lines = [(u["touch"], u["email"], u["step"], u["subject"], u["message_id"], u["at"]) for u in found]
                typer.echo(table(lines, ["touch", "lead", "step", "subject", "message id", "handed to SMTP at"]))
                typer.echo(f"{len(found)} uncertain: check the SMTP server's logs for these Message-IDs")
            return
        from cadence.cli.common import context
        from cadence.services.mailboxes import rates_today

        with session() as s:
            items = due_items(s, now=parse_instant(now))
            rates = rates_today(s, now=parse_instant(now), settings=context().settings)
        if as_json:
            emit_json(items)
        else:
            rows = [
                (i["due_at"], i["email"], i["cadence"], i["step"], i["day"], i["channel"], i["owner"]) for i in items
            ]
            typer.echo(table(rows, ["due", "lead", "cadence", "step", "day", "channel", "owner"]))
            typer.echo(f"{len(items)} due")
            for line in rates:  # emails of a rep with mailboxes leave at the pace of their mailbox
                typer.echo(f"mailbox {line}")

    run(go)
