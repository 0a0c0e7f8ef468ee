"""The engine's events reach webhooks: ``touch.sent`` for each email that went out (set-based, per
batch, once per touch), ``task.created`` for rep tasks, ``task.completed``; and the deliver-webhooks flow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cadence.adapters.models import Task, WebhookEvent
from cadence.adapters.smtp_sink import SmtpSink
from cadence.core.webhooks import EventType
from cadence.services.advance import run_until_idle
from cadence.services.context import Context
from cadence.services.tasks import complete_task
from cadence.services.webhooks import outbox
from cadence.services.webhooks.delivery import deliver_due
from cadence.services.webhooks.subscriptions import add_subscription
from flows.advance import flow_context
from flows.webhooks import deliver_webhooks
from tests.flows.conftest import flow_env, lead_row, seed
from tests.webhooks.receiver import Receiver

__all__ = ["flow_env"]  # the flow tests' fixture, used here too

MONDAY = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def test_every_email_sent_and_task_created_by_the_engine_is_an_event_once(
    flow_env: SmtpSink, receiver: Receiver
) -> None:
    ctx = flow_context()
    seed(ctx, [lead_row(i) for i in range(9)], now=MONDAY, cadence="nurture")
    with ctx.sessions() as s, s.begin():
        add_subscription(s, receiver.url, ["touch.sent", "task.created"], now=MONDAY)
    for day in range(1, 6):
        asyncio.run(run_until_idle(ctx, now=MONDAY + timedelta(days=day, hours=1), batch_size=4))
    messages = flow_env.messages()
    assert messages, "the nurture cadence emails in its first week"
    report = deliver_due(ctx, clock=lambda: MONDAY + timedelta(days=6))
    assert report.dead == report.retried == 0
    sent = [e for e in receiver.events() if e["type"] == "touch.sent"]
    assert sorted(e["data"]["touch"]["message_id"] for e in sent) == sorted(m["Message-ID"] for m in messages)
    with ctx.sessions() as s:
        tasks = s.scalar(sa.select(sa.func.count()).select_from(Task))
    assert len([e for e in receiver.events() if e["type"] == "task.created"]) == tasks
    with ctx.sessions() as s, s.begin():  # the same touch settled again: no second event
        lead = outbox.Event(
            EventType.TOUCH_SENT, 1, {}, MONDAY, dedupe_key=f"touch.sent:{sent[0]['data']['touch']['id']}"
        )
        assert outbox.record(s, [lead]) == 0


def test_a_completed_task_is_an_event_before_what_follows_it(hooks_ctx: Context, receiver: Receiver) -> None:
    from tests.webhooks.conftest import NOW, import_people

    with hooks_ctx.sessions() as s, s.begin():
        add_subscription(s, receiver.url, ["task.completed", "task.created", "response.received"], now=NOW)
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s, s.begin():
        task = Task(lead_id=1, owner_id=1, channel="call", title="Call Ada", due_at=NOW, priority=2, status="open",
                    created_at=NOW)  # fmt: skip
        s.add(task)
        s.flush()
        complete_task(s, task.id, "connected", now=NOW + timedelta(hours=1), note="interested")
    deliver_due(hooks_ctx, clock=lambda: NOW + timedelta(hours=1))
    kinds = [e["type"] for e in receiver.events()]
    assert kinds == ["task.completed", "response.received", "task.created"]
    assert receiver.events()[0]["data"]["task"]["outcome"] == "connected"


def test_the_deliver_webhooks_flow_sends_what_is_due(flow_env: SmtpSink, receiver: Receiver) -> None:
    ctx = flow_context()
    with ctx.sessions() as s, s.begin():
        add_subscription(s, receiver.url, ["lead.created"], now=MONDAY)
    seed(ctx, [lead_row(0)], now=MONDAY)
    with ctx.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
    result = deliver_webhooks(now=MONDAY)
    assert result["delivered"] == 1
    assert [e["data"]["lead"]["email"] for e in receiver.events()] == ["lead0@acme.example"]


def test_an_email_a_dead_runner_recorded_as_sent_is_an_event_when_the_next_claim_finishes_it(
    hooks_ctx: Context, receiver: Receiver
) -> None:
    from cadence.adapters.models import Enrollment, Touch
    from cadence.services.claims import claim_due

    seed(hooks_ctx, [lead_row(0)], now=MONDAY, cadence="nurture")
    with hooks_ctx.sessions() as s, s.begin():
        add_subscription(s, receiver.url, ["touch.sent"], now=MONDAY)
        due = s.scalars(sa.select(Enrollment.next_due_at)).one()
        assert due is not None
    with hooks_ctx.sessions() as s, s.begin():
        [claim] = claim_due(s, now=due, limit=5, settings=hooks_ctx.settings).claims
        touch = s.get_one(Touch, claim.touch_id)  # the ledger wrote "sent"; the runner died before settling
        touch.state, touch.executed_at, touch.message_id = "sent", due, "<c.1.abc@mail.cadence.example>"
    later = due + timedelta(seconds=hooks_ctx.settings.lease_seconds + 1)
    with hooks_ctx.sessions() as s, s.begin():
        assert claim_due(s, now=later, limit=5, settings=hooks_ctx.settings).recovered == 1
    deliver_due(hooks_ctx, clock=lambda: later)
    [event] = receiver.events()
    assert event["type"] == "touch.sent"
    assert event["data"]["touch"]["message_id"] == "<c.1.abc@mail.cadence.example>"
