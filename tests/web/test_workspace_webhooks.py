"""The managers' webhooks page: add (the secret shown once), pause, resume, remove, failed deliveries sent again."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from cadence.adapters.models import WebhookDelivery
from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead
from cadence.services.webhooks.delivery import deliver_due
from cadence.services.webhooks.subscriptions import add_subscription
from tests.web.workspace import ADA, MAX, MIA, NOW, RITA, csrf_of, post_form, signed_in
from tests.webhooks.receiver import running_receiver


def test_a_manager_adds_a_webhook_and_sees_its_secret_once(site: str, ctx: Context) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/webhooks")
        assert page.status_code == 200
        assert "No webhooks yet." in page.text
        added = http.post("/webhooks", data={"csrf_token": csrf_of(page.text), "url": "https://crm.example/hooks",
                                             "description": "CRM", "event_lead.created": "yes",
                                             "event_meeting.booked": "yes"})  # fmt: skip
        assert added.status_code == 200
        secret = re.search(r'<pre id="new-secret">(whsec_[A-Za-z0-9+/=]+)</pre>', added.text)
        assert secret is not None
        again = http.get("/webhooks").text
        assert "https://crm.example/hooks" in again
        assert "lead.created, meeting.booked" in again
        assert secret.group(1) not in again
        assert "whsec_" not in again


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"url": "https://crm.example/hooks"}, "name at least one event"),
        ({"url": "gopher://crm.example", "event_lead.created": "yes"}, "http:// or https://"),
    ],
)
def test_a_webhook_that_cannot_be_added_is_shown_again_with_why(site: str, data: dict[str, str], said: str) -> None:
    with signed_in(site, MAX) as http:
        answer = post_form(http, "/webhooks", data)
        assert answer.status_code == 422
        assert said in answer.text
        assert data["url"] in answer.text


def test_a_manager_pauses_resumes_and_removes_a_webhook(site: str, ctx: Context) -> None:
    with ctx.sessions() as s, s.begin():
        add_subscription(s, "https://crm.example/hooks", ["all"], now=NOW)
    with signed_in(site, MAX) as http:
        assert post_form(http, "/webhooks/1/pause", {}).status_code == 303
        page = http.get("/webhooks").text
        assert "Paused webhook 1." in page
        assert ">Resume<" in page
        post_form(http, "/webhooks/1/resume", {})
        assert ">Pause<" in http.get("/webhooks").text
        post_form(http, "/webhooks/1/remove", {})
        assert "No webhooks yet." in http.get("/webhooks").text
        assert post_form(http, "/webhooks/1/explode", {}).status_code == 422


def fixed(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def test_failed_deliveries_are_listed_and_sent_again_from_the_page(site: str, ctx: Context) -> None:
    with running_receiver() as receiver:
        receiver.default = 500
        with ctx.sessions() as s, s.begin():
            add_subscription(s, receiver.url, ["decision.recorded"], now=NOW)
        with ctx.sessions() as s, s.begin():
            decide(s, get_lead(s, ADA), Outcome.BAD_FIT, now=NOW, reason="too small")
        at = NOW
        for _ in range(40):
            deliver_due(ctx, clock=fixed(at))
            with ctx.sessions() as s:
                row = s.scalars(sa.select(WebhookDelivery)).unique().one()
            if row.state == "dead":
                break
            at = row.next_attempt_at
        assert row.state == "dead"
        with signed_in(site, MAX) as http:
            page = http.get("/webhooks").text
            assert "answered HTTP 500" in page
            assert "1 failed" in page
            answer = post_form(http, "/webhook-deliveries/redeliver", {"delivery": str(row.id)})
            assert answer.status_code == 303
            assert "Delivery 1 will be sent again." in http.get("/webhooks").text
        receiver.default = "ok"
        assert deliver_due(ctx, clock=lambda: NOW + timedelta(days=3)).delivered == 1


@pytest.mark.one_database
@pytest.mark.parametrize("who", [RITA, MIA])
def test_only_managers_see_or_change_webhooks(site: str, who: str) -> None:
    with signed_in(site, who) as http:
        assert http.get("/webhooks").status_code == 403
        assert (
            post_form(http, "/webhooks", {"url": "https://x.example", "event_lead.created": "yes"}).status_code == 403
        )
        assert "/webhooks" not in http.get("/leads").text


@pytest.mark.one_database
def test_a_webhook_form_without_the_sessions_csrf_token_is_refused(site: str) -> None:
    with signed_in(site, MAX) as http:
        answer = http.post("/webhooks", data={"csrf_token": "forged", "url": "https://x.example",
                                              "event_lead.created": "yes"})  # fmt: skip
        assert answer.status_code == 403
        assert "No webhooks yet." in http.get("/webhooks").text


def test_the_dashboard_shows_failed_deliveries(site: str, ctx: Context) -> None:
    with ctx.sessions() as s, s.begin():
        add_subscription(s, "https://crm.example/hooks", ["decision.recorded"], now=NOW)
        decide(s, get_lead(s, ADA), Outcome.BAD_FIT, now=NOW, reason="too small")
    with signed_in(site, MAX) as http:
        assert "Webhooks</a>: 1 waiting, 0 failed" in http.get("/dashboard").text
        with ctx.sessions() as s, s.begin():
            s.execute(sa.update(WebhookDelivery).values(state="dead"))
        page = http.get("/dashboard").text
        assert "1 webhook delivery failed for 24 hours" in page
        assert 'href="/webhooks"' in page


def test_the_dashboard_shows_the_time_to_first_touch_by_class(site: str, ctx: Context) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/dashboard").text
    section = page[page.index('id="speed-heading"') :]
    assert "Time to first touch" in section
    # Seeded: five enrolled, their first emails two days after enrollment; Bob's research is no touch.
    assert ('<tr><td>Class</td><td>A</td><td class="num">4</td><td class="num">1</td>\n'
            '<td class="num">2.0 days</td><td class="num">2.0 days</td></tr>') in section  # fmt: skip
    assert '<tr><td>Source</td><td>form fill</td><td class="num">1</td><td class="num">1</td>' in section
