"""The managers' webhooks page: subscriptions (added, paused, resumed, removed) and failed deliveries (sent again).

The use cases are :mod:`cadence.services.workspace.webhooks`. A new subscription's secret is shown on
the page that answers the form, once; it is never stored in a flash message nor shown again.
"""

from __future__ import annotations

from fastapi import Request, Response

from cadence.core.webhooks import EVENT_TYPES
from cadence.errors import CadenceError, ValidationError
from cadence.services.workspace.sessions import flash
from cadence.services.workspace.webhooks import add_webhook, change_webhook, redeliver_failed, webhooks_view
from cadence.web.auth import FormDep, ManagerDep, guarded_router, redirect
from cadence.web.deps import ClockDep, ContextDep
from cadence.web.views import workspace_page

router = guarded_router()


def _page(
    request: Request, ctx: ContextDep, viewer: ManagerDep, *, status_code: int = 200, **values: object
) -> Response:
    view = webhooks_view(ctx, viewer)
    shown: dict[str, object] = {"created": None, "error": None, "form": None, "ticked": []} | values
    return workspace_page(
        request, ctx, viewer, "webhooks.html", status_code=status_code, view=view, event_types=EVENT_TYPES, **shown
    )


def _number(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise ValidationError(f"not a {what} number")
    return int(value)


@router.get("/webhooks")
def webhooks_page(request: Request, ctx: ContextDep, viewer: ManagerDep) -> Response:
    """The subscriptions with their deliveries waiting and failed, and the failed deliveries."""
    return _page(request, ctx, viewer)


@router.post("/webhooks")
def webhooks_add(request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep) -> Response:
    """Subscribe an endpoint to the events ticked (checkboxes ``event_<type>``); the answer shows its secret once."""
    events = [kind for kind in EVENT_TYPES if form.get(f"event_{kind}") == "yes"]
    try:
        created = add_webhook(ctx, viewer, form.get("url", ""), events, form.get("description", ""), now=clock())
    except CadenceError as exc:
        return _page(request, ctx, viewer, status_code=422, error=str(exc), form=form, ticked=events)
    return _page(request, ctx, viewer, created=created)


@router.post("/webhooks/{subscription_id}/{action}")
def webhooks_change(
    request: Request,
    ctx: ContextDep,
    clock: ClockDep,
    viewer: ManagerDep,
    form: FormDep,
    subscription_id: str,
    action: str,
) -> Response:
    """Pause, resume or remove a subscription."""
    try:
        message = change_webhook(ctx, viewer, _number(subscription_id, "webhook"), action, now=clock())
    except CadenceError as exc:
        return _page(request, ctx, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, message)
    return redirect("/webhooks")


@router.post("/webhook-deliveries/redeliver")
def webhooks_redeliver(
    request: Request, ctx: ContextDep, clock: ClockDep, viewer: ManagerDep, form: FormDep
) -> Response:
    """Send a failed delivery again (``delivery``), or every failed one (``all``)."""
    try:
        which = None if form.get("all") == "yes" else _number(form.get("delivery", ""), "delivery")
        message = redeliver_failed(ctx, viewer, which, now=clock())
    except CadenceError as exc:
        return _page(request, ctx, viewer, status_code=422, error=str(exc))
    flash(ctx, viewer, message)
    return redirect("/webhooks")
