"""Outbound webhooks against a real HTTP endpoint, on SQLite and PostgreSQL.

What is checked: the signature (verified by the Standard Webhooks library), the outbox's
transaction, retries after a 500, a timeout and a dropped connection, the order of each lead's
events, the dead letter after the retry window on a simulated clock, redelivery and pausing.
"""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cadence.adapters.models import WebhookDelivery, WebhookEvent
from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead, record_response
from cadence.services.webhooks.delivery import counts, deliver_due, failures, redeliver
from cadence.services.webhooks.subscriptions import add_subscription, remove_subscription, set_active
from tests.webhooks.conftest import NOW, import_people
from tests.webhooks.receiver import Receiver


def subscribe(ctx: Context, url: str, events: list[str], at: datetime = NOW) -> str:
    with ctx.sessions() as s, s.begin():
        return add_subscription(s, url, events, now=at).secret


def deliver_at(ctx: Context, at: datetime) -> dict[str, object]:
    return deliver_due(ctx, clock=lambda: at).as_dict()


def deliveries(ctx: Context) -> list[WebhookDelivery]:
    with ctx.sessions() as s:
        rows = list(s.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).unique())
        s.expunge_all()
        return rows


def test_each_delivery_is_signed_as_standard_webhooks_says_and_verifies(hooks_ctx: Context, receiver: Receiver) -> None:
    secret = subscribe(hooks_ctx, receiver.url, ["lead.created", "lead.qualified"])
    import_people(hooks_ctx, ["ada@acme.example"])
    now = datetime.now(UTC)  # the library checks the timestamp against its own clock
    assert deliver_at(hooks_ctx, now)["delivered"] == 2
    [created, qualified] = receiver.received
    for request in (created, qualified):
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["data"]["lead"]["email"] == "ada@acme.example"
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["webhook-timestamp"] == str(int(now.timestamp()))
        assert request.headers["content-type"] == "application/json"
    assert [created.json()["type"], qualified.json()["type"]] == ["lead.created", "lead.qualified"]
    assert created.headers["webhook-id"] != qualified.headers["webhook-id"]
    tampered = created.body.replace(b"ada@", b"eve@")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, created.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscribe(hooks_ctx, receiver.url, ["all"])).verify(created.body, created.headers)


def test_an_event_is_written_with_what_it_reports_or_not_at_all(hooks_ctx: Context, receiver: Receiver) -> None:
    subscribe(hooks_ctx, receiver.url, ["decision.recorded", "meeting.booked"])
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s:
        transaction = s.begin()
        decide(s, get_lead(s, "ada@acme.example"), Outcome.NOT_INTERESTED, now=NOW, reason="no budget")
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 1
        transaction.rollback()  # the transaction fails after the decision
    with hooks_ctx.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
    with hooks_ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, "ada@acme.example"), Outcome.MEETING_BOOKED, now=NOW, qualification_skipped=True)
    deliver_at(hooks_ctx, NOW)
    assert [e["type"] for e in receiver.events()] == ["decision.recorded", "meeting.booked"]
    assert receiver.events()[0]["data"]["decision"]["outcome"] == "meeting_booked"


def test_events_nobody_subscribed_to_are_not_written(hooks_ctx: Context, receiver: Receiver) -> None:
    subscribe(hooks_ctx, receiver.url, ["task.completed"])
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0


@pytest.mark.parametrize("failure", [500, "slow", "drop"])
def test_a_failed_attempt_is_retried_later_and_then_delivered(
    hooks_ctx: Context, receiver: Receiver, failure: str | int
) -> None:
    subscribe(hooks_ctx, receiver.url, ["lead.created"])
    import_people(hooks_ctx, ["ada@acme.example"])
    receiver.script.append(failure)
    report = deliver_at(hooks_ctx, NOW)
    assert (report["delivered"], report["retried"]) == (0, 1)
    [row] = deliveries(hooks_ctx)
    assert row.state == "pending"
    assert row.attempts == 1
    expected = {500: "answered HTTP 500", "slow": "timed out", "drop": "connection dropped"}[failure]
    assert (row.last_error or "").startswith(expected), row.last_error
    assert row.next_attempt_at == NOW + timedelta(seconds=hooks_ctx.settings.webhook_retry_base_seconds)
    assert deliver_at(hooks_ctx, NOW + timedelta(seconds=1))["delivered"] == 0  # not due yet
    assert deliver_at(hooks_ctx, row.next_attempt_at)["delivered"] == 1
    [row] = deliveries(hooks_ctx)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 2, 204)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same message, for the endpoint to dedupe


def test_a_leads_events_arrive_in_order_and_a_failure_holds_only_that_lead(
    hooks_ctx: Context, receiver: Receiver
) -> None:
    subscribe(hooks_ctx, receiver.url, ["all"])
    import_people(hooks_ctx, ["ada@acme.example", "bob@acme.example"])
    with hooks_ctx.sessions() as s, s.begin():
        for email in ("ada@acme.example", "bob@acme.example"):
            lead = get_lead(s, email)
            record_response(s, lead, now=NOW, kind="reply", channel="email")
            decide(s, lead, Outcome.NOT_INTERESTED, now=NOW + timedelta(minutes=1), reason="no budget")
    receiver.script_for["ada@"] = deque([500])  # Ada's first event fails once
    deliver_at(hooks_ctx, NOW + timedelta(minutes=2))

    def types(email: str) -> list[str]:
        return [e["type"] for e in receiver.events() if e["data"]["lead"]["email"] == email]

    expected = ["lead.created", "lead.qualified", "response.received", "task.created", "decision.recorded"]
    assert types("bob@acme.example") == expected
    assert types("ada@acme.example") == []  # held behind its first event
    deliver_at(hooks_ctx, NOW + timedelta(hours=1))
    assert types("ada@acme.example") == expected


def test_a_delivery_failing_for_the_whole_window_is_dead_lettered_and_can_be_sent_again(
    hooks_ctx: Context, receiver: Receiver
) -> None:
    subscribe(hooks_ctx, receiver.url, ["lead.created"])
    import_people(hooks_ctx, ["ada@acme.example"])
    receiver.default = 503
    at, attempts = NOW, []
    while True:  # a simulated clock: each run at the time the delivery is due again
        deliver_at(hooks_ctx, at)
        [row] = deliveries(hooks_ctx)
        attempts.append(at)
        if row.state != "pending":
            break
        at = row.next_attempt_at
    window = timedelta(hours=hooks_ctx.settings.webhook_retry_window_hours)
    assert row.state == "dead"
    assert row.attempts == len(attempts) == len(receiver.received)
    assert attempts[-1] - attempts[0] <= window < attempts[-1] - attempts[0] + timedelta(hours=3)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]  # doubling
    with hooks_ctx.sessions() as s:
        [failed] = failures(s)
        assert (failed["id"], failed["last_error"]) == (row.id, "answered HTTP 503")
        assert counts(s)["dead"] == 1
    assert deliver_at(hooks_ctx, at + timedelta(days=3))["delivered"] == 0  # dead stays dead
    receiver.default = "ok"
    with hooks_ctx.sessions() as s, s.begin():
        redeliver(s, row.id, now=at + timedelta(days=3))
    assert deliver_at(hooks_ctx, at + timedelta(days=3))["delivered"] == 1
    with hooks_ctx.sessions() as s:
        assert failures(s) == []


def test_a_dead_letter_does_not_hold_the_leads_later_events_for_ever(hooks_ctx: Context, receiver: Receiver) -> None:
    subscribe(hooks_ctx, receiver.url, ["lead.created", "decision.recorded"])
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, "ada@acme.example"), Outcome.BAD_FIT, now=NOW, reason="too small")
    receiver.default = 500
    at = NOW
    while deliveries(hooks_ctx)[0].state == "pending":
        deliver_at(hooks_ctx, at)
        at = max(at, deliveries(hooks_ctx)[0].next_attempt_at)
    receiver.default = "ok"
    deliver_at(hooks_ctx, at + timedelta(hours=1))
    assert [e["type"] for e in receiver.events()] == ["decision.recorded"]


def test_a_paused_subscription_keeps_its_events_until_resumed(hooks_ctx: Context, receiver: Receiver) -> None:
    subscribe(hooks_ctx, receiver.url, ["lead.created"])
    with hooks_ctx.sessions() as s, s.begin():
        set_active(s, 1, False, now=NOW)
    import_people(hooks_ctx, ["ada@acme.example"])
    assert deliver_at(hooks_ctx, NOW)["delivered"] == 0
    assert receiver.received == []
    with hooks_ctx.sessions() as s, s.begin():
        set_active(s, 1, True, now=NOW + timedelta(days=2))
    assert deliver_at(hooks_ctx, NOW + timedelta(days=2))["delivered"] == 1


def test_a_removed_subscription_takes_its_waiting_deliveries_with_it(hooks_ctx: Context, receiver: Receiver) -> None:
    subscribe(hooks_ctx, receiver.url, ["lead.created"])
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s, s.begin():
        assert remove_subscription(s, 1, now=NOW) == 1
    assert deliver_at(hooks_ctx, NOW)["delivered"] == 0
    assert receiver.received == []


def test_a_claimed_delivery_is_not_sent_by_another_worker_until_its_lease_lapses(
    hooks_ctx: Context, receiver: Receiver
) -> None:
    from cadence.services.webhooks.delivery import claim_due, lease

    subscribe(hooks_ctx, receiver.url, ["lead.created"])
    import_people(hooks_ctx, ["ada@acme.example"])
    with hooks_ctx.sessions() as s, s.begin():
        [held] = claim_due(s, hooks_ctx, now=NOW)  # a worker that then dies
    assert deliver_at(hooks_ctx, NOW)["delivered"] == 0
    assert deliver_at(hooks_ctx, NOW + lease(hooks_ctx, 1))["delivered"] == 1  # at least once
    assert receiver.received[0].headers["webhook-id"] == held.message_id
