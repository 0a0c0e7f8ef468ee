"""The ``cadence`` command line (Typer).

Exit codes: 0 success, 1 error (a message on stderr, no traceback), 2 usage error, 3 partial import.
Every command that depends on the time or records one takes ``--now`` (ISO-8601; default: the clock).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from cadence.cli_reports import report
from cadence.cli_templates import templates_app
from cadence.cli_users import users_app
from cadence.errors import CadenceError, ValidationError, database_problem, shown
from cadence.settings import Settings

app = typer.Typer(
    name="cadence",
    help="Make sure every sales lead is followed up: cadences of emails and rep tasks until a decision.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
reps_app = typer.Typer(help="Sales reps: the owners of leads.", no_args_is_help=True)
leads_app = typer.Typer(help="Import, list and inspect leads.", no_args_is_help=True)
cadences_app = typer.Typer(help="The cadences in the templates folder.", no_args_is_help=True)
suppress_app = typer.Typer(help="Addresses and domains that are never emailed.", no_args_is_help=True)
app.add_typer(reps_app, name="reps")
app.add_typer(leads_app, name="leads")
app.add_typer(cadences_app, name="cadences")
app.add_typer(suppress_app, name="suppress")
app.command("report")(report)

EXIT_PARTIAL = 3
T = TypeVar("T")

NowOption = Annotated[
    str | None,
    typer.Option("--now", help="The current time, ISO-8601 (naive means UTC). Default: the clock.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Times given on the command line lie in [EARLIEST, LATEST): anything else is a typo, and near the
ends of Python's calendar (years 1 and 9999) the step arithmetic would overflow."""


def parse_instant(value: str | None, *, what: str = "--now") -> datetime:
    """Parse an ISO-8601 date or time; a naive time is UTC, a bare date is midnight UTC. None is the clock.

    Raises :class:`ValidationError` for anything else, and for a time outside the years 1970 to 2999.
    """
    if value is None:
        return datetime.now(UTC)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValidationError(
            f"{what} {shown(value)} is not an ISO-8601 time such as 2026-11-23T09:00:00+01:00"
        ) from None
    instant = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    try:
        inside = EARLIEST <= instant.astimezone(UTC) < LATEST
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first instant Python has
        inside = False
    if not inside:
        raise ValidationError(f"{what} {shown(value)} is outside the years 1970 to 2999")
    return instant


MAX_MESSAGE = 1000


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` on stderr and exit with ``code``.

    A message longer than MAX_MESSAGE characters (it quotes some huge argument) is cut in the middle.
    """
    if len(message) > MAX_MESSAGE:
        message = f"{message[:700]} [... {len(message) - 900:,} characters ...] {message[-200:]}"
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """Format rows as a plain text table."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_CONTEXT: Any = None


def context() -> Any:
    """The process's :class:`~cadence.services.context.Context` (created on first use)."""
    global _CONTEXT
    if _CONTEXT is None:
        from cadence.services.context import Context

        try:
            settings = Settings()
        except Exception as exc:  # pydantic's ValidationError: a bad CADENCE_* variable
            raise CadenceError(f"bad setting: {exc}") from exc
        _CONTEXT = Context(settings)
    return _CONTEXT


def reset_context() -> None:
    """Forget the process's context (tests run many commands in one process)."""
    global _CONTEXT
    if _CONTEXT is not None:
        _CONTEXT.close()
    _CONTEXT = None


@contextmanager
def session(*, schema: bool = True) -> Iterator[Session]:
    """A transaction on the cadence database, committed when the block succeeds."""
    ctx = context()
    if schema:
        ctx.require_schema()
    with ctx.sessions() as s, s.begin():
        yield s


def run(fn: Callable[[], T]) -> T:
    """Run ``fn`` turning cadence and database errors into clean messages and exit codes."""
    try:
        return fn()
    except CadenceError as exc:
        fail(str(exc), exc.exit_code)
    except SQLAlchemyError as exc:
        fail(f"database error: {database_problem(exc)}")


# ---------------------------------------------------------------------------------------------- init


@app.command()
def init() -> None:
    """Create or upgrade the database schema (safe to run again)."""

    def go() -> None:
        from cadence.adapters.schema import upgrade

        ctx = context()
        before, after = upgrade(ctx.engine)
        where = ctx.engine.url.render_as_string(hide_password=True)
        if before == after:
            typer.echo(f"database {where} is up to date (schema {after})")
        else:
            typer.echo(f"database {where} upgraded from {before or 'empty'} to schema {after}")

    run(go)


# ---------------------------------------------------------------------------------------------- reps


@reps_app.command("add")
def reps_add(
    email: str,
    name: Annotated[str, typer.Option("--name", help="The rep's name, as it signs emails.")],
    signature: Annotated[str | None, typer.Option(help="Email signature.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone, e.g. Europe/Paris.")] = None,
    daily_email_cap: Annotated[int | None, typer.Option(help="At most this many emails a day.", min=1)] = None,
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
            )
            typer.echo(f"added rep {rep.name} <{rep.email}>")

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
            rows = [(r["email"], r["name"], r["timezone"], r["daily_email_cap"], r["leads"]) for r in reps]
            typer.echo(table(rows, ["email", "name", "timezone", "cap", "leads"]))

    run(go)


# ---------------------------------------------------------------------------------------------- leads


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


# ---------------------------------------------------------------------------------------------- cadences


@cadences_app.command("list")
def cadences_list(as_json: JsonOption = False) -> None:
    """List the cadences with their versions and steps."""

    def go() -> None:
        cadences = context().cadences
        data = [
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


# ---------------------------------------------------------------------------------------------- enrollments


@app.command()
def enroll(
    email: str,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Default: the lead's class cadence.")] = None,
    now: NowOption = None,
) -> None:
    """Enroll a lead in a cadence, with Day 0 at --now."""

    def go() -> None:
        from cadence.services.enrollments import get_lead, start_enrollment

        ctx = context()
        instant = parse_instant(now)
        with session() as s:
            lead = get_lead(s, email)
            name = cadence_name or lead.cadence
            if name is None:
                raise ValidationError(f"{lead.email} is a {lead.kind}, not a lead: name a cadence with --cadence")
            cadence = ctx.cadence(name)
            if cadence_name:
                lead.cadence = cadence.name
            enrollment = start_enrollment(s, lead, cadence, now=instant, settings=ctx.settings)
            typer.echo(
                f"enrolled {lead.email} in {cadence.name} v{cadence.version}; first step due {enrollment.next_due_at}"
            )

    run(go)


@app.command()
def pause(email: str, now: NowOption = None) -> None:
    """Pause a lead's cadence until it is resumed."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.enrollments import pause as do_pause

        with session() as s:
            lead = get_lead(s, email)
            do_pause(s, lead, now=parse_instant(now))
            typer.echo(f"paused {lead.email}")

    run(go)


@app.command()
def resume(email: str, now: NowOption = None) -> None:
    """Resume a paused cadence; the remaining steps keep their spacing."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.enrollments import resume as do_resume

        with session() as s:
            lead = get_lead(s, email)
            enrollment = do_resume(s, lead, now=parse_instant(now), settings=context().settings)
            typer.echo(f"resumed {lead.email}; next step due {enrollment.next_due_at}")

    run(go)


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    return parse_instant(value, what="--start")


@app.command()
def plan(
    email: str,
    start: Annotated[str | None, typer.Option(help="Plan as if enrolled at this date/time (ISO-8601).")] = None,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Plan this cadence instead.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the local date and time each step would land on. Writes nothing."""

    def go() -> None:
        from cadence.services.enrollments import calendar_for, get_lead, plan_for

        ctx = context()
        with session() as s:
            lead = get_lead(s, email)
            begin = _parse_start(start)
            if cadence_name is not None:
                from cadence.core.schedule import plan as make_plan

                cadence = ctx.cadence(cadence_name)
                instants = make_plan(cadence, calendar_for(lead, cadence, ctx.settings), begin or parse_instant(None))
            else:
                cadence, instants = plan_for(s, lead, settings=ctx.settings, cadences=ctx.cadences, start=begin)
            calendar = calendar_for(lead, cadence, ctx.settings)
            rows = []
            for i, (step, at) in enumerate(zip(cadence.steps, instants, strict=True)):
                local = at.astimezone(calendar.tz)
                rows.append(
                    {
                        "step": i + 1,
                        "day": step.day,
                        "channel": step.channel.value,
                        "template": step.template,
                        "local": local.isoformat(),
                        "weekday": local.strftime("%a"),
                        "utc": at.isoformat(),
                    }
                )
            address = lead.email
        if as_json:
            emit_json({"email": address, "cadence": cadence.name, "timezone": str(calendar.tz), "steps": rows})
        else:
            typer.echo(f"{address}: cadence {cadence.name}, times in {calendar.tz}")
            typer.echo(
                table(
                    [(r["step"], r["day"], r["channel"], r["template"], r["weekday"], r["local"][:16]) for r in rows],
                    ["step", "day", "channel", "template", "", "local time"],
                )
            )

    run(go)


@app.command()
def due(
    now: NowOption = None,
    as_json: JsonOption = False,
    uncertain: Annotated[
        bool, typer.Option("--uncertain", help="List emails whose send outcome is unknown after a crash.")
    ] = False,
) -> None:
    """What is due as of --now (or, with --uncertain, which emails may or may not have gone out). Writes nothing."""

    def go() -> None:
        from cadence.services.leads import due_items, uncertain_items

        if uncertain:
            with session() as s:
                found = uncertain_items(s)
            if as_json:
                emit_json(found)
            else:
                lines = [(u["touch"], u["email"], u["step"], u["subject"], u["message_id"], u["at"]) for u in found]
                typer.echo(table(lines, ["touch", "lead", "step", "subject", "message id", "handed to SMTP at"]))
                typer.echo(f"{len(found)} uncertain: check the SMTP server's logs for these Message-IDs")
            return
        with session() as s:
            items = due_items(s, now=parse_instant(now))
        if as_json:
            emit_json(items)
        else:
            rows = [
                (i["due_at"], i["email"], i["cadence"], i["step"], i["day"], i["channel"], i["owner"]) for i in items
            ]
            typer.echo(table(rows, ["due", "lead", "cadence", "step", "day", "channel", "owner"]))
            typer.echo(f"{len(items)} due")

    run(go)


AnswersOption = Annotated[
    Path | None, typer.Option("--answers", help="YAML file with the seven qualifying answers (meetings, hand-offs).")
]
SkipOption = Annotated[
    bool, typer.Option("--skip-qualification", help="Record a meeting without the qualifying answers (reported).")
]


def qualifying_answers(outcome: Any, answers_file: Path | None, skip: bool) -> dict[str, str] | None:
    """The qualifying answers for a meeting or hand-off: from ``--answers``, else asked at the terminal."""
    from cadence.adapters.files import load_yaml
    from cadence.core.decisions import NEEDS_QUALIFICATION, QUALIFYING_QUESTIONS, validate_answers

    if answers_file is not None:
        if skip:
            raise ValidationError("give --answers or --skip-qualification, not both")
        try:
            return validate_answers(load_yaml(answers_file))
        except ValidationError as exc:
            raise ValidationError(f"{answers_file}: {exc}") from None
    if outcome not in NEEDS_QUALIFICATION or skip:
        return None
    if not sys.stdin.isatty():
        return None  # the service refuses, saying what to give
    typer.echo("Qualifying questions (seed 001): answer each before the meeting is handed to sales.")
    given = {key: typer.prompt(f"  {question}") for key, question in QUALIFYING_QUESTIONS}
    return validate_answers(given)


@app.command()
def decide(
    email: str,
    outcome: Annotated[str, typer.Option(help="meeting_booked, not_interested, bad_fit, passed_back, ...")],
    reason: Annotated[str | None, typer.Option(help="Why: the point of the record.")] = None,
    answers: AnswersOption = None,
    skip_qualification: SkipOption = False,
    now: NowOption = None,
) -> None:
    """Record the final decision on a lead: its cadence stops and its open tasks are cancelled."""

    def go() -> None:
        from cadence.core.decisions import parse_outcome
        from cadence.services.enrollments import decide as do_decide
        from cadence.services.enrollments import get_lead

        chosen = parse_outcome(outcome)
        given = qualifying_answers(chosen, answers, skip_qualification)
        with session() as s:
            lead = get_lead(s, email)
            do_decide(
                s,
                lead,
                chosen,
                now=parse_instant(now),
                reason=reason,
                answers=given,
                qualification_skipped=skip_qualification,
            )
            typer.echo(
                f"decided {lead.email}: {chosen.value}" + (" (qualification skipped)" if skip_qualification else "")
            )

    run(go)


decisions_app = typer.Typer(help="Decisions: how each lead's cadence ended, and why.", no_args_is_help=True)
app.add_typer(decisions_app, name="decisions")


@decisions_app.command("list")
def decisions_list(
    outcome: Annotated[str | None, typer.Option(help="Only this outcome.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List decisions, newest first, with their reasons and qualifying answers."""

    def go() -> None:
        from cadence.core.decisions import parse_outcome
        from cadence.services.leads import list_decisions

        chosen = parse_outcome(outcome) if outcome else None
        with session() as s:
            items = list_decisions(s, outcome=chosen.value if chosen else None)
        if as_json:
            emit_json(items)
            return
        rows = [
            (d["at"][:16], d["email"], d["outcome"], "skipped" if d["qualification_skipped"] else "", d["reason"])
            for d in items
        ]
        typer.echo(table(rows, ["at (UTC)", "lead", "outcome", "qualification", "reason"]))
        typer.echo(f"{len(items)} decision(s)")

    run(go)


@app.command()
def reply(
    email: str,
    note: Annotated[str | None, typer.Option(help="What they said, or how.")] = None,
    channel: Annotated[str, typer.Option(help="How the answer came: email, call, linkedin, other.")] = "other",
    now: NowOption = None,
) -> None:
    """Record a response that came some other way: the automated steps stop; the owner decides next."""

    def go() -> None:
        from cadence.services.enrollments import get_lead, record_response

        if channel not in {"email", "call", "linkedin", "other"}:
            raise ValidationError(f"--channel must be email, call, linkedin or other, not {shown(channel)}")
        with session() as s:
            lead = get_lead(s, email)
            _, enrollment = record_response(s, lead, now=parse_instant(now), channel=channel, note=note)
            state = enrollment.state if enrollment else "not enrolled"
            typer.echo(f"recorded a response from {lead.email}; enrollment {state}")

    run(go)


# ---------------------------------------------------------------------------------------------- suppression


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


tasks_app = typer.Typer(
    help="Rep tasks: calls, LinkedIn, research, postcards, replies to answer.", no_args_is_help=True
)
postcards_app = typer.Typer(help="Postcards for a print-and-mail vendor.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(postcards_app, name="postcards")
app.add_typer(templates_app, name="templates")
app.add_typer(users_app, name="users")


EPHEMERAL_STARTUP_TIMEOUT_S = 120
"""How long a run waits for Prefect's own server to start, when no ``PREFECT_API_URL`` is set."""


def _quiet_prefect() -> None:
    """Prefect settings every cadence process wants (set before Prefect is imported)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The ephemeral server records task runs one event at a time by default: with a task run per
    # batch over a long simulation it falls behind and is cut off mid-write when the process exits.
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE", "500")
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE", "500")
    os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL", "1")
    # With no PREFECT_API_URL, Prefect starts a server of its own on a fresh SQLite database and gives
    # it 20 s by default; on a busy 2-core machine its migrations alone took 19.5 s, and a run
    # (`cadence demo` once) gave up at the timeout.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(EPHEMERAL_STARTUP_TIMEOUT_S))


def parse_duration(value: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``2d`` as a :class:`timedelta` (at least one second)."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number = text[:-1]
    if not (2 <= len(text) <= 12 and text[-1] in units and number.isascii() and number.isdigit() and int(number) >= 1):
        raise ValidationError(f"{shown(value)} is not a duration such as 30m, 1h or 2d")
    seconds = int(number) * units[text[-1]]
    if seconds > 366 * 86400:
        raise ValidationError(f"{shown(value)} is longer than a year")
    return timedelta(seconds=seconds)


@app.command("run")
def run_once(
    now: NowOption = None,
    batch_size: Annotated[int | None, typer.Option(min=1, max=10_000, help="Due steps per batch.")] = None,
) -> None:
    """Run the advance flow once: every due step becomes an email or a rep task."""

    def go() -> None:
        _quiet_prefect()
        import asyncio

        from flows.advance import advance_cadences

        instant = parse_instant(now)
        context().require_schema()
        result = asyncio.run(advance_cadences(now=instant, batch_size=batch_size))
        emit_json(result)

    run(go)


@app.command("sync-replies")
def sync_replies_command(now: NowOption = None) -> None:
    """Read the replies mailbox once (CADENCE_IMAP_*): replies stop cadences, out-of-office notes pause them,
    bounces and unsubscribes end them."""

    def go() -> None:
        _quiet_prefect()
        import asyncio

        from cadence.errors import ConfigurationError
        from flows.replies import sync_replies_flow

        ctx = context()
        if not ctx.settings.imap_host:
            raise ConfigurationError("CADENCE_IMAP_HOST is not set: there is no replies mailbox to read")
        ctx.require_schema()
        emit_json(asyncio.run(sync_replies_flow(now=parse_instant(now))))

    run(go)


@app.command()
def simulate(
    start: Annotated[str, typer.Option(help="Start of the simulated period (ISO-8601).")],
    end: Annotated[str, typer.Option(help="End of the simulated period (ISO-8601).")],
    every: Annotated[str, typer.Option(help="Tick at least this often (30m, 1h, 1d).")] = "1h",
) -> None:
    """Run the advance code path on a simulated clock over a period, in one flow run."""

    def go() -> None:
        _quiet_prefect()
        import asyncio

        from flows.advance import simulate_cadences

        begin, finish = parse_instant(start, what="--start"), parse_instant(end, what="--end")
        if finish < begin:
            raise ValidationError("--end is before --start")
        if finish - begin > timedelta(days=3660):
            raise ValidationError("simulate at most ten years at once")
        step = parse_duration(every)
        context().require_schema()
        emit_json(asyncio.run(simulate_cadences(begin, finish, int(step.total_seconds()))))

    run(go)


@app.command()
def serve() -> None:
    """Serve every deployment on this machine with Prefect (advance every 5 minutes, rep digest each morning)."""

    def go() -> None:
        _quiet_prefect()
        from flows.serve import serve_all

        context().require_schema()
        serve_all()

    run(go)


@tasks_app.command("list")
def tasks_list(
    owner: Annotated[str | None, typer.Option(help="Only this rep's tasks.")] = None,
    due_filter: Annotated[str, typer.Option("--due", help="today, overdue or all.")] = "all",
    status: Annotated[str | None, typer.Option(help="open, done or cancelled.")] = None,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """List tasks, overdue first."""

    def go() -> None:
        from cadence.services.tasks import list_tasks

        with session() as s:
            items = list_tasks(
                s, now=parse_instant(now), settings=context().settings, owner=owner, due=due_filter, status=status
            )
        if as_json:
            emit_json(items)
            return
        rows = [(t["id"], t["due_at"][:16], t["status"], t["channel"], t["owner"], t["title"]) for t in items]
        typer.echo(table(rows, ["id", "due (UTC)", "status", "channel", "owner", "task"]))
        typer.echo(f"{len(items)} task(s)")

    run(go)


@tasks_app.command("done")
def tasks_done(
    task_id: Annotated[int, typer.Argument(help="The task's id (from `cadence tasks list`).", min=1, max=2**31 - 1)],
    outcome: Annotated[str, typer.Option(help="call: connected|voicemail|no_answer|wrong_number; ...")],
    note: Annotated[str | None, typer.Option(help="What happened.")] = None,
    decision: Annotated[str | None, typer.Option(help="Record the lead's decision too.")] = None,
    reason: Annotated[str | None, typer.Option(help="The decision's reason.")] = None,
    answers: AnswersOption = None,
    skip_qualification: SkipOption = False,
    now: NowOption = None,
) -> None:
    """Record a task's outcome (and, for a connected call, the lead's decision)."""

    def go() -> None:
        from cadence.core.decisions import parse_outcome
        from cadence.services.tasks import complete_task

        chosen = parse_outcome(decision) if decision else None
        if (reason or answers or skip_qualification) and not chosen:
            raise ValidationError("--reason, --answers and --skip-qualification go with --decision")
        given = qualifying_answers(chosen, answers, skip_qualification) if chosen else None
        with session() as s:
            task = complete_task(
                s,
                task_id,
                outcome,
                now=parse_instant(now),
                note=note,
                decision=chosen,
                reason=reason,
                answers=given,
                qualification_skipped=skip_qualification,
            )
            typer.echo(f"task {task.id} done: {task.outcome}" + (f"; decided {chosen.value}" if chosen else ""))

    run(go)


@postcards_app.command("export")
def postcards_export(
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (the default).")] = False,
    now: NowOption = None,
) -> None:
    """Export the postcards due, with copy and mailing address; each is exported once."""

    def go() -> None:
        from cadence.services.postcards import export_postcards, postcards_csv

        with session() as s:
            cards = export_postcards(s, now=parse_instant(now))
        if as_json:
            emit_json(cards)
        else:
            typer.echo(postcards_csv(cards), nl=False)

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


@app.command()
def web(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1, max=65535)] = 8000,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="Start the app's clock at this ISO-8601 time (the demo's, say); it runs on. Default: the clock.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the web app: the workspace of reps, marketers and managers, and the unsubscribe links of the emails."""

    def go() -> None:
        from cadence.web.server import serve as serve_web  # `serve` is the Prefect command

        serve_web(host=host, port=port, now=parse_instant(now) if now is not None else None)

    run(go)


@app.command()
def demo(
    folder: Annotated[Path, typer.Option(help="Where the demo keeps its database and mail.")] = Path("var/demo"),
) -> None:
    """Run cadence on sample data with nothing configured (a fresh SQLite database under ./var/demo)."""

    def go() -> None:
        _quiet_prefect()
        os.environ.setdefault("PREFECT_HOME", str((folder.parent / "prefect").resolve()))
        from cadence.demo import run_demo

        templates = context().settings.templates_dir
        run_demo(folder, templates, typer.echo).close()  # it ends with how to open the workspace

    run(go)


def prefect_unreachable(exc: BaseException) -> str | None:
    """What to tell an operator when Prefect's API could not be reached or started, or None for another error.

    Prefect raises a bare RuntimeError for both, which would otherwise read as a bug in cadence.
    """
    if not isinstance(exc, RuntimeError):
        return None
    text = str(exc)
    if text.startswith("Timed out while attempting to connect to ephemeral Prefect API server"):
        waited = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "?")
        return (
            f"Prefect's own API server (started because PREFECT_API_URL is not set) did not start within {waited} s; "
            "give it longer with PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set PREFECT_API_URL to a "
            "running Prefect server"
        )
    if text.startswith("Failed to reach API at "):
        url = text.removeprefix("Failed to reach API at ")
        return (
            f"the Prefect API at {shown(url)} (PREFECT_API_URL) did not answer: start that server, or point "
            "PREFECT_API_URL at one that runs"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (2 for a usage error, with click's own message)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="cadence")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug in cadence: one line that says so, not a traceback (CADENCE_TRACEBACK=1 shows it)
        if os.environ.get("CADENCE_TRACEBACK"):
            raise
        if (problem := prefect_unreachable(exc)) is not None:
            typer.echo(f"error: {problem}", err=True)
            return 1
        typer.echo(
            f"error: internal error ({type(exc).__name__}: {shown(str(exc))[1:-1]}): a bug in cadence; "
            "please report it with the command that caused it",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def console() -> None:
    """The ``cadence`` console script."""
    sys.exit(main())
