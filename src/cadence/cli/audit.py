"""``cadence audit``: the audit log, who did what and when."""

from __future__ import annotations

from typing import Annotated

import typer

from cadence.cli.common import JsonOption, emit_json, parse_instant, run, session, table

audit_app = typer.Typer(help="The audit log: who did what and when.", no_args_is_help=True)


@audit_app.command("list")
def audit_list(
    since: Annotated[str | None, typer.Option("--since", help="From this date or time (ISO-8601, UTC).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this date or time (ISO-8601, UTC).")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only what this person (address) did.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action, e.g. login.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.", min=1, max=1000)] = 200,
    as_json: JsonOption = False,
) -> None:
    """List the audit log, newest first."""

    def go() -> None:
        from cadence.services.audit import AuditFilter, as_dict, entries

        where = AuditFilter(
            since=parse_instant(since, what="--since") if since else None,
            until=parse_instant(until, what="--until") if until else None,
            actor=actor,
            action=action,
        )
        with session() as s:
            found = [as_dict(e) for e in entries(s, where, limit=limit)]
        if as_json:
            emit_json(found)
        elif not found:
            typer.echo("no audit entries match")
        else:
            rows = [
                (e["at"][:19].replace("T", " "), e["actor"], e["action"], e["subject"] or "", _short(e["details"]))
                for e in found
            ]
            typer.echo(table(rows, ["at (UTC)", "actor", "action", "subject", "details"]))

    run(go)


def _short(details: object) -> str:
    """The details on one short line."""
    if not isinstance(details, dict) or not details:
        return ""
    text = ", ".join(f"{k}={v}" for k, v in details.items())
    return text if len(text) <= 80 else text[:79] + "…"
