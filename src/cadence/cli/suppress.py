"""``cadence suppress``: addresses and domains that are never emailed."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table
from cadence.errors import ValidationError

suppress_app = typer.Typer(help="Addresses and domains that are never emailed.", no_args_is_help=True)


@suppress_app.command("add")
def suppress_add(
    address: Annotated[str, typer.Argument(help="An address, or @domain for a whole domain.")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    now: NowOption = None,
) -> None:
    """Never email this address (or domain) again."""

    def go() -> None:
        from cadence.services.suppression import suppress

        with session() as s:
            row = suppress(s, address, now=parse_instant(now), reason=reason)
            typer.echo(f"suppressed {row.value}")

    run(go)


@suppress_app.command("list")
def suppress_list(as_json: JsonOption = False) -> None:
    """List suppressed addresses and domains."""

    def go() -> None:
        from cadence.services.suppression import list_suppressions

        with session() as s:
            items = list_suppressions(s)
        if as_json:
            emit_json(items)
        else:
            typer.echo(
                table(
                    [(i["value"], (i["since"] or "")[:16], i["reason"]) for i in items], ["suppressed", "since", "why"]
                )
            )

    run(go)


@suppress_app.command("remove")
def suppress_remove(address: Annotated[str, typer.Argument(help="The address or @domain to email again.")]) -> None:
    """Remove a suppression added by mistake. Unsubscribes must be honoured: do not undo them."""

    def go() -> None:
        from cadence.services.suppression import unsuppress

        with session() as s:
            if not unsuppress(s, address):
                raise ValidationError(f"{address} is not suppressed")
        typer.echo(f"{address} may be emailed again")

    run(go)
