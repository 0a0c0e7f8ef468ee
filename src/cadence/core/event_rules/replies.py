"""The rules of what a lead says: responses, replies read by intent, snoozes, automatic replies and bounce
notices, and tasks done (pure). :mod:`cadence.core.events` dispatches to them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from cadence.core.decisions import Outcome
from cadence.core.enrollment import OPEN_STATES, Event, State, transition
from cadence.core.event_data import (
    RESPONSE_KINDS,
    AutoReply,
    Consequences,
    Facts,
    NewReferral,
    NewResponse,
    NewSnooze,
    NewTask,
    Responded,
    TaskDone,
)
from cadence.core.event_rules import decisions
from cadence.core.event_rules.base import MAX_TITLE, clean_reason
from cadence.core.intent import REVIEW_BELOW, Reading
from cadence.core.schedule import add_business_hours, local_instant
from cadence.errors import ValidationError

_TASK_TITLES = {
    "reply": "Answer {name}'s reply",
    "call": "Follow up the call with {name}: record the decision",
    "manual": "Follow up {name}'s response: record the decision",
}


def responded(facts: Facts, event: Responded, *, with_task: bool) -> Consequences:
    """A response that counts: the automated steps stop (an open enrollment is responded); a task for the owner."""
    if event.kind not in RESPONSE_KINDS:
        raise ValueError(f"a response is one of {', '.join(sorted(RESPONSE_KINDS))}, not {event.kind!r}")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state != State.DECIDED:
        state = transition(enrollment.state, Event.RESPOND)
        moved = replace(enrollment, state=state, next_due_at=None, ended_at=None)
    task = None
    if with_task:
        title = _TASK_TITLES[event.kind].format(name=facts.lead_name or "the lead")[:MAX_TITLE]
        instructions = event.note or (f"(no text) Subject: {event.subject}" if event.subject else "(no text)")
        task = NewTask(channel="reply", title=title, instructions=instructions, due_at=facts.at)
    note = f"{event.kind}: automated steps stopped; the owner decides" if moved else f"{event.kind} recorded"
    return Consequences(
        enrollment=moved,
        response=NewResponse(kind=event.kind, channel=event.channel, note=event.note, on_enrollment=moved is not None),
        task=task,
        unsnooze=facts.snoozed_until is not None,
        note=f"{note}; the snooze ends" if facts.snoozed_until is not None else note,
    )


_ANSWER_TITLES = {
    "interested": "Answer {name} and book a meeting",
    "not_now": "Ask {name} when to get back in touch",
    "referral": "Add the person {name} named, then record a decision",
    "referral_made": "Thank {name} for the referral and record a decision",
    "wrong_person": "Find the right person: {name} says it is not them",
    "unclear": "Review {name}'s reply: what it says is unclear",
}


def reply_read(facts: Facts, event: Responded, reading: Reading) -> Consequences:
    """A reply read by intent (table note 4): it stops the cadence as any response; the intent decides what follows."""
    base = responded(facts, replace(event, reading=None), with_task=False)
    text = clean_reason(event.note) or (f"(no text) Subject: {event.subject}" if event.subject else "(no text)")
    said = f"{reading.intent}, confidence {reading.confidence:.2f}: {'; '.join(reading.evidence) or 'no evidence'}"
    intent = reading.intent if reading.confidence >= REVIEW_BELOW else "unclear"

    def task(kind: str, due: datetime | None = None, note: str | None = None) -> Consequences:
        title = _ANSWER_TITLES[kind].format(name=facts.lead_name or "the lead")[:MAX_TITLE]
        new = NewTask(channel="reply", title=title, instructions=f"Read as {said}\n\n{text}", due_at=due or facts.at)
        return replace(base, task=new, note=note or f"{reading.intent}: {title[:1].lower()}{title[1:]}")

    if intent == "interested":
        sla = facts.policy.response_sla_hours
        due = add_business_hours(facts.calendar, facts.at, sla) if facts.calendar else facts.at + timedelta(hours=sla)
        return task("interested", due)
    if intent == "not_now":
        until = _snooze_until(facts, reading.date) if reading.date is not None else None
        if until is None:
            return task("not_now")
        snooze = NewSnooze(until=until, cadence=facts.policy.reengage_cadence)
        return replace(base, snooze=snooze, note=f"not now: snoozed until {until.isoformat()}")
    if intent == "referral":
        named = reading.referral
        if named is None or not named.email:
            return task("referral")
        referral = NewReferral(
            email=named.email, name=named.name, phone=named.phone, cadence=facts.policy.referral_cadence
        )
        return replace(task("referral_made", note=f"referral: {named.email} added"), referral=referral)
    if intent == "wrong_person":
        return task("wrong_person")
    if intent in ("not_interested", "unsubscribe_request"):
        outcome = Outcome.NOT_INTERESTED if intent == "not_interested" else Outcome.UNSUBSCRIBED
        after = replace(facts, enrollment=base.enrollment or facts.enrollment, responded=True)
        # a suppression's reason is one line (it is refused with line breaks); the decision keeps the reply as written
        one_line = " ".join(text.split())
        decided = decisions.automatic_decision(after, outcome, text, "reply", suppress=f"{intent} (reply): {one_line}")
        return replace(decided, enrollment=decided.enrollment or base.enrollment, response=base.response)
    return task("unclear", note=f"{reading.intent}: for review, nothing automatic")


def _snooze_until(facts: Facts, day: date) -> datetime | None:
    """The start of the send window on ``day`` in the lead's time zone (UTC midnight without a calendar);
    None when that is not in the future."""
    if facts.calendar is not None:
        until = local_instant(day, facts.calendar.settings.window_start, facts.calendar.tz)
    else:
        until = datetime.combine(day, time(0, 0), tzinfo=facts.at.tzinfo)
    return until if until > facts.at else None


def snooze_over(facts: Facts, cadence: str, refused: str | None) -> Consequences:
    """A snooze ended: the answered enrollment completes (the shell enrolls anew); refused, a task for the owner."""
    if refused is not None:
        name = facts.lead_name or "the lead"
        title = f"Re-engage {name} by hand: the snooze is over"[:MAX_TITLE]
        task = NewTask(
            channel="task", title=title, instructions=f"Not enrolled in {cadence}: {refused}", due_at=facts.at
        )
        return Consequences(task=task, note=f"snooze over, not enrolled in {cadence}: {refused}")
    enrollment = facts.enrollment
    if enrollment is None or enrollment.state != State.RESPONDED:
        return Consequences(note=f"snooze over: enrolled in {cadence}")
    state = transition(enrollment.state, Event.COMPLETE)
    moved = replace(enrollment, state=state, next_due_at=None, ended_at=facts.at)
    return Consequences(enrollment=moved, note=f"snooze over: enrolled in {cadence}")


def snoozed_by_hand(facts: Facts, day: date, by: str | None) -> Consequences:
    """A person's snooze: as a "not now" reply's, without the reply (the enrollment stops as answered)."""
    until = _snooze_until(facts, day)
    if until is None:
        raise ValidationError("The snooze must end on a day in the future.")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state in OPEN_STATES and enrollment.state != State.RESPONDED:
        moved = replace(enrollment, state=transition(enrollment.state, Event.RESPOND), next_due_at=None, ended_at=None)
    snooze = NewSnooze(until=until, cadence=facts.policy.reengage_cadence)
    who = f" by {by}" if by else ""
    return Consequences(enrollment=moved, snooze=snooze, note=f"snoozed{who} until {until.isoformat()}")


def pause_until(facts: Facts, return_date: date | None) -> datetime | None:
    """Until when an automatic reply pauses the lead: its return date at the start of the send window, in the
    lead's time zone, else ``auto_reply_pause_days`` from now; never more than ``auto_reply_max_days`` from
    now (anyone can write "back next year"). None when the return date has passed."""
    longest = facts.at + timedelta(days=facts.policy.auto_reply_max_days)
    if return_date is None:
        return min(facts.at + timedelta(days=facts.policy.auto_reply_pause_days), longest)
    if facts.calendar is None:
        raise ValueError("an automatic reply naming a return date needs the lead's calendar")
    window_start = facts.calendar.settings.window_start if facts.cadence is not None else time(0, 0)
    until = local_instant(return_date, window_start, facts.calendar.tz)
    return min(until, longest) if until > facts.at else None


def auto_reply(facts: Facts, event: AutoReply) -> Consequences:
    """An automatic reply: an active enrollment pauses until the return date (capped; see :func:`pause_until`)."""
    enrollment = facts.enrollment
    note = event.note
    if event.return_date is not None:
        note = f"back on {event.return_date.isoformat()}: {note or ''}".strip(": ")
    response = NewResponse(
        kind="auto_reply",
        channel="email",
        note=note,
        on_enrollment=enrollment is not None and enrollment.state in OPEN_STATES,
    )
    if enrollment is None or enrollment.state != State.ACTIVE:
        state = enrollment.state.value if enrollment is not None else "not enrolled"
        return Consequences(response=response, note=f"not paused (enrollment {state})")
    until = pause_until(facts, event.return_date)
    if until is None:
        return Consequences(response=response, note=f"back on {event.return_date} already: not paused")
    paused = decisions.paused(facts, until)
    return replace(paused, response=response, note=f"paused until {until.isoformat()}")


def bounce_notice(facts: Facts, permanent: bool, status: str) -> Consequences:
    """A bounce notice read from the replies mailbox: permanent, as a bounce; temporary, only recorded."""
    if not permanent:
        note = f"delivery delayed or failed: {status}"[:2000]
        return Consequences(response=NewResponse(kind="bounce", channel="email", note=note, on_enrollment=True),
                            note=f"temporary delivery failure, nothing changed: {status}")  # fmt: skip
    response = NewResponse(kind="bounce", channel="email", note=f"bounced: {status}"[:2000], on_enrollment=True)
    return replace(decisions.bounce(facts, status), response=response)


def task_done(facts: Facts, event: TaskDone) -> Consequences:
    """A task done: a connected call is a response; a decision with it is taken as well."""
    connected = event.channel == "call" and event.outcome == "connected"
    if not connected:
        return (
            decisions.decision_taken(facts, event.decision)
            if event.decision is not None
            else Consequences(note="task done")
        )
    answered = responded(
        facts, Responded(kind="call", channel="call", note=event.note or "call connected"), with_task=not event.decision
    )
    if event.decision is None:
        return answered
    after = replace(facts, enrollment=answered.enrollment or facts.enrollment, responded=True)
    return replace(decisions.decision_taken(after, event.decision), response=answered.response)
