"""End to end in headless Chromium: a rep works through tasks, a marketer previews, a manager reads the dashboard."""

from __future__ import annotations

import re
from typing import Any

from cadence.adapters.models import Task
from tests.browser.conftest import Workspace, screenshot
from tests.web.workspace import DEE, MAX, MIA, PASSWORD, RITA


def log_in(page: Any, email: str, start: str) -> None:
    """Open ``start``, which sends the browser to the login page, and log in there."""
    page.goto(start)
    assert page.url.endswith(f"/login?next={start.replace('/', '%2F')}")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{start}")


def fits(page: Any) -> bool:
    """True when the page is no wider than the window: nothing to scroll sideways."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_rep_logs_in_completes_a_call_task_and_sees_the_next_one(page: Any, workspace: Workspace) -> None:
    log_in(page, RITA, "/tasks")
    assert page.get_by_role("heading", level=1).inner_text() == "My tasks"
    cards = page.locator("article.task")
    first = cards.first
    assert first.locator("a.title").inner_text() == "Call Ada Lovelace"
    assert "class A · source webinar · 3 interactions · 2 emails sent" in first.inner_text()
    assert fits(page)
    screenshot(page, "rep-tasks")

    first.get_by_role("textbox").fill("Rang twice, no voicemail box")
    first.get_by_role("button", name="No answer").click()
    page.wait_for_load_state()

    flash = page.get_by_role("status")
    assert flash.inner_text() == "Done: Call Ada Lovelace (no answer). Next: Research Bob Builder."
    assert cards.first.locator("a.title").inner_text() == "Research Bob Builder"
    assert page.get_by_text("Call Ada Lovelace", exact=True).count() == 0
    screenshot(page, "rep-next-task")
    with workspace.ctx.sessions() as s:
        task = s.get(Task, workspace.seeded.ada_call)
        assert task is not None
        assert (task.status, task.outcome, task.note) == ("done", "no_answer", "Rang twice, no voicemail box")


def test_a_marketer_previews_a_template_for_a_lead(page: Any, workspace: Workspace) -> None:
    log_in(page, MIA, "/cadences")
    assert page.locator("svg.chart").count() == 6  # one timeline per cadence (6 ship)
    screenshot(page, "marketer-cadences")

    page.get_by_role("link", name="Templates", exact=True).click()
    assert "pass their checks" in page.get_by_role("status").inner_text()
    page.get_by_role("link", name="email/introduction", exact=True).click()
    page.get_by_label("For the lead").fill(DEE)
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r"/templates/email/introduction\?lead=dee%40delta\.example$"))

    frame = page.frame_locator("iframe.preview")
    assert "Hi Dee," in frame.locator("body").inner_text()
    assert page.locator("iframe.preview").get_attribute("sandbox") == ""
    assert "Dee Delta <dee@delta.example>" in page.locator("table.headers").inner_text()
    assert fits(page)  # the long unsubscribe link among the variables wraps
    screenshot(page, "marketer-preview")


def test_a_manager_opens_the_dashboard(page: Any, workspace: Workspace) -> None:
    log_in(page, MAX, "/dashboard")
    assert page.get_by_role("heading", level=1).inner_text() == "Dashboard"
    charts = page.locator("svg.chart")
    assert charts.count() >= 4
    for name in ("Leads by status and class", "Decisions by outcome", "Open tasks by rep"):
        assert page.get_by_role("img", name=name).is_visible()
    box = charts.first.bounding_box()
    assert box is not None
    assert box["width"] > 200  # drawn, not collapsed
    assert "Rita Alvarez" in page.locator("#reps-heading + .grid table").inner_text()
    assert fits(page)
    screenshot(page, "manager-dashboard")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login?out=1")
    assert page.get_by_role("status").inner_text() == "You are logged out."
    page.goto("/dashboard")
    assert "/login?next=" in page.url
