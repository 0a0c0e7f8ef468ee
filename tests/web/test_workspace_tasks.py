"""A rep's tasks: overdue first, each with its lead's context; one-click outcomes, decisions; whose tasks are whose."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from cadence.adapters.models import Decision, Enrollment, Response, Task
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from tests.web.workspace import ADA, ANSWERS, BOB, DEE, MAX, NOW, RITA, SAM, Seeded, csrf_of, post_form, signed_in


def task_row(ctx: Context, task_id: int) -> tuple[str, str | None, str | None]:
    with ctx.sessions() as s:
        task = s.get(Task, task_id)
        assert task is not None
        return task.status, task.outcome, task.note


def enrollment_state(ctx: Context, email: str) -> str:
    with ctx.sessions() as s:
        lead = get_lead(s, email)
        return s.scalars(select(Enrollment.state).where(Enrollment.lead_id == lead.id)).one()


def articles(html: str) -> list[str]:
    """The titles of the task cards, in page order."""
    return re.findall(r'class="title" id="task-\d+-title" href="/tasks/\d+">([^<]+)</a>', html)


def flash(page: str) -> str:
    found = re.search(r'<p class="flash" role="status">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def test_a_rep_sees_their_open_tasks_overdue_first_then_today_then_upcoming(site: str) -> None:
    with signed_in(site, RITA) as http:
        page = http.get("/tasks")
    assert page.status_code == 200
    text = page.text
    assert "<h1>My tasks</h1>" in text
    assert articles(text) == ["Call Ada Lovelace", "Research Bob Builder", "Connect with Cy Clops on LinkedIn"]
    overdue, today, upcoming = (text.index(f'id="heading-{key}"') for key in ("overdue", "today", "upcoming"))
    assert overdue < text.index("Call Ada Lovelace") < today < text.index("Research Bob Builder") < upcoming
    assert "due Tue 1 Dec 2026, 10:00" in text  # in Rita's time zone (New York)
    assert "Call Dee Delta back" not in text  # Sam's
    assert "Connect with Ada Lovelace" not in text  # done already


@pytest.mark.one_database
def test_each_task_shows_its_leads_class_source_interactions_and_the_emails_sent(site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        listing = http.get("/tasks").text
        detail = http.get(f"/tasks/{seeded.ada_call}").text
    card = listing[listing.index(f'id="task-{seeded.ada_call}"') : listing.index(f'id="task-{seeded.bob_research}"')]
    for fact in ("class A", "source webinar", "3 interactions", "2 emails sent", "Re: Ada, a quick question"):
        assert fact in card, fact
    for button in ("Connected", "Voicemail", "No answer", "Wrong number", "Skip"):
        assert f">{button}</button>" in card
    assert "Discovery call: Ada Lovelace" in detail  # the call script the advance flow rendered
    assert "Are they committed to finding a solution?" in detail  # the qualifying questions, in the decision form
    assert detail.count("a quick question from Cadence Demo Company</td>") == 2  # emails sent
    assert '<h2 id="timeline-heading">Timeline of every touch</h2>' in detail
    for channel in ("research", "email", "linkedin", "call"):
        assert f'<span class="chip {channel}">{channel}</span></td>' in detail


def test_a_call_outcome_takes_one_click_and_the_next_task_comes_first(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        token = csrf_of(http.get("/tasks").text)
        response = http.post(
            f"/tasks/{seeded.ada_call}", data={"csrf_token": token, "return_to": "/tasks", "outcome": "no_answer"}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/tasks")
        after = http.get("/tasks").text
        assert flash(after) == "Done: Call Ada Lovelace (no answer). Next: Research Bob Builder."
        assert articles(after)[0] == "Research Bob Builder"
        assert "Call Ada Lovelace" not in articles(after)
        assert flash(http.get("/tasks").text) == ""  # shown once
    assert task_row(ctx, seeded.ada_call) == ("done", "no_answer", None)
    assert enrollment_state(ctx, ADA) == "active"  # no answer is not a response: the cadence goes on
    with ctx.sessions() as s:
        assert s.scalars(select(Task.completed_at).where(Task.id == seeded.ada_call)).one() == NOW


def test_a_connected_call_stops_the_leads_automated_steps(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        response = post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": "connected", "note": "Call back in May"})
        assert response.status_code == 303
        assert "record the decision on the lead's page" in flash(http.get("/tasks").text)
    assert task_row(ctx, seeded.ada_call) == ("done", "connected", "Call back in May")
    assert enrollment_state(ctx, ADA) == "responded"
    with ctx.sessions() as s:
        assert s.execute(select(Response.kind, Response.note).where(Response.channel == "call")).all() == [
            ("call", "Call back in May")
        ]


def test_a_connected_call_records_a_meeting_with_the_qualifying_answers(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    form = {"outcome": "connected", "decision": "meeting_booked", "reason": "Demo on Tuesday"}
    form |= {f"answer_{key}": value for key, value in ANSWERS.items()}
    with signed_in(site, RITA) as http:
        response = post_form(http, f"/tasks/{seeded.ada_call}", form)
        assert response.status_code == 303
        assert "Decision recorded: Meeting booked." in flash(http.get("/tasks").text)
    assert enrollment_state(ctx, ADA) == "decided"
    with ctx.sessions() as s:
        lead = get_lead(s, ADA)
        decision = s.scalars(select(Decision).where(Decision.lead_id == lead.id)).one()
        assert (decision.outcome, decision.reason, decision.decided_by) == ("meeting_booked", "Demo on Tuesday", RITA)
        assert decision.answers == ANSWERS
        assert decision.qualification_skipped is False
        assert lead.status == "decided"


def test_a_meeting_needs_every_qualifying_answer_or_the_recorded_skip(site: str, ctx: Context, seeded: Seeded) -> None:
    base = {"outcome": "connected", "decision": "meeting_booked", "reason": "Demo on Tuesday"}
    with signed_in(site, RITA) as http:
        none = post_form(http, f"/tasks/{seeded.ada_call}", base)
        assert none.status_code == 422
        assert "Meeting booked needs the answers to the qualifying questions" in none.text
        assert ">Demo on Tuesday</textarea>" in none.text  # what was typed is kept
        partial = post_form(http, f"/tasks/{seeded.ada_call}", base | {"answer_committed": "Yes"})
        assert partial.status_code == 422
        assert "missing: What is the requirement?" in partial.text
        assert 'value="Yes"' in partial.text
        assert task_row(ctx, seeded.ada_call)[0] == "open"  # nothing was recorded
        skipped = post_form(http, f"/tasks/{seeded.ada_call}", base | {"skip_qualification": "yes"})
        assert skipped.status_code == 303
    with ctx.sessions() as s:
        decision = s.scalars(select(Decision).where(Decision.reason == "Demo on Tuesday")).one()
        assert (decision.qualification_skipped, decision.answers) == (True, None)


def test_research_is_done_with_notes(site: str, ctx: Context, seeded: Seeded) -> None:
    notes = "Three sales teams, pipeline in spreadsheets; the VP posted about CRM hygiene."
    with signed_in(site, RITA) as http:
        assert 'placeholder="Research notes"' in http.get("/tasks").text
        response = post_form(http, f"/tasks/{seeded.bob_research}", {"outcome": "done", "note": notes})
        assert response.status_code == 303
    assert task_row(ctx, seeded.bob_research) == ("done", "done", notes)
    assert enrollment_state(ctx, BOB) == "active"


def test_a_task_cannot_be_done_twice_nor_with_another_channels_outcome(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        wrong = post_form(http, f"/tasks/{seeded.bob_research}", {"outcome": "connected"})
        assert wrong.status_code == 422
        assert "a research task&#39;s outcome is one of done, skipped" in wrong.text
        assert post_form(http, f"/tasks/{seeded.bob_research}", {"outcome": "done"}).status_code == 303
        twice = post_form(http, f"/tasks/{seeded.bob_research}", {"outcome": "skipped"})
        assert twice.status_code == 422
        assert "is done already" in twice.text
        missing = post_form(http, f"/tasks/{seeded.ada_call}", {})
        assert (missing.status_code, "Choose the task&#39;s outcome." in missing.text) == (422, True)
    assert task_row(ctx, seeded.bob_research) == ("done", "done", None)


def test_a_rep_reaching_another_reps_task_gets_404_and_changes_nothing(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        shown = http.get(f"/tasks/{seeded.dee_call}")
        done = post_form(http, f"/tasks/{seeded.dee_call}", {"outcome": "connected"})
        missing = http.get("/tasks/999999")
        missing_post = post_form(http, "/tasks/999999", {"outcome": "connected"})
    for response in (shown, done, missing, missing_post):
        assert (response.status_code, response.text) == (404, "Not Found")
    assert task_row(ctx, seeded.dee_call) == ("open", None, None)
    assert enrollment_state(ctx, DEE) == "responded"


def test_a_manager_sees_every_reps_tasks_and_may_complete_them(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, MAX) as http:
        everyone = http.get("/tasks").text
        assert "<h1>Tasks</h1>" in everyone
        assert {"Call Ada Lovelace", "Call Dee Delta back"} <= set(articles(everyone))
        assert f"owner {SAM}" in everyone
        # Dee's reply gave her owner a task to answer it, as every response does.
        sams = articles(http.get("/tasks", params={"owner": SAM}).text)
        assert sams == ["Answer Dee Delta&#39;s reply", "Call Dee Delta back"]
        form = {"outcome": "connected", "decision": "not_interested", "reason": "Chose a competitor"}
        assert post_form(http, f"/tasks/{seeded.dee_call}", form).status_code == 303
    assert task_row(ctx, seeded.dee_call)[:2] == ("done", "connected")
    with ctx.sessions() as s:
        decided_by = s.scalars(select(Decision.decided_by).where(Decision.reason == "Chose a competitor")).one()
        assert decided_by == MAX
        assert s.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) == 3


def card(listing: str, task_id: int) -> str:
    """The card of one task on the tasks page."""
    start = listing.index(f'id="task-{task_id}"')
    end = listing.find("</article>", start)
    return listing[start:end]


def buttons(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="outcome" value="[a-z_]+"[^>]*>([^<]+)</button>', html)


def _postcard_for(ctx: Context, email: str) -> int:
    """An open postcard task on the lead's enrollment, due now (as the advance flow creates one)."""
    with ctx.sessions() as s, s.begin():
        lead = get_lead(s, email)
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
        task = Task(lead_id=lead.id, owner_id=lead.owner_id, enrollment_id=enrollment.id, channel="postcard",
                    title=f"Postcard to {lead.first_name}", instructions="Thank you card", due_at=NOW, priority=1,
                    status="open", created_at=NOW)  # fmt: skip
        s.add(task)
        s.flush()
        return task.id


def test_linkedin_and_postcard_tasks_have_their_own_one_click_outcomes(site: str, ctx: Context, seeded: Seeded) -> None:
    postcard = _postcard_for(ctx, BOB)
    with signed_in(site, RITA) as http:
        listing = http.get("/tasks").text
        assert buttons(card(listing, seeded.cy_linkedin)) == ["Sent", "Accepted", "Skip"]
        assert buttons(card(listing, postcard)) == ["Sent", "Skip"]
        accepted = post_form(http, f"/tasks/{seeded.cy_linkedin}", {"outcome": "accepted", "return_to": "/tasks"})
        assert accepted.status_code == 303
        assert flash(http.get("/tasks").text).startswith("Done: Connect with Cy Clops on LinkedIn (accepted). Next: ")
        sent = post_form(http, f"/tasks/{postcard}", {"outcome": "sent", "note": "Mailed with the Friday batch"})
        assert sent.status_code == 303
    assert task_row(ctx, seeded.cy_linkedin) == ("done", "accepted", None)
    assert task_row(ctx, postcard) == ("done", "sent", "Mailed with the Friday batch")
    assert enrollment_state(ctx, "cy@cyclops.example") == "active"  # neither is a response: the cadence goes on
    assert enrollment_state(ctx, BOB) == "active"


def test_every_call_outcome_is_recorded_as_clicked(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        for outcome in ("voicemail", "wrong_number"):
            with ctx.sessions() as s, s.begin():  # the same call, open again
                task = s.get(Task, seeded.ada_call)
                assert task is not None
                task.status, task.outcome, task.completed_at = "open", None, None
            assert post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": outcome}).status_code == 303
            assert task_row(ctx, seeded.ada_call) == ("done", outcome, None)
            assert enrollment_state(ctx, ADA) == "active"
