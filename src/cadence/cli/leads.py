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
        from cadence.services.lead_import import FileImport, import_parsed, read_import

        instant = parse_instant(now)
        request = FileImport(
            file, owner=owner, cadence=cadence_name, enroll=not no_enroll, dry_run=dry_run, rejects=rejects
        )
        parsed = read_import(request)
        report = import_parsed(context(), request, parsed, now=instant)
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
    stuck: Annotated[
        bool, typer.Option("--stuck", help="Only leads with neither a decision nor a next step, and why.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List leads with their status, class, owner and cadence."""

    def go() -> None:
        from cadence.services.leads import list_leads

        if stuck:
            show_stuck()
            return
        with session() as s:
            leads = list_leads(s, status=status, owner=owner)
        if as_json:
            emit_json(leads)
        else:
            rows = [(x["email"], x["name"], x["status"], x["class"], x["owner"], x["cadence"]) for x in leads]
            typer.echo(table(rows, ["email", "name", "status", "class", "owner", "cadence"]))
            typer.echo(f"{len(leads)} lead(s)")

    def show_stuck() -> None:
        from cadence.errors import ValidationError
        from cadence.services.leads import rep_id
        from cadence.services.stuck import stuck_leads

        if status is not None:
            raise ValidationError("--stuck lists leads of every status: leave out --status")
        with session() as s:
            leads = stuck_leads(s, owner_id=rep_id(s, owner) if owner else None)
        if as_json:
            emit_json(leads)
            return
        rows = [(x["email"], x["name"], x["status"], x["owner"], x["reason"]) for x in leads]
        typer.echo(table(rows, ["email", "name", "status", "owner", "why stuck"]))
        typer.echo(f"{len(leads)} lead(s) with neither a decision nor a next step")

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
        lead_class, owner, source = data["class"] or "none", data["owner"] or "none", data["source"] or "unknown"
        typer.echo(f"  status {data['status']}, class {lead_class}, owner {owner}, source {source}")
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
        if data["snoozed_until"]:
            typer.echo(f"  snoozed until {data['snoozed_until']}, then cadence {data['snooze_cadence']}")
        if data["referred_by"]:
            typer.echo(f"  referred by {data['referred_by']}")
        stage = data["stage"]
        typer.echo(f"  stage {stage['name']} since {stage['since'][:16]}")
        for action in data["actions"]:
            undone = f" (undone by {action['undone_by']}: {action['undo_note']})" if action["undone_at"] else ""
            typer.echo(f"  action {action['id']} at {action['at'][:16]}: {action['summary']}{undone}")
            typer.echo(f"    evidence: {'; '.join(action['evidence'])}")
        if data["timeline"]:
            rows = [
                (t["at"], t["day"], t["channel"], t["state"], t["template"], t["subject"]) for t in data["timeline"]
            ]
            typer.echo(table(rows, ["at", "day", "channel", "state", "template", "subject"]))
            for t in data["timeline"]:
                if t["intent"]:
                    evidence = "; ".join(t["evidence"] or [])
                    typer.echo(f"  {t['at']}: reads as {t['intent']} ({t['confidence']:.2f}): {evidence}")

    run(go)


@leads_app.command("stage")
def leads_stage(
    email: str,
    stage: Annotated[str, typer.Argument(help="The stage's key or name (see templates/stages.yaml).")],
    reason: Annotated[str, typer.Option("--reason", help="Why the lead moves: kept in its stage history.")],
    by: Annotated[str, typer.Option("--by", help="Who moves it (default: the operator).")] = "operator",
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Move a lead to a stage of maturation by hand (forward or back), with a reason."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.stages import move_by_hand, stages_of

        instant = parse_instant(now)
        with session() as s:
            lead = get_lead(s, email)
            change = move_by_hand(s, lead, stage, reason=reason, by=by, now=instant)
            stages = stages_of(s)
            result = {
                "email": lead.email,
                "stage": change.stage,
                "name": stages.name(change.stage),
                "previous": change.previous or stages.first.key,
                "at": change.entered_at.isoformat(),
                "by": change.by,
                "reason": change.reason,
            }
        if as_json:
            emit_json(result)
        else:
            typer.echo(f"{result['email']}: {stages.name(result['previous'])} -> {result['name']}")

    run(go)


@leads_app.command("undo")
def leads_undo(
    email: str,
    action_id: Annotated[int, typer.Argument(help="The action's number, as `cadence leads show EMAIL` lists it.")],
    by: Annotated[str, typer.Option("--by", help="Who undoes it (default: the operator).")] = "operator",
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Undo what a reply's intent did on its own (a snooze, a referral, a decision, a suppression)."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.undo import undo_action

        instant = parse_instant(now)
        with session() as s:
            action = undo_action(s, get_lead(s, email), action_id, by=by, now=instant)
            result = {"id": action.id, "kind": action.kind, "summary": action.summary, "undone": action.undo_note}
        if as_json:
            emit_json(result)
        else:
            typer.echo(f"undone: {result['summary']} ({result['undone']})")

    run(go)


@leads_app.command("erase")
def leads_erase(
    email: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    by: Annotated[str, typer.Option("--by", help="Who asked for it, for the audit log (default: cli).")] = "cli",
    now: NowOption = None,
) -> None:
    """Erase a person who asked to be forgotten: their data goes, a keyed hash keeps them out for good."""

    def go() -> None:
        from cadence.services.erasure import erase

        if not yes and not typer.confirm(
            f"Erase every personal detail cadence holds about {email}? This cannot be undone", default=False
        ):
            typer.echo("nothing erased")
            return
        ctx = context()
        with session() as s:
            done = erase(s, ctx.settings, email, actor=by, now=parse_instant(now))
        if done is None:
            typer.echo(f"no lead with email {email}: kept its hash so that it is never imported or enrolled")
        else:
            counts = ", ".join(f"{n} {table_name}" for table_name, n in done.rows.items()) or "no other rows"
            typer.echo(f"erased {email} (now {done.tombstone}; {counts}); a later import or API call skips them")

    run(go)
