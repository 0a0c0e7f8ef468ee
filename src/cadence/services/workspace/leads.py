"""Leads in the workspace: the list a viewer sees, a lead's whole context, pause, resume and decision by a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Rep, Task, Touch
from cadence.core.enrollment import OPEN_STATES
from cadence.core.leads import parse_reference
from cadence.core.schedule import local_instant
from cadence.errors import ValidationError
from cadence.services.answers import account_contacts, answer_rows, configured_questions, known_answers
from cadence.services.cadence_versions import lead_timezone
from cadence.services.context import Context
from cadence.services.enrollments import decide, pause, resume
from cadence.services.lead_list import lead_page, rep_choices
from cadence.services.lead_views import show_lead
from cadence.services.tasks import task_dict
from cadence.services.users import Role, Viewer
from cadence.services.workspace.access import changeable_lead, visible_lead
from cadence.services.workspace.contacts import notes_timeline
from cadence.services.workspace.decisions import DecisionForm, DecisionInput, check_decision, parse_day
from cadence.services.workspace.edits import EDITABLE_FIELDS, lead_field_values
from cadence.services.workspace.previews import sent_emails
from cadence.settings import Settings

EMAIL_STATES = ("sent", "uncertain", "bounced")
"""The states of an email touch that left (or may have left) for the lead."""


@dataclass(frozen=True)
class LeadBrief:
    """What a task card shows about its lead."""

    source: str | None
    interactions: int
    status: str
    lead_class: str | None
    emails_sent: int
    last_subject: str | None
    last_email_at: datetime | None


@dataclass(frozen=True)
class LeadList:
    """One page of the leads a viewer sees, how many there are, and the reps to filter by."""

    rows: list[dict[str, Any]]
    reps: list[dict[str, object]]
    total: int = 0
    """How many leads match, counted up to :data:`cadence.services.lead_list.COUNT_CAP`."""
    capped: bool = False
    """True when more leads match than were counted."""
    next_after: str | None = None
    """The address the next page starts after (None: this is the last page)."""


@dataclass(frozen=True)
class Paused:
    """A pause recorded: the lead's address and the day it ends, if any."""

    email: str
    until: date | None
    """The day the pause ends, or None for a pause without end."""


@dataclass(frozen=True)
class Decided:
    """A decision recorded by a person: the lead's address and the decision."""

    email: str
    decision: DecisionInput


def lead_briefs(session: Session, emails: list[str]) -> dict[str, LeadBrief]:
    """The context of each lead in ``emails`` (addresses or ``#ID``), by that reference (two queries in all)."""
    if not emails:
        return {}
    ids = [lead_id for lead_id in map(parse_reference, emails) if lead_id is not None]
    named = select(Lead).where(or_(Lead.email.in_(emails), Lead.id.in_(ids)))
    leads = {lead.id: lead for lead in session.scalars(named)}
    sent: dict[int, list[Touch]] = {lead_id: [] for lead_id in leads}
    for touch in session.scalars(
        select(Touch)
        .where(Touch.lead_id.in_(list(leads)), Touch.channel == "email", Touch.state.in_(EMAIL_STATES))
        .order_by(Touch.executed_at, Touch.id)
    ):
        sent[touch.lead_id].append(touch)
    return {
        lead.reference: LeadBrief(
            source=lead.source,
            interactions=lead.interactions,
            status=lead.status,
            lead_class=lead.lead_class,
            emails_sent=len(sent[lead.id]),
            last_subject=sent[lead.id][-1].subject if sent[lead.id] else None,
            last_email_at=(sent[lead.id][-1].executed_at or sent[lead.id][-1].due_at) if sent[lead.id] else None,
        )
        for lead in leads.values()
    }


def _with_tasks(session: Session, timeline: list[dict[str, Any]], tasks: list[Task]) -> None:
    """Show each task step's task in the timeline: its status, outcome and id.

    A task step's own state is "done" as soon as its task exists, whatever the rep did. A sent
    email's outcome (the mail server's "250 OK ...") says nothing more than "sent": it is left out.
    """
    by_touch = {task.touch_id: task for task in tasks if task.touch_id is not None}
    steps: dict[tuple[str, int, str], Task] = {}
    if by_touch:
        for touch in session.scalars(select(Touch).where(Touch.id.in_(list(by_touch)))):
            at = touch.executed_at or touch.due_at
            steps[(touch.channel, touch.day, at.isoformat())] = by_touch[touch.id]
    for item in timeline:
        task = steps.get((item["channel"], item["day"], item["at"]))
        if task is not None:
            item.update(state=f"task {task.status}", outcome=task.outcome, task_id=task.id)
        elif item["channel"] == "email" and item["state"] == "sent":
            item["outcome"] = None


def known_and_missing(session: Session, lead: Lead, decided: dict[str, Any]) -> dict[str, Any]:
    """The lead's qualifying answers: ``answers`` (question, answer, who, when) known, ``missing_answers`` not.

    Every conversation counts: answers captured at tasks, given with decisions; a decision's
    answers recorded before answers were kept on their own count too.
    """
    questions = configured_questions(session)
    rows = answer_rows(session, lead.id)
    known: list[dict[str, Any]] = []
    missing: list[str] = []
    for question in questions:
        row = rows.get(question.key)
        if row is not None:
            at = row.answered_at.isoformat()
            known.append({"key": question.key, "question": question.text, "answer": row.answer, "by": row.answered_by,
                          "at": at})  # fmt: skip
        elif str(decided.get(question.key) or "").strip():
            known.append({"key": question.key, "question": question.text, "answer": decided[question.key], "by": None,
                          "at": None})  # fmt: skip
        else:
            missing.append(question.text)
    return {"answers": known, "missing_answers": missing}


def lead_details(session: Session, lead: Lead, settings: Settings) -> dict[str, Any]:
    """Everything the lead's page shows: ``show_lead`` plus its tasks and the emails sent to it."""
    data = show_lead(session, lead.reference, settings=settings)
    tasks = list(session.scalars(select(Task).where(Task.lead_id == lead.id).order_by(Task.due_at.desc(), Task.id)))
    data["tasks"] = [task_dict(task) for task in tasks]
    _with_tasks(session, data["timeline"], tasks)
    data["timeline"] = sorted(data["timeline"] + notes_timeline(session, lead), key=lambda item: item["at"] or "")
    data["emails"] = [item for item in data["timeline"] if item["channel"] == "email" and item["state"] in EMAIL_STATES]
    enrollment = data["enrollment"]
    data["can_pause"] = enrollment is not None and enrollment["state"] == "active"
    data["can_resume"] = enrollment is not None and enrollment["state"] == "paused"
    data["open"] = enrollment is not None and enrollment["state"] in {s.value for s in OPEN_STATES}
    data["can_decide"] = data["status"] != "decided"
    data.update(known_and_missing(session, lead, (data.get("decision") or {}).get("answers") or {}))
    data["dial"] = _dial(data.get("phone"))
    data["why_now"], data["topic"] = lead.why_now, lead.topic
    data["nameable"] = account_contacts(session, lead)  # who "who decides" and "who approves" can name
    data["safe_linkedin"] = (
        data["linkedin_url"] if (data["linkedin_url"] or "").lower().startswith(("https://", "http://")) else None
    )
    return data


def _dial(phone: str | None) -> str | None:
    """``phone`` as the number of a ``tel:`` link (``+12125550100``), or None when there are no digits to dial."""
    if not phone:
        return None
    number, _, extension = phone.lower().replace("ext.", "x").replace("ext", "x").partition("x")
    digits = "".join(c for c in number if c.isdigit())
    if not digits:
        return None
    dial = ("+" if number.strip().startswith("+") else "") + digits
    extension_digits = "".join(c for c in extension if c.isdigit())
    return f"{dial};ext={extension_digits}" if extension_digits else dial


def with_sent_emails(ctx: Context, session: Session, lead: Lead, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (see :func:`lead_details`) with the full text of each email sent to the lead, rendered again."""
    touches = list(
        session.scalars(
            select(Touch)
            .where(Touch.lead_id == lead.id, Touch.channel == "email", Touch.state.in_(EMAIL_STATES))
            .order_by(Touch.executed_at, Touch.id)
        )
    )
    data["sent_emails"] = {item.touch_id: item for item in sent_emails(ctx, session, lead, touches)}
    for item in data["emails"]:
        touch = next(
            (
                t
                for t in touches
                if (t.message_id is not None and t.message_id == item.get("message_id"))
                or (t.executed_at or t.due_at).isoformat() == item["at"]
            ),
            None,
        )
        item["touch_id"] = touch.id if touch is not None else None
    data["edit_fields"] = EDITABLE_FIELDS
    data["edit_values"] = lead_field_values(lead)
    return data


def leads_for(
    ctx: Context,
    viewer: Viewer,
    *,
    status: str | None,
    owner: str | None,
    search: str | None = None,
    after: str | None = None,
) -> LeadList:
    """One page of the leads the viewer sees: a rep's own; every lead for marketers and managers, by ``owner`` if asked.

    ``search``: the start of the address; ``after``: the address the page starts after (see
    :func:`cadence.services.lead_list.lead_page`). An unknown owner (typed into the address bar)
    lists no leads; reps get no list of reps.
    """
    with ctx.sessions() as session:
        if viewer.role is Role.REP:
            owner_id = viewer.rep_id
        elif owner:
            owner_id = session.scalar(select(Rep.id).where(Rep.email == owner.strip().lower()))
            if owner_id is None:
                return LeadList(rows=[], reps=rep_choices(session))
        else:
            owner_id = None
        if viewer.role is Role.REP and owner_id is None:
            return LeadList(rows=[], reps=[])
        page = lead_page(session, status=status, owner_id=owner_id, search=search, after=after)
        reps = rep_choices(session) if viewer.role is not Role.REP else []
    return LeadList(rows=page.rows, reps=reps, total=page.total, capped=page.capped, next_after=page.next_after)


def lead_for(ctx: Context, viewer: Viewer, email: str) -> dict[str, Any]:
    """The lead ``email`` with its whole context (see :func:`lead_details`), if the viewer may see it."""
    with ctx.sessions() as session:
        lead = visible_lead(session, email, viewer)
        return with_sent_emails(ctx, session, lead, lead_details(session, lead, ctx.settings))


def pause_lead(ctx: Context, viewer: Viewer, email: str, *, until: str, now: datetime) -> Paused:
    """Pause the lead's cadence, until the day ``until`` (``2026-12-01``, in the lead's time zone) unless empty.

    Raises :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may change the
    lead, then :class:`~cadence.errors.ValidationError` for a day that is not a day in the future.
    """
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        until_day = parse_day(until, "The end of the pause")
        until_at = None
        if until_day is not None:
            until_at = local_instant(until_day, time(0, 0), ZoneInfo(lead_timezone(lead, ctx.settings)))
            if until_at <= now:
                raise ValidationError("The end of the pause must be a day in the future.")
        pause(session, lead, now=now, until=until_at)
        return Paused(email=lead.reference, until=until_day)


def resume_lead(ctx: Context, viewer: Viewer, email: str, *, now: datetime) -> str:
    """Resume the lead's paused cadence (its remaining steps move by the time paused); returns its address."""
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        resume(session, lead, now=now, settings=ctx.settings)
        return lead.reference


def decide_lead(ctx: Context, viewer: Viewer, email: str, given: DecisionForm, *, now: datetime) -> Decided:
    """Record the viewer's decision on the lead: its cadence stops and its open tasks are cancelled.

    Raises :class:`~cadence.errors.ValidationError` when no decision was chosen or it does not pass
    :func:`~cadence.services.workspace.decisions.check_decision`.
    """
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        chosen = check_decision(given, known_answers(session, lead.id), configured_questions(session))
        if chosen is None:
            raise ValidationError("Choose the decision.")
        decide(
            session,
            lead,
            chosen.outcome,
            now=now,
            reason=chosen.reason,
            answers=chosen.answers,
            qualification_skipped=chosen.qualification_skipped,
            decided_by=viewer.email,
        )
        return Decided(email=lead.reference, decision=chosen)


def move_lead_stage(ctx: Context, viewer: Viewer, email: str, stage: str, reason: str, *, now: datetime) -> str:
    """Move the lead to ``stage`` by the viewer's hand, with ``reason``; returns the new stage's name.

    Raises :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may change the
    lead, :class:`~cadence.errors.ValidationError` for an unknown stage or a missing reason.
    """
    from cadence.services.stages import move_by_hand, stages_of

    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        change = move_by_hand(session, lead, stage, reason=reason, by=viewer.email, now=now)
        return stages_of(session).name(change.stage)


def undo_lead_action(ctx: Context, viewer: Viewer, email: str, action_id: str, *, now: datetime) -> str:
    """Undo the lead's automatic action ``action_id`` (a number, as a form sends it); returns what was done.

    Raises :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may change the
    lead, :class:`~cadence.errors.ValidationError` for an action that is not a number or undone already.
    """
    from cadence.services.undo import undo_action

    if not action_id.strip().isdigit() or len(action_id.strip()) > 9:
        raise ValidationError("Choose the action to undo.")
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        action = undo_action(session, lead, int(action_id), by=viewer.email, now=now)
        return f"Undone: {action.summary} ({action.undo_note})."
