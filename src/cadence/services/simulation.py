"""Scripted events for simulated runs (the demo): replies and rep outcomes at given times."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Task
from cadence.core.decisions import Outcome
from cadence.core.events import Unsubscribed
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead, handle, record_response
from cadence.services.tasks import complete_task

Action = Callable[[Session, datetime], None]


@dataclass
class ScriptedEvents:
    """Events to play at fixed simulated times, plus a rep who works their tasks every tick."""

    ctx: Context
    events: list[tuple[datetime, str, Action]] = field(default_factory=list)
    rep_outcomes: Callable[[Session, Task, datetime], tuple[str, str | None]] | None = None
    log: list[tuple[datetime, str]] = field(default_factory=list)

    def at(self, when: datetime, what: str, action: Action) -> None:
        """Schedule ``action`` at ``when``."""
        self.events.append((when, what, action))
        self.events.sort(key=lambda e: e[0])

    def play_until(self, clock: datetime) -> None:
        """Play every event due at ``clock``, then let the rep work the tasks due by then."""
        with self.ctx.sessions() as session, session.begin():
            while self.events and self.events[0][0] <= clock:
                when, what, action = self.events.pop(0)
                action(session, when)
                self.log.append((when, what))
            if self.rep_outcomes is not None:
                due = session.scalars(
                    select(Task).where(Task.status == "open", Task.due_at <= clock - timedelta(hours=2))
                )
                for task in list(due):
                    if task.status != "open":
                        continue
                    outcome, note = self.rep_outcomes(session, task, clock)
                    complete_task(session, task.id, outcome, now=clock, note=note)
                    self.log.append((clock, f"{task.owner.email if task.owner else '-'}: {task.channel} "
                                            f"for {task.lead.reference}: {outcome}"))  # fmt: skip

    def next_before(self, limit: datetime, *, after: datetime) -> datetime:
        """The next event time after ``after`` if it comes before ``limit``, else ``limit``."""
        for when, _, _ in self.events:
            if after < when < limit:
                return when
        return limit


def _reply(email: str, note: str) -> Action:
    def act(session: Session, when: datetime) -> None:
        record_response(session, get_lead(session, email), now=when, kind="reply", channel="email", note=note)

    return act


def _decide(email: str, outcome: Outcome, reason: str, answers: dict[str, str] | None = None) -> Action:
    def act(session: Session, when: datetime) -> None:
        decide(session, get_lead(session, email), outcome, now=when, reason=reason, answers=answers)

    return act


def _unsubscribe(email: str) -> Action:
    def act(session: Session, when: datetime) -> None:
        handle(session, get_lead(session, email), Unsubscribed(reason="unsubscribed by link", by=email), at=when)

    return act


def demo_scenario(ctx: Context, start: datetime) -> ScriptedEvents:
    """The demo's story: some leads answer, one unsubscribes, reps work their tasks."""
    events = ScriptedEvents(ctx)

    def d(days: int, hour: int = 15) -> datetime:
        return start.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)

    answers = {
        "committed": "Yes, budget approved for Q1",
        "requirement": "Replace spreadsheets for pipeline reviews",
        "desired_solution": "Hosted tool with CRM sync",
        "decides": "VP Engineering",
        "approves": "CFO",
        "expectations": "Pilot in January",
        "fit": "Yes",
    }
    events.at(d(3), "ada replied", _reply("ada.lovelace@analytical.example", "Happy to talk next week."))
    events.at(d(4), "ada: meeting booked", _decide("ada.lovelace@analytical.example", Outcome.MEETING_BOOKED,
                                                   "intro call booked for next Tuesday", answers))  # fmt: skip
    events.at(d(6), "grace unsubscribed", _unsubscribe("grace.hopper@cobol.example"))
    events.at(d(9), "alan replied", _reply("alan.turing@bletchley.example", "Not now, we just signed with a vendor."))
    events.at(d(10), "alan: not interested", _decide("alan.turing@bletchley.example", Outcome.NOT_INTERESTED,
                                                     "signed with a competitor last month"))  # fmt: skip
    events.at(d(12), "marie replied", _reply("marie.curie@radium.example", "Who else should I loop in?"))
    events.at(d(13), "marie: passed back", _decide("marie.curie@radium.example", Outcome.PASSED_BACK,
                                                   "needs nurturing: project starts next year"))  # fmt: skip

    def rep(session: Session, task: Task, clock: datetime) -> tuple[str, str | None]:
        if task.channel == "call":
            if task.lead.email == "hedy.lamarr@spread.example":
                return "connected", "Wants a demo; booked for Thursday"
            return ("voicemail", "left a message") if task.id % 2 else ("no_answer", None)
        return {"linkedin": "sent", "postcard": "sent", "research": "done"}.get(task.channel, "done"), None

    events.rep_outcomes = rep
    return events


SCENARIOS: dict[str, Callable[[Context, datetime], ScriptedEvents]] = {"demo": demo_scenario}
"""Named scenarios for ``simulate-cadences``."""
