"""The response SLA on both databases: an answer left open past it is in the owner's digest, escalated to the
manager the same morning and shown on the dashboard; a snoozed lead that answers again is not re-enrolled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from cadence.adapters.models import Enrollment, Task
from cadence.services.context import Context
from cadence.services.digest import due_digests
from cadence.services.response_sla import late_answers
from cadence.services.snoozes import wake_snoozed
from cadence.services.workspace.dashboard import overview
from cadence.settings import Settings
from tests.flows.conftest import lead_row, seed
from tests.stages.conftest import LEAD, MONDAY, lead_of, reply

MANAGER = "max@cadence.example"
TUESDAY_DIGEST = MONDAY + timedelta(hours=21)  # Tuesday 07:00 in New York: the digest hour
MANAGER_DIGEST = MONDAY + timedelta(hours=16)  # Tuesday 07:00 UTC: the manager's (the default time zone)


@pytest.fixture
def managed(settings: Settings) -> Iterator[Context]:
    """A context whose manager gets escalations, with Rita owning lead0 on the default cadence."""
    context = Context(settings.model_copy(update={"manager_email": MANAGER}))
    seed(context, [lead_row(0)], now=MONDAY)
    yield context
    context.close()


def late(ctx: Context, at: object) -> list[str]:
    with ctx.sessions() as s:
        return [a.title for a in late_answers(s, now=at, settings=ctx.settings)]  # type: ignore[arg-type]


def test_an_interested_reply_is_late_once_the_sla_business_hours_have_passed(managed: Context) -> None:
    reply(managed, "interested", at=MONDAY)  # 10:00 in New York; the SLA is 4 business hours: 14:00
    assert late(managed, MONDAY + timedelta(hours=3, minutes=59)) == []
    assert late(managed, MONDAY + timedelta(hours=4, minutes=1)) == ["Answer Lead0 Tester and book a meeting"]


def test_a_reply_at_the_end_of_the_day_is_late_only_the_next_business_day(managed: Context) -> None:
    evening = MONDAY + timedelta(hours=6)  # 16:00 in New York: one hour left today, three tomorrow from 08:00
    reply(managed, "unclear", at=evening)
    assert late(managed, evening + timedelta(hours=16)) == []  # Tuesday 08:00
    [title] = late(managed, evening + timedelta(hours=19, minutes=1))  # Tuesday 11:01
    assert title == "Review Lead0 Tester's reply: what it says is unclear"


def test_an_answered_lead_is_not_late(managed: Context) -> None:
    reply(managed, "interested", at=MONDAY)
    with managed.sessions() as s, s.begin():
        task = s.scalars(select(Task).where(Task.channel == "reply")).one()
        task.status, task.completed_at = "done", MONDAY + timedelta(hours=1)
    assert late(managed, MONDAY + timedelta(days=2)) == []


def test_the_digest_lists_it_for_the_owner_and_escalates_it_to_the_manager_the_same_morning(
    managed: Context,
) -> None:
    reply(managed, "interested", at=MONDAY)
    with managed.sessions() as s:
        [manager] = due_digests(s, managed, now=MANAGER_DIGEST)
        [rita] = due_digests(s, managed, now=TUESDAY_DIGEST)
    assert (manager.recipient, rita.recipient) == (MANAGER, "rita@cadence.example")
    assert [t["lead_email"] for t in rita.late_answers] == [LEAD]
    assert [t["lead_email"] for t in manager.late_answers] == [LEAD]
    assert manager.overdue == []  # the escalation of other tasks waits escalate_after_days, as before
    text = managed.templates.render_text(
        "digest/rep",
        {"rep": {"name": "Manager"}, "overdue": [], "today": [], "late_answers": manager.late_answers,
         "date": manager.local_date, "escalation": True, "company": {"name": "Acme"}},
    )  # fmt: skip
    assert "Answers past the response time: 1. These leads wrote back and are still waiting for their owners." in text
    assert "owner rita@cadence.example" in text


def test_without_a_late_answer_the_manager_gets_no_digest(managed: Context) -> None:
    reply(managed, "interested", at=MONDAY + timedelta(hours=5))  # 15:00 in New York: late at 11:00 Tuesday
    with managed.sessions() as s:
        assert due_digests(s, managed, now=MANAGER_DIGEST) == []
        [rita] = due_digests(s, managed, now=TUESDAY_DIGEST)
    assert rita.late_answers == []


def test_the_dashboard_shows_the_late_answers(managed: Context) -> None:
    reply(managed, "interested", at=MONDAY)
    numbers = overview(managed, now=MONDAY + timedelta(hours=5))
    [answer] = numbers.late_answers
    assert (answer.lead_email, answer.owner) == (LEAD, "rita@cadence.example")
    assert answer.hours_late(MONDAY + timedelta(hours=5)) == 1.0


def test_a_snoozed_lead_that_answers_again_is_not_re_enrolled_when_the_snooze_ends(managed: Context) -> None:
    reply(managed, "not_now", at=MONDAY, named=date(2027, 3, 1))
    with managed.sessions() as s:
        assert lead_of(s).snoozed_until is not None
    answered = reply(managed, "interested", at=MONDAY + timedelta(days=10))
    assert answered.consequences.unsnooze
    with managed.sessions() as s:
        lead = lead_of(s)
        assert (lead.snoozed_until, lead.snooze_cadence) == (None, None)
    woken = wake_snoozed(managed, now=MONDAY + timedelta(days=120))
    assert woken.enrolled == []
    with managed.sessions() as s:
        assert [e.cadence_name for e in s.scalars(select(Enrollment))] == ["default"]
        assert s.scalars(select(Enrollment)).one().state == "responded"


def test_a_snoozed_lead_that_says_not_now_again_is_snoozed_to_the_new_date(managed: Context) -> None:
    reply(managed, "not_now", at=MONDAY, named=date(2027, 3, 1))
    reply(managed, "not_now", at=MONDAY + timedelta(days=10), named=date(2027, 6, 1))
    with managed.sessions() as s:
        until = lead_of(s).snoozed_until
    assert until is not None
    assert until.date() == date(2027, 6, 1)
