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
``NoAddress``      the step is done [1]_                      skipped         the reason recorded (no address)
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
from typing import assert_never

from cadence.core.decisions import Outcome
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
    NoAddress,
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
from cadence.core.event_rules import accounts, decisions, replies, sending
from cadence.core.event_rules.base import (
    DECIDED_BY_CADENCE,
    MAX_REASON,
    MAX_TITLE,
    NO_RESPONSE_REASON,
    next_due_at,
    require_touch,
    step_done,
)
from cadence.core.event_rules.decisions import ACCOUNT_WON
from cadence.core.event_rules.replies import pause_until
from cadence.core.intent import Reading

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
    "NoAddress",
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
            return sending.sent(facts, TouchState.SENT, note="sent")
        case Uncertain(error=error):
            return replace(sending.sent(facts, TouchState.UNCERTAIN, note="delivery unknown"), touch_error=error,
                           uncertain=True)  # fmt: skip
        case Retry(error=error, backoff=backoff, attempt=attempt):
            if attempt >= facts.policy.max_send_attempts:
                return sending.failed(facts, f"gave up after {attempt} attempts: {error}")
            return sending.retry(facts, error, backoff)
        case StepFailed(error=error):
            return sending.failed(facts, error)
        case Bounced(error=error):
            require_touch(facts, "a bounce at send time")
            return replace(decisions.bounce(facts, error), touch=TouchState.BOUNCED, touch_error=error)
        case Withdrawn(suppressed=suppressed):
            return sending.withdrawn(facts, suppressed)
        case NoAddress():
            return sending.no_address(facts)
        case StepHeld(reason=reason):
            return sending.held(facts, reason)
        case StepDue():
            return sending.due(facts)
        case ClaimLapsed():
            return sending.lapsed(facts)
        case GraceOver():
            return decisions.grace_over(facts)
        case Responded(reading=Reading() as reading):
            return replies.reply_read(facts, event, reading)
        case Responded():
            return replies.responded(facts, event, with_task=True)
        case AutoReply():
            return replies.auto_reply(facts, event)
        case BounceNotice(permanent=permanent, status=status):
            return replies.bounce_notice(facts, permanent, status)
        case Unsubscribed(reason=reason, by=by):
            return decisions.automatic_decision(facts, Outcome.UNSUBSCRIBED, reason, by, suppress=reason)
        case Decided():
            return decisions.decision_taken(facts, event)
        case TaskDone():
            return replies.task_done(facts, event)
        case SnoozeOver(cadence=cadence, refused=refused):
            return replies.snooze_over(facts, cadence, refused)
        case SnoozedByHand(day=day, by=by):
            return replies.snoozed_by_hand(facts, day, by)
        case Paused(until=until):
            return decisions.paused(facts, until)
        case Resumed():
            return decisions.resumed(facts)
        case MeetingBooked():
            return accounts.meeting(facts, event)
        case ColleagueAnswered():
            return accounts.colleague_answered(facts, event)
        case ColleagueDecided():
            return accounts.colleague_decided(facts, event)
        case _:
            assert_never(event)
