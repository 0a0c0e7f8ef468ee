"""``cadence leads``: import, list and inspect leads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.common import (
    EXIT_PARTIAL,
    JsonOption,
    NowOption,
    context,
    emit_json,
    parse_instant,
    run,
    session,
    table,
)
from cadence.errors import ValidationError, database_problem

leads_app = typer.Typer(help="Import, list and inspect leads.", no_args_is_help=True)


@leads_app.command("import")
def leads_import(
    file: Annotated[Path, typer.Argument(help="A CSV file with an email column.")],
    owner: Annotated[str | None, typer.Option(help="Owner of rows that name none (default: round-robin).")] = None,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Enroll in this cadence.")] = None,
    no_enroll: Annotated[bool, typer.Option("--no-enroll", help="Store and qualify only.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Write rejected rows, with reasons, to this CSV.")] = None,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Import leads from CSV: qualify, assign owners, enroll leads (Day 0 is --now)."""

    def go() -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from cadence.adapters.csv_leads import RowError, parse_leads_csv, read_leads_file, same_file, write_rejects
        from cadence.services.leads import ImportAborted, ImportRow, import_leads

        instant = parse_instant(now)
        if rejects is not None and same_file(rejects, file):
            raise ValidationError(f"--rejects {rejects} is the file being imported: name another file")
        data = read_leads_file(file)
        try:
            parsed = parse_leads_csv(data)
        except ValidationError as exc:
            raise ValidationError(f"{file}: {exc}") from None
        ctx = context()
        ctx.require_schema()
        try:
            with ctx.sessions() as s, s.begin():
                report = import_leads(
                    s,
                    [ImportRow(row=r.row, lead=r.lead) for r in parsed.rows],
                    now=instant,
                    settings=ctx.settings,
                    rules=ctx.rules,
                    cadences=ctx.cadences,
                    default_owner=owner,
                    cadence_override=cadence_name,
                    enroll=not no_enroll,
                )
                report.dry_run = dry_run
                raw_by_row = {r.row: r.raw for r in parsed.rows}
                late = [RowError(e["row"], e["reason"], raw_by_row.get(e["row"], {})) for e in report.errors]
                report.errors = sorted(
                    [{"row": e.row, "reason": e.reason} for e in parsed.errors] + report.errors, key=lambda e: e["row"]
                )
                if rejects is not None and report.errors:
                    write_rejects(rejects, parsed, late)  # before the commit: unwritable, nothing is imported
                if dry_run:
                    s.rollback()
        except ImportAborted as exc:
            raise ImportAborted(f"{file}: {exc}") from None
        except SQLAlchemyError as exc:  # at the commit: no row to name
            raise ImportAborted(
                f"{file}: the database refused the import ({database_problem(exc)}), so nothing was imported"
            ) from None
        if as_json:
            emit_json(report.as_dict())
        else:
            verb = "would import" if dry_run else "imported"
            typer.echo(
                f"{verb} {report.imported} new, updated {report.updated}, enrolled {report.enrolled}, "
                f"names {report.names}, unfit {report.unfit}, suppressed {report.suppressed}, "
                f"rejected {report.rejected}"
            )
            for error in report.errors[:50]:
                typer.echo(f"  row {error['row']}: {error['reason']}", err=True)
            if report.rejected > 50:
                typer.echo(f"  ... and {report.rejected - 50} more (use --rejects FILE)", err=True)
            if rejects is not None and report.errors:
                typer.echo(f"rejected rows written to {rejects}")
        return EXIT_PARTIAL if report.errors else 0

    code = run(go)
    if code:
        raise typer.Exit(code)


@leads_app.command("list")
def leads_list(
    status: Annotated[str | None, typer.Option(help="name, unfit, lead, active, paused, responded, ...")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this rep's leads.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List leads with their status, class, owner and cadence."""

    def go() -> None:
        from cadence.services.leads import list_leads

        with session() as s:
            leads = list_leads(s, status=status, owner=owner)
        if as_json:
            emit_json(leads)
        else:
            rows = [(x["email"], x["name"], x["status"], x["class"], x["owner"], x["cadence"]) for x in leads]
            typer.echo(table(rows, ["email", "name", "status", "class", "owner", "cadence"]))
            typer.echo(f"{len(leads)} lead(s)")

    run(go)


@leads_app.command("show")
def leads_show(email: str, as_json: JsonOption = False) -> None:
    """Show a lead: class, owner, enrollment, decision and timeline."""

    def go() -> None:
        from cadence.services.leads import show_lead

        with session() as s:
            data = show_lead(s, email, settings=context().settings)
        if as_json:
            emit_json(data)
            return
        typer.echo(f"{data['name'] or data['email']} <{data['email']}>  {data['company'] or ''}".rstrip())
        typer.echo(f"  status {data['status']}, class {data['class']}, owner {data['owner']}, source {data['source']}")
        enrollment = data["enrollment"]
        if enrollment:
            step = enrollment["next_step"]
            nxt = f"step {step['index']} (day {step['day']}, {step['channel']})" if step else "none"
            typer.echo(
                f"  cadence {enrollment['cadence']} v{enrollment['version']}: {enrollment['state']}, "
                f"{enrollment['steps_done']}/{enrollment['steps_total']} done, "
                f"next {nxt} at {enrollment['next_due_at']}"
            )
        if data["decision"]:
            d = data["decision"]
            typer.echo(f"  decision {d['outcome']} at {d['at']}: {d['reason'] or ''}")
        if data["timeline"]:
            rows = [
                (t["at"], t["day"], t["channel"], t["state"], t["template"], t["subject"]) for t in data["timeline"]
            ]
            typer.echo(table(rows, ["at", "day", "channel", "state", "template", "subject"]))

    run(go)
