"""Delivering the outbox: signed, at least once, in order per lead, retried with backoff, then dead-lettered.

A worker claims due deliveries in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): a
claim pushes ``next_attempt_at`` past a lease and sets a random token, so that no other worker
takes them meanwhile, and a worker that dies leaves them due again when the lease lapses (hence
*at least once*: the endpoint dedupes on ``webhook-id``). Only the oldest waiting delivery of each
lead and subscription is ever due: a lead's events reach an endpoint in the order they were
written, the next one after the previous one was delivered or dead-lettered. Each attempt's
outcome is written only while the claim is still the worker's.

A failed attempt (no answer within the timeout, a dropped connection, any status but 2xx) is
retried after a delay that doubles from ``CADENCE_WEBHOOK_RETRY_BASE_SECONDS``; a retry that would
fall beyond ``CADENCE_WEBHOOK_RETRY_WINDOW_HOURS`` after the first attempt is not made and the
delivery is ``dead``: listed by ``cadence webhooks failures`` and on the dashboard, and sent again
by ``cadence webhooks redeliver``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, aliased

from cadence.adapters import webhooks as http
from cadence.adapters.models import WebhookDelivery, WebhookSubscription
from cadence.core.webhooks import headers, next_attempt
from cadence.errors import NotFound, ValidationError
from cadence.services.context import Context

BATCH = 20
SENDERS = 4
"""Deliveries sent at once (to different leads or endpoints: a lead's are one at a time)."""


@dataclass
class DeliveryReport:
    """What a delivery run did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    superseded: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {"delivered": self.delivered, "retried": self.retried, "dead": self.dead,
                "superseded": self.superseded, "failures": self.failures[:20]}  # fmt: skip


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds: where it goes, what it says, how to sign it."""

    id: int
    token: str
    url: str
    secret: str
    message_id: str
    body: bytes
    attempts: int
    first_attempt_at: datetime | None


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed for an event's payload (compact JSON, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def lease(ctx: Context, count: int) -> timedelta:
    """How long a worker holds ``count`` deliveries: every one of them timing out, with room to spare."""
    rounds = -(-count // SENDERS)
    return timedelta(seconds=ctx.settings.webhook_timeout_seconds * 4 * rounds + 30)


def claim_due(session: Session, ctx: Context, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, the oldest first and only each lead's next one. The caller commits."""
    older = aliased(WebhookDelivery)
    blocked = exists().where(
        older.subscription_id == WebhookDelivery.subscription_id,
        older.lead_id == WebhookDelivery.lead_id,
        older.state == "pending",
        older.id < WebhookDelivery.id,
    )
    rows = list(
        session.scalars(
            select(WebhookDelivery)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True),
                ~blocked,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        ).unique()
    )
    if not rows:
        return []
    token = secrets.token_hex(16)
    until = now + lease(ctx, len(rows))
    claimed = []
    for row in rows:
        row.claim_token = token
        row.next_attempt_at = until
        claimed.append(
            Claimed(
                row.id,
                token,
                row.subscription.url,
                row.subscription.secret,
                row.event.message_id,
                body_of(row.event.payload),
                row.attempts,
                row.first_attempt_at,
            )
        )
    session.flush()
    return claimed


def record_attempt(
    session: Session, ctx: Context, item: Claimed, attempt: http.Attempt, *, now: datetime, report: DeliveryReport
) -> None:
    """Write one attempt's outcome, if the claim is still ours: delivered, due again later, or dead. Caller commits."""
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_attempt_at": now,
        "first_attempt_at": item.first_attempt_at or now,
        "last_status": attempt.status,
        "last_error": attempt.error,
        "claim_token": None,
    }
    if attempt.delivered:
        values |= {"state": "delivered", "delivered_at": now, "next_attempt_at": now}
    else:
        settings = ctx.settings
        due = next_attempt(
            attempts=item.attempts + 1,
            first_attempt_at=item.first_attempt_at or now,
            now=now,
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            cap=timedelta(seconds=settings.webhook_retry_max_seconds),
            window=timedelta(hours=settings.webhook_retry_window_hours),
        )
        values |= {"state": "dead", "next_attempt_at": now} if due is None else {"next_attempt_at": due}
    written = (
        session.connection()
        .execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == item.id, WebhookDelivery.claim_token == item.token)
            .values(**values)
        )
        .rowcount
    )
    if not written:
        report.superseded += 1  # the lease lapsed and another worker took it, or it was removed
    elif attempt.delivered:
        report.delivered += 1
    else:
        report.failures.append({"delivery": item.id, "url": item.url, "error": attempt.error})
        if values.get("state") == "dead":
            report.dead += 1
        else:
            report.retried += 1


def deliver_batch(ctx: Context, client: httpx.Client, clock: Callable[[], datetime], report: DeliveryReport) -> int:
    """Claim one batch of due deliveries, send them (a few at once) and record each outcome; how many were claimed."""
    with ctx.sessions() as session, session.begin():
        claimed = claim_due(session, ctx, now=clock())

    def send(item: Claimed) -> tuple[Claimed, http.Attempt, datetime]:
        at = clock()
        return item, http.post(client, item.url, item.body, headers(item.secret, item.message_id, at, item.body)), at

    if not claimed:
        return 0
    with ThreadPoolExecutor(max_workers=min(SENDERS, len(claimed)), thread_name_prefix="webhook") as pool:
        for item, attempt, at in pool.map(send, claimed):
            with ctx.sessions() as session, session.begin():
                record_attempt(session, ctx, item, attempt, now=at, report=report)
    return len(claimed)


def deliver_due(
    ctx: Context, *, clock: Callable[[], datetime], client: httpx.Client | None = None, max_batches: int = 1000
) -> DeliveryReport:
    """Deliver everything due, batch after batch, until nothing is due (or ``max_batches``)."""
    report = DeliveryReport()
    own = client is None
    http_client = client or http.client(ctx.settings.webhook_timeout_seconds)
    try:
        for _ in range(max_batches):
            if not deliver_batch(ctx, http_client, clock, report):
                break
    finally:
        if own:
            http_client.close()
    return report


def _delivery_dict(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "subscription": row.subscription_id,
        "url": row.subscription.url,
        "event": row.event.event_type,
        "webhook_id": row.event.message_id,
        "lead_id": row.lead_id,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "first_attempt_at": row.first_attempt_at.isoformat() if row.first_attempt_at else None,
        "last_attempt_at": row.last_attempt_at.isoformat() if row.last_attempt_at else None,
        "created_at": row.created_at.isoformat(),
    }


def failures(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """The dead-lettered deliveries, the latest first."""
    rows = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.state == "dead").order_by(WebhookDelivery.id.desc()).limit(limit)
    ).unique()
    return [_delivery_dict(row) for row in rows]


def counts(session: Session) -> dict[str, int]:
    """How many deliveries are waiting, dead and delivered."""
    found = dict(
        session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)).tuples().all()
    )
    return {state: int(found.get(state, 0)) for state in ("pending", "dead", "delivered")}


def redeliver(session: Session, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Send a dead (or delivered) delivery again, with a new retry window. The caller commits."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}: `cadence webhooks failures` lists the dead ones")
    if row.state == "pending":
        raise ValidationError(f"delivery {delivery_id} is waiting already: it goes out when due")
    row.state = "pending"
    row.next_attempt_at = now
    row.first_attempt_at = None
    row.claim_token = None
    row.attempts = 0
    session.flush()
    return row


def redeliver_dead(session: Session, *, now: datetime, subscription_id: int | None = None) -> int:
    """Send every dead delivery (of one subscription) again; how many. The caller commits."""
    query = update(WebhookDelivery).where(WebhookDelivery.state == "dead")
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    values = {"state": "pending", "next_attempt_at": now, "first_attempt_at": None, "claim_token": None, "attempts": 0}
    return int(session.connection().execute(query.values(**values)).rowcount)
