"""Leads in the workspace: the list, a lead's page (context, timeline, emails sent), pause, resume, decision.

The use cases are :mod:`cadence.services.workspace.leads`; here the requests are read and the pages drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query, Request, Response

from cadence.core.questions import DEFAULT_QUESTIONS
from cadence.errors import CadenceError
from cadence.services.context import Context
from cadence.services.users import Viewer
from cadence.services.workspace.access import AccessDenied, can_act
from cadence.services.workspace.contacts import CONTACT_CHANNELS, CONTACT_OUTCOMES, add_note, log_contact, snooze_lead
from cadence.services.workspace.edits import edit_lead
from cadence.services.workspace.leads import (
    decide_lead,
    lead_for,
    leads_for,
    move_lead_stage,
    pause_lead,
    resume_lead,
    undo_lead_action,
)
from cadence.services.workspace.sessions import flash
from cadence.web.auth import FormDep, ViewerDep, guarded_router, redirect, safe_next
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.forms import DECISION_LABELS, MANUAL_OUTCOMES, QUESTIONS, decision_form
from cadence.web.pages import urlpath
from cadence.web.views import workspace_page

router = guarded_router()

POINTING = {q.key for q in DEFAULT_QUESTIONS if q.points_at}
"""The questions answered by naming a contact of the account, outside a context: seed 001's two."""
STATUSES = ["name", "unfit", "lead", "active", "paused", "responded", "completed", "decided"]
"""The statuses the list filters by."""


def decision_form_values(form: dict[str, str] | None = None, ctx: Context | None = None) -> dict[str, Any]:
    """What the decision form needs: the choices, the questions (``ctx``'s, else seed 001's) and what was typed."""
    return {
        "decisions": [(o.value, DECISION_LABELS[o.value]) for o in MANUAL_OUTCOMES],
        "questions": [(q.key, q.text) for q in ctx.questions] if ctx is not None else QUESTIONS,
        "typed": form or {},
        "contact_channels": list(CONTACT_CHANNELS.items()),
        "contact_outcomes": list(CONTACT_OUTCOMES.items()),
        "pointing": {q.key for q in ctx.questions if q.points_at} if ctx is not None else POINTING,
    }


@router.get("/leads")
def leads_list(
    request: Request,
    ctx: ContextDep,
    viewer: ViewerDep,
    status: Annotated[str, Query(max_length=20)] = "",
    owner: Annotated[str, Query(max_length=320)] = "",
    q: Annotated[str, Query(max_length=320)] = "",
    after: Annotated[str, Query(max_length=320)] = "",
) -> Response:
    """The leads, a page at a time: a rep's own; every lead for marketers (read-only) and managers, by owner if asked.

    ``q``: the start of the address; ``after``: the address the page starts after.
    """
    found = leads_for(ctx, viewer, status=status or None, owner=owner or None, search=q or None, after=after or None)
    return workspace_page(
        request,
        ctx,
        viewer,
        "leads.html",
        leads=found.rows,
        total=found.total,
        capped=found.capped,
        next_after=found.next_after,
        status=status,
        owner=owner,
        q=q,
        after=after,
        statuses=STATUSES,
        reps=found.reps,
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
    data = lead_for(ctx, viewer, email)
    return workspace_page(
        request,
        ctx,
        viewer,
        "lead.html",
        status_code=status_code,
        lead=data,
        can_act=can_act(viewer),
        error=error,
        questions_map={q.key: q.text for q in ctx.questions},
        **decision_form_values(form, ctx),
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
    action: Callable[[], tuple[str, str]],
    back: str | None = None,
) -> Response:
    """Run ``action`` (it returns the lead's address and a message): the message is flashed, a refusal re-shown.

    Afterwards the browser goes to ``back`` (a path of ours), else to the lead's page.
    """
    try:
        address, message = action()
    except AccessDenied:
        raise
    except CadenceError as exc:
        return lead_page(request, ctx, viewer, email, status_code=422, error=str(exc), form=form)
    flash(ctx, viewer, message)
    return redirect(back or f"/leads/{urlpath(address)}")


@router.post("/leads/{email:path}/pause")
def lead_pause(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Pause the lead's cadence (until a date, if given): no step runs meanwhile."""

    def go() -> tuple[str, str]:
        done = pause_lead(ctx, viewer, email, until=form.get("until", ""), now=clock())
        until = f" until {done.until.isoformat()}." if done.until is not None else "."
        return done.email, f"Paused {done.email}{until}"

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/resume")
def lead_resume(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Resume the lead's paused cadence; the remaining steps move by the time paused."""

    def go() -> tuple[str, str]:
        address = resume_lead(ctx, viewer, email, now=clock())
        return address, f"Resumed {address}."

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/decision")
def lead_decision(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Record the lead's decision: the cadence stops and its open tasks are cancelled."""

    def go() -> tuple[str, str]:
        done = decide_lead(ctx, viewer, email, decision_form(form), now=clock())
        label = DECISION_LABELS[done.decision.outcome.value]
        return done.email, f"Recorded the decision on {done.email}: {label}."

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/edit")
def lead_edit(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Correct the lead's details (name, title, company, phone, time zone, country, ...), checked as an import is."""

    def go() -> tuple[str, str]:
        done = edit_lead(ctx, viewer, email, form, now=clock())
        if not done.changed:
            return done.email, f"Nothing to change on {done.email}."
        return done.email, f"Saved {done.email}: {', '.join(done.changed).lower()}."

    back = safe_next(form.get("return_to"), "") or None
    return _act(request, ctx, viewer, email, form, go, back)


@router.post("/leads/{email:path}/stage")
def lead_stage(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Move the lead to another stage of maturation, with the reason kept in its stage history."""

    def go() -> tuple[str, str]:
        name = move_lead_stage(ctx, viewer, email, form.get("stage", ""), form.get("reason", ""), now=clock())
        return email, f"Moved to {name}."

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/undo")
def lead_undo(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Undo what a reply did on its own (a snooze, a referral, a decision, a suppression); the undo is recorded."""

    def go() -> tuple[str, str]:
        return email, undo_lead_action(ctx, viewer, email, form.get("action_id", ""), now=clock())

    return _act(request, ctx, viewer, email, form, go)


@router.post("/leads/{email:path}/contact")
def lead_contact(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Record a reply or a contact made outside the cadence, with its outcome (and the decision, if given)."""

    def go() -> tuple[str, str]:
        done = log_contact(
            ctx,
            viewer,
            email,
            channel=form.get("channel", ""),
            outcome=form.get("outcome", ""),
            note=form.get("note", ""),
            decision=decision_form(form),
            now=clock(),
        )
        message = f"Recorded the contact with {done.email}."
        if done.decision is not None:
            message += f" Decision recorded: {DECISION_LABELS[done.decision]}."
        elif done.answered:
            message += " The automated steps have stopped: record the decision when you know it."
        return done.email, message

    return _act(request, ctx, viewer, email, form, go, safe_next(form.get("return_to"), "") or None)


@router.post("/leads/{email:path}/note")
def lead_note(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Keep a note on the lead, with its author and time, on the timeline."""

    def go() -> tuple[str, str]:
        address = add_note(ctx, viewer, email, form.get("note", ""), now=clock())
        return address, f"Added the note on {address}."

    return _act(request, ctx, viewer, email, form, go, safe_next(form.get("return_to"), "") or None)


@router.post("/leads/{email:path}/snooze")
def lead_snooze(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ViewerDep, form: FormDep, email: str
) -> Response:
    """Snooze the lead to a day: its automated steps stop; on the day it wakes and is enrolled again."""

    def go() -> tuple[str, str]:
        day = snooze_lead(ctx, viewer, email, form.get("until", ""), note=form.get("note", ""), now=clock())
        return email, f"Snoozed until {day.isoformat()}: the lead wakes and is enrolled again that day."

    return _act(request, ctx, viewer, email, form, go, safe_next(form.get("return_to"), "") or None)
