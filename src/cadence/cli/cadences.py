"""``cadence cadences``: the cadences in the templates folder."""

from __future__ import annotations

from typing import Any

import typer

from cadence.cli.common import JsonOption, NowOption, context, emit_json, run, table

cadences_app = typer.Typer(help="The cadences in the templates folder.", no_args_is_help=True)


@cadences_app.command("list")
def cadences_list(as_json: JsonOption = False) -> None:
    """List the cadences with their versions and steps."""

    def go() -> None:
        cadences = context().cadences
        data: list[dict[str, Any]] = [
            {
                "name": c.name,
                "version": c.version,
                "description": c.description,
                "steps": [{"day": s.day, "channel": s.channel.value, "template": s.template} for s in c.steps],
            }
            for c in cadences.values()
        ]
        if as_json:
            emit_json(data)
        else:
            rows = [(c["name"], c["version"], len(c["steps"]), c["description"]) for c in data]
            typer.echo(table(rows, ["name", "version", "steps", "description"]))

    run(go)


@cadences_app.command("show")
def cadences_show(name: str, as_json: JsonOption = False) -> None:
    """Show one cadence step by step."""

    def go() -> None:
        cadence = context().cadence(name)
        if as_json:
            emit_json({"version": cadence.version, **cadence.to_dict()})
            return
        st = cadence.settings
        typer.echo(f"{cadence.name} (version {cadence.version}): {cadence.description or ''}".rstrip())
        typer.echo(
            f"  send window {st.window_start:%H:%M}-{st.window_end:%H:%M} local time, "
            f"{'business days' if st.business_days_only else 'every day'}, "
            f"{'skipping' if st.skip_holidays else 'ignoring'} public holidays, at least {st.min_gap_days} day(s) "
            "between touches"
        )
        rows = [
            (i + 1, s.day, s.channel.value, ", ".join(s.templates), s.instructions or "")
            for i, s in enumerate(cadence.steps)
        ]
        typer.echo(table(rows, ["step", "day", "channel", "template", "instructions"]))

    run(go)


@cadences_app.command("paused")
def cadences_paused(as_json: JsonOption = False) -> None:
    """List the cadences the bounce guard paused, and why."""

    def go() -> None:
        from cadence.cli.common import session
        from cadence.services.guards import paused_cadences

        with session() as s:
            rows = paused_cadences(s)
        if as_json:
            emit_json(rows)
        elif not rows:
            typer.echo("no cadence is paused")
        else:
            typer.echo(table([(r["cadence"], r["paused_at"], r["reason"]) for r in rows], ["cadence", "since", "why"]))

    run(go)


@cadences_app.command("resume")
def cadences_resume(name: str, now: NowOption = None) -> None:
    """Let a cadence the bounce guard paused send again (its waiting emails go within the hour)."""

    def go() -> None:
        from cadence.cli.common import parse_instant, session
        from cadence.services.guards import resume_cadence

        with session() as s:
            reason = resume_cadence(s, name, now=parse_instant(now))
        typer.echo(f"resumed cadence {name} (it was {reason})")

    run(go)
