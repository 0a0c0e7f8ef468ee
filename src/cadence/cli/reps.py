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


@reps_app.command("edit")
def reps_edit(
    email: str,
    name: Annotated[str | None, typer.Option("--name", help="The rep's name, as it signs emails.")] = None,
    signature: Annotated[str | None, typer.Option(help="Email signature (empty: none).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Paris.")] = None,
    daily_email_cap: Annotated[int | None, typer.Option(help="At most this many emails a day.", min=1)] = None,
    by: Annotated[str, typer.Option("--by", help="Who makes the change, for the audit log.")] = "cli",
    now: NowOption = None,
) -> None:
    """Change a rep's name, signature, time zone or daily email cap."""

    def go() -> None:
        from cadence.services.reps import edit_rep

        with session() as s:
            rep = edit_rep(
                s,
                email,
                actor=by,
                now=parse_instant(now),
                name=name,
                signature=signature,
                timezone=timezone,
                daily_email_cap=daily_email_cap,
            )
            typer.echo(f"updated {rep.name} <{rep.email}>")

    run(go)


@reps_app.command("deactivate")
def reps_deactivate(
    email: str,
    reassign_to: Annotated[
        str | None,
        typer.Option("--reassign-to", help="Who takes the leads and open tasks (default: round-robin)."),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who makes the change, for the audit log.")] = "cli",
    now: NowOption = None,
) -> None:
    """Deactivate a rep (who leaves, say): their leads and open tasks go to another rep, or round-robin."""

    def go() -> None:
        from cadence.services.reps import deactivate_rep

        with session() as s:
            moved = deactivate_rep(s, email, actor=by, now=parse_instant(now), reassign_to=reassign_to)
        where = f"to {reassign_to}" if reassign_to else "round-robin to the other reps"
        typer.echo(f"deactivated {email}: {moved['leads']} leads and {moved['tasks']} open tasks went {where}")

    run(go)


@reps_app.command("away")
def reps_away(
    email: str,
    start: Annotated[str | None, typer.Option("--from", help="Out of office from (ISO-8601; default: now).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Back at (ISO-8601).")] = None,
    back: Annotated[bool, typer.Option("--back", help="End (or cancel) the out-of-office period.")] = False,
    by: Annotated[str, typer.Option("--by", help="Who makes the change, for the audit log.")] = "cli",
    now: NowOption = None,
) -> None:
    """Mark a rep out of office: new leads go to the other reps until they are back."""

    def go() -> None:
        from cadence.errors import ValidationError
        from cadence.services.reps import clear_away, set_away

        instant = parse_instant(now)
        with session() as s:
            if back:
                rep = clear_away(s, email, actor=by, now=instant)
                typer.echo(f"{rep.email} is back: new leads reach them again")
                return
            if until is None:
                raise ValidationError("give --until (when the rep is back), or --back")
            begin = parse_instant(start, what="--from") if start else instant
            end = parse_instant(until, what="--until")
            rep = set_away(s, email, begin, end, actor=by, now=instant)
            span = f"from {begin.isoformat(timespec='minutes')} until {end.isoformat(timespec='minutes')}"
            typer.echo(f"{rep.email} is away {span}: new leads go to the other reps meanwhile")

    run(go)
