"""A lead's page: who they are, every touch, the emails sent; pausing, resuming, deciding; and whose leads are whose."""

from __future__ import annotations

import logging
import re
import time

import pytest
from sqlalchemy import select

from cadence.adapters.models import Decision, Enrollment, Lead, Task
from cadence.services.context import Context
from tests.web.workspace import ADA, BOB, CY, DEE, EVE, MAX, MIA, NIA, NOW, RITA, SAM, Seeded, post_form, signed_in


def enrollment_of(ctx: Context, email: str) -> Enrollment:
    with ctx.sessions() as s:
        return s.scalars(select(Enrollment).join(Lead, Lead.id == Enrollment.lead_id).where(Lead.email == email)).one()


def post_forms(html: str) -> list[str]:
    """The actions of the page's POST forms, the logout form aside."""
    return [a for a in re.findall(r'<form method="post" action="([^"]+)"', html) if a != "/logout"]


@pytest.mark.one_database
def test_a_lead_page_shows_who_they_are_their_cadence_every_touch_and_the_emails_sent(site: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{ADA}")
    assert page.status_code == 200
    text = page.text
    assert '<h1>Ada Lovelace <span class="chip state-active">active</span></h1>' in text
    for fact in (
        ">A</span> (priority 1)</dd>",
        "<dd>webinar</dd>",
        "<dd>3</dd>",
        '<dd><a href="tel:+12125550100">+1 212 555 0100</a></dd>',
    ):
        assert fact in text, fact
    assert "5 of 10 steps done" in text
    assert "step 6: day 10, email (<code>email/resource</code>)" in text
    assert '<h2 id="emails-heading">Emails sent (2)</h2>' in text
    assert "“Re: Ada, a quick question from Cadence Demo Company”" in text
    assert text.count('<span class="chip research">research</span></td>') == 1
    assert '<a href="/tasks/' in text  # the lead's tasks link to their pages
    assert post_forms(text) == [
        f"/leads/{ADA}/edit",
        f"/leads/{ADA}/colleague",
        f"/leads/{ADA}/account",
        f"/leads/{ADA}/pause",
        f"/leads/{ADA}/stage",
        f"/leads/{ADA}/decision",
        f"/leads/{ADA}/contact",
        f"/leads/{ADA}/note",
        f"/leads/{ADA}/snooze",
    ]


def timeline_rows(html: str) -> list[list[str]]:
    """The cells of the timeline table, as text."""
    table = html.split('<h2 id="timeline-heading">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>\s*(.*?)</tr>", table.split("<tbody>", 1)[1], flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in row] for row in cells]


@pytest.mark.one_database
def test_the_timeline_shows_each_task_steps_task_as_the_rep_left_it(site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        text = http.get(f"/leads/{ADA}").text
    rows = [(channel, what, state, outcome) for _, _, channel, what, state, outcome in timeline_rows(text)]
    assert rows == [
        ("research", "research/company", "done", ""),  # a step without a task of its own (the seed made none)
        ("email", "“Ada, a quick question from Cadence Demo Company”", "sent", ""),  # no "250 OK" of the server
        ("email", "“Re: Ada, a quick question from Cadence Demo Company”", "sent", ""),
        ("linkedin", "linkedin/connect task", "task done", "sent"),
        ("call", "calls/discovery task", "task open", ""),  # the step ran; the call is still to make
    ]
    assert f'<a href="/tasks/{seeded.ada_call}" class="small">task</a>' in text
    with signed_in(site, MIA) as http:
        assert f'href="/tasks/{seeded.ada_call}"' not in http.get(f"/leads/{ADA}").text  # marketers have no tasks


@pytest.mark.one_database
def test_a_decided_lead_shows_the_decision_with_its_qualifying_answers_and_no_decision_form(site: str) -> None:
    with signed_in(site, SAM) as http:
        text = http.get(f"/leads/{EVE}").text
    assert "<strong>meeting booked</strong>" in text
    assert "<dd>Demo on Friday</dd>" in text
    assert "<dt>Who approves the purchase?</dt><dd>answer to approves</dd>" in text
    assert f"/leads/{EVE}/decision" not in text


def test_a_rep_pauses_their_lead_until_a_day_and_resumes_it(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        response = post_form(http, f"/leads/{ADA}/pause", {"until": "2026-12-14"})
        assert (response.status_code, response.headers["location"]) == (303, f"/leads/{ADA}")
        page = http.get(f"/leads/{ADA}").text
        assert "Paused ada@analytical.example until 2026-12-14." in page
        assert post_forms(page) == [
            f"/leads/{ADA}/edit",
            f"/leads/{ADA}/colleague",
            f"/leads/{ADA}/account",
            f"/leads/{ADA}/resume",
            f"/leads/{ADA}/stage",
            f"/leads/{ADA}/decision",
            f"/leads/{ADA}/contact",
            f"/leads/{ADA}/note",
            f"/leads/{ADA}/snooze",
        ]
        paused = enrollment_of(ctx, ADA)
        assert (paused.state, paused.paused_at, paused.next_due_at) == ("paused", NOW, None)
        assert paused.paused_until is not None
        assert paused.paused_until.isoformat() == "2026-12-14T05:00:00+00:00"  # midnight in New York
        assert post_form(http, f"/leads/{ADA}/resume", {}).status_code == 303
    resumed = enrollment_of(ctx, ADA)
    assert (resumed.state, resumed.paused_until) == ("active", None)
    assert resumed.next_due_at is not None


@pytest.mark.one_database
def test_a_pause_must_end_on_a_day_to_come(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        past = post_form(http, f"/leads/{ADA}/pause", {"until": "2026-11-01"})
        garbled = post_form(http, f"/leads/{ADA}/pause", {"until": "next week"})
        not_paused = post_form(http, f"/leads/{ADA}/resume", {})
    assert (past.status_code, "The end of the pause must be a day in the future." in past.text) == (422, True)
    assert (garbled.status_code, "must be a date such as 2026-12-01" in garbled.text) == (422, True)
    assert (not_paused.status_code, "only a paused enrollment can be resumed" in not_paused.text) == (422, True)
    assert enrollment_of(ctx, ADA).state == "active"


def test_a_rep_records_a_decision_on_their_lead_and_its_open_tasks_are_cancelled(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        no_reason = post_form(http, f"/leads/{BOB}/decision", {"decision": "not_interested"})
        assert (no_reason.status_code, "Give the reason" in no_reason.text) == (422, True)
        response = post_form(http, f"/leads/{BOB}/decision", {"decision": "not_interested", "reason": "No budget"})
        assert response.status_code == 303
        assert "Recorded the decision on bob@builders.example: Not interested." in http.get(f"/leads/{BOB}").text
    with ctx.sessions() as s:
        decision = s.scalars(select(Decision).join(Lead, Lead.id == Decision.lead_id).where(Lead.email == BOB)).one()
        assert (decision.outcome, decision.reason, decision.decided_by, decision.decided_at) == (
            "not_interested", "No budget", RITA, NOW,
        )  # fmt: skip
        task = s.get(Task, seeded.bob_research)
        assert task is not None
        assert task.status == "cancelled"
    assert enrollment_of(ctx, BOB).state == "decided"


def test_a_rep_reaching_another_reps_lead_gets_404_and_changes_nothing(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        responses = [
            http.get(f"/leads/{DEE}"),
            post_form(http, f"/leads/{DEE}/pause", {}),
            post_form(http, f"/leads/{DEE}/resume", {}),
            post_form(http, f"/leads/{DEE}/decision", {"decision": "bad_fit", "reason": "not mine"}),
            http.get("/leads/nobody@nowhere.example"),
            http.get("/leads/not-an-address"),
        ]
    for response in responses:
        assert (response.status_code, response.text) == (404, "Not Found")
    assert enrollment_of(ctx, DEE).state == "responded"
    with ctx.sessions() as s:
        assert s.scalars(select(Decision.reason)).all() == ["Demo on Friday"]  # Eve's only


def test_a_rep_lists_only_their_own_leads_and_a_manager_every_leads_by_owner(site: str) -> None:
    with signed_in(site, RITA) as http:
        mine = http.get("/leads").text
    assert all(email in mine for email in (ADA, BOB, CY, NIA))
    assert DEE not in mine
    assert EVE not in mine
    with signed_in(site, MAX) as http:
        everyone = http.get("/leads").text
        sams = http.get("/leads", params={"owner": SAM}).text
        decided = http.get("/leads", params={"status": "decided"}).text
    assert all(email in everyone for email in (ADA, DEE, EVE, NIA))
    assert DEE in sams
    assert ADA not in sams
    assert EVE in decided
    assert ADA not in decided


@pytest.mark.one_database
def test_a_marketer_sees_any_lead_read_only_and_no_tasks(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, MIA) as http:
        page = http.get(f"/leads/{DEE}")
        assert page.status_code == 200
        assert post_forms(page.text) == []
        assert '<a href="/tasks/' not in page.text
        for response in (
            post_form(http, f"/leads/{DEE}/pause", {}),
            post_form(http, f"/leads/{DEE}/decision", {"decision": "bad_fit", "reason": "x"}),
            http.get("/tasks"),
            http.get(f"/tasks/{seeded.dee_call}"),
            post_form(http, f"/tasks/{seeded.dee_call}", {"outcome": "connected"}),
        ):
            assert (response.status_code, response.text) == (403, "Forbidden")
    assert enrollment_of(ctx, DEE).state == "responded"


@pytest.mark.one_database
def test_what_a_lead_says_about_itself_is_escaped_and_a_non_web_link_is_not_a_link(site: str, ctx: Context) -> None:
    with ctx.sessions() as s, s.begin():
        lead = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        lead.company = '<script>alert("company")</script>'
        lead.linkedin_url = "javascript:alert(1)"
        lead.custom = {"topic": "<img src=x onerror=alert(1)>"}
    with signed_in(site, RITA) as http:
        pages = [http.get(f"/leads/{ADA}").text, http.get("/tasks").text, http.get("/leads").text]
    for text in pages:
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert(&#34;company&#34;)&lt;/script&gt;" in text
    assert 'href="javascript:' not in pages[0]
    assert "<dd>javascript:alert(1)</dd>" in pages[0]
    assert "<img src=x" not in pages[0]


@pytest.mark.one_database
def test_the_access_log_never_shows_a_leads_address(site: str, caplog: pytest.LogCaptureFixture) -> None:
    with signed_in(site, RITA) as http, caplog.at_level(logging.INFO, logger="cadence.web.access"):
        http.get(f"/leads/{ADA}")
        post_form(http, f"/leads/{ADA}/pause", {})
        deadline = time.monotonic() + 5  # the server logs a request just after answering it
        while time.monotonic() < deadline and not any("POST /leads/" in r.getMessage() for r in caplog.records):
            time.sleep(0.01)
    lines = [r.getMessage() for r in caplog.records if r.name == "cadence.web.access"]
    assert any("GET /leads/… 200" in line for line in lines)
    assert any("POST /leads/… 303" in line for line in lines)
    assert not any("analytical" in line for line in lines)


@pytest.mark.one_database
def test_a_person_not_enrolled_shows_why_on_their_page(site: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{NIA}")
    assert page.status_code == 200
    assert "Not enrolled in a cadence." in page.text
    assert '<ul class="small" aria-label="Why not enrolled">' in page.text
    assert "<li>one interaction: a name (2 make a lead)</li>" in page.text
