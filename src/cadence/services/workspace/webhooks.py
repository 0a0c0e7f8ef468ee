"""The managers' webhooks page: subscriptions, the failed deliveries, and what a manager does to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cadence.errors import ValidationError
from cadence.services.context import Context
from cadence.services.users import Role, Viewer
from cadence.services.webhooks import delivery, subscriptions
from cadence.services.workspace.access import Forbidden


@dataclass(frozen=True)
class WebhooksView:
    """What the page shows."""

    subscriptions: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    counts: dict[str, int]


def _manager(viewer: Viewer) -> None:
    if viewer.role is not Role.MANAGER:
        raise Forbidden()


def webhooks_view(ctx: Context, viewer: Viewer) -> WebhooksView:
    """The subscriptions (never their secrets), the latest failed deliveries and the counts."""
    _manager(viewer)
    with ctx.sessions() as session:
        return WebhooksView(
            subscriptions.list_subscriptions(session), delivery.failures(session, limit=50), delivery.counts(session)
        )


def webhook_counts(ctx: Context) -> dict[str, int]:
    """How many deliveries are waiting, failed and delivered (for the dashboard)."""
    with ctx.sessions() as session:
        return delivery.counts(session)


def first_touch_times(ctx: Context, *, now: datetime) -> dict[str, Any]:
    """Time to first touch of the last 30 days' enrollments (for the dashboard)."""
    from cadence.services.first_touch import recent

    with ctx.sessions() as session:
        return recent(session, now=now)


def add_webhook(
    ctx: Context, viewer: Viewer, url: str, events: list[str], description: str, *, now: datetime
) -> subscriptions.Created:
    """Subscribe an endpoint; the secret is in the result, shown once."""
    _manager(viewer)
    with ctx.sessions() as session, session.begin():
        return subscriptions.add_subscription(
            session, url, events, now=now, description=description, actor=viewer.email
        )


def change_webhook(ctx: Context, viewer: Viewer, subscription_id: int, action: str, *, now: datetime) -> str:
    """Pause, resume or remove a subscription; what was done, in words."""
    _manager(viewer)
    with ctx.sessions() as session, session.begin():
        if action == "remove":
            subscriptions.remove_subscription(session, subscription_id, now=now, actor=viewer.email)
            return f"Removed webhook {subscription_id}."
        if action not in ("pause", "resume"):
            raise ValidationError(f"no such change: {action[:20]!r}")
        subscriptions.set_active(session, subscription_id, action == "resume", now=now, actor=viewer.email)
        return f"{'Resumed' if action == 'resume' else 'Paused'} webhook {subscription_id}."


def redeliver_failed(ctx: Context, viewer: Viewer, delivery_id: int | None, *, now: datetime) -> str:
    """Send one failed delivery (or, with None, every one) again."""
    _manager(viewer)
    with ctx.sessions() as session, session.begin():
        if delivery_id is None:
            return f"{delivery.redeliver_dead(session, now=now)} failed deliveries will be sent again."
        delivery.redeliver(session, delivery_id, now=now)
        return f"Delivery {delivery_id} will be sent again."
