"""Enrolling leads in cadences and moving enrollments through their states."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Enrollment, Lead, Response, StageChange, Task, Touch
from cadence.core.cadences import Cadence
from cadence.core.decisions import NEEDS_QUALIFICATION, Outcome
from cadence.core.enrollment import OPEN_STATES, State
from cadence.core.events import (
    RESPONSE_KINDS,
    AccountNews,
    AnyEvent,
    ColleagueAnswered,
    ColleagueDecided,
    Consequences,
    Decided,
    Facts,
    GraceOver,
    Paused,
    Policy,
    Responded,
    Resumed,
    TaskDone,
    TouchFacts,
    TouchState,
    consequences,
    next_due_at,
)
from cadence.core.leads import normalize_email, parse_reference
from cadence.core.webhooks import EventType
from cadence.errors import AlreadyExists, CadenceError, NotFound, ValidationError
from cadence.services import audit
from cadence.services.cadence_versions import calendar_for, pin_cadence, pinned_cadence
from cadence.services.context import SESSION_SETTINGS
from cadence.services.rule_rows import full_name, policy_of, position_of, write_position
from cadence.services.webhooks import outbox
from cadence.settings import Settings

if TYPE_CHECKING:
    from cadence.services.passback import PassBack
    from cadence.services.referrals import Referred

QUALIFIED_AGAIN = frozenset({Outcome.QUALIFIED, Outcome.MEETING_BOOKED, Outcome.QUALIFIED_HANDOFF})
"""The decisions that bring a passed-back lead back to its owner (so does an ``interested`` reply)."""


class Suppressed(CadenceError):
    """The address is suppressed: it is never emailed."""


REPLY_GRACE_DAYS = 3
"""The days after an enrollment's last step that :func:`schedule_next` waits for a reply by default."""


def schedule_next(
    enrollment: Enrollment, cadence: Cadence, settings: Settings, reply_grace_days: int = REPLY_GRACE_DAYS
) -> None:
    """Set ``next_due_at`` for the enrollment's next step, or for the end of the reply grace period.

    Only an active enrollment has a due time (:func:`cadence.core.events.next_due_at`).
    """
    calendar = calendar_for(enrollment.lead, cadence, settings)
    enrollment.next_due_at = next_due_at(position_of(enrollment), cadence, calendar, grace_days=reply_grace_days)


def open_enrollment(session: Session, lead: Lead) -> Enrollment | None:
    """The lead's enrollment that is under way, if any."""
    return session.scalar(
        select(Enrollment).where(Enrollment.lead_id == lead.id, Enrollment.state.in_([s.value for s in OPEN_STATES]))
    )


def latest_enrollment(session: Session, lead: Lead) -> Enrollment | None:
    """The lead's most recent enrollment, whatever its state."""
    return session.scalar(
        select(Enrollment).where(Enrollment.lead_id == lead.id).order_by(Enrollment.id.desc()).limit(1)
    )


def find_lead(session: Session, ref: str) -> Lead | None:
    """The lead ``ref`` names (an address, or ``#ID``), or None; :class:`ValidationError` for neither."""
    lead_id = parse_reference(ref)
    if lead_id is not None:
        return session.get(Lead, lead_id)
    return session.scalar(select(Lead).where(Lead.email == normalize_email(ref)))


def get_lead(session: Session, email: str) -> Lead:
    """The lead ``email`` names (an address, or ``#ID`` for any lead), or :class:`NotFound`."""
    lead_id = parse_reference(email)
    if lead_id is not None:
        found = session.get(Lead, lead_id)
        if found is None:
            raise NotFound(f"no lead #{lead_id}")
        return found
    address = normalize_email(email)
    lead = session.scalar(select(Lead).where(Lead.email == address))
    if lead is None:
        raise NotFound(f"no lead with email {address}")
    return lead


def start_enrollment(
    session: Session, lead: Lead, cadence: Cadence, *, now: datetime, settings: Settings
) -> Enrollment:
    """Enroll ``lead`` in ``cadence`` with Day 0 at ``now``.

    Raises :class:`AlreadyExists` when the lead has an enrollment under way.
    """
    from cadence.services.suppression import is_suppressed

    if open_enrollment(session, lead) is not None:
        raise AlreadyExists(f"{lead.reference} is enrolled already; decide or finish that enrollment first")
    if lead.email is not None and is_suppressed(session, lead.email):
        raise Suppressed(f"{lead.email} is suppressed (unsubscribed, bounced or blocked): it is not enrolled")
    pin_cadence(session, cadence, now)
    enrollment = Enrollment(
        lead=lead,
        cadence_name=cadence.name,
        cadence_version=cadence.version,
        state=State.ACTIVE.value,
        enrolled_at=now,
        anchor_at=now,
        next_step=0,
        priority=lead.priority if lead.priority is not None else 2,
    )
    schedule_next(enrollment, cadence, settings)
    session.add(enrollment)
    lead.status = enrollment.state
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AlreadyExists(f"{lead.reference} was enrolled at the same moment by another process") from None
    return enrollment


def _require_open(session: Session, lead: Lead, what: str) -> Enrollment:
    enrollment = open_enrollment(session, lead)
    if enrollment is None:
        raise NotFound(f"{lead.reference} has no enrollment under way to {what}")
    return enrollment


def _lock(session: Session, enrollment: Enrollment) -> Enrollment:
    """Re-read the enrollment row with a write lock, so that a concurrent run sees our change or we see its."""
    return session.scalars(
        select(Enrollment)
        .where(Enrollment.id == enrollment.id)
        .with_for_update(of=Enrollment)
        .execution_options(populate_existing=True)
    ).one()


def pause(session: Session, lead: Lead, *, now: datetime, until: datetime | None = None) -> Enrollment:
    """Pause the lead's enrollment: no step runs until it is resumed (or ``until`` passes)."""
    enrollment = _lock(session, _require_open(session, lead, "pause"))
    handle(session, lead, Paused(until=until), at=now, enrollment=enrollment)
    return enrollment


def resume(session: Session, lead: Lead, *, now: datetime, settings: Settings) -> Enrollment:
    """Resume a paused enrollment; the remaining steps keep their spacing, moved by the time paused."""
    enrollment = _lock(session, _require_open(session, lead, "resume"))
    handle(session, lead, Resumed(), at=now, settings=settings, enrollment=enrollment)
    return enrollment


def record_response(
    session: Session,
    lead: Lead,
    *,
    now: datetime,
    kind: str = "manual",
    channel: str = "other",
    note: str | None = None,
    message_id: str | None = None,
    touch_id: int | None = None,
) -> tuple[Response, Enrollment | None]:
    """Record that the lead answered: the automated steps stop at once and the owner gets a task to act on.

    Works on an enrollment under way or one that ran out (a late answer); a lead with no such
    enrollment still gets the response on its timeline, and its owner the task. Returns the response
    and the enrollment that took it (None when there was none to take it).
    """
    applied = handle(
        session,
        lead,
        Responded(kind=kind, channel=channel, note=note),
        at=now,
        message_id=message_id,
        touch_id=touch_id,
    )
    assert applied.response is not None, "a response is always recorded"
    return applied.response, applied.enrollment if applied.consequences.enrollment is not None else None


def decide(
    session: Session,
    lead: Lead,
    outcome: Outcome,
    *,
    now: datetime,
    reason: str | None = None,
    answers: dict[str, str] | None = None,
    qualification_skipped: bool = False,
    decided_by: str | None = None,
) -> Decision:
    """Record the decision on ``lead``: its enrollment stops at once and its open tasks are cancelled.

    It becomes the lead's current decision; an earlier one is kept as history, superseded by it. A
    meeting or a hand-off needs the qualifying answers, or ``qualification_skipped`` (which is
    recorded), and counts as the lead's response when none was recorded.
    """
    event = Decided(
        outcome=outcome,
        reason=reason,
        decided_by=decided_by,
        answers=answers,
        qualification_skipped=qualification_skipped,
    )
    applied = handle(session, lead, event, at=now)
    assert applied.decision is not None, "a decision is always recorded"
    return applied.decision


def complete(session: Session, enrollment: Enrollment, *, now: datetime) -> Decision:
    """Close an enrollment whose steps all ran with no response: the decision ``no_response``."""
    applied = handle(session, enrollment.lead, GraceOver(), at=now, enrollment=enrollment)
    assert applied.decision is not None, "completing decides no_response"
    return applied.decision


# -- applying the rule: what an event means (cadence.core.events), done to the rows -----------------------


def current_decision(session: Session, lead_id: int) -> Decision | None:
    """The lead's current decision (the one no later decision superseded), if any."""
    return session.scalar(
        select(Decision)
        .where(Decision.lead_id == lead_id, Decision.superseded_at.is_(None))
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )


def decided_since_enrolled(session: Session, lead: Lead, enrollment: Enrollment | None) -> Outcome | None:
    """The lead's current decision if it was taken on (or since the start of) ``enrollment``; ever, if None."""
    decision = current_decision(session, lead.id)
    if decision is None:
        return None
    if (
        enrollment is not None
        and decision.enrollment_id != enrollment.id
        and decision.decided_at <= enrollment.enrolled_at  # a pass-back decides one and enrolls the next at once
    ):
        return None
    return Outcome(decision.outcome)


def read_facts(
    session: Session,
    lead: Lead,
    enrollment: Enrollment | None,
    *,
    at: datetime,
    settings: Settings | None = None,
    touch: Touch | None = None,
) -> Facts:
    """What the rule may look at for ``lead`` and its latest ``enrollment`` (locked by the caller).

    Without ``settings`` there is no calendar: events that schedule a step need them.
    """
    cadence = calendar = None
    if enrollment is not None and settings is not None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        calendar = calendar_for(lead, cadence, settings)
    responded = enrollment is not None and bool(
        session.scalar(
            select(exists().where(Response.enrollment_id == enrollment.id, Response.kind.in_(sorted(RESPONSE_KINDS))))
        )
    )
    current = current_decision(session, lead.id)
    return Facts(
        at=at,
        meeting_at=current.meeting_at if current is not None and current.outcome == Outcome.MEETING_BOOKED else None,
        enrollment=position_of(enrollment) if enrollment is not None else None,
        cadence=cadence,
        calendar=calendar,
        decided=decided_since_enrolled(session, lead, enrollment),
        responded=responded,
        touch=TouchFacts(step_index=touch.step_index, state=TouchState(touch.state), error=touch.error)
        if touch is not None
        else None,
        lead_name=full_name(lead),
        policy=policy_of(settings) if settings is not None else Policy(),
        snoozed_until=lead.snoozed_until,
    )


@dataclass
class Applied:
    """The rows an event's consequences wrote."""

    consequences: Consequences
    enrollment: Enrollment | None
    decision: Decision | None = None
    response: Response | None = None
    task: Task | None = None
    suppressed: int = 0
    """Addresses suppressed (or found suppressed already)."""
    referred: Referred | None = None
    """The lead a referral added (or found)."""
    stage: StageChange | None = None
    """The lead's move to another stage of maturation, if the rules of ``stages.yaml`` made one."""
    passed_back: PassBack | None = None
    """A decision ``passed_back``: who develops the lead now and its development cadence."""
    came_back_to: str | None = None
    """A passed-back lead qualified again: the owner it returned to."""


def handle(
    session: Session,
    lead: Lead,
    event: AnyEvent,
    *,
    at: datetime,
    settings: Settings | None = None,
    enrollment: Enrollment | None = None,
    touch: Touch | None = None,
    suppress_also: Iterable[str] = (),
    message_id: str | None = None,
    touch_id: int | None = None,
) -> Applied:
    """Apply what ``event`` means for ``lead`` (:func:`cadence.core.events.consequences`): every path calls this.

    ``enrollment``: the lead's latest enrollment, locked by the caller; by default the one under way,
    else the latest, locked here. ``touch``: the touch a send outcome or a lapsed claim is about.
    ``suppress_also``: addresses suppressed with the lead's (a bounce notice's recipients).
    ``message_id`` and ``touch_id`` go on the response, if one is recorded.
    """
    if enrollment is None:
        found = open_enrollment(session, lead) or latest_enrollment(session, lead)
        enrollment = _lock(session, found) if found is not None else None
    facts = read_facts(session, lead, enrollment, at=at, settings=settings, touch=touch)
    given = _decision_of(event)
    if given is not None and given.outcome in NEEDS_QUALIFICATION and not given.qualification_skipped:
        event = _with_known_answers(session, lead, event, given)
    result = consequences(event, facts)
    if given is not None and given.answers:  # answers given with a decision are captured as any others
        from cadence.services.answers import record_answers

        record_answers(session, lead, given.answers, at=at, by=given.decided_by)
    applied = apply_consequences(
        session,
        lead,
        enrollment,
        result,
        at=at,
        touch=touch,
        suppress_also=suppress_also,
        message_id=message_id,
        touch_id=touch_id,
        settings=settings,
    )
    from cadence.services.passback import come_back, pass_back
    from cadence.services.stages import apply_rules, fired_by
    from cadence.services.undo import record_intent_actions

    if isinstance(event, Responded) and event.reading is not None:
        record_intent_actions(session, lead, event.reading, result, applied, at=at)
    fired = fired_by(event, result)
    applied.stage = apply_rules(session, lead, fired, at=at)
    decided = result.decision.outcome if result.decision is not None else None
    if result.decision is not None and decided is Outcome.PASSED_BACK:
        applied.passed_back = pass_back(session, lead, reason=result.decision.reason, at=at)
    elif lead.home_owner_id is not None and (decided in QUALIFIED_AGAIN or "intent interested" in fired):
        why = f"decision {decided.value}" if decided is not None else "the lead wrote back with interest"
        applied.came_back_to = come_back(session, lead, why=why, at=at)
    return applied


def _decision_of(event: AnyEvent) -> Decided | None:
    """The decision a person records with ``event``, if any."""
    if isinstance(event, Decided):
        return event
    if isinstance(event, TaskDone):
        return event.decision
    return None


def _with_known_answers(session: Session, lead: Lead, event: AnyEvent, given: Decided) -> AnyEvent:
    """``event`` with its decision's answers completed by those the lead gave before: the gate checks the union."""
    from cadence.services.answers import configured_questions, gate_answers

    questions = configured_questions(session)
    union, _missing = gate_answers(session, lead, given.answers, questions)
    pairs = tuple((q.key, q.text) for q in questions)
    decision = replace(given, answers=union or None, questions=pairs)
    return replace(event, decision=decision) if isinstance(event, TaskDone) else decision


def apply_consequences(
    session: Session,
    lead: Lead,
    enrollment: Enrollment | None,
    result: Consequences,
    *,
    at: datetime,
    touch: Touch | None = None,
    suppress_also: Iterable[str] = (),
    message_id: str | None = None,
    touch_id: int | None = None,
    settings: Settings | None = None,
) -> Applied:
    """Write ``result`` to the rows: enrollment, touch, suppressions, decision, tasks, response, snooze, referral.

    A referral needs ``settings`` (its cadence and the new lead's calendar).
    """
    applied = Applied(consequences=result, enrollment=enrollment)
    if result.enrollment is not None:
        if enrollment is None:
            raise ValueError("consequences for an enrollment, applied without it")
        write_position(enrollment, result.enrollment)
    if result.lead_status is not None:
        lead.status = result.lead_status
    if touch is not None:
        if result.release_claim:
            session.delete(touch)
        elif result.touch is not None:
            touch.state = result.touch.value
            if result.touch_error is not None:
                touch.error = result.touch_error[:2000]
    if result.suppress is not None:
        addresses = [a for a in (lead.email, *suppress_also) if a is not None]  # a phone-only lead has none
        applied.suppressed = _suppress(session, addresses, at=at, reason=result.suppress)
    if result.cancel_open_tasks and result.decision is not None:
        for task in session.scalars(select(Task).where(Task.lead_id == lead.id, Task.status == "open")):
            task.status = "cancelled"
            task.completed_at = at
            task.note = f"cancelled by the decision {result.decision.outcome.value}"
    if result.decision is not None:
        applied.decision = _record_decision(session, lead, enrollment, result, at=at)
    if result.response is not None:
        applied.response = Response(
            lead_id=lead.id,
            enrollment_id=enrollment.id if enrollment is not None and result.response.on_enrollment else None,
            touch_id=touch_id,
            kind=result.response.kind,
            channel=result.response.channel,
            note=result.response.note,
            message_id=message_id,
            received_at=at,
        )
        session.add(applied.response)
    if result.task is not None:
        applied.task = Task(
            lead_id=lead.id,
            owner_id=lead.owner_id,
            enrollment_id=enrollment.id if enrollment is not None and result.enrollment is not None else None,
            channel=result.task.channel,
            title=result.task.title,
            instructions=result.task.instructions,
            due_at=result.task.due_at,
            priority=lead.priority if lead.priority is not None else 2,
            status="open",
            created_at=at,
        )
        session.add(applied.task)
    if result.snooze is not None:
        lead.snoozed_until, lead.snooze_cadence = result.snooze.until, result.snooze.cadence
    elif result.decision is not None or result.unsnooze:  # a decision or a new answer: nothing wakes it up
        lead.snoozed_until = lead.snooze_cadence = None
    session.flush()
    _outbox(session, lead, applied, at=at)
    if result.account is not None and lead.account_id is not None:
        tell_colleagues(session, lead, result.account, at=at, settings=settings)
    if result.referral is not None:
        from cadence.services.referrals import add_referral

        if settings is None:
            raise ValueError("a referral is applied with the settings (its cadence, the new lead's calendar)")
        applied.referred = add_referral(session, lead, result.referral, at=at, settings=settings)
    return applied


def _outbox(session: Session, lead: Lead, applied: Applied, *, at: datetime) -> None:
    """The webhook events of what was just written, in the same transaction (:mod:`cadence.services.webhooks`)."""
    found: list[outbox.Event] = []
    if applied.response is not None:
        found.append(outbox.response_event(lead, applied.response, at))
    if applied.decision is not None:
        found.extend(outbox.decision_events(lead, applied.decision, at))
    if applied.task is not None:
        found.append(outbox.task_event(EventType.TASK_CREATED, lead, applied.task, at))
    if found:
        outbox.record(session, found)


def tell_colleagues(
    session: Session, lead: Lead, news: AccountNews, *, at: datetime, settings: Settings | None
) -> list[Applied]:
    """Hand ``lead``'s news to its colleagues (same account) as events of the rule (table note 6 of the rule).

    An answer reaches every colleague with an enrollment under way; a decision, those ``lead`` holds.
    Their enrollments are locked in id order, in the transaction of ``lead``'s event: a run about to hand
    a colleague's email over waits for it, and sees the hold once it commits.
    """
    settings = settings or session.info.get(SESSION_SETTINGS)
    name = full_name(lead)
    applied: list[Applied] = []
    passes: list[tuple[Any, Callable[[], AnyEvent]]] = []
    if news.answered:
        passes.append((Enrollment.state == State.ACTIVE.value, lambda: ColleagueAnswered(lead_id=lead.id, name=name)))
    if news.decided is not None or news.released:
        outcome = news.decided
        passes.append(((Enrollment.state == State.PAUSED.value) & (Enrollment.held_by_lead_id == lead.id),
                       lambda: ColleagueDecided(lead_id=lead.id, outcome=outcome, name=name)))  # fmt: skip
    for which, event in passes:
        colleagues = session.scalars(
            select(Enrollment)
            .join(Lead, Lead.id == Enrollment.lead_id)
            .where(Lead.account_id == lead.account_id, Lead.id != lead.id, which)
            .order_by(Enrollment.id)
            .with_for_update(of=Enrollment)
            .execution_options(populate_existing=True)
        ).unique()
        for enrollment in list(colleagues):
            applied.append(handle(session, enrollment.lead, event(), at=at, settings=settings, enrollment=enrollment))
    return applied


def _suppress(session: Session, addresses: Iterable[str], *, at: datetime, reason: str) -> int:
    """Suppress each valid address once; how many were (a malformed one is skipped)."""
    from cadence.services.suppression import suppress

    count = 0
    for address in dict.fromkeys(addresses):
        try:
            suppress(session, address, now=at, reason=reason[:1000])
        except ValidationError:
            continue
        count += 1
    return count


def _record_decision(
    session: Session, lead: Lead, enrollment: Enrollment | None, result: Consequences, *, at: datetime
) -> Decision:
    """The new current decision; the one it replaces is kept, marked superseded by it."""
    assert result.decision is not None
    earlier = list(
        session.scalars(select(Decision).where(Decision.lead_id == lead.id, Decision.superseded_at.is_(None)))
    )
    decision = Decision(
        lead_id=lead.id,
        enrollment_id=enrollment.id if enrollment is not None else None,
        outcome=result.decision.outcome.value,
        reason=result.decision.reason,
        answers=result.decision.answers,
        qualification_skipped=result.decision.qualification_skipped,
        decided_by=result.decision.decided_by,
        decided_at=at,
        meeting_at=result.decision.meeting_at,
    )
    session.add(decision)
    session.flush()
    for old in earlier:
        old.superseded_at = at
        old.superseded_by_id = decision.id
    audit.record(
        session,
        decision.decided_by or audit.SYSTEM,
        "decision.correct" if earlier else "decision.record",
        lead.reference,
        {"outcome": decision.outcome, "reason": decision.reason, "replaces": [o.outcome for o in earlier]},
        now=at,
    )
    return decision


def plan_for(
    session: Session, lead: Lead, *, settings: Settings, cadences: dict[str, Cadence], start: datetime | None
) -> tuple[Cadence, list[datetime]]:
    """When each step would land for ``lead``: its enrollment's, or a new one starting at ``start``."""
    from cadence.core.schedule import plan

    enrollment = open_enrollment(session, lead)
    if enrollment is not None and start is None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        return cadence, plan(cadence, calendar_for(lead, cadence, settings), enrollment.anchor_at)
    name = enrollment.cadence_name if enrollment is not None else lead.cadence
    if name is None:
        raise ValidationError(f"{lead.reference} is a {lead.kind}, not a lead: name a cadence with --cadence")
    if name not in cadences:
        raise NotFound(f"no cadence named {name!r}")
    cadence = cadences[name]
    if start is None:
        raise ValidationError("give --start for a lead that is not enrolled")
    return cadence, plan(cadence, calendar_for(lead, cadence, settings), start)
