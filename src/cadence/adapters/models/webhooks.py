"""Outbound webhooks: subscriptions, the outbox of events, one delivery per event and subscription."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadence.adapters.models.base import Base


class WebhookSubscription(Base):
    """An endpoint that receives some events, signed with its own secret (Standard Webhooks).

    The secret (``whsec_`` and base64) is kept as it is: every delivery is signed with it. A paused
    subscription keeps its deliveries waiting until it is resumed.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEvent(Base):
    """An event in the outbox, written in the transaction of what it reports: nothing is lost on the way out.

    ``message_id`` is the ``webhook-id`` every delivery of it carries (the same on each retry);
    ``dedupe_key`` keeps an event that a path may write twice (a settle run again) to one row.
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime]


PENDING_DELIVERIES_SQL = "state = 'pending'"


class WebhookDelivery(Base):
    """One event to one subscription: ``pending`` until its endpoint answers 2xx (``delivered``) or ``dead``.

    A lead's deliveries to one subscription go out in ``id`` order, one at a time.
    ``next_attempt_at`` is when it is due (pushed past the lease while a worker holds it, with its
    ``claim_token``); ``first_attempt_at`` starts the retry window.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=text(PENDING_DELIVERIES_SQL),
            postgresql_where=text(PENDING_DELIVERIES_SQL),
        ),
        Index(
            "ix_webhook_deliveries_lead_order",
            "subscription_id",
            "lead_id",
            "id",
            sqlite_where=text(PENDING_DELIVERIES_SQL),
            postgresql_where=text(PENDING_DELIVERIES_SQL),
        ),
        Index("ix_webhook_deliveries_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    lead_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]

    event: Mapped[WebhookEvent] = relationship(lazy="joined")
    subscription: Mapped[WebhookSubscription] = relationship(lazy="joined")
