"""``cadence suppress``: addresses and domains that are never emailed."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table
from cadence.errors import ValidationError

suppress_app = typer.Typer(help="Addresses and domains that are never emailed.", no_args_is_help=True)


@suppress_app.command("add")
def suppress_add(
    address: Annotated[str | None, typer.Argument(help="An address, or @domain for a whole domain.")] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="A whole domain: the company's every address.")] = None,
    company_of: Annotated[
        str | None, typer.Option("--company-of", help="A lead: its whole company (its account's domain).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    now: NowOption = None,
) -> None:
    """Never email this address (or domain, or a lead's whole company) again."""

    def go() -> None:
        from cadence.services.suppression import suppress

        given = [v for v in (address, domain, company_of) if v]
        if len(given) != 1:
            raise ValidationError("give one of: an address, --domain DOMAIN, --company-of LEAD")
        value = address or (f"@{domain.lstrip('@')}" if domain else None)
        with session() as s:
            if company_of:
                from cadence.services.accounts import company_suppression

                value = company_suppression(s, company_of)
            assert value is not None
            row = suppress(s, value, now=parse_instant(now), reason=reason)
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
