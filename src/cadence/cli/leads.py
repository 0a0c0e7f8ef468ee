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
    file: Annotated[Path | None, typer.Argument(help="A CSV file with an email column.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner of rows that name none (default: round-robin).")] = None,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Enroll in this cadence.")] = None,
    no_enroll: Annotated[bool, typer.Option("--no-enroll", help="Store and qualify only.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")] = False,
    rejects: Annotated[Path | None, typer.Option(help="Write rejected rows, with reasons, to this CSV.")] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help='"Column Name=field": read that column as a field (or "=ignore"); repeatable.'),
    ] = None,
    undo: Annotated[
        int | None, typer.Option("--undo", metavar="IMPORT_ID", help="Take back that import (see `leads imports`).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --undo: an import whose process died.")] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Import leads from CSV: qualify, assign owners, enroll leads (Day 0 is --now); or undo an import."""

    def go() -> int:
        from cadence.errors import ValidationError

        if undo is not None:
            if file is not None:
                raise ValidationError("--undo takes back an import: give no file with it")
            return take_back(undo)
        assert file is not None  # checked before
        return bring_in(file)

    def bring_in(path: Path) -> int:
        import getpass
        import sys

        from cadence.services.lead_import import FileImport, Progress, run_import

        instant = parse_instant(now)
        try:
            by: str | None = getpass.getuser()
        except (KeyError, OSError):
            by = None
        request = FileImport(
            path,
            owner=owner,
            cadence=cadence_name,
            enroll=not no_enroll,
            dry_run=dry_run,
            rejects=rejects,
            mapping=tuple(mapping or ()),
            by=by,
        )
        tty = sys.stderr.isatty()
        shown_at = [0.0]

        def progress(step: Progress) -> None:
            import time

            if as_json or step.total < 1_000:
                return
            moment = time.monotonic()
            if step.done < step.total and moment - shown_at[0] < (0.5 if tty else 10):
                return
            shown_at[0] = moment
            line = (
                f"{step.done:,} of {step.total:,} rows ({100 * step.done // step.total}%): "
                f"{step.report.imported:,} new, {step.report.updated:,} updated, {step.report.enrolled:,} enrolled"
            )
            typer.echo(f"\r{line}" if tty else line, err=True, nl=not tty or step.done >= step.total)

        report = run_import(context(), request, now=instant, progress=progress)
        if as_json:
            emit_json(report.as_dict())
            return EXIT_PARTIAL if report.rejected else 0
        verb = "would import" if dry_run else "imported"
        typer.echo(
            f"{verb} {report.imported} new, updated {report.updated}, enrolled {report.enrolled}, "
            f"names {report.names}, unfit {report.unfit}, suppressed {report.suppressed}, "
            f"rejected {report.rejected}"
        )
        if report.import_id is not None:
            typer.echo(f"import {report.import_id}: `cadence leads import --undo {report.import_id}` takes it back")
        for header, key in report.mapped_columns.items():
            typer.echo(f"  column {header!r} read as {key}")
        if report.custom_columns:
            names = ", ".join(repr(column) for column in report.custom_columns)
            typer.echo(f'  custom fields (no standard field matches; --map "Column=field" to change): {names}')
        if report.reasons:
            typer.echo("not enrolled, and why:")
            ranked = sorted(report.reasons.items(), key=lambda item: (-item[1], item[0]))
            for reason, count in ranked[:15]:
                typer.echo(f"  {count:>6}  {reason}")
            if len(ranked) > 15:
                typer.echo(f"  ... and {len(ranked) - 15} other reasons (`cadence leads list --status name`)")
        if report.warned:
            typer.echo(f"{report.warned} row(s) imported with a field normalized or left empty", err=True)
        if report.warnings:  # also the address and owner warnings found while writing
            typer.echo("warnings:", err=True)
            for warning in report.warnings[:20]:
                typer.echo(f"  row {warning['row']}: {warning['warning']}", err=True)
            if len(report.warnings) > 20:
                typer.echo(f"  ... and more (--json lists up to {len(report.warnings)})", err=True)
        if report.errors:  # a header of their own: a rejected row reads like a warned one
            typer.echo("rejected rows:", err=True)
        for error in report.errors[:50]:
            typer.echo(f"  row {error['row']}: {error['reason']}", err=True)
        if report.rejected > 50:
            typer.echo(f"  ... and {report.rejected - 50} more (use --rejects FILE)", err=True)
        if rejects is not None and report.rejected:
            typer.echo(f"rejected rows written to {rejects}")
        return EXIT_PARTIAL if report.rejected else 0

    def take_back(import_id: int) -> int:
        from cadence.services.lead_import import undo_import

        result = undo_import(context(), import_id, force=force)
        if as_json:
            emit_json(result.as_dict())
            return 0
        typer.echo(
            f"import {import_id} undone: removed {result.removed} lead(s) it created, restored {result.restored} "
            f"it updated (of which {result.unenrolled} unenrolled), kept {len(result.kept)}"
        )
        for item in result.kept[:50]:
            typer.echo(f"  kept {item['email']}: {item['reason']}")
        return 0

    if file is None and undo is None:
        raise typer.BadParameter("name the CSV file to import (or --undo IMPORT_ID)", param_hint="FILE")
    code = run(go)
    if code:
        raise typer.Exit(code)


@leads_app.command("imports")
def leads_imports(as_json: JsonOption = False) -> None:
    """List the latest imports: id, file, who ran it, when, state and counts."""

    def go() -> None:
        from cadence.services.lead_import import list_imports

        with session() as s:
            entries = list_imports(s)
        if as_json:
            emit_json(entries)
            return
        rows = [
            (
                e["id"],
                e["file"],
                e["by"] or "",
                e["state"],
                e["started_at"],
                e["rows"],
                ", ".join(f"{k} {v}" for k, v in e["counts"].items() if k != "undo"),
            )
            for e in entries
        ]
        typer.echo(table(rows, ["id", "file", "by", "state", "started", "rows", "counts"]))

    run(go)


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
        from cadence.services.lead_views import list_leads

        if stuck:
            show_stuck()
            return
        with session() as s:
            leads = list_leads(s, status=status, owner=owner)
        if as_json:
            emit_json(leads)
        else:
            rows = [(x["ref"], x["name"], x["status"], x["class"], x["owner"], x["cadence"]) for x in leads]
            typer.echo(table(rows, ["email", "name", "status", "class", "owner", "cadence"]))
            typer.echo(f"{len(leads)} lead(s)")

    def show_stuck() -> None:
        from cadence.errors import ValidationError
        from cadence.services.reps import rep_id
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
        from cadence.services.lead_views import show_lead

        with session() as s:
            data = show_lead(s, email, settings=context().settings)
        if as_json:
            emit_json(data)
            return
        reach = " ".join(f"<{v}>" for v in (data["email"], data["phone"]) if v)
        typer.echo(f"{data['name'] or data['ref']} {reach}  {data['company'] or ''}".rstrip())
        if data["email"] is None:
            typer.echo(f"  known by phone only: refer to it as {data['ref']}; its cadence's email steps are skipped")
        lead_class, owner, source = data["class"] or "none", data["owner"] or "none", data["source"] or "unknown"
        typer.echo(f"  status {data['status']}, class {lead_class}, owner {owner}, source {source}")
        if data.get("address_warning"):
            typer.echo(f"  warning: {data['address_warning']}")
        enrollment = data["enrollment"]
        if enrollment:
            step, due = enrollment["next_step"], enrollment["next_due_at"]
            # a decided, responded or completed enrollment keeps its next step's index but no due time
            nxt = (
                f"next step {step['index']} (day {step['day']}, {step['channel']}) at {due}"
                if step and due
                else "no next step"
            )
            typer.echo(
                f"  cadence {enrollment['cadence']} v{enrollment['version']}: {enrollment['state']}, "
                f"{enrollment['steps_done']}/{enrollment['steps_total']} done, {nxt}"
            )
        if data["not_enrolled_reasons"] and not enrollment:
            typer.echo("  not enrolled: " + "; ".join(data["not_enrolled_reasons"]))
        if data["enrolled_anyway"]:
            anyway = data["enrolled_anyway"]
            typer.echo(
                f"  enrolled anyway by {anyway.get('by') or 'someone'} at {anyway.get('at')}: {anyway.get('why')}"
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
        if data["account"]:
            role = f" as {data['role'].replace('_', ' ')}" if data["role"] else ""
            typer.echo(f"  account {data['account']['name']} (#{data['account']['id']}){role}: cadence accounts show")
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
                "email": lead.reference,
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


@leads_app.command("add-colleague")
def leads_add_colleague(
    email: Annotated[str, typer.Argument(help="The lead whose colleague this is: its address or #ID.")],
    name: Annotated[str, typer.Option(help="The colleague's name.")],
    colleague_email: Annotated[
        str | None, typer.Option("--email", help="The colleague's address (give it, a phone, or both).")
    ] = None,
    phone: Annotated[
        str | None, typer.Option(help="The colleague's phone (+1 212 555 0100; without +, read in their country).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="The colleague's job title.")] = None,
    role: Annotated[str | None, typer.Option(help="decision_maker, approver, influencer, user or gatekeeper.")] = None,
    referred: Annotated[
        bool, typer.Option("--referred", help="EMAIL named them: referred by it, enrolled in the referral cadence.")
    ] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Add a colleague of a lead: the same account and owner, with a role in the buying group.

    A colleague known only by phone is referred to as #ID afterwards; its cadence's email steps are skipped.
    """

    def go() -> None:
        from cadence.core.accounts import parse_role
        from cadence.services.accounts import add_colleague

        ctx = context()
        parse_role(role)  # an unknown role is refused here, with the choices
        values = {"email": colleague_email, "name": name, "phone": phone, "title": title, "role": role}
        with session() as s:
            result = add_colleague(s, email, values, referred=referred, now=parse_instant(now), settings=ctx.settings,
                                   rules=ctx.rules, cadences=ctx.cadences)  # fmt: skip
        if as_json:
            emit_json(result)
            return
        enrolled = f", enrolled in {result['enrolled']}" if result["enrolled"] else ", not enrolled"
        who = result["email"] or f"{result['name']} ({result['phone']}), {result['reference']}"
        typer.echo(f"added {who} to {result['account']} (owner {result['owner'] or 'none'}){enrolled}")

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
