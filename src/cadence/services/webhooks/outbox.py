"""The transactional outbox: each event is written in the transaction of what it reports.

Every path that records something a subscription may want calls :func:`record` in its own
transaction (the caller commits): the event and one delivery per subscription that asked for its
type (paused ones included: they keep theirs until resumed). When the transaction rolls back, the
event goes with it; when it commits, the event is there to be delivered. With no subscription
for a type, nothing is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import (
    Decision,
    Lead,
    Response,
    Task,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from cadence.core.webhooks import EventType

_SUBSCRIBED = "cadence.webhooks.subscribed"
"""The key, in a session's ``info``, of the subscriptions read in its current transaction."""


@dataclass(frozen=True)
class Event:
    """One event to record: its type, the lead it is about, its data and when it happened."""

    type: EventType
    lead_id: int | None
    data: dict[str, Any]
    at: datetime
    dedupe_key: str | None = None
    """Set on events a path may record twice (a settle run again): the second is dropped."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


_LEAD_COLUMNS = ("email", "phone", "first_name", "last_name", "company", "title", "source", "kind", "status")


def lead_data(lead: Lead) -> dict[str, Any]:
    """What every event says about its lead."""
    values = {name: getattr(lead, name) for name in (*_LEAD_COLUMNS, "lead_class", "cadence")}
    return lead_data_of(lead.id, values, lead.owner.email if lead.owner is not None else None)


def lead_data_of(lead_id: int, values: Mapping[str, Any], owner: str | None) -> dict[str, Any]:
    """:func:`lead_data` of lead ``lead_id`` with the columns ``values`` (an import's new rows), owned by ``owner``."""
    return {
        "id": lead_id,
        **{name: values.get(name) for name in _LEAD_COLUMNS},
        "class": values.get("lead_class"),
        "cadence": values.get("cadence"),
        "owner": owner,
    }


def task_data(task: Task) -> dict[str, Any]:
    """A task as events show it."""
    return {
        "id": task.id,
        "channel": task.channel,
        "title": task.title,
        "due_at": _iso(task.due_at),
        "status": task.status,
        "outcome": task.outcome,
        "completed_at": _iso(task.completed_at),
    }


def lead_events(lead: Lead, *, created: bool, qualified: bool, at: datetime) -> list[Event]:
    """``lead.created`` for a new person, ``lead.qualified`` for one who became a lead."""
    return lead_events_of(lead.id, lead_data(lead), created=created, qualified=qualified, at=at)


def lead_events_of(lead_id: int, data: dict[str, Any], *, created: bool, qualified: bool, at: datetime) -> list[Event]:
    """:func:`lead_events` of the lead ``lead_id`` that :func:`lead_data_of` describes as ``data``."""
    found = []
    if created:
        found.append(Event(EventType.LEAD_CREATED, lead_id, {"lead": data}, at))
    if qualified:
        found.append(Event(EventType.LEAD_QUALIFIED, lead_id, {"lead": data}, at))
    return found


def task_event(kind: EventType, lead: Lead, task: Task, at: datetime) -> Event:
    """``task.created`` or ``task.completed``."""
    return Event(kind, lead.id, {"lead": lead_data(lead), "task": task_data(task)}, at)


def touch_sent_event(
    lead: Lead, touch_id: int, step_index: int, steps: int, template: str | None, message_id: str | None, at: datetime
) -> Event:
    """``touch.sent`` for an email that went out: one per touch, however often it is settled or recovered."""
    touch = {"id": touch_id, "step": step_index + 1, "steps": steps, "channel": "email", "template": template,
             "message_id": message_id, "sent_at": _iso(at)}  # fmt: skip
    data = {"lead": lead_data(lead), "touch": touch}
    return Event(EventType.TOUCH_SENT, lead.id, data, at, dedupe_key=f"touch.sent:{touch_id}")


def response_event(lead: Lead, response: Response, at: datetime) -> Event:
    """``response.received``: its kind and channel (the note stays in cadence: it may quote a private email)."""
    data = {
        "lead": lead_data(lead),
        "response": {"id": response.id, "kind": response.kind, "channel": response.channel, "received_at": _iso(at)},
    }
    return Event(EventType.RESPONSE_RECEIVED, lead.id, data, at)


def decision_events(lead: Lead, decision: Decision, at: datetime) -> list[Event]:
    """``decision.recorded``, and ``meeting.booked`` when that is the decision."""
    data = {
        "lead": lead_data(lead),
        "decision": {
            "id": decision.id,
            "outcome": decision.outcome,
            "reason": decision.reason,
            "decided_by": decision.decided_by,
            "decided_at": _iso(decision.decided_at),
        },
    }
    found = [Event(EventType.DECISION_RECORDED, lead.id, data, at)]
    if decision.outcome == "meeting_booked":
        found.append(Event(EventType.MEETING_BOOKED, lead.id, data, at))
    return found


def subscribed_types(session: Session) -> dict[str, list[int]]:
    """Each event type and the subscriptions (active or paused) that asked for it: read once per transaction.

    An import records events row after row; the subscriptions are read at its first one only.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_SUBSCRIBED)
    if cached is not None and transaction is not None and cached[0] is transaction:
        found: dict[str, list[int]] = cached[1]
        return found
    found = {}
    for sub_id, types in session.execute(select(WebhookSubscription.id, WebhookSubscription.events)):
        for name in types or ():
            found.setdefault(str(name), []).append(sub_id)
    session.info[_SUBSCRIBED] = (session.get_transaction(), found)
    return found


def wanted(session: Session, kind: EventType) -> bool:
    """Whether any subscription asked for ``kind`` (a path may then skip building its events)."""
    return bool(subscribed_types(session).get(kind.value))


def record(session: Session, events: Sequence[Event]) -> int:
    """Write ``events`` to the outbox with one delivery per subscription wanting each; how many events were written.

    In the caller's transaction: they are committed, or rolled back, with what they report.
    """
    wanted = subscribed_types(session)
    chosen = [e for e in events if wanted.get(e.type.value)]
    if not chosen:
        return 0
    keys = [e.dedupe_key for e in chosen if e.dedupe_key is not None]
    if keys:
        seen = set(session.scalars(select(WebhookEvent.dedupe_key).where(WebhookEvent.dedupe_key.in_(keys))))
        chosen = [e for e in chosen if e.dedupe_key is None or e.dedupe_key not in seen]
    rows = [
        WebhookEvent(
            message_id="msg_" + secrets.token_hex(16),
            event_type=e.type.value,
            lead_id=e.lead_id,
            payload={"type": e.type.value, "timestamp": _iso(e.at), "data": e.data},
            dedupe_key=e.dedupe_key,
            created_at=e.at,
        )
        for e in chosen
    ]
    session.add_all(rows)
    session.flush()
    session.add_all(
        WebhookDelivery(
            event_id=row.id,
            subscription_id=sub_id,
            lead_id=row.lead_id,
            state="pending",
            attempts=0,
            next_attempt_at=row.created_at,
            created_at=row.created_at,
        )
        for row in rows
        for sub_id in wanted[row.event_type]
    )
    session.flush()
    return len(rows)
