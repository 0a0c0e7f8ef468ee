"""The inbound messages kept for review: mail not trusted enough to act on (see :mod:`cadence.services.replies`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import InboundMessage
from cadence.services.replies import REVIEW


def for_review(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """The inbound messages kept for review (newest first): mail that was not trusted enough to act on."""
    rows = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.kind == REVIEW)
        .order_by(InboundMessage.processed_at.desc(), InboundMessage.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": row.id,
            "received": row.processed_at.isoformat() if row.processed_at else None,
            "sender": row.sender,
            "subject": row.subject,
            "lead_id": row.lead_id,
            "why": row.detail,
        }
        for row in rows
    ]


def review_count(session: Session) -> int:
    """How many inbound messages are kept for review."""
    return int(
        session.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.kind == REVIEW)) or 0
    )
