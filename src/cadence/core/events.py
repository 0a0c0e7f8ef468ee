"""What every event means for an enrollment, its lead and its touch: the one rule (pure).

The shell reads the facts (:class:`Facts`: the lead's latest enrollment as a :class:`Position`,
its pinned cadence and calendar, whether it was decided or answered since it was enrolled, the
touch the event is about), calls :func:`consequences` with the event and applies what comes back
(:class:`Consequences`). Time is passed in (``Facts.at``); nothing here reads a clock or does I/O.

=================  =========================================  ==============  =====================================
event              enrollment                                 touch           also
=================  =========================================  ==============  =====================================
``Sent``           the step is done; next one scheduled [1]_  sent
``Retry``          due again at the next slot after backoff   retry           at ``Policy.max_send_attempts``:
                                                                              as ``StepFailed``
``StepFailed``     the step is done [1]_                      failed          a task for the owner: reach the
                                                                              lead another way, fix the data
``Bounced``        decided ``bounced`` [2]_                   bounced         address suppressed
``Uncertain``      the step is done [1]_                      uncertain       reported, never re-sent
``Withdrawn``      suppressed: the step is done [1]_          skipped         otherwise: the claim is given back
``StepHeld``       due again at the next slot after recheck   held
``StepDue``        outside its slot: due at the next slot                     the claim is given back (deferred);
                                                                              not active: given back
``ClaimLapsed``    by the touch's state: ``handing`` becomes ``uncertain``; ``sent``, ``uncertain``, ``done``,
                   ``skipped``: the step is done; ``bounced``: as ``Bounced``; the others are claimed again
``GraceOver``      completed                                                  decision ``no_response``
``Responded``      open or completed: responded [3]_                          response; a task for the owner;
                                                                              a reply read by intent: [4]_
``AutoReply``      active: paused until the return date                       response ``auto_reply``
``BounceNotice``   permanent: decided ``bounced`` [2]_                        response ``bounce``; permanent:
                                                                              address suppressed
``Unsubscribed``   decided ``unsubscribed`` [2]_                              address suppressed
``TaskDone``       a connected call: as ``Responded`` (call); with a decision: as ``Decided`` too, no task
``Decided``        decided (a decided one stays so)                           the lead's current decision, the
                                                                              earlier kept as history; open
                                                                              tasks cancelled; a meeting or
                                                                              hand-off counts as a response
``SnoozeOver``     responded: completed (no decision)                         enrolled anew by the shell [5]_;
                                                                              refused: a task for the owner
``SnoozedByHand``  active or paused: responded                                snoozed to the day, at the start of
                                                                              the lead's window; woken as a "not
                                                                              now" reply's snooze is
``Paused``         paused (only an active one)
``Resumed``        active, moved later by the time paused
``MeetingBooked``  decided ``meeting_booked`` with the                        the meeting's start on the decision;
                   meeting's start; stops as ``Decided``                      the owner's task to qualify before
                                                                              the meeting (the questions still
                                                                              unanswered) [6]_
``Colleague``      active: by the cadence's ``on_account_response``: ``pause`` (held by the colleague), ``stop``
``Answered``       (decided ``colleague_engaged``) or ``continue`` (nothing) [7]_
``Colleague``      held by that colleague: resumed; the account won (a meeting, a hand-off) or does not fit
``Decided``        (bad fit): decided ``colleague_engaged`` [7]_
=================  =========================================  ==============  =====================================

.. [1] Only while the enrollment is active and still at the touch's step (a decision, pause or
   response since the claim wins); the next step is scheduled by :func:`next_due_at`.
.. [2] Unless the lead was decided since it was enrolled: an automatic decision never replaces one
   (the suppression still happens). The enrollment stops, its open tasks are cancelled.
.. [3] A response on a decided enrollment, or from a lead never enrolled, is recorded on its own;
   the owner gets the task all the same. A response from a snoozed lead ends the snooze
   (``Consequences.unsnooze``): its owner has the new answer, and nothing re-enrolls the lead at the
   snooze's date; a new "not now" with a date snoozes it again until that date.
.. [4] What a reply says (``Responded.reading``, :mod:`cadence.core.intent`) decides what follows:

   ======================  ======================================================================
   intent                  consequence
   ======================  ======================================================================
   ``interested``          the owner's task "answer and book", due within the response SLA
                           (``Policy.response_sla_hours`` business hours in the lead's calendar)
   ``not_now``, a date     snoozed until that date, then re-enrolled in ``Policy.reengage_cadence``
   ``not_now``, no date    the owner's task to confirm a date
   ``referral``            a new lead for the person named (email needed), enrolled in
                           ``Policy.referral_cadence``; without an email, the owner's task to add them
   ``wrong_person``        the owner's task to find the right person
   ``not_interested``      decided ``not_interested``, the address suppressed, the reply the reason
   ``unsubscribe_request`` decided ``unsubscribed``, the address suppressed, the reply the reason
   ``unclear``, or below   a review task for the owner; nothing automatic
   ``REVIEW_BELOW``
   ======================  ======================================================================

   An ``out_of_office`` or ``bounce`` reading keeps its own rule (``AutoReply``, ``BounceNotice``):
   the shell sends those events instead.
.. [6] The same meeting seen again (an invitation, then its acceptance) changes nothing; another start
   time (moved) is a new decision and a new task; a lead handed over already stays so.
.. [7] Every event whose consequences hold a response that counts (``RESPONSE_KINDS``) or a decision also
   carries ``Consequences.account`` (:class:`AccountNews`): the shell hands ``ColleagueAnswered`` to each
   colleague at the same account with an enrollment under way, and ``ColleagueDecided`` to each one that
   colleague holds (with no outcome when its snooze is over: they resume). The colleagues' own events carry
   no news: nothing cascades.
.. [5] Only when the lead was not decided since and the cadence's re-enrollment rules allow it
   (:meth:`cadence.core.cadences.Reenrollment.refusal`); otherwise the snooze ends with the owner's task.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import assert_never

from cadence.core.cadences import Cadence
from cadence.core.decisions import NEEDS_QUALIFICATION, Outcome, require_qualification
from cadence.core.enrollment import OPEN_STATES, Event, State, transition
from cadence.core.event_data import (
    MEETING_RESPONSE_NOTE,
    RECLAIMABLE,
    RESPONSE_KINDS,
    STEP_DONE,
    AccountNews,
    AnyEvent,
    AutoReply,
    Bounced,
    BounceNotice,
    ClaimLapsed,
    ColleagueAnswered,
    ColleagueDecided,
    Consequences,
    Decided,
    Facts,
    GraceOver,
    MeetingBooked,
    NewDecision,
    NewReferral,
    NewResponse,
    NewSnooze,
    NewTask,
    Paused,
    Policy,
    Position,
    Responded,
    Resumed,
    Retry,
    SendOutcome,
    Sent,
    SnoozedByHand,
    SnoozeOver,
    StepDue,
    StepFailed,
    StepHeld,
    TaskDone,
    TouchFacts,
    TouchState,
    Uncertain,
    Unsubscribed,
    Withdrawn,
)
from cadence.core.intent import REVIEW_BELOW, Reading
from cadence.core.schedule import LeadCalendar, add_business_days, add_business_hours, local_instant, step_due_at
from cadence.errors import InvalidTransition, ValidationError

DECIDED_BY_CADENCE = "cadence"
"""Who takes the decisions no person took (bounced, no_response)."""
NO_RESPONSE_REASON = "every step of the cadence ran with no response"
MAX_REASON = 1000
MAX_TITLE = 300
ACCOUNT_WON: frozenset[Outcome] = frozenset({Outcome.MEETING_BOOKED, Outcome.QUALIFIED_HANDOFF, Outcome.BAD_FIT})
"""Decisions on a colleague that stop the contacts it held: the account is in sales' hands, or does not fit.
Any other decision (not interested, wrong contact, no response...) resumes them."""

__all__ = [
    "ACCOUNT_WON",
    "DECIDED_BY_CADENCE",
    "MAX_REASON",
    "MAX_TITLE",
    "MEETING_RESPONSE_NOTE",
    "NO_RESPONSE_REASON",
    "RECLAIMABLE",
    "RESPONSE_KINDS",
    "STEP_DONE",
    "AccountNews",
    "AnyEvent",
    "AutoReply",
    "BounceNotice",
    "Bounced",
    "ClaimLapsed",
    "ColleagueAnswered",
    "ColleagueDecided",
    "Consequences",
    "Decided",
    "Facts",
    "GraceOver",
    "MeetingBooked",
    "NewDecision",
    "NewReferral",
    "NewResponse",
    "NewSnooze",
    "NewTask",
    "Paused",
    "Policy",
    "Position",
    "Responded",
    "Resumed",
    "Retry",
    "SendOutcome",
    "Sent",
    "SnoozeOver",
    "SnoozedByHand",
    "StepDue",
    "StepFailed",
    "StepHeld",
    "TaskDone",
    "TouchFacts",
    "TouchState",
    "Uncertain",
    "Unsubscribed",
    "Withdrawn",
    "consequences",
    "next_due_at",
    "pause_until",
    "step_done",
]


# -- scheduling ----------------------------------------------------------------------------------------


def next_due_at(position: Position, cadence: Cadence, calendar: LeadCalendar, *, grace_days: int) -> datetime | None:
    """When the enrollment is next due: its next step, or the end of the grace period after the last one.

    Only an active enrollment is ever due.
    """
    if position.state != State.ACTIVE:
        return None
    index = position.next_step
    if index >= len(cadence.steps):
        last = position.last_touch_at or position.anchor_at
        return add_business_days(calendar, last, grace_days)
    return step_due_at(
        cadence,
        index,
        calendar,
        enrolled_at=position.anchor_at,
        previous_touch_at=position.last_touch_at,
        previous_day=position.last_touch_day,
    )


def step_done(
    position: Position, cadence: Cadence, calendar: LeadCalendar, *, at: datetime, grace_days: int
) -> Position:
    """The enrollment moved past its current step, done at ``at``, with what comes next scheduled."""
    step = cadence.steps[position.next_step]
    moved = replace(position, next_step=position.next_step + 1, last_touch_at=at, last_touch_day=step.day)
    return replace(moved, next_due_at=next_due_at(moved, cadence, calendar, grace_days=grace_days))


# -- the rule ------------------------------------------------------------------------------------------


def consequences(event: AnyEvent, facts: Facts) -> Consequences:
    """What ``event`` means for the lead described by ``facts`` (see the module's table).

    Raises :class:`InvalidTransition` for what a person asks that the enrollment's state does not
    allow (pausing a decided enrollment), :class:`ValidationError` for a decision missing its
    qualifying answers, and :class:`ValueError` when ``facts`` lack what the event needs (a send
    outcome without its touch): a bug of the caller.
    """
    result = _rule(event, facts)
    if isinstance(event, ColleagueAnswered | ColleagueDecided):
        return result
    answered = result.response is not None and result.response.kind in RESPONSE_KINDS
    decided = result.decision.outcome if result.decision is not None else None
    released = isinstance(event, SnoozeOver) and event.refused is None
    if answered or decided is not None or released:
        return replace(result, account=AccountNews(answered=answered, decided=decided, released=released))
    return result


def _rule(event: AnyEvent, facts: Facts) -> Consequences:
    match event:
        case Sent():
            return _sent(facts, TouchState.SENT, note="sent")
        case Uncertain(error=error):
            return replace(_sent(facts, TouchState.UNCERTAIN, note="delivery unknown"), touch_error=error,
                           uncertain=True)  # fmt: skip
        case Retry(error=error, backoff=backoff, attempt=attempt):
            if attempt >= facts.policy.max_send_attempts:
                return _failed(facts, f"gave up after {attempt} attempts: {error}")
            return _retry(facts, error, backoff)
        case StepFailed(error=error):
            return _failed(facts, error)
        case Bounced(error=error):
            _require_touch(facts, "a bounce at send time")
            return replace(_bounce(facts, error), touch=TouchState.BOUNCED, touch_error=error)
        case Withdrawn(suppressed=suppressed):
            return _withdrawn(facts, suppressed)
        case StepHeld(reason=reason):
            return _held(facts, reason)
        case StepDue():
            return _due(facts)
        case ClaimLapsed():
            return _lapsed(facts)
        case GraceOver():
            return _grace_over(facts)
        case Responded(reading=Reading() as reading):
            return _answered(facts, event, reading)
        case Responded():
            return _responded(facts, event, with_task=True)
        case AutoReply():
            return _auto_reply(facts, event)
        case BounceNotice(permanent=permanent, status=status):
            return _bounce_notice(facts, permanent, status)
        case Unsubscribed(reason=reason, by=by):
            return _automatic_decision(facts, Outcome.UNSUBSCRIBED, reason, by, suppress=reason)
        case Decided():
            return _decided(facts, event)
        case TaskDone():
            return _task_done(facts, event)
        case SnoozeOver(cadence=cadence, refused=refused):
            return _snooze_over(facts, cadence, refused)
        case SnoozedByHand(day=day, by=by):
            return _snoozed_by_hand(facts, day, by)
        case Paused(until=until):
            return _paused(facts, until)
        case Resumed():
            return _resumed(facts)
        case MeetingBooked():
            return _meeting(facts, event)
        case ColleagueAnswered():
            return _colleague_answered(facts, event)
        case ColleagueDecided():
            return _colleague_decided(facts, event)
        case _:
            assert_never(event)


def _require_enrollment(facts: Facts, what: str) -> Position:
    if facts.enrollment is None:
        raise InvalidTransition(f"the lead has no enrollment to {what}")
    return facts.enrollment


def _require_touch(facts: Facts, what: str) -> TouchFacts:
    if facts.touch is None:
        raise ValueError(f"{what} needs the facts of its touch")
    return facts.touch


def _require_schedule(facts: Facts, what: str) -> tuple[Cadence, LeadCalendar]:
    if facts.cadence is None or facts.calendar is None:
        raise ValueError(f"{what} needs the enrollment's cadence and the lead's calendar")
    return facts.cadence, facts.calendar


def _at_step(facts: Facts, touch: TouchFacts) -> Position | None:
    """The enrollment, if it is active and still at the touch's step (nothing stopped or moved it)."""
    enrollment = facts.enrollment
    if enrollment is None or enrollment.state != State.ACTIVE or enrollment.next_step != touch.step_index:
        return None
    return enrollment


def _move_on(facts: Facts, touch: TouchFacts, what: str) -> Position | None:
    enrollment = _at_step(facts, touch)
    if enrollment is None:
        return None
    cadence, calendar = _require_schedule(facts, what)
    return step_done(enrollment, cadence, calendar, at=facts.at, grace_days=facts.policy.reply_grace_days)


def _sent(facts: Facts, state: TouchState, *, note: str) -> Consequences:
    touch = _require_touch(facts, "a send outcome")
    return Consequences(enrollment=_move_on(facts, touch, "a send outcome"), touch=state, note=note)


def _slot_after(facts: Facts, earliest: datetime, what: str) -> datetime:
    _cadence, calendar = _require_schedule(facts, what)
    return calendar.next_slot(earliest)


def _retry(facts: Facts, error: str, backoff: timedelta) -> Consequences:
    _require_touch(facts, "a retry")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state == State.ACTIVE:
        moved = replace(enrollment, next_due_at=_slot_after(facts, facts.at + backoff, "a retry"))
    return Consequences(enrollment=moved, touch=TouchState.RETRY, touch_error=error, note=f"retry: {error}")


def _failed(facts: Facts, error: str) -> Consequences:
    """The step will never send: it is done as failed, and the owner is told (the cadence goes on)."""
    touch = _require_touch(facts, "a failed step")
    name = facts.lead_name or "the lead"
    title = f"Email step {touch.step_index + 1} to {name} could not be sent: reach them another way"[:MAX_TITLE]
    instructions = (
        f"{error[:MAX_REASON]}\n\nNothing was sent for this step, and it will not be tried again. Check the "
        "lead's address and fields, contact them another way, or record a decision."
    )
    return Consequences(
        enrollment=_move_on(facts, touch, "a failed step"),
        touch=TouchState.FAILED,
        touch_error=error[:2000],
        task=NewTask(channel="task", title=title, instructions=instructions, due_at=facts.at),
        note=f"failed: {error[:300]}",
    )


def _withdrawn(facts: Facts, suppressed: bool) -> Consequences:
    touch = _require_touch(facts, "a withdrawn email")
    if facts.enrollment is None or facts.enrollment.state != State.ACTIVE:
        return Consequences(release_claim=True, note="withdrawn: the enrollment stopped")
    if not suppressed:  # paused and resumed meanwhile: nothing was sent, the step runs again
        return Consequences(release_claim=True, note="withdrawn: the lead stopped meanwhile and is active again")
    return Consequences(
        enrollment=_move_on(facts, touch, "a withdrawn email"),
        touch=TouchState.SKIPPED,
        touch_error="address suppressed",
        note="withdrawn: address suppressed",
    )


def _held(facts: Facts, reason: str) -> Consequences:
    _require_touch(facts, "a held step")
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state == State.ACTIVE:
        due = _slot_after(facts, facts.at + facts.policy.hold_recheck, "a held step")
        moved = replace(enrollment, next_due_at=due)
    return Consequences(enrollment=moved, touch=TouchState.HELD, touch_error=reason, note=f"held: {reason}")


def _due(facts: Facts) -> Consequences:
    enrollment = _require_enrollment(facts, "run")
    if enrollment.state != State.ACTIVE:
        return Consequences(release_claim=True, note=f"not run: the enrollment is {enrollment.state.value}")
    slot = _slot_after(facts, facts.at, "a due step")
    if slot == facts.at:
        return Consequences(note="due, inside its slot: runs now")
    return Consequences(
        enrollment=replace(enrollment, next_due_at=slot),
        release_claim=True,
        deferred_to=slot,
        note=f"outside the lead's send window or on a closed day: moved to {slot.isoformat()}",
    )


def _lapsed(facts: Facts) -> Consequences:
    touch = _require_touch(facts, "a lapsed claim")
    if touch.state in RECLAIMABLE:
        return Consequences(reclaim=True, note=f"lapsed claim ({touch.state.value}): claimed again")
    if touch.state == TouchState.HANDING:
        error = "the runner stopped after handing the message to SMTP; delivery unknown"
        return Consequences(
            enrollment=_move_on(facts, touch, "a lapsed claim"),
            touch=TouchState.UNCERTAIN,
            touch_error=error,
            uncertain=True,
            note="lapsed while handing: delivery unknown",
        )
    if touch.state == TouchState.BOUNCED:
        bounce = _bounce(facts, touch.error or "bounced")
        return replace(bounce, note=f"lapsed after a bounce: {bounce.note}")
    if touch.state in STEP_DONE:
        return Consequences(
            enrollment=_move_on(facts, touch, "a lapsed claim"),
            uncertain=touch.state == TouchState.UNCERTAIN,
            note=f"lapsed after {touch.state.value}: moved on",
        )
    raise ValueError(f"a lapsed claim on a touch in state {touch.state.value} has no rule")  # pragma: no cover


def _reason(text: str | None) -> str | None:
    return text.strip()[:MAX_REASON] if text and text.strip() else None


def _bounce(facts: Facts, error: str) -> Consequences:
    reason = error[:MAX_REASON]
    return _automatic_decision(facts, Outcome.BOUNCED, reason, DECIDED_BY_CADENCE, suppress=f"bounced: {error}")


def _automatic_decision(facts: Facts, outcome: Outcome, reason: str, by: str | None, *, suppress: str) -> Consequences:
    """A decision no person took (bounced, unsubscribed): never over one taken since the lead was enrolled."""
    if facts.decided is not None:
        return Consequences(
            suppress=suppress[:MAX_REASON],
            note=f"{outcome.value}: suppressed; the lead was decided already ({facts.decided.value})",
        )
    decided = _decide(facts, NewDecision(outcome=outcome, reason=_reason(reason), decided_by=by))
    return replace(decided, suppress=suppress[:MAX_REASON], note=f"{outcome.value}: suppressed and decided")


def _decide(facts: Facts, decision: NewDecision) -> Consequences:
    """The enrollment stops (a decided one stays so), open tasks are cancelled; a meeting is a response."""
    enrollment = facts.enrollment
    moved = None
    if enrollment is not None and enrollment.state != State.DECIDED:
        state = transition(enrollment.state, Event.DECIDE)
        moved = replace(enrollment, state=state, next_due_at=None, ended_at=facts.at)
    response = None
    if decision.outcome in NEEDS_QUALIFICATION and not facts.responded:
        note = MEETING_RESPONSE_NOTE.format(outcome=decision.outcome.value.replace("_", " "))
        response = NewResponse(kind="manual", channel="other", note=note, on_enrollment=enrollment is not None)
    return Consequences(
        enrollment=moved,
        decision=decision,
        cancel_open_tasks=True,
        response=response,
        note=f"decided {decision.outcome.value}",
    )


def _decided(facts: Facts, event: Decided) -> Consequences:
    require_qualification(event.outcome, event.answers, event.qualification_skipped, event.questions)
    if event.reason is not None and len(event.reason) > 5000:
        raise ValidationError("reason is longer than 5000 characters")
    decision = NewDecision(
        outcome=event.outcome,
        reason=event.reason.strip() if event.reason and event.reason.strip() else None,
        decided_by=event.decided_by,
        answers=event.answers,
        qualification_skipped=event.qualification_skipped,
    )
    return _decide(facts, decision)


def _grace_over(facts: Facts) -> Consequences:
    enrollment = _require_enrollment(facts, "complete")
    if enrollment.state != State.ACTIVE:  # only a snooze closes a responded one (SnoozeOver)
        raise InvalidTransition(f"cannot complete an enrollment that is {enrollment.state.value}: no step ran out")
    state = transition(enrollment.state, Event.COMPLETE)
    moved = replace(enrollment, state=state, next_due_at=None, ended_at=facts.at)
    decision = NewDecision(outcome=Outcome.NO_RESPONSE, reason=NO_RESPONSE_REASON, decided_by=DECIDED_BY_CADENCE)
    return Consequences(enrollment=moved, decision=decision, note="completed with no response")


_TASK_TITLES = {
    "reply": "Answer {name}'s reply",
    "call": "Follow up the call with {name}: record the decision",
    "manual": "Follow up {name}'s response: record the decision",
}


def _responded(facts: Facts, event: Responded, *, with_task: bool) -> Consequences:
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


def _answered(facts: Facts, event: Responded, reading: Reading) -> Consequences:
    """A reply read by intent (table note 4): it stops the cadence as any response; the intent decides what follows."""
    base = _responded(facts, replace(event, reading=None), with_task=False)
    text = _reason(event.note) or (f"(no text) Subject: {event.subject}" if event.subject else "(no text)")
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
        decided = _automatic_decision(after, outcome, text, "reply", suppress=f"{intent} (reply): {one_line}")
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


def _snooze_over(facts: Facts, cadence: str, refused: str | None) -> Consequences:
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


def _snoozed_by_hand(facts: Facts, day: date, by: str | None) -> Consequences:
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


def _auto_reply(facts: Facts, event: AutoReply) -> Consequences:
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
    paused = _paused(facts, until)
    return replace(paused, response=response, note=f"paused until {until.isoformat()}")


def _bounce_notice(facts: Facts, permanent: bool, status: str) -> Consequences:
    if not permanent:
        note = f"delivery delayed or failed: {status}"[:2000]
        return Consequences(response=NewResponse(kind="bounce", channel="email", note=note, on_enrollment=True),
                            note=f"temporary delivery failure, nothing changed: {status}")  # fmt: skip
    response = NewResponse(kind="bounce", channel="email", note=f"bounced: {status}"[:2000], on_enrollment=True)
    return replace(_bounce(facts, status), response=response)


def _task_done(facts: Facts, event: TaskDone) -> Consequences:
    connected = event.channel == "call" and event.outcome == "connected"
    if not connected:
        return _decided(facts, event.decision) if event.decision is not None else Consequences(note="task done")
    answered = _responded(
        facts, Responded(kind="call", channel="call", note=event.note or "call connected"), with_task=not event.decision
    )
    if event.decision is None:
        return answered
    after = replace(facts, enrollment=answered.enrollment or facts.enrollment, responded=True)
    return replace(_decided(after, event.decision), response=answered.response)


def _paused(facts: Facts, until: datetime | None) -> Consequences:
    enrollment = _require_enrollment(facts, "pause")
    state = transition(enrollment.state, Event.PAUSE)
    moved = replace(enrollment, state=state, paused_at=facts.at, paused_until=until, next_due_at=None)
    return Consequences(enrollment=moved, note="paused")


def _resumed(facts: Facts) -> Consequences:
    enrollment = _require_enrollment(facts, "resume")
    state = transition(enrollment.state, Event.RESUME)
    moved = replace(enrollment, state=state, paused_at=None, paused_until=None, held_by_lead_id=None)
    if enrollment.paused_at is not None and facts.at > enrollment.paused_at:
        shift = facts.at - enrollment.paused_at
        moved = replace(
            moved,
            anchor_at=enrollment.anchor_at + shift,
            last_touch_at=enrollment.last_touch_at + shift if enrollment.last_touch_at is not None else None,
        )
    cadence, calendar = _require_schedule(facts, "resuming")
    moved = replace(moved, next_due_at=next_due_at(moved, cadence, calendar, grace_days=facts.policy.reply_grace_days))
    return Consequences(enrollment=moved, note="resumed")


def _local(facts: Facts, at: datetime) -> str:
    """``at`` as the lead reads it: in its time zone when the calendar is known, else in UTC."""
    if facts.calendar is not None:
        local = at.astimezone(facts.calendar.tz)
        return f"{local:%a %d %b %Y %H:%M} ({facts.calendar.tz.key})"
    return f"{at.astimezone(UTC):%a %d %b %Y %H:%M} UTC"


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


def _meeting(facts: Facts, event: MeetingBooked) -> Consequences:
    """A meeting booked (table note 6): the decision with its start, and the task to qualify before it."""
    when = _local(facts, event.start)
    if facts.decided == Outcome.QUALIFIED_HANDOFF:
        return Consequences(note=f"meeting on {when} seen; the lead was handed over already")
    if facts.decided == Outcome.MEETING_BOOKED and facts.meeting_at == event.start:
        return Consequences(note=f"meeting on {when} recorded already")
    known = {k: v.strip() for k, v in event.answers.items() if v and v.strip()}
    reason = f"meeting on {when}: {event.evidence}" if event.evidence else f"meeting on {when}"
    decision = NewDecision(
        outcome=Outcome.MEETING_BOOKED,
        reason=_reason(reason),
        decided_by=event.via[:320],
        answers=known or None,
        meeting_at=event.start,
    )
    decided = _decide(facts, decision)
    title = f"Qualify {facts.lead_name or 'the lead'} before the meeting on {when}"[:MAX_TITLE]
    task = NewTask(
        channel="task", title=title, instructions=qualify_instructions(event.questions, known), due_at=facts.at
    )
    # always on the timeline, with its time: the response _decide adds only when there was none
    response = NewResponse(
        kind="manual",
        channel="other",
        note=f"meeting booked for {when} ({event.via})",
        on_enrollment=facts.enrollment is not None,
    )
    return replace(decided, task=task, response=response, note=f"meeting booked ({event.via}) on {when}")


def _colleague_answered(facts: Facts, event: ColleagueAnswered) -> Consequences:
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
        return replace(_decide(facts, decision), note=f"stopped: {who} answered")
    paused = _paused(facts, None)
    assert paused.enrollment is not None
    held = replace(paused.enrollment, held_by_lead_id=event.lead_id)
    return Consequences(enrollment=held, note=f"held: {who} at the same account answered; the owner decides")


def _colleague_decided(facts: Facts, event: ColleagueDecided) -> Consequences:
    """The owner decided the colleague that holds this lead (table note 7): resumed, or stopped when the account won."""
    enrollment = facts.enrollment
    who = event.name or "the colleague"
    what = f"decided {event.outcome.value}" if event.outcome is not None else "closed with no decision"
    if enrollment is None or enrollment.state != State.PAUSED or enrollment.held_by_lead_id != event.lead_id:
        return Consequences(note=f"{who} {what}; this lead was not held by them")
    if event.outcome is not None and event.outcome in ACCOUNT_WON:
        reason = f"{who} at the same account was decided {event.outcome.value}"
        decision = NewDecision(outcome=Outcome.COLLEAGUE_ENGAGED, reason=reason, decided_by=DECIDED_BY_CADENCE)
        return replace(_decide(facts, decision), note=f"stopped: {who} decided {event.outcome.value}")
    return replace(_resumed(facts), note=f"resumed: {who} {what}")
