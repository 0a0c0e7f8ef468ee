"""The results report, checked against a seeded history whose right answers are computed by hand below.

The history (all times UTC, November 2026; the period is November, "now" is 10 December 12:00):

    reps: rita (R), sam (S)
    names/unfit: n1 name (Nov 2, R), n2 name (Oct 20: before the period), u1 unfit (Nov 3)
    lead  source   class owner created  enrollment (cadence default)  what happened
    l1    webinar  A     R     Nov 2    E1 Nov 2 09:00   research on time; step 2 variant A sent; reply naming it;
                                                         meeting_booked with the answers
    l2    webinar  A     R     Nov 2    E2 Nov 2 09:00   research late; step 2 variant B sent; step 3 sent;
                                                         reply naming nothing (-> step 3 by time);
                                                         meeting_booked, qualification skipped (FLAGGED),
                                                         with a spreadsheet formula as its reason
    l3    form     A     S     Nov 2    E3 Nov 2 09:00   research skipped; step 2 A sent; an auto-reply; step 3 sent;
                                                         unsubscribed (-> step 3, the last email before it)
    l4    form     B     S     Nov 2    E4 Nov 2 09:00   research done exactly one day late (on time);
                                                         step 2 B bounced at SMTP; decision bounced
    l5    list     B     R     Nov 9    E5 Nov 9 09:00   research open (overdue); step 2 A sent, then a bounce
                                                         message and the decision bounced, no reason (-> step 2)
    l6    list     B     S     Nov 9    E6 Nov 9 09:00   research done one day and one second late (late);
                                                         step 2 B sent (a delivery-delay message follows);
                                                         step 3 sent; call connected on time:
                                                         a response, no decision yet
    l7    webinar  A     R     Oct 25   E7 Nov 2 09:00   research on time; step 2 A sent; step 3 sent; call no answer;
                                                         no_response (Nov 16), then a reply naming step 2 (Nov 18),
                                                         then qualified_handoff with the answers (Nov 20)
    l8    form     A     S     Nov 20   E8 Dec 2 09:00   outside the period: research open (overdue), step 2 A sent,
                                                         reply; none of it is counted, but its overdue task shows
                                                         in sam's "overdue (all periods)"
    n1 gets the decision bad_fit (no enrollment, Nov 5).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort
from prefect.schedules import Cron
from sqlalchemy.orm import Session

from cadence import cli
from cadence.adapters.models import Decision, Enrollment, Lead, Rep, Response, Task, Touch
from cadence.adapters.smtp_sink import SmtpSink
from cadence.cli.reports import parse_until, report
from cadence.core.decisions import QUALIFYING_QUESTIONS
from cadence.errors import ConfigurationError
from cadence.services.context import Context
from cadence.services.reports import build_report, generate_report, render_markdown, render_text
from cadence.services.reports.build import SECTIONS
from flows.advance import flow_context
from flows.reports import report_recipients, weekly_report
from tests.conftest import Cli
from tests.flows import conftest as flow_fixtures

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
ANSWERS = {key: "yes" for key, _ in QUALIFYING_QUESTIONS}
FORMULA = '=HYPERLINK("http://evil.example","too small")'

# The flow tests' environment (settings for flows and the SMTP sink), used here too.
flow_env = flow_fixtures.flow_env


def nov(day: int, hour: int = 9, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class History:
    """Adds rows through the models, each flushed so that its id is known."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def add(self, row: Any) -> Any:
        self.s.add(row)
        self.s.flush()
        return row

    def rep(self, email: str, name: str) -> Rep:
        return self.add(Rep(email=email, name=name, created_at=nov(1, 0), active=True))

    def lead(
        self, email: str, kind: str, created: datetime, owner: Rep | None, source: str | None, cls: str | None
    ) -> Lead:
        return self.add(
            Lead(email=email, kind=kind, status=kind, source=source, lead_class=cls,
                 owner_id=owner.id if owner else None, source_rank=1, interactions=2, custom={}, created_at=created,
                 updated_at=created)
        )  # fmt: skip

    def enroll(self, lead: Lead, at: datetime, state: str) -> Enrollment:
        return self.add(
            Enrollment(lead_id=lead.id, cadence_name="default", cadence_version="v1", state=state, enrolled_at=at,
                       anchor_at=at, ended_at=None)
        )  # fmt: skip

    def touch(
        self, e: Enrollment, step_index: int, day: int, channel: str, state: str, at: datetime, template: str | None
    ) -> Touch:
        return self.add(
            Touch(enrollment_id=e.id, lead_id=e.lead_id, step_index=step_index, day=day, channel=channel,
                  template=template, state=state, due_at=at, executed_at=at,
                  message_id=f"<t.{e.id}.{step_index}@cadence.example>" if channel == "email" else None)
        )  # fmt: skip

    def email(
        self, e: Enrollment, step_index: int, day: int, at: datetime, template: str, state: str = "sent"
    ) -> Touch:
        return self.touch(e, step_index, day, "email", state, at, template)

    def task(
        self, e: Enrollment, step_index: int, day: int, channel: str, owner: Rep, due: datetime,
        status: str, outcome: str | None = None, completed: datetime | None = None,
    ) -> Task:  # fmt: skip
        touch = self.touch(e, step_index, day, channel, "done", due, f"{channel}/x")
        return self.add(
            Task(lead_id=e.lead_id, owner_id=owner.id, enrollment_id=e.id, touch_id=touch.id, channel=channel,
                 title=f"{channel} task", due_at=due, status=status, outcome=outcome, created_at=due,
                 completed_at=completed)
        )  # fmt: skip

    def respond(
        self,
        e: Enrollment | None,
        lead: Lead,
        kind: str,
        at: datetime,
        touch: Touch | None = None,
        channel: str = "email",
    ) -> Response:
        return self.add(
            Response(lead_id=lead.id, enrollment_id=e.id if e else None, touch_id=touch.id if touch else None,
                     kind=kind, channel=channel, received_at=at)
        )  # fmt: skip

    def decide(
        self, e: Enrollment | None, lead: Lead, outcome: str, at: datetime, reason: str | None,
        answers: dict[str, str] | None = None, skipped: bool = False,
    ) -> Decision:  # fmt: skip
        return self.add(
            Decision(lead_id=lead.id, enrollment_id=e.id if e else None, outcome=outcome, reason=reason,
                     answers=answers, qualification_skipped=skipped, decided_at=at)
        )  # fmt: skip


INTRO_A, INTRO_B, FOLLOW_UP = "email/introduction", "email/introduction-b", "email/follow-up"


def seed_history(ctx: Context) -> None:
    with ctx.sessions() as s, s.begin():
        h = History(s)
        rita, sam = h.rep("rita@cadence.example", "Rita Alvarez"), h.rep("sam@cadence.example", "Sam Okafor")
        n1 = h.lead("n1@acme.example", "name", nov(2, 8), rita, "webinar", None)
        h.lead("n2@acme.example", "name", nov(20, 8, month=10), rita, "webinar", None)
        h.lead("u1@acme.example", "unfit", nov(3, 8), None, "list", None)
        l1 = h.lead("l1@acme.example", "lead", nov(2, 8), rita, "webinar", "A")
        l2 = h.lead("l2@acme.example", "lead", nov(2, 8), rita, "webinar", "A")
        l3 = h.lead("l3@acme.example", "lead", nov(2, 8), sam, "form", "A")
        l4 = h.lead("l4@acme.example", "lead", nov(2, 8), sam, "form", "B")
        l5 = h.lead("l5@acme.example", "lead", nov(9, 8), rita, "list", "B")
        l6 = h.lead("l6@acme.example", "lead", nov(9, 8), sam, "list", "B")
        l7 = h.lead("l7@acme.example", "lead", nov(25, 8, month=10), rita, "webinar", "A")
        l8 = h.lead("l8@acme.example", "lead", nov(20, 8), sam, "form", "A")

        e1 = h.enroll(l1, nov(2), "decided")
        h.task(e1, 0, 1, "research", rita, nov(3), "done", "done", nov(3, 15))  # 6 h after due: on time
        e1_intro = h.email(e1, 1, 2, nov(4), INTRO_A)
        h.respond(e1, l1, "reply", nov(4, 13), touch=e1_intro)  # 52 h after enrollment
        h.decide(e1, l1, "meeting_booked", nov(6), "wants a demo", answers=ANSWERS)  # 96 h

        e2 = h.enroll(l2, nov(2), "decided")
        h.task(e2, 0, 1, "research", rita, nov(3), "done", "done", nov(5, 10))  # 49 h after due: late
        h.email(e2, 1, 2, nov(4), INTRO_B)
        h.email(e2, 2, 5, nov(7), FOLLOW_UP)
        h.respond(e2, l2, "reply", nov(8, 10))  # no touch: the last email before it is step 3; 145 h
        h.decide(e2, l2, "meeting_booked", nov(9), FORMULA, skipped=True)  # 168 h; flagged; a formula as reason

        e3 = h.enroll(l3, nov(2), "decided")
        h.task(e3, 0, 1, "research", sam, nov(3), "done", "skipped", nov(3, 10))
        h.email(e3, 1, 2, nov(4), INTRO_A)
        h.respond(e3, l3, "auto_reply", nov(4, 10))  # not a response
        h.email(e3, 2, 5, nov(7), FOLLOW_UP)
        h.decide(e3, l3, "unsubscribed", nov(7, 12), "clicked unsubscribe")  # -> step 3; 123 h

        e4 = h.enroll(l4, nov(2), "decided")
        h.task(e4, 0, 1, "research", sam, nov(3), "done", "done", nov(4))  # exactly due + 1 day: on time
        h.email(e4, 1, 2, nov(4), INTRO_B, state="bounced")
        h.decide(e4, l4, "bounced", nov(4), "550 user unknown")  # 48 h

        e5 = h.enroll(l5, nov(9), "decided")
        h.task(e5, 0, 1, "research", rita, nov(10), "open")  # due Nov 10, open on Dec 10: overdue
        h.email(e5, 1, 2, nov(11), INTRO_A)
        h.respond(e5, l5, "bounce", nov(11, 9, 5))  # a bounce message, then the decision:
        h.decide(e5, l5, "bounced", nov(11, 10), None)  # -> step 2, the last email before it; 49 h, no reason

        e6 = h.enroll(l6, nov(9), "responded")
        h.task(e6, 0, 1, "research", sam, nov(10), "done", "done", nov(11, 9, 0, 1))  # due + 1 day + 1 s: late
        h.email(e6, 1, 2, nov(11), INTRO_B)
        h.respond(e6, l6, "bounce", nov(11, 9, 30))  # a delivery delay: no decision bounced, not a bounce
        h.email(e6, 2, 5, nov(14), FOLLOW_UP)
        h.task(e6, 3, 8, "call", sam, nov(17), "done", "connected", nov(17, 11))  # on time
        h.respond(e6, l6, "call", nov(17, 11), channel="call")  # 194 h; not an email reply

        e7 = h.enroll(l7, nov(2), "decided")
        h.task(e7, 0, 1, "research", rita, nov(3), "done", "done", nov(3, 9, 30))  # on time
        e7_intro = h.email(e7, 1, 2, nov(4), INTRO_A)
        h.email(e7, 2, 5, nov(7), FOLLOW_UP)
        h.task(e7, 3, 8, "call", rita, nov(10), "done", "no_answer", nov(10, 12))  # on time
        h.decide(e7, l7, "no_response", nov(16), "every step of the cadence ran with no response")  # superseded
        h.respond(e7, l7, "reply", nov(18), touch=e7_intro)  # names step 2, though step 3 was later; 384 h
        h.decide(e7, l7, "qualified_handoff", nov(20), "budget approved", answers=ANSWERS)  # 432 h

        e8 = h.enroll(l8, nov(2, month=12), "active")
        h.task(e8, 0, 1, "research", sam, nov(3, month=12), "open")
        e8_intro = h.email(e8, 1, 2, nov(4, month=12), INTRO_A)
        h.respond(e8, l8, "reply", nov(4, 10, month=12), touch=e8_intro)

        h.decide(None, n1, "bad_fit", nov(5), "too small")  # no enrollment: selected by decided_at
        h.decide(None, n1, "bad_fit", nov(30, month=10), "before the period")  # not selected


@pytest.fixture
def seeded(ctx: Context) -> Context:
    seed_history(ctx)
    return ctx


@pytest.fixture
def data(seeded: Context) -> dict[str, Any]:
    return generate_report(seeded, since=SINCE, until=UNTIL, now=NOW)


def test_the_funnel_counts_names_and_leads_by_creation_and_the_rest_by_enrollment(data: dict[str, Any]) -> None:
    assert data["funnel"] == {
        "names": 1,  # n1 (n2 was created in October)
        "unfit": 1,  # u1
        "leads": 7,  # l1-l6 and l8 (created Nov 20, enrolled in December); not l7 (created in October)
        "enrolled": 7,  # E1-E7 (E7's lead is older; E8 is in December)
        "contacted": 6,  # all but E4, whose only email bounced (research is not a contact)
        "responded": 4,  # E1 reply, E2 reply, E6 connected call, E7 reply (E3 auto-reply and E5 bounce are not)
        "meetings_booked": 3,  # E1, E2 meeting_booked; E7 qualified_handoff
        "handed_off": 1,  # E7
    }
    assert data["period"] == {"since": SINCE.isoformat(), "until": UNTIL.isoformat(), "now": NOW.isoformat()}


def test_each_step_counts_executions_emails_replies_bounces_unsubscribes_and_tasks(data: dict[str, Any]) -> None:
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == [1, 2, 3, 4]
    # Step 1, research: seven tasks, one per enrollment.
    #   on time: E1 (+6 h), E4 (exactly +24 h), E7 (+30 min) = 3; late: E2 (+49 h), E6 (+24 h 1 s) = 2;
    #   skipped: E3 = 1; overdue: E5 (open, due Nov 10 < Dec 10) = 1. E8's open task is outside the period.
    assert steps[1] == {
        "cadence": "default", "step": 1, "day": 1, "channel": "research", "executed": 7, "emails_sent": 0,
        "replies": 0, "reply_rate": None, "bounces": 0, "unsubscribes": 0,
        "tasks_on_time": 3, "tasks_late": 2, "tasks_skipped": 1, "tasks_overdue": 1,
    }  # fmt: skip
    # Step 2, the introduction: 7 executed (6 sent + E4 bounced). Replies: E1 and E7 name their step-2
    # touch = 2, so 2/6 = 33.3%. Bounces: E4 (refused at SMTP, and decided bounced: the same email) + E5
    # (decided bounced after its step-2 email) = 2; E6's delivery-delay message is not a bounce.
    assert steps[2] == {
        "cadence": "default", "step": 2, "day": 2, "channel": "email", "executed": 7, "emails_sent": 6,
        "replies": 2, "reply_rate": 0.3333, "bounces": 2, "unsubscribes": 0,
        "tasks_on_time": None, "tasks_late": None, "tasks_skipped": None, "tasks_overdue": None,
    }  # fmt: skip
    # Step 3, the follow-up: E2, E3, E6, E7 sent = 4. Replies: E2's (by time) = 1 -> 25%; E7's reply names
    # step 2. Unsubscribes: E3 (the last email before its decision) = 1.
    assert steps[3] == {
        "cadence": "default", "step": 3, "day": 5, "channel": "email", "executed": 4, "emails_sent": 4,
        "replies": 1, "reply_rate": 0.25, "bounces": 0, "unsubscribes": 1,
        "tasks_on_time": None, "tasks_late": None, "tasks_skipped": None, "tasks_overdue": None,
    }  # fmt: skip
    # Step 4, the call: E6 connected (+2 h) and E7 no answer (+3 h): both on time. A call is not an email reply.
    assert steps[4] == {
        "cadence": "default", "step": 4, "day": 8, "channel": "call", "executed": 2, "emails_sent": 0,
        "replies": 0, "reply_rate": None, "bounces": 0, "unsubscribes": 0,
        "tasks_on_time": 2, "tasks_late": 0, "tasks_skipped": 0, "tasks_overdue": 0,
    }  # fmt: skip


def test_template_variants_are_compared_with_a_stated_test_and_p_value(data: dict[str, Any]) -> None:
    intro, follow_up = data["variants"]
    # Variant A: E1, E3, E5, E7 sent = 4, replies E1, E7 = 2 (50%).
    # Variant B: E2, E6 sent = 2 (E4's bounced, not sent), replies 0.
    # z-test by hand: pooled 2/6 = 1/3; se = sqrt(1/3 * 2/3 * (1/4 + 1/2)) = sqrt(1/6) = 0.40825;
    # z = (0.5 - 0) / 0.40825 = 1.2247; two-sided p = erfc(1.2247 / sqrt 2) = 0.2207. Fewer than 30 sends.
    assert intro["variants"] == [
        {"template": INTRO_A, "sends": 4, "replies": 2, "reply_rate": 0.5},
        {"template": INTRO_B, "sends": 2, "replies": 0, "reply_rate": 0.0},
    ]
    assert intro["test"] == "two-proportion z-test (pooled, two-sided)"
    assert intro["statistic"] == pytest.approx(1.2247, abs=1e-4)
    assert intro["p_value"] == pytest.approx(0.2207, abs=1e-4)
    assert intro["meaningful"] is False
    assert intro["verdict"] == "not yet: too few sends (fewer than 30 for a variant)"
    assert follow_up["variants"] == [{"template": FOLLOW_UP, "sends": 4, "replies": 1, "reply_rate": 0.25}]
    assert (follow_up["step"], follow_up["test"], follow_up["p_value"]) == (3, None, None)
    assert follow_up["verdict"] == "one variant: nothing to compare"


def test_conversion_is_broken_down_by_source_class_and_cadence_with_mean_times(data: dict[str, Any]) -> None:
    conversion = data["conversion"]
    # webinar: E1, E2, E7 -> all contacted and responded; 3 meetings, 1 hand-off.
    #   hours to first response (52 + 145 + 384) / 3 = 193.67; to decision (96 + 168 + 432) / 3 = 232.
    # form: E3, E4 -> contacted E3; no response; decisions (123 + 48) / 2 = 85.5 h.
    # list: E5, E6 -> contacted both; E6 responded at 194 h; only E5 decided, at 49 h.
    assert conversion["by_source"] == [
        {"source": "form", "enrolled": 2, "contacted": 1, "responded": 0, "meetings_booked": 0, "handed_off": 0,
         "response_rate": 0.0, "conversion_rate": 0.0, "mean_hours_to_first_response": None,
         "mean_hours_to_decision": 85.5},
        {"source": "list", "enrolled": 2, "contacted": 2, "responded": 1, "meetings_booked": 0, "handed_off": 0,
         "response_rate": 0.5, "conversion_rate": 0.0, "mean_hours_to_first_response": 194.0,
         "mean_hours_to_decision": 49.0},
        {"source": "webinar", "enrolled": 3, "contacted": 3, "responded": 3, "meetings_booked": 3, "handed_off": 1,
         "response_rate": 1.0, "conversion_rate": 1.0, "mean_hours_to_first_response": 193.67,
         "mean_hours_to_decision": 232.0},
    ]  # fmt: skip
    # Class A: E1, E2, E3, E7: responses (52 + 145 + 384) / 3 = 193.67 h; decisions (96 + 168 + 123 + 432) / 4
    # = 204.75 h. Class B: E4, E5, E6: E6's response at 194 h; decisions (48 + 49) / 2 = 48.5 h.
    assert conversion["by_class"] == [
        {"class": "A", "enrolled": 4, "contacted": 4, "responded": 3, "meetings_booked": 3, "handed_off": 1,
         "response_rate": 0.75, "conversion_rate": 0.75, "mean_hours_to_first_response": 193.67,
         "mean_hours_to_decision": 204.75},
        {"class": "B", "enrolled": 3, "contacted": 2, "responded": 1, "meetings_booked": 0, "handed_off": 0,
         "response_rate": 0.3333, "conversion_rate": 0.0, "mean_hours_to_first_response": 194.0,
         "mean_hours_to_decision": 48.5},
    ]  # fmt: skip
    # All seven in one cadence: responses (52 + 145 + 194 + 384) / 4 = 193.75 h; decisions 916 / 6 = 152.67 h.
    assert conversion["by_cadence"] == [
        {"cadence": "default", "enrolled": 7, "contacted": 6, "responded": 4, "meetings_booked": 3, "handed_off": 1,
         "response_rate": 0.5714, "conversion_rate": 0.4286, "mean_hours_to_first_response": 193.75,
         "mean_hours_to_decision": 152.67},
    ]  # fmt: skip


def test_the_times_to_first_response_and_to_decision_have_their_mean_and_median(data: dict[str, Any]) -> None:
    # First responses: 52, 145, 194, 384 h -> mean 775 / 4 = 193.75, median (145 + 194) / 2 = 169.5.
    # Latest decisions: 48, 49, 96, 123, 168, 432 h (E6 undecided) -> mean 916 / 6 = 152.67,
    # median (96 + 123) / 2 = 109.5.
    assert data["timing"] == {
        "first_response": {"count": 4, "mean_hours": 193.75, "median_hours": 169.5, "min_hours": 52.0,
                           "max_hours": 384.0},
        "decision": {"count": 6, "mean_hours": 152.67, "median_hours": 109.5, "min_hours": 48.0, "max_hours": 432.0},
    }  # fmt: skip


def test_decisions_are_counted_by_outcome_and_reason_and_meetings_without_answers_are_flagged(
    data: dict[str, Any],
) -> None:
    decisions = data["decisions"]
    # Latest decision of E1-E5 and E7 (E7's no_response is superseded) + n1's bad_fit in November = 7.
    assert decisions["total"] == 7
    assert decisions["superseded"] == 1
    assert decisions["by_outcome"] == [
        {"outcome": "bounced", "count": 2, "without_reason": 1},  # E4, E5 (no reason)
        {"outcome": "meeting_booked", "count": 2, "without_reason": 0},  # E1, E2
        {"outcome": "bad_fit", "count": 1, "without_reason": 0},  # n1
        {"outcome": "qualified_handoff", "count": 1, "without_reason": 0},  # E7
        {"outcome": "unsubscribed", "count": 1, "without_reason": 0},  # E3
    ]
    assert sorted((d["outcome"], d["reason"] or "", d["count"]) for d in decisions["by_reason"]) == [
        ("bad_fit", "too small", 1),
        ("bounced", "", 1),
        ("bounced", "550 user unknown", 1),
        ("meeting_booked", FORMULA, 1),
        ("meeting_booked", "wants a demo", 1),
        ("qualified_handoff", "budget approved", 1),
        ("unsubscribed", "clicked unsubscribe", 1),
    ]
    assert decisions["meetings_without_answers"] == {
        "count": 1,
        "items": [
            {"lead": "l2@acme.example", "owner": "rita@cadence.example", "outcome": "meeting_booked",
             "decided_at": nov(9).isoformat(), "why": "qualification skipped", "reason": FORMULA},
        ],
    }  # fmt: skip


def test_each_owner_has_leads_tasks_on_time_and_overdue_and_outcomes(data: dict[str, Any]) -> None:
    # rita: leads l1, l2, l5, l7 = 4. Tasks: research E1 on time, E2 late, E5 overdue, E7 on time; call E7 on
    #   time -> on time 3, late 1, overdue 1. Outcomes: meeting_booked 2 (E1, E2), bounced 1 (E5),
    #   qualified_handoff 1 (E7), bad_fit 1 (n1, no enrollment).
    # sam: leads l3, l4, l6 = 3. Tasks: research E3 skipped, E4 on time, E6 late; call E6 on time -> on time 2,
    #   late 1, skipped 1. Overdue in the period 0, but E8's research (December) is overdue now: 1.
    #   Outcomes: unsubscribed 1 (E3), bounced 1 (E4); E6 undecided.
    assert data["owners"] == [
        {"owner": "rita@cadence.example", "name": "Rita Alvarez", "leads": 4, "tasks_on_time": 3, "tasks_late": 1,
         "tasks_skipped": 0, "tasks_overdue": 1, "overdue_all_periods": 1, "undecided": 0,
         "outcomes": {"bad_fit": 1, "bounced": 1, "meeting_booked": 2, "qualified_handoff": 1}},
        {"owner": "sam@cadence.example", "name": "Sam Okafor", "leads": 3, "tasks_on_time": 2, "tasks_late": 1,
         "tasks_skipped": 1, "tasks_overdue": 0, "overdue_all_periods": 1, "undecided": 1,
         "outcomes": {"bounced": 1, "unsubscribed": 1}},
    ]  # fmt: skip


def test_the_report_states_the_rules_it_counts_by(data: dict[str, Any]) -> None:
    rules = " ".join(data["rules"])
    assert "completed_at <= due_at + 1 day" in rules
    assert "enrolled_at is in [since, until)" in rules
    assert "last email sent to the lead in that enrollment before it arrived" in rules
    assert "a bounce message without that decision may be a delay and is not counted" in rules
    assert "p < 0.05 and at least 30 sends per variant" in rules


def test_an_unbounded_period_takes_every_enrollment(seeded: Context) -> None:
    data = generate_report(seeded, since=None, until=None, now=NOW)
    # E8 joins (enrolled, contacted, responded); n2 and l7 join the names and leads.
    assert data["funnel"] == {"names": 2, "unfit": 1, "leads": 8, "enrolled": 8, "contacted": 7, "responded": 5,
                              "meetings_booked": 3, "handed_off": 1}  # fmt: skip
    assert data["variants"][0]["variants"][0] == {"template": INTRO_A, "sends": 5, "replies": 3, "reply_rate": 0.6}


def test_an_empty_database_gives_an_empty_report(ctx: Context) -> None:
    data = generate_report(ctx, since=SINCE, until=UNTIL, now=NOW)
    assert data["funnel"] == dict.fromkeys(data["funnel"], 0)
    assert data["steps"] == data["variants"] == data["owners"] == []
    assert data["timing"]["first_response"] == {"count": 0, "mean_hours": None, "median_hours": None,
                                                "min_hours": None, "max_hours": None}  # fmt: skip
    assert "(none)" in render_text(data)
    assert "(none)" in render_markdown(data)


def test_a_clear_difference_between_variants_is_meaningful_with_thirty_sends_each(ctx: Context) -> None:
    # Variant A: 40 sends, 20 replies; variant B: 40 sends, 8 replies.
    # Hand computation: pooled 28/80 = 0.35; se = sqrt(0.35 * 0.65 * (1/40 + 1/40)) = 0.10665;
    # z = (0.5 - 0.2) / 0.10665 = 2.8128; p = 2 * (1 - Phi(2.8128)) = 0.00491 < 0.05, and 40 >= 30 sends each.
    with ctx.sessions() as s, s.begin():
        h = History(s)
        rep = h.rep("rita@cadence.example", "Rita Alvarez")
        for i in range(80):
            lead = h.lead(f"v{i}@acme.example", "lead", nov(2, 8), rep, "webinar", "A")
            e = h.enroll(lead, nov(2), "active")
            touch = h.email(e, 1, 2, nov(4), INTRO_A if i < 40 else INTRO_B)
            if i < 20 or 40 <= i < 48:
                h.respond(e, lead, "reply", nov(5), touch=touch if i % 2 else None)
    [intro] = generate_report(ctx, since=SINCE, until=UNTIL, now=NOW)["variants"]
    assert [(v["sends"], v["replies"]) for v in intro["variants"]] == [(40, 20), (40, 8)]
    assert intro["statistic"] == pytest.approx(2.8128, abs=1e-4)
    assert intro["p_value"] == pytest.approx(0.0049106, abs=1e-6)
    assert intro["meaningful"] is True
    assert intro["verdict"] == "meaningful (p < 0.05)"


def test_build_report_reads_through_any_session(seeded: Context, data: dict[str, Any]) -> None:
    with seeded.sessions() as s:
        assert build_report(s, since=SINCE, until=UNTIL, now=NOW) == data


# ---------------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def report_cli(run_cli: Cli) -> Iterator[Cli]:
    """The CLI with ``cadence report`` registered (as cadence.cli will register it)."""
    names = {c.name or (c.callback.__name__ if c.callback else None) for c in cli.app.registered_commands}
    if "report" in names:
        yield run_cli
        return
    cli.app.command("report")(report)
    try:
        yield run_cli
    finally:
        cli.app.registered_commands[:] = [c for c in cli.app.registered_commands if c.callback is not report]


@pytest.fixture
def cli_history(report_cli: Cli, seeded: Context) -> Cli:
    return report_cli


PERIOD = ("--since", "2026-11-01", "--until", "2026-11-30", "--now", "2026-12-10T12:00:00Z")


def test_the_cli_prints_the_report_as_json(cli_history: Cli, data: dict[str, Any]) -> None:
    printed = cli_history("report", "--json", *PERIOD).json()
    assert printed == data  # --until 2026-11-30 is a bare date: the whole of 30 November is in the period
    assert printed["funnel"]["enrolled"] == 7


def test_asked_for_progress_the_cli_shows_each_step_on_stderr_and_json_stays_clean(
    cli_history: Cli, data: dict[str, Any]
) -> None:
    done = cli_history("report", "--json", "--progress", *PERIOD)
    assert done.json() == data  # stdout is the report alone
    steps = [line.split(" (")[0].removeprefix("report: ") for line in done.stderr.splitlines()]
    assert steps[:-1] == ["settled", "enrollments", *SECTIONS]
    assert steps[-1].startswith("done in ")
    quiet = cli_history("report", "--json", *PERIOD)  # not a terminal, not asked: nothing on stderr
    assert quiet.json() == data
    assert quiet.stderr == ""


def test_the_report_tells_its_progress_step_by_step(seeded: Context, data: dict[str, Any]) -> None:
    told: list[tuple[str, int, int]] = []
    assert generate_report(seeded, since=SINCE, until=UNTIL, now=NOW, progress=lambda *step: told.append(step)) == data
    total = len(SECTIONS) + 2
    assert told == [
        ("settled", 0, total),
        ("enrollments", 1, total),
        *[(n, i + 1, total) for i, n in enumerate(SECTIONS, 1)],
        ("done", total, total),
    ]


def test_the_cli_prints_one_csv_with_a_section_column_and_formulas_neutralised(cli_history: Cli) -> None:
    out = cli_history("report", "--csv", *PERIOD).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["section", "item", "metric", "value"]
    cell = {(r["section"], r["item"], r["metric"]): r["value"] for r in rows}
    assert cell[("funnel", "", "enrolled")] == "7"
    assert cell[("steps", "default step 2 (day 2, email)", "reply_rate")] == "0.3333"
    assert cell[("variant_tests", "default step 2", "test")] == "two-proportion z-test (pooled, two-sided)"
    assert cell[("owners", "rita@cadence.example", "tasks_overdue")] == "1"
    assert cell[("meetings_without_answers", "l2@acme.example", "reason")] == "'" + FORMULA
    assert cell[("decisions_by_reason", "meeting_booked: " + FORMULA, "count")] == "1"  # not at the start: harmless
    assert not [r for r in rows for v in r.values() if v.startswith(("=", "+", "-", "@"))]
    assert {r["section"] for r in rows} >= {"funnel", "steps", "variants", "conversion_by_source", "timing",
                                            "decisions_by_outcome", "meetings_without_answers", "owners"}  # fmt: skip


def test_the_cli_prints_markdown_tables(cli_history: Cli) -> None:
    out = cli_history("report", "--md", *PERIOD).stdout
    assert out.startswith("# cadence report")
    assert "## Funnel\n\n| stage | count |\n| --- | --- |\n| names | 1 |" in out
    assert "## FLAGGED: meetings booked without the qualifying answers (1)" in out
    assert "| l2@acme.example | rita@cadence.example | meeting\\_booked |" in out
    assert '| meeting\\_booked | =HYPERLINK("http://evil.example","too small") | 1 |' in out


def test_the_cli_prints_readable_text_by_default(cli_history: Cli) -> None:
    out = cli_history("report", *PERIOD).stdout
    assert out.startswith("cadence report: enrolled from 2026-11-01T00:00:00+00:00 until 2026-12-01T00:00:00+00:00")
    assert "Template variants" in out
    assert "not yet: too few sends" in out
    assert "0.2207" in out  # the p-value is always shown
    assert "on time = completed_at <= due_at + 1 day" in out


@pytest.mark.one_database
def test_the_cli_refuses_two_formats_and_an_empty_period(report_cli: Cli) -> None:
    both = report_cli("report", "--json", "--csv", expect=2)
    assert "choose one of --json, --csv and --md" in both.stderr
    empty = report_cli("report", "--since", "2026-12-01", "--until", "2026-11-01T00:00:00Z", expect=1)
    assert "the period is empty" in empty.stderr
    bad = report_cli("report", "--since", "last week", expect=1)
    assert "--since 'last week' is not an ISO-8601 time" in bad.stderr


def test_a_bare_until_date_includes_that_day_and_a_time_does_not() -> None:
    assert parse_until("2026-11-30") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_until("2026-11-30T00:00:00Z") == datetime(2026, 11, 30, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- the weekly flow


async def latest_artifact_markdown(key: str) -> str:
    async with get_client() as client:
        [artifact] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
        return str(artifact.data)


def test_the_weekly_report_is_published_and_emailed_to_every_recipient(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_REPORT_RECIPIENTS", " boss@cadence.example, ops@cadence.example ,,BOSS@cadence.example")
    seed_history(flow_context())
    before = flow_env.count()
    # The week before Monday 9 November 09:00: E1-E4 and E7 enrolled on 2 November at 09:00 are in it;
    # E5 and E6 (9 November 09:00) are not: the period is [2 Nov 09:00, 9 Nov 09:00).
    result = asyncio.run(weekly_report(now=nov(9), days=7))
    assert result["since"] == nov(2).isoformat()
    assert result["sent"] == 2
    assert result["funnel"]["enrolled"] == 5
    assert result["meetings_without_answers"] == 1  # E2, decided on 9 November 09:00
    messages = flow_env.messages()[before:]
    assert sorted(str(m["To"]) for m in messages) == ["boss@cadence.example", "ops@cadence.example"]
    message = messages[0]
    assert (
        message["Subject"] == "cadence weekly report 2026-11-02 to 2026-11-09: 5 enrolled, 3 meetings booked, 1 flagged"
    )
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith("cadence report: enrolled from 2026-11-02T09:00:00+00:00")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "weekly-report.md"
    attached = attachment.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends
    assert attached.startswith("# cadence report")
    markdown = asyncio.run(latest_artifact_markdown("weekly-report"))
    assert markdown == attached
    assert "| enrolled | 5 |" in markdown


def test_the_weekly_report_without_recipients_is_only_published(flow_env: SmtpSink) -> None:
    seed_history(flow_context())
    before = flow_env.count()
    result = asyncio.run(weekly_report(now=NOW, days=30))
    assert result["sent"] == 0
    assert flow_env.count() == before
    # The 30 days before 10 December 12:00 hold one enrollment: E8 (2 December).
    assert "| enrolled | 1 |" in asyncio.run(latest_artifact_markdown("weekly-report"))


@pytest.mark.one_database
def test_a_bad_recipient_fails_the_weekly_report_before_any_work(
    flow_env: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_REPORT_RECIPIENTS", "boss@cadence.example, not an address")
    with pytest.raises(ConfigurationError, match="'not an address' is not an email address"):
        asyncio.run(weekly_report(now=NOW))
    monkeypatch.setenv("CADENCE_REPORT_RECIPIENTS", "")
    assert report_recipients(flow_context()) == []


def test_the_weekly_report_deploys_on_mondays_at_seven_utc(prefect_harness: None) -> None:
    # What flows/serve.py adds to its deployments.
    deployment = weekly_report.to_deployment(name="weekly-report", schedules=[Cron("0 7 * * 1", timezone="UTC")])
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "0 7 * * 1"  # type: ignore[union-attr]
    assert schedule.schedule.timezone == "UTC"  # type: ignore[union-attr]
    assert deployment.parameters == {}


def test_the_report_ignores_what_happens_outside_the_period(seeded: Context) -> None:
    december = generate_report(seeded, since=nov(1, 0, month=12), until=nov(31, 0, month=12), now=NOW)
    # Only E8: enrolled, contacted (step 2 sent), responded (its reply); its research task is overdue.
    assert december["funnel"] == {"names": 0, "unfit": 0, "leads": 0, "enrolled": 1, "contacted": 1, "responded": 1,
                                  "meetings_booked": 0, "handed_off": 0}  # fmt: skip
    assert [(s["step"], s["tasks_overdue"], s["replies"]) for s in december["steps"]] == [(1, 1, 0), (2, None, 1)]
