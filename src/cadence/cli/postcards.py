"""``cadence postcards``: postcards for a print-and-mail vendor."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session

postcards_app = typer.Typer(help="Postcards for a print-and-mail vendor.", no_args_is_help=True)


@postcards_app.command("export")
def postcards_export(
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (the default).")] = False,
    now: NowOption = None,
) -> None:
    """Export the postcards due, with copy and mailing address; each is exported once."""

    def go() -> None:
        from cadence.errors import ValidationError
        from cadence.services.postcards import export_postcards, postcards_csv

        if as_json and as_csv:  # checked before exporting: each postcard is exported once
            raise ValidationError("give --csv or --json, not both")
        with session() as s:
            cards = export_postcards(s, now=parse_instant(now))
        if as_json:
            emit_json(cards)
        else:
            typer.echo(postcards_csv(cards), nl=False)

    run(go)
