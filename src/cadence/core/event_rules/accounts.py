"""The rules of meetings and of an account's colleagues (pure): :mod:`cadence.core.events` dispatches to them."""

from __future__ import annotations

from dataclasses import replace

from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.event_data import (
    ColleagueAnswered,
    ColleagueDecided,
    Consequences,
    Facts,
    MeetingBooked,
    NewDecision,
    NewResponse,
    NewTask,
)
from cadence.core.event_rules import decisions
from cadence.core.event_rules.base import DECIDED_BY_CADENCE, MAX_TITLE, clean_reason, local_time


def qualify_instructions(questions: tuple[tuple[str, str], ...], answers: dict[str, str]) -> str:
    """The body of the task to qualify before a meeting: what is still unanswered, then what is known."""
    missing = [text for key, text in questions if not (answers.get(key) or "").strip()]
    known = [f"- {text} {answers[key].strip()}" for key, text in questions if (answers.get(key) or "").strip()]
    if missing:
        head = f"Ask before the meeting ({len(missing)} of {len(questions)} unanswered):\n" + "\n".join(
            f"- {text}" for text in missing
        )
    else:
        head = "Every qualifying question is answered: hand the meeting to sales (qualified_handoff)."
    return head + ("\n\nKnown:\n" + "\n".join(known) if known else "")


def meeting(facts: Facts, event: MeetingBooked) -> Consequences:
    """A meeting booked (table note 6): the decision with its start, and the task to qualify before it."""
    when = local_time(facts, event.start)
    if facts.decided == Outcome.QUALIFIED_HANDOFF:
        return Consequences(note=f"meeting on {when} seen; the lead was handed over already")
    if facts.decided == Outcome.MEETING_BOOKED and facts.meeting_at == event.start:
        return Consequences(note=f"meeting on {when} recorded already")
    known = {k: v.strip() for k, v in event.answers.items() if v and v.strip()}
    reason = f"meeting on {when}: {event.evidence}" if event.evidence else f"meeting on {when}"
    decision = NewDecision(
        outcome=Outcome.MEETING_BOOKED,
        reason=clean_reason(reason),
        decided_by=event.via[:320],
        answers=known or None,
        meeting_at=event.start,
    )
    decided = decisions.decide(facts, decision)
    title = f"Qualify {facts.lead_name or 'the lead'} before the meeting on {when}"[:MAX_TITLE]
    task = NewTask(
        channel="task", title=title, instructions=qualify_instructions(event.questions, known), due_at=facts.at
    )
    # always on the timeline, with its time: the response decisions.decide adds only when there was none
    response = NewResponse(
        kind="manual",
        channel="other",
        note=f"meeting booked for {when} ({event.via})",
        on_enrollment=facts.enrollment is not None,
    )
    return replace(decided, task=task, response=response, note=f"meeting booked ({event.via}) on {when}")


def colleague_answered(facts: Facts, event: ColleagueAnswered) -> Consequences:
    """A colleague answered (table note 7): this lead's cadence pauses, stops or goes on, as it says."""
    enrollment = facts.enrollment
    who = event.name or "a colleague"
    if enrollment is None or enrollment.state != State.ACTIVE:
        state = enrollment.state.value if enrollment is not None else "not enrolled"
        return Consequences(note=f"{who} answered; nothing to hold (enrollment {state})")
    policy = facts.cadence.settings.on_account_response if facts.cadence is not None else "pause"
    if policy == "continue":
        return Consequences(note=f"{who} answered; this cadence goes on (on_account_response: continue)")
    if policy == "stop":
        reason = f"{who} at the same account answered: the account is worked through them"
        decision = NewDecision(outcome=Outcome.COLLEAGUE_ENGAGED, reason=reason, decided_by=DECIDED_BY_CADENCE)
        return replace(decisions.decide(facts, decision), note=f"stopped: {who} answered")
    paused = decisions.paused(facts, None)
    assert paused.enrollment is not None
    held = replace(paused.enrollment, held_by_lead_id=event.lead_id)
    return Consequences(enrollment=held, note=f"held: {who} at the same account answered; the owner decides")


def colleague_decided(facts: Facts, event: ColleagueDecided) -> Consequences:
    """The owner decided the colleague that holds this lead (table note 7): resumed, or stopped when the account won."""
    enrollment = facts.enrollment
    who = event.name or "the colleague"
    what = f"decided {event.outcome.value}" if event.outcome is not None else "closed with no decision"
    if enrollment is None or enrollment.state != State.PAUSED or enrollment.held_by_lead_id != event.lead_id:
        return Consequences(note=f"{who} {what}; this lead was not held by them")
    if event.outcome is not None and event.outcome in decisions.ACCOUNT_WON:
        reason = f"{who} at the same account was decided {event.outcome.value}"
        decision = NewDecision(outcome=Outcome.COLLEAGUE_ENGAGED, reason=reason, decided_by=DECIDED_BY_CADENCE)
        return replace(decisions.decide(facts, decision), note=f"stopped: {who} decided {event.outcome.value}")
    return replace(decisions.resumed(facts), note=f"resumed: {who} {what}")
