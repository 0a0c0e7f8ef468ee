"""``cadence inbound``: what messages in a mailbox say, read from files, without the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cadence.cli.common import JsonOption, NowOption, emit_json, fail, parse_instant, run
from cadence.errors import shown

inbound_app = typer.Typer(
    help="What inbound messages say (read from files), and the mail kept for review.", no_args_is_help=True
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


@inbound_app.command("review")
def review(as_json: JsonOption = False) -> None:
    """List the inbound mail kept for review, not acted on (reads the database).

    A reply, out-of-office or unsubscribe that does not come from the lead's own address, or that
    our mail server did not authenticate, and a bounce that returns no message of ours: each is kept
    here with why, so that a person decides. Newest first, at most 200.
    """

    def go() -> None:
        from cadence.cli.common import session, table
        from cadence.services.replies import for_review

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
