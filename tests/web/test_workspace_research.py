"""The research task's form keeps its findings on the lead, for the lead's emails."""

from __future__ import annotations

from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from tests.web.workspace import BOB, RITA, Seeded, post_form, signed_in


def test_the_research_task_keeps_why_now_and_the_topic_on_the_lead(ctx: Context, site: str, seeded: Seeded) -> None:
    task = f"/tasks/{seeded.bob_research}"
    with signed_in(site, RITA) as http:
        page = http.get(task).text
        assert 'name="why_now"' in page
        assert 'name="topic"' in page
        found = {"why_now": " Builders Ltd just won the city contract ", "topic": "site safety"}
        done = post_form(http, task, {"outcome": "done", "note": "Looked at the site", **found})
        assert done.status_code == 303, done.text
        shown = http.get(f"/leads/{BOB}").text
    assert "<dt>Why them, why now</dt><dd>Builders Ltd just won the city contract</dd>" in shown
    with ctx.sessions() as s:
        lead = get_lead(s, BOB)
        assert (lead.why_now, lead.topic) == ("Builders Ltd just won the city contract", "site safety")


def test_a_finding_on_two_lines_is_refused_and_the_task_stays_open(ctx: Context, site: str, seeded: Seeded) -> None:
    task = f"/tasks/{seeded.bob_research}"
    with signed_in(site, RITA) as http:
        refused = post_form(http, task, {"outcome": "done", "why_now": "one\r\nBcc: x@evil.example", "topic": ""})
        other = post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": "no_answer", "topic": "budgets"})
    assert refused.status_code == 422
    assert "must be one line" in refused.text
    assert other.status_code == 422
    assert "Only a research task has findings" in other.text
    with ctx.sessions() as s:
        assert get_lead(s, BOB).why_now is None
