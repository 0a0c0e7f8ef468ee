"""``cadence tasks``: the reps' calls, LinkedIn touches, research, postcards and replies to answer."""

from __future__ import annotations

from typing import Annotated

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
from cadence.errors import ValidationError

tasks_app = typer.Typer(
    help="Rep tasks: calls, LinkedIn, research, postcards, replies to answer.", no_args_is_help=True
)


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
    answer: Annotated[
        list[str] | None,
        typer.Option(
            "--answer",
            help="A qualifying answer the conversation gave, KEY=VALUE (repeat it); keys: templates/questions.yaml.",
        ),
    ] = None,
    why_now: Annotated[
        str | None, typer.Option("--why-now", help="A research task's finding: why them, why now (one line).")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="A research task's finding: the topic of interest.")] = None,
    now: NowOption = None,
) -> None:
    """Record a task's outcome (and, for a connected call, the lead's decision).

    A conversation may answer some qualifying questions: --answer committed=yes --answer
    approves="the CFO". They are kept for the lead; a meeting is handed over when all are known.
    A research task's findings (--why-now, --topic) are kept on the lead for its emails.
    """

    def go() -> None:
        from cadence.core.decisions import parse_outcome
        from cadence.core.questions import parse_answer_items
        from cadence.services.tasks import complete_task

        chosen = parse_outcome(decision) if decision else None
        if (reason or answers or skip_qualification) and not chosen:
            raise ValidationError("--reason, --answers and --skip-qualification go with --decision")
        given = qualifying_answers(chosen, answers, skip_qualification) if chosen else None
        answered = parse_answer_items(answer, context().questions) if answer else None
        with from_answers_file(answers), session() as s:
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
                answered=answered,
                why_now=why_now,
                topic=topic,
            )
            typer.echo(f"task {task.id} done: {task.outcome}" + (f"; decided {chosen.value}" if chosen else ""))

    run(go)
