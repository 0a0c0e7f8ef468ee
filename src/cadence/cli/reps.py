"""``cadence reps``: the sales reps, owners of leads."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, parse_instant, run, session, table

reps_app = typer.Typer(help="Sales reps: the owners of leads.", no_args_is_help=True)


@reps_app.command("add")
def reps_add(
    email: str,
    name: Annotated[str, typer.Option("--name", help="The rep's name, as it signs emails.")],
    signature: Annotated[str | None, typer.Option(help="Email signature.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Paris.")] = None,
    daily_email_cap: Annotated[int | None, typer.Option(help="At most this many emails a day.", min=1)] = None,
    role: Annotated[str, typer.Option(help="rep (owns new leads) or developer (works the passed-back leads).")] = "rep",
    now: NowOption = None,
) -> None:
    """Add a sales rep."""

    def go() -> None:
        from cadence.services.reps import add_rep

        with session() as s:
            rep = add_rep(
                s,
                email,
                name,
                now=parse_instant(now),
                signature=signature,
                timezone=timezone,
                daily_email_cap=daily_email_cap,
                role=role.strip().lower(),
            )
            what = "developer" if rep.role else "rep"
            typer.echo(f"added {what} {rep.name} <{rep.email}>")

    run(go)


@reps_app.command("list")
def reps_list(as_json: JsonOption = False) -> None:
    """List the reps."""

    def go() -> None:
        from cadence.services.reps import list_reps

        with session() as s:
            reps = list_reps(s)
        if as_json:
            emit_json(reps)
        elif not reps:
            typer.echo("no reps yet: add one with `cadence reps add EMAIL --name NAME`")
        else:
            rows = [(r["email"], r["name"], r["role"], r["timezone"], r["daily_email_cap"], r["leads"]) for r in reps]
            typer.echo(table(rows, ["email", "name", "role", "timezone", "cap", "leads"]))

    run(go)
