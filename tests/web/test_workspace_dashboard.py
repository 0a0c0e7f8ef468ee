"""The managers' dashboard: its numbers (the services) and its page (SVG charts, no external assets)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from cadence.adapters.files import load_cadences
from cadence.adapters.models import Task
from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.dashboard import cadence_funnels, decisions_by_outcome, leads_by_status_and_class, tasks_by_rep
from cadence.services.enrollments import decide, get_lead
from cadence.web.charts import class_color
from tests.conftest import TEMPLATES
from tests.web.workspace import BOB, MAX, MIA, NOW, RITA, Seeded, signed_in


def test_leads_are_counted_by_status_and_class(ctx: Context, seeded: Seeded) -> None:
    with ctx.sessions() as s:
        counts = leads_by_status_and_class(s)
    assert counts.cells == {
        ("active", "A"): 2,
        ("active", "B"): 1,
        ("decided", "A"): 1,
        ("name", "-"): 1,
        ("responded", "A"): 1,
    }
    assert (counts.statuses, counts.classes, counts.total) == (
        ["active", "decided", "name", "responded"],
        ["A", "B", "-"],
        6,
    )


def test_each_cadence_step_counts_the_leads_it_reached_the_replies_and_the_meetings_after_it(
    ctx: Context, seeded: Seeded
) -> None:
    with ctx.sessions() as s:
        funnels = {f.cadence: f for f in cadence_funnels(s, load_cadences(TEMPLATES))}
    assert set(funnels) == {"default", "development", "inbound", "nurture", "re-engage", "referral"}
    default = funnels["default"]
    rows = [(step.index, step.channel, step.reached, step.replied, step.meetings) for step in default.steps[:7]]
    assert rows == [
        (-1, "enrolled", 5, 0, 0),
        (0, "research", 5, 0, 0),
        (1, "email", 4, 2, 1),  # Dee and Eve replied to the first email; Eve booked a meeting
        (2, "email", 2, 0, 0),
        (3, "linkedin", 1, 0, 0),
        (4, "call", 1, 0, 0),
        (5, "email", 0, 0, 0),
    ]
    assert (default.enrolled, default.replied, default.meetings, len(default.steps)) == (5, 2, 1, 11)
    assert funnels["inbound"].enrolled == 0


def test_decisions_are_counted_by_outcome_with_their_reasons_each_leads_latest_only(
    ctx: Context, seeded: Seeded
) -> None:
    with ctx.sessions() as s, s.begin():
        bob = get_lead(s, BOB)
        decide(s, bob, Outcome.NO_RESPONSE, now=NOW, reason="every step ran")
        decide(s, bob, Outcome.NOT_INTERESTED, now=NOW + timedelta(hours=1), reason="No budget")
    with ctx.sessions() as s:
        counts = decisions_by_outcome(s)
    assert [(c.outcome, c.count, c.reasons, c.qualification_skipped) for c in counts] == [
        ("meeting_booked", 1, [("Demo on Friday", 1)], 0),
        ("not_interested", 1, [("No budget", 1)], 0),
    ]


def test_each_reps_open_overdue_and_on_time_tasks_are_counted(ctx: Context, seeded: Seeded) -> None:
    with ctx.sessions() as s, s.begin():  # a task Rita did two days after it was due
        late = s.get(Task, seeded.cy_linkedin)
        assert late is not None
        late.status, late.outcome, late.completed_at = "done", "sent", late.due_at + timedelta(days=2)
        late.due_at = NOW - timedelta(days=5)
        late.completed_at = NOW - timedelta(days=3)
    with ctx.sessions() as s:
        reps = tasks_by_rep(s, now=NOW, default_timezone="UTC")
    assert [(r.email, r.open, r.overdue, r.done, r.on_time) for r in reps] == [
        (RITA, 2, 1, 2, 1),  # the Day-7 LinkedIn task was done on its day; Cy's late
        ("sam@cadence.example", 2, 1, 0, 0),  # Dee's call, and answering Dee's reply (overdue since Day 3)
    ]
    assert reps[0].on_time_rate == 0.5
    assert reps[1].on_time_rate is None


@pytest.mark.one_database
def test_the_dashboard_draws_its_charts_as_inline_svg_and_loads_nothing_else(site: str) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/dashboard")
    assert page.status_code == 200
    text = page.text
    titles = re.findall(r'<title id="bars-[0-9a-f]+-t">([^<]+)</title>', text)
    assert titles == [
        "Leads by status and class",
        "Decisions by outcome",
        "Open tasks by rep",
        "Funnel of the cadence default",
    ]
    assert re.search(r"<(script|img|link|iframe|object|embed)\b", text) is None
    assert re.search(r'(src|href)="https?:', text) is None
    assert "No lead has been enrolled in this cadence yet." in text  # inbound and nurture
    assert (
        '<td>Rita Alvarez<br><span class="muted small">rita@cadence.example</span></td><td class="num">3</td>' in text
    )
    assert "Demo on Friday (1)" in text
    all_row = re.search(r'<tr class="total"><th scope="row">All</th>(.*?)</tr>', text)
    assert all_row is not None
    assert re.findall(r'<td class="num">(?:<strong>)?(\d+)', all_row.group(1)) == ["4", "1", "1", "6"]  # A, B, -, all
    assert '<th class="num">Sent</th><th class="num">Replied</th><th class="num">Meetings</th>' in text
    assert re.search(r'<h2 id="stuck-heading">Leads with no decision and no next step \(\d+\)</h2>', text)


@pytest.mark.one_database
def test_only_managers_open_the_dashboard(site: str) -> None:
    for email in (RITA, MIA):
        with signed_in(site, email) as http:
            response = http.get("/dashboard")
            assert (response.status_code, response.text) == (403, "Forbidden")


def test_each_class_has_its_own_fixed_colour_on_the_dashboard(site: str, seeded: Seeded) -> None:
    with signed_in(site, MAX) as http:
        text = http.get("/dashboard").text
    chart = text.split("Leads by status and class</title>")[1].split("</svg>")[0]
    legend = r'<rect [^>]*fill="(#[0-9A-Fa-f]{6})"/><text [^>]*>([^<]+)</text>'
    swatches = {name: colour for colour, name in re.findall(legend, chart)}
    assert swatches == {"class A": class_color("A"), "class B": class_color("B"), "no class": class_color(None)}
