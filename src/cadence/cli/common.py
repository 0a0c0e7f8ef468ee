"""What every command module of the CLI shares: options, the context, sessions, output and exit codes.

Exit codes: 0 success, 1 error (a message on stderr, no traceback), 2 usage error, 3 partial import.
Heavy modules (settings, SQLAlchemy, the services) are imported where they are used, so that
``cadence --help`` and the command modules load without them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from cadence.errors import CadenceError, ValidationError, database_problem, shown

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cadence.core.decisions import Outcome
    from cadence.services.context import Context

EXIT_PARTIAL = 3
T = TypeVar("T")

NowOption = Annotated[
    str | None,
    typer.Option("--now", help="The current time, ISO-8601 (naive means UTC). Default: the clock.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
AnswersOption = Annotated[
    Path | None, typer.Option("--answers", help="YAML file with the seven qualifying answers (meetings, hand-offs).")
]
SkipOption = Annotated[
    bool, typer.Option("--skip-qualification", help="Record a meeting without the qualifying answers (reported).")
]


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


_CONTEXT: Context | None = None


def context() -> Context:
    """The process's :class:`~cadence.services.context.Context` (created on first use)."""
    global _CONTEXT
    if _CONTEXT is None:
        from cadence.services.context import Context
        from cadence.settings import Settings

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
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return fn()
    except CadenceError as exc:
        fail(str(exc), exc.exit_code)
    except SQLAlchemyError as exc:
        fail(f"database error: {database_problem(exc)}")


def qualifying_answers(outcome: Outcome | None, answers_file: Path | None, skip: bool) -> dict[str, str] | None:
    """The qualifying answers for a meeting or hand-off: from ``--answers``, else asked at the terminal.

    Some answers are enough when the lead gave the others at earlier conversations: the service
    checks the union against the configured questions (``templates/questions.yaml``).
    """
    from cadence.adapters.files import load_yaml
    from cadence.core.decisions import NEEDS_QUALIFICATION
    from cadence.core.questions import validate_partial

    questions = context().questions

    if answers_file is not None:
        if skip:
            raise ValidationError("give --answers or --skip-qualification, not both")
        try:
            return validate_partial(_mapping(load_yaml(answers_file, as_text=True)), questions)
        except ValidationError as exc:
            raise ValidationError(f"{answers_file}: {exc}") from None
    if outcome not in NEEDS_QUALIFICATION or skip:
        return None
    if not sys.stdin.isatty():
        return None  # the service refuses, saying what to give
    typer.echo("Qualifying questions: answer each before the meeting is handed to sales (empty: known already).")
    given = {q.key: typer.prompt(f"  {q.text}", default="", show_default=False) for q in questions}
    return validate_partial(given, questions)


@contextmanager
def from_answers_file(answers_file: Path | None) -> Iterator[None]:
    """A refusal of the answers (the union with the lead's earlier ones is incomplete) names the file given."""
    try:
        yield
    except ValidationError as exc:
        if answers_file is None or "qualifying question" not in str(exc):
            raise
        raise ValidationError(f"{answers_file}: {exc}") from None


def _mapping(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise ValidationError("the answers must be a mapping of question keys to answers")
    return data
