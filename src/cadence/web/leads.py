"""Leads in the workspace: the list, a lead's page (context, timeline, emails sent), pause, resume, decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Task, Touch
from cadence.core.decisions import QUALIFYING_QUESTIONS
from cadence.core.enrollment import OPEN_STATES
from cadence.core.schedule import local_instant
from cadence.errors import CadenceError, ValidationError
from cadence.services.enrollments import decide, lead_timezone, pause, resume
from cadence.services.leads import list_leads, show_lead
from cadence.services.reps import list_reps
from cadence.services.tasks import task_dict
from cadence.services.users import Role, Viewer
from cadence.settings import Settings
from cadence.web.auth import FormDep, ViewerDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.forms import DECISION_LABELS, MANUAL_OUTCOMES, QUESTIONS, parse_date, parse_decision
from cadence.web.pages import urlpath
from cadence.web.views import can_act, changeable_lead, flash, visible_lead, workspace_page

router = guarded_router()

LIST_LIMIT = 500
"""The most leads one list page shows (filter by status or owner for the others)."""
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


def lead_briefs(session: Session, emails: list[str]) -> dict[str, LeadBrief]:
    """The context of each lead in ``emails``, by address (two queries whatever their number)."""
    if not emails:
        return {}
    leads = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.email.in_(emails)))}
    sent: dict[int, list[Touch]] = {lead_id: [] for lead_id in leads}
    for touch in session.scalars(
        select(Touch)
        .where(Touch.lead_id.in_(list(leads)), Touch.channel == "email", Touch.state.in_(EMAIL_STATES))
        .order_by(Touch.executed_at, Touch.id)
    ):
        sent[touch.lead_id].append(touch)
    return {
        lead.email: LeadBrief(
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


def lead_details(session: Session, lead: Lead, settings: Settings) -> dict[str, Any]:
    """Everything the lead's page shows: ``show_lead`` plus its tasks and the emails sent to it."""
    data = show_lead(session, lead.email, settings=settings)
    tasks = list(session.scalars(select(Task).where(Task.lead_id == lead.id).order_by(Task.due_at.desc(), Task.id)))
    data["tasks"] = [task_dict(task) for task in tasks]
    _with_tasks(session, data["timeline"], tasks)
    data["emails"] = [item for item in data["timeline"] if item["channel"] == "email" and item["state"] in EMAIL_STATES]
    enrollment = data["enrollment"]
    data["can_pause"] = enrollment is not None and enrollment["state"] == "active"
    data["can_resume"] = enrollment is not None and enrollment["state"] == "paused"
    data["open"] = enrollment is not None and enrollment["state"] in {s.value for s in OPEN_STATES}
    data["can_decide"] = data["status"] != "decided"
    data["safe_linkedin"] = (
        data["linkedin_url"] if (data["linkedin_url"] or "").lower().startswith(("https://", "http://")) else None
    )
    return data


def decision_form_values(form: dict[str, str] | None = None) -> dict[str, Any]:
    """What the decision form needs: the choices, the questions and what was typed (after an error)."""
    return {
        "decisions": [(o.value, DECISION_LABELS[o.value]) for o in MANUAL_OUTCOMES],
        "questions": QUESTIONS,
        "typed": form or {},
    }


@router.get("/leads")
def leads_list(
    request: Request,
    ctx: ContextDep,
    viewer: ViewerDep,
    status: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """The leads: a rep's own; every lead for marketers (read-only) and managers, by owner if asked."""
    with ctx.sessions() as session:
        if viewer.role is Role.REP:
            rows = list_leads(session, status=status or None, owner=viewer.email)
        else:
            try:
                rows = list_leads(session, status=status or None, owner=owner or None)
            except CadenceError:
                rows = []
        reps = list_reps(session) if viewer.role is not Role.REP else []
    statuses = ["name", "unfit", "lead", "active", "paused", "responded", "completed", "decided"]
    return workspace_page(
        request,
        ctx,
        viewer,
        "leads.html",
        leads=rows[:LIST_LIMIT],
        total=len(rows),
        limit=LIST_LIMIT,
        status=status,
        owner=owner,
        statuses=statuses,
        reps=reps,
    )


def lead_page(
    request: Request,
    ctx: ContextDep,
    viewer: Viewer,
    email: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """The lead's page (``error`` and ``form``: a refused form shown again with what was typed)."""
    with ctx.sessions() as session:
        lead = visible_lead(session, email, viewer)
        data = lead_details(session, lead, ctx.settings)
    return workspace_page(
        request,
        ctx,
        viewer,
        "lead.html",
        status_code=status_code,
        lead=data,
        can_act=can_act(viewer),
        error=error,
        questions_map=dict(QUALIFYING_QUESTIONS),
        **decision_form_values(form),
    )


@router.get("/leads/{email:path}")
def lead_show(request: Request, ctx: ContextDep, viewer: ViewerDep, email: str) -> Response:
    """A lead: who they are, their class and source, their cadence, every touch, the emails sent, the decision."""
    return lead_page(request, ctx, viewer, email)


def _act(
    request: Request,
    ctx: ContextDep,
    viewer: Viewer,
    email: str,
    form: dict[str, str],
    action: Any,
) -> Response:
    """Run ``action(session, lead)`` on a lead the viewer may change; its message is flashed, errors re-shown."""
    try:
        with ctx.sessions() as session, session.begin():
            lead = changeable_lead(session, email, viewer)
            message = action(session, lead)
            address = lead.email
    except CadenceError as exc:
        return lead_page(request, ctx, viewer, email, status_code=422, error=str(exc), form=form)
    flash(ctx, viewer, message)
    return redirect(f"/leads/{urlpath(address)}")


@router.post("/leads/{email:path}/pause")
def lead_pause(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Pause the lead's cadence (until a date, if given): no step runs meanwhile."""

    def go(session: Session, lead: Lead) -> str:
        now = clock()
        until_day = parse_date(form.get("until", ""), "The end of the pause")
        until = None
        if until_day is not None:
            until = local_instant(until_day, time(0, 0), ZoneInfo(lead_timezone(lead, ctx.settings)))
            if until <= now:
                raise ValidationError("The end of the pause must be a day in the future.")
        pause(session, lead, now=now, until=until)
        return f"Paused {lead.email}" + (f" until {until_day.isoformat()}." if until_day else ".")

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/resume")
def lead_resume(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Resume the lead's paused cadence; the remaining steps move by the time paused."""

    def go(session: Session, lead: Lead) -> str:
        resume(session, lead, now=clock(), settings=ctx.settings)
        return f"Resumed {lead.email}."

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/decision")
def lead_decision(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Record the lead's decision: the cadence stops and its open tasks are cancelled."""

    def go(session: Session, lead: Lead) -> str:
        chosen = parse_decision(form)
        if chosen is None:
            raise ValidationError("Choose the decision.")
        decide(
            session,
            lead,
            chosen.outcome,
            now=clock(),
            reason=chosen.reason,
            answers=chosen.answers,
            qualification_skipped=chosen.qualification_skipped,
            decided_by=viewer.email,
        )
        return f"Recorded the decision on {lead.email}: {DECISION_LABELS[chosen.outcome.value]}."

    return _act(request, ctx, viewer, email, form, go)
