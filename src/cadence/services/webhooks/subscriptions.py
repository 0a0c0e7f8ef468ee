"""Webhook subscriptions: an endpoint, the events it wants and its signing secret (shown once, at creation)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cadence.adapters.models import WebhookDelivery, WebhookSubscription
from cadence.core.webhooks import check_url, parse_events, secret_from
from cadence.errors import NotFound, ValidationError
from cadence.services import audit

SECRET_BYTES = 32


@dataclass(frozen=True)
class Created:
    """A new subscription and its secret: the one time the secret is shown."""

    id: int
    url: str
    events: list[str]
    secret: str


def add_subscription(
    session: Session,
    url: str,
    events: list[str],
    *,
    now: datetime,
    description: str | None = None,
    actor: str = "cli",
) -> Created:
    """Subscribe ``url`` to ``events`` with a new random secret (in the audit log as ``actor``'s). The caller
    commits."""
    address = check_url(url)
    types = parse_events(events)
    note = (description or "").strip() or None
    if note is not None and (len(note) > 200 or any(ord(c) < 32 for c in note)):
        raise ValidationError("a description is one line of at most 200 characters")
    secret = secret_from(secrets.token_bytes(SECRET_BYTES))
    row = WebhookSubscription(
        url=address, events=types, secret=secret, description=note, active=True, created_at=now, updated_at=now
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "webhooks.add", address, {"id": row.id, "events": list(types)}, now=now)
    return Created(row.id, address, types, secret)


def _get(session: Session, subscription_id: int) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}: `cadence webhooks list` shows them")
    return row


def list_subscriptions(session: Session) -> list[dict[str, Any]]:
    """Every subscription with its counts of deliveries waiting and dead (never the secret)."""
    counts: dict[tuple[int, str], int] = {
        (sub_id, state): n
        for sub_id, state, n in session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.state, func.count())
            .where(WebhookDelivery.state.in_(["pending", "dead"]))
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.state)
        )
    }
    return [
        {
            "id": row.id,
            "url": row.url,
            "events": list(row.events),
            "description": row.description,
            "active": row.active,
            "pending": counts.get((row.id, "pending"), 0),
            "dead": counts.get((row.id, "dead"), 0),
            "created_at": row.created_at.isoformat(),
        }
        for row in session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    ]


def set_active(
    session: Session, subscription_id: int, active: bool, *, now: datetime, actor: str = "cli"
) -> WebhookSubscription:
    """Pause (its deliveries wait) or resume a subscription (audited as ``actor``'s). The caller commits."""
    row = _get(session, subscription_id)
    row.active = active
    row.updated_at = now
    action = "webhooks.resume" if active else "webhooks.pause"
    audit.record(session, actor, action, row.url, {"id": row.id}, now=now)
    if active:  # what waited while paused goes out now, its retry window starting afresh
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == row.id, WebhookDelivery.state == "pending")
            .values(next_attempt_at=now, first_attempt_at=None, claim_token=None)
        )
    return row


def remove_subscription(session: Session, subscription_id: int, *, now: datetime, actor: str = "cli") -> int:
    """Remove a subscription and its deliveries (their events stay for the others); how many deliveries went.

    Audited as ``actor``'s."""
    row = _get(session, subscription_id)
    audit.record(session, actor, "webhooks.remove", row.url, {"id": row.id}, now=now)
    gone = (
        session.connection().execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id)).rowcount
    )
    session.delete(row)
    session.flush()
    return int(gone)
