"""The managers' pages: the team's reps, the people not enrolled, erasing a person, the audit log.

Every page and action here is for managers only (:data:`~cadence.web.auth.ManagerDep`); the use
cases are :mod:`cadence.services.reps`, :mod:`cadence.services.review`,
:mod:`cadence.services.erasure` and :mod:`cadence.services.audit`, and each action they take is in
the audit log under the signed-in manager's address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from fastapi import Request, Response

from cadence.adapters.models import AuditEntry
from cadence.errors import CadenceError, ValidationError
from cadence.services import audit
from cadence.services.audit import AuditFilter
from cadence.services.erasure import erase
from cadence.services.reps import add_rep, clear_away, deactivate_rep, edit_rep, list_reps, set_away
from cadence.services.review import enroll_anyway, not_enrolled
from cadence.services.users import Viewer
from cadence.services.workspace.sessions import flash
from cadence.web.auth import FormDep, ManagerDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


def _day(value: str | None, what: str) -> date | None:
    """A date typed in a form or a query (YYYY-MM-DD), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{what} must be a date such as 2026-12-01") from None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# -- The audit log ------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: ContextDep,
    viewer: ManagerDep,
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    """Who did what and when, newest first, filtered by person, action and dates (until: inclusive)."""
    error = None
    entries: list[AuditEntry] = []
    try:
        first, last = _day(since, "From"), _day(until, "Until")
        where = AuditFilter(
            since=_midnight(first) if first else None,
            until=_midnight(last) + timedelta(days=1) if last else None,
            actor=actor[:320] or None,
            action=action[:60] or None,
        )
        with ctx.sessions() as s:
            entries = audit.entries(s, where)
    except ValidationError as exc:
        error = str(exc)
    with ctx.sessions() as s:
        actions = audit.actions(s)
    return workspace_page(
        request,
        ctx,
        viewer,
        "audit.html",
        status_code=422 if error else 200,
        entries=entries,
        actions=actions,
        error=error,
        chosen={"actor": actor, "action": action, "since": since, "until": until},
        limit=audit.MAX_ENTRIES,
    )


# -- Reps ---------------------------------------------------------------------------------------------


def _reps_page(
    request: Request, ctx: ContextDep, viewer: Viewer, *, status_code: int = 200, error: str | None = None
) -> Response:
    with ctx.sessions() as s:
        reps = list_reps(s)
    return workspace_page(request, ctx, viewer, "reps.html", status_code=status_code, reps=reps, error=error)


def _act(request: Request, ctx: ContextDep, viewer: Viewer, action: Callable[[], str], back: str) -> Response:
    """Run ``action`` in the manager's name: its message is flashed, a refusal shown on the reps page."""
    try:
        message = action()
    except CadenceError as exc:
        return _reps_page(request, ctx, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, message)
    return redirect(back)


@router.get("/reps")
def reps_page(request: Request, ctx: ContextDep, viewer: ManagerDep) -> Response:
    """The reps: their leads, who is away, and forms to add, edit, send away and deactivate."""
    return _reps_page(request, ctx, viewer)


@router.post("/reps")
def reps_add(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep) -> Response:
    """Add a rep."""

    def go() -> str:
        with ctx.sessions.begin() as s:
            rep = add_rep(
                s,
                form.get("email", ""),
                form.get("name", ""),
                now=clock(),
                timezone=form.get("timezone") or None,
                actor=viewer.email,
            )
            return f"Added {rep.name} ({rep.email})."

    return _act(request, ctx, viewer, go, "/reps")


@router.post("/reps/{email:path}/edit")
def reps_edit(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, email: str
) -> Response:
    """Change a rep's name, time zone or daily email cap."""

    def go() -> str:
        cap = form.get("daily_email_cap", "").strip()
        if cap and not cap.isdigit():
            raise ValidationError("the daily email cap is a whole number")
        with ctx.sessions.begin() as s:
            rep = edit_rep(
                s,
                email,
                actor=viewer.email,
                now=clock(),
                name=form.get("name") or None,
                timezone=form.get("timezone"),
                daily_email_cap=int(cap) if cap else None,
            )
            return f"Saved {rep.name}."

    return _act(request, ctx, viewer, go, "/reps")


@router.post("/reps/{email:path}/away")
def reps_away(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, email: str
) -> Response:
    """Set a rep's out-of-office period (from, until: dates), or end it (``back``)."""

    def go() -> str:
        with ctx.sessions.begin() as s:
            if form.get("back") == "yes":
                rep = clear_away(s, email, actor=viewer.email, now=clock())
                return f"{rep.name} is back: new leads reach them again."
            first, last = _day(form.get("from"), "From"), _day(form.get("until"), "Until")
            if first is None or last is None:
                raise ValidationError("give the first day away and the day back")
            rep = set_away(s, email, _midnight(first), _midnight(last), actor=viewer.email, now=clock())
            return f"{rep.name} is away from {first} until {last}: new leads go to the other reps meanwhile."

    return _act(request, ctx, viewer, go, "/reps")


@router.post("/reps/{email:path}/deactivate")
def reps_deactivate(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, email: str
) -> Response:
    """Deactivate a rep; their leads and open tasks go to the rep chosen, or round-robin."""

    def go() -> str:
        target = form.get("reassign_to", "").strip() or None
        with ctx.sessions.begin() as s:
            moved = deactivate_rep(s, email, actor=viewer.email, now=clock(), reassign_to=target)
        where = f"to {target}" if target else "round-robin to the other reps"
        return f"Deactivated {email}: {moved['leads']} leads and {moved['tasks']} open tasks went {where}."

    return _act(request, ctx, viewer, go, "/reps")


# -- People not enrolled ------------------------------------------------------------------------------


def _review_page(
    request: Request, ctx: ContextDep, viewer: Viewer, *, status_code: int = 200, error: str | None = None
) -> Response:
    with ctx.sessions() as s:
        people = not_enrolled(ctx, s)
    return workspace_page(
        request,
        ctx,
        viewer,
        "not_enrolled.html",
        status_code=status_code,
        people=people,
        cadences=sorted(ctx.cadences),
        error=error,
    )


@router.get("/not-enrolled")
def review_page(request: Request, ctx: ContextDep, viewer: ManagerDep) -> Response:
    """The names and unfit contacts that were not enrolled, with the rules' reasons, and Enroll anyway."""
    return _review_page(request, ctx, viewer)


@router.post("/not-enrolled/{email:path}/enroll")
def review_enroll(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, email: str
) -> Response:
    """Enroll this person anyway, in the cadence chosen, with the manager's reason (audited)."""
    try:
        with ctx.sessions.begin() as s:
            done = enroll_anyway(
                ctx,
                s,
                email,
                cadence_name=form.get("cadence", ""),
                why=form.get("why", ""),
                actor=viewer.email,
                now=clock(),
            )
    except CadenceError as exc:
        return _review_page(request, ctx, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, f"Enrolled {done.email} in {done.cadence}.")
    return redirect("/not-enrolled")


# -- Erasing a person ---------------------------------------------------------------------------------


@router.get("/erase/{email:path}")
def erase_page(request: Request, ctx: ContextDep, viewer: ManagerDep, email: str) -> Response:
    """What erasing this person does, and a form that asks for the address again to confirm."""
    return workspace_page(request, ctx, viewer, "erase.html", email=email, error=None)


@router.post("/erase/{email:path}")
def erase_person(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, email: str
) -> Response:
    """Erase the person once the address typed matches: their data goes, a keyed hash keeps them out."""
    typed = form.get("confirm", "").strip().lower()
    if typed != email.strip().lower():
        error = "Type the person's email address exactly to confirm: nothing was erased."
        return workspace_page(request, ctx, viewer, "erase.html", status_code=422, email=email, error=error)
    try:
        with ctx.sessions.begin() as s:
            done = erase(s, ctx.settings, email, actor=viewer.email, now=clock())
    except CadenceError as exc:
        return workspace_page(request, ctx, viewer, "erase.html", status_code=422, email=email, error=str(exc))
    what = "Erased every personal detail of that person" if done else "No lead had that address"
    flash(ctx, viewer, f"{what}; a later import or API call will not bring them back.")
    return redirect("/leads")
