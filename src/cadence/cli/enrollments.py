"""``cadence enroll``, ``pause``, ``resume``, ``plan``, ``decide`` and ``reply``: one lead's cadence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cadence.cli.common import (
    AnswersOption,
    JsonOption,
    NowOption,
    SkipOption,
    context,
    emit_json,
    from_answers_file,
    parse_instant,
    qualifying_answers,
    run,
    session,
    table,
)
from cadence.errors import ValidationError, shown

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cadence.services.context import Context


def enroll(
    email: str,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Default: the lead's class cadence.")] = None,
    anyway: Annotated[
        bool, typer.Option("--anyway", help="Enroll a name or an unfit person too (recorded, with --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="With --anyway: why (recorded).")] = None,
    now: NowOption = None,
) -> None:
    """Enroll a lead in a cadence, with Day 0 at --now."""

    def go() -> None:
        import getpass

        from cadence.services.lead_cadence import Anyway, enroll_lead

        ctx = context()
        instant = parse_instant(now)
        override = None
        if anyway:
            try:
                by: str | None = getpass.getuser()
            except (KeyError, OSError):
                by = None
            override = Anyway(by=by, why=reason or "")
        elif reason is not None:
            raise ValidationError("--reason goes with --anyway")
        with session() as s:
            done = enroll_lead(ctx, s, email, cadence_name=cadence_name, now=instant, anyway=override)
            typer.echo(f"enrolled {done.email} in {done.cadence} v{done.version}; first step due {done.first_due_at}")

    run(go)


def pause(email: str, now: NowOption = None) -> None:
    """Pause a lead's cadence until it is resumed."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.enrollments import pause as do_pause

        with session() as s:
            lead = get_lead(s, email)
            do_pause(s, lead, now=parse_instant(now))
            typer.echo(f"paused {lead.reference}")

    run(go)


def resume(email: str, now: NowOption = None) -> None:
    """Resume a paused cadence; the remaining steps keep their spacing."""

    def go() -> None:
        from cadence.services.enrollments import get_lead
        from cadence.services.enrollments import resume as do_resume

        with session() as s:
            lead = get_lead(s, email)
            enrollment = do_resume(s, lead, now=parse_instant(now), settings=context().settings)
            typer.echo(f"resumed {lead.reference}; next step due {enrollment.next_due_at}")

    run(go)


def plan(
    email: str,
    start: Annotated[str | None, typer.Option(help="Plan as if enrolled at this date/time (ISO-8601).")] = None,
    cadence_name: Annotated[str | None, typer.Option("--cadence", help="Plan this cadence instead.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the local date and time each step would land on. Writes nothing."""

    def go() -> None:
        from cadence.services.lead_cadence import lead_plan

        begin = parse_instant(start, what="--start") if start is not None else None
        ctx = context()
        with session() as s:
            data = lead_plan(ctx, s, email, cadence_name=cadence_name, start=begin, now=parse_instant(None))
            data["sending"] = sending_rate(ctx, s, email, data["cadence"])
        if as_json:
            emit_json(data)
        else:
            typer.echo(f"{data['email']}: cadence {data['cadence']}, times in {data['timezone']}")
            steps = data["steps"]
            rows = [(r["step"], r["day"], r["channel"], r["template"], r["weekday"], r["local"][:16]) for r in steps]
            typer.echo(table(rows, ["step", "day", "channel", "template", "", "local time"]))
            for line in data["sending"]:  # each email waits its turn in its mailbox's pacing
                typer.echo(f"emails leave from mailbox {line}")

    run(go)


def sending_rate(ctx: Context, s: Session, email: str, cadence: str) -> list[str]:
    """The rate the lead's owner's mailboxes allow today, over ``cadence``'s send window (empty: no mailbox)."""
    from datetime import datetime

    from cadence.services.enrollments import get_lead
    from cadence.services.mailboxes import rate_for_owner

    lead = get_lead(s, email)
    settings = ctx.cadence(cadence).settings if cadence in ctx.cadences else None
    window = None
    if settings is not None:
        day = datetime(2000, 1, 1)
        window = datetime.combine(day, settings.window_end) - datetime.combine(day, settings.window_start)
    now = parse_instant(None)
    if window is None:
        return rate_for_owner(s, lead.owner, now=now, settings=ctx.settings)
    return rate_for_owner(s, lead.owner, now=now, settings=ctx.settings, window=window)


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
        with from_answers_file(answers), session() as s:
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
                f"decided {lead.reference}: {chosen.value}" + (" (qualification skipped)" if skip_qualification else "")
            )

    run(go)


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
            typer.echo(f"recorded a response from {lead.reference}; enrollment {state}")

    run(go)
