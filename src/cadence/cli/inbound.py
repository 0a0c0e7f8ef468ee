"""``cadence inbound``: what messages in a mailbox say, read from files; booking notifications recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, fail, parse_instant, run
from cadence.errors import shown

inbound_app = typer.Typer(
    help="What inbound messages say (read from files), meetings booked elsewhere, the mail kept for review.",
    no_args_is_help=True,
)


def _describe(result: dict[str, Any]) -> str:
    """One reading as text: the file, the intent and its confidence, the date, the person named, the evidence."""
    head = f"{result['file']}: {result['intent']} ({result['confidence']:.2f})"
    if result["date"]:
        head += f" {result['date']}"
    referral = result["referral"]
    if referral:
        head += " -> " + ", ".join(v for v in (referral["name"], referral["email"], referral["phone"]) if v)
    return "\n".join([head, *(f"    {line}" for line in result["evidence"])])


@inbound_app.command("classify")
def classify(
    files: Annotated[list[Path], typer.Argument(help="Message files (.eml), as saved from a mail client.")],
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Say what each message says: its intent, how sure, the date or person it names, and why.

    Dates are read against the message's own Date header (--now when it has none).

    A file that is not a message is an error line of its own; the others are still read (exit code 1).
    """

    def go() -> None:
        from cadence.services.classify import classify_files

        results = classify_files(files, at=parse_instant(now))
        failed = [r for r in results if "error" in r]
        if as_json:
            emit_json(results)
        else:
            for result in results:
                if "error" not in result:
                    typer.echo(_describe(result))
        for result in failed:
            typer.echo(f"error: {shown(result['file'])}: {result['error']}", err=True)
        if failed:
            fail(f"{len(failed)} of {len(results)} files could not be read")

    run(go)


@inbound_app.command("booking")
def booking(
    file: Annotated[Path, typer.Argument(help="The JSON body of a Cal.com or Calendly booking notification.")],
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Record the meeting a booking notification announces: the lead's decision meeting_booked with its time,
    and the owner's task to qualify before the meeting.

    Cal.com (triggerEvent BOOKING_CREATED or BOOKING_RESCHEDULED, payload.startTime,
    payload.attendees[].email) and Calendly (event invitee.created, payload.email,
    payload.scheduled_event.start_time) bodies are read; a cancellation books nothing.
    """

    def go() -> None:
        import json

        from cadence.cli.common import context, session
        from cadence.errors import ValidationError
        from cadence.services.meetings import record_booking

        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise ValidationError(f"{file}: cannot read it ({exc.strerror or exc})") from None
        if len(raw) > 1_000_000:
            raise ValidationError(f"{file}: larger than 1000000 bytes; a booking notification is a few kilobytes")
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"{file}: not JSON ({exc})") from None
        ctx = context()
        with session() as s:
            result = record_booking(s, payload, parse_instant(now), settings=ctx.settings, questions=ctx.questions)
        if as_json:
            emit_json(result.as_dict())
        elif result.recorded:
            typer.echo(f"{result.lead_email}: {result.note}; task {result.task_id}")
        else:
            typer.echo(f"{result.lead_email or file}: {result.note}")

    run(go)


@inbound_app.command("review")
def review(as_json: JsonOption = False) -> None:
    """List the inbound mail kept for review, not acted on (reads the database).

    A reply, out-of-office or unsubscribe that does not come from the lead's own address, or that
    our mail server did not authenticate, and a bounce that returns no message of ours: each is kept
    here with why, so that a person decides. Newest first, at most 200.
    """

    def go() -> None:
        from cadence.cli.common import session, table
        from cadence.services.inbound_review import for_review

        with session() as s:
            items = for_review(s)
        if as_json:
            emit_json(items)
        elif not items:
            typer.echo("no inbound mail is waiting for review")
        else:
            rows = [((i["received"] or "")[:16], i["sender"] or "", (i["subject"] or "")[:40], i["why"]) for i in items]
            typer.echo(table(rows, ["received", "from", "subject", "why"]))

    run(go)
