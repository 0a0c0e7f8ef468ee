"""What managers see and do of sending: each rep's mailboxes (today's sends against their allowance,
ramp-up, pacing, recent bounces, paused and why), added, paused, resumed and removed here as with
``cadence mailboxes add|pause|resume|remove``, and the cadences the bounce guard paused, resumed here
as with ``cadence cadences resume``.

The add form's fields are :class:`~cadence.services.mailbox_fields.MailboxFields`'s, checked by the
same service as the CLI's options; each problem is shown beside its field, with what was typed kept.
A removal is confirmed on a page of its own that says what happens to the mailbox's leads under way
(:func:`cadence.services.mailbox_removal.preview`). Both are written to the audit log as the
signed-in manager."""

from __future__ import annotations

from fastapi import Request, Response

from cadence.errors import CadenceError
from cadence.services.guards import paused_cadences, resume_cadence
from cadence.services.mailbox_fields import InvalidMailbox, MailboxFields
from cadence.services.mailbox_removal import preview, remove_mailbox
from cadence.services.mailboxes import ImapOptions, add_mailbox, list_mailboxes, pause_mailbox, resume_mailbox
from cadence.services.reps import list_reps
from cadence.services.workspace.sessions import flash
from cadence.web.auth import FormDep, ManagerDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


FIELDS = tuple(MailboxFields.__dataclass_fields__)
"""The add form's fields (the same names as the service's, and as the CLI's options)."""
DEFAULTS = {"smtp_port": "587", "smtp_tls": "starttls", "imap_tls": "tls"}


def _page(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: ManagerDep,
    *,
    status_code: int = 200,
    error: str = "",
    typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> Response:
    with ctx.sessions() as session:
        mailboxes = list_mailboxes(session, now=clock(), settings=ctx.settings)
        cadences = paused_cadences(session)
        reps = [r for r in list_reps(session) if r["active"]]
    return workspace_page(
        request, ctx, viewer, "mailboxes.html", status_code=status_code, mailboxes=mailboxes, paused=cadences,
        error=error, reps=reps, typed=typed or DEFAULTS, problems=problems or {},
    )  # fmt: skip


@router.post("/mailboxes/add")
def mailboxes_add(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep) -> Response:
    """Add a sending mailbox (the fields of :class:`MailboxFields`); each problem is shown beside its field."""
    typed = {name: form.get(name, "").strip()[:1000] for name in FIELDS}
    imap = ImapOptions(host=typed["imap_host"] or None, port=typed["imap_port"] or None, tls=typed["imap_tls"],
                       username=typed["imap_username"] or None, password_block=typed["imap_password_block"] or None,
                       folder=typed["imap_folder"] or None)  # fmt: skip
    try:
        with ctx.sessions() as session, session.begin():
            mailbox = add_mailbox(
                session, typed["address"], rep_email=typed["rep"], smtp_host=typed["smtp_host"], now=clock(),
                daily_cap=typed["daily_cap"], smtp_port=typed["smtp_port"], smtp_tls=typed["smtp_tls"],
                smtp_username=typed["smtp_username"] or None, password_block=typed["password_block"] or None,
                per_minute=typed["per_minute"], ramp=typed["ramp"] or None, imap=imap, actor=viewer.email,
            )  # fmt: skip
            message = f"{mailbox.address} is added: {mailbox.rep.email}'s leads' emails leave from it from now on."
            if mailbox.imap_host:
                message += " Its inbox is read for replies."
    except InvalidMailbox as exc:
        return _page(request, ctx, clock, viewer, status_code=422, typed=typed, problems=exc.problems,
                     error="The mailbox was not added: see the fields marked below.")  # fmt: skip
    flash(ctx, viewer, message)
    return redirect("/mailboxes")


@router.get("/mailboxes/remove")
def mailboxes_remove_page(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, address: str = ""
) -> Response:
    """Confirm the removal of a mailbox: what happens to its leads under way, before anything changes."""
    try:
        with ctx.sessions() as session:
            removal = preview(session, address[:400])
    except CadenceError as exc:
        return _page(request, ctx, clock, viewer, status_code=404, error=str(exc))
    return workspace_page(request, ctx, viewer, "mailbox_remove.html", removal=removal)


@router.post("/mailboxes/remove")
def mailboxes_remove(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep) -> Response:
    """Remove a mailbox (``address``), as confirmed; its leads under way are routed afresh."""
    try:
        with ctx.sessions() as session, session.begin():
            removal = remove_mailbox(session, form.get("address", "")[:400], now=clock(), actor=viewer.email)
    except CadenceError as exc:
        return _page(request, ctx, clock, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, f"{removal.address} is removed. {removal.consequence()}")
    return redirect("/mailboxes")


@router.get("/mailboxes")
def mailboxes_page(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep) -> Response:
    """The sending mailboxes and the paused cadences."""
    return _page(request, ctx, clock, viewer)


@router.post("/mailboxes/{action}")
def mailboxes_change(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep, action: str
) -> Response:
    """Pause a mailbox (``address``, ``reason``), resume one (``address``), or resume a cadence (``cadence``)."""
    now = clock()
    try:
        with ctx.sessions() as session, session.begin():
            if action == "pause":
                reason = form.get("reason", "").strip()[:500] or "no reason given"
                done = pause_mailbox(
                    session, form.get("address", ""), now=now, reason=f"paused by {viewer.email}: {reason}"
                )
                message = f"{done.address} is paused: its emails wait until it is resumed."
            elif action == "resume":
                done = resume_mailbox(session, form.get("address", ""), now=now)
                message = f"{done.address} sends again: the emails that waited go at their leads' next slots."
            elif action == "resume-cadence":
                name = form.get("cadence", "")
                resume_cadence(session, name, now=now)
                message = f"The cadence {name} sends again."
            else:
                return _page(request, ctx, clock, viewer, status_code=404, error="no such action")
    except CadenceError as exc:
        return _page(request, ctx, clock, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, message)
    return redirect("/mailboxes")
