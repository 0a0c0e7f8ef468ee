"""Every page, for every role, in headless Chromium: a screenshot of each, and how it looks checked.

Screenshots go to ``test-artifacts/screenshots/pages-ROLE-PAGE.png``. On each page: nothing to
scroll sideways, no word in a table broken across two lines, no error in the browser's console.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from cadence.core.tokens import sign_unsubscribe
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import ADA, DEE, EVE, MAX, MIA, RITA

# Runs of letters and digits that the browser laid out on more than one line: a word cut in two.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll("td, th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""

# Circles of the charts that reach outside their <svg>.
CLIPPED_CIRCLES = """() => {
  const clipped = [];
  for (const svg of document.querySelectorAll("svg.chart")) {
    const frame = svg.getBoundingClientRect();
    for (const circle of svg.querySelectorAll("circle")) {
      const box = circle.getBoundingClientRect();
      if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5 || box.top < frame.top - 0.5
          || box.bottom > frame.bottom + 0.5) clipped.push(circle.parentNode.textContent);
    }
  }
  return clipped;
}"""

PAGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "rep": (
        RITA,
        [
            ("tasks", "/tasks"),
            ("call-task", "/tasks/{ada_call}"),
            ("linkedin-task", "/tasks/{cy_linkedin}"),
            ("leads", "/leads"),
            ("lead", f"/leads/{ADA}"),
        ],
    ),
    "marketer": (
        MIA,
        [
            ("cadences", "/cadences"),
            ("templates", "/templates"),
            ("template-preview", f"/templates/email/introduction?lead={DEE}"),
            ("task-template-preview", f"/templates/calls/discovery?lead={DEE}"),
            ("leads", "/leads"),
            ("lead", f"/leads/{EVE}"),
        ],
    ),
    "manager": (
        MAX,
        [
            ("dashboard", "/dashboard"),
            ("tasks", "/tasks"),
            ("task", "/tasks/{dee_call}"),
            ("leads", "/leads"),
            ("lead", f"/leads/{EVE}"),
            ("cadences", "/cadences"),
            ("templates", "/templates"),
            ("webhooks", "/webhooks"),
            ("mailboxes", "/mailboxes"),
            ("reps", "/reps"),
            ("not-enrolled", "/not-enrolled"),
            ("audit", "/audit"),
            ("erase", f"/erase/{EVE}"),
        ],
    ),
}


def looks_right(page: Any) -> None:
    """Nothing to scroll sideways and no word cut in two, at full width and in a narrow window."""
    assert fits(page)
    assert page.evaluate(BROKEN_WORDS) == []
    page.set_viewport_size({"width": 760, "height": 900})
    assert fits(page)
    assert page.evaluate(BROKEN_WORDS) == []
    assert page.evaluate(CLIPPED_CIRCLES) == []
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_of_every_role_renders_fits_and_is_photographed(page: Any, workspace: Workspace, role: str) -> None:
    email, pages = PAGES[role]
    ids = {"ada_call": workspace.seeded.ada_call, "cy_linkedin": workspace.seeded.cy_linkedin}
    ids["dee_call"] = workspace.seeded.dee_call
    log_in(page, email, pages[0][1])
    for name, path in pages:
        response = page.goto(path.format(**ids))
        assert response is not None, path
        assert response.status == 200, path
        assert page.get_by_role("heading", level=1).count() == 1, path
        looks_right(page)
        screenshot(page, f"pages-{role}-{name}")


@pytest.mark.parametrize("role", [*PAGES, "anonymous"])
def test_a_missing_page_is_the_workspaces_own_404_page(browser: Any, workspace: Workspace, role: str) -> None:
    # A page fixture of its own: the browser rightly reports the 404 in its console.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    try:
        page = context.new_page()
        if role != "anonymous":
            email, pages = PAGES[role]
            log_in(page, email, pages[0][1])
        response = page.goto("/no/such/page")
        assert response is not None
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "There is nothing here"
        assert fits(page)
        screenshot(page, f"pages-{role}-not-found")
        page.get_by_role("link", name="Back to the workspace").click()
        page.wait_for_url(f"**{PAGES[role][1][0][1] if role != 'anonymous' else '/login'}")
    finally:
        context.close()


def test_the_pages_anyone_can_open_are_photographed_too(page: Any, workspace: Workspace) -> None:
    page.goto("/login")
    assert fits(page)
    screenshot(page, "pages-anonymous-login")
    token = sign_unsubscribe(ADA, workspace.ctx.settings.secret_key.get_secret_value())
    response = page.goto(f"/unsubscribe/{token}")
    assert response is not None
    assert response.status == 200
    assert fits(page)
    screenshot(page, "pages-anonymous-unsubscribe")


def test_each_lead_state_has_a_chip_of_its_own_colour(page: Any, workspace: Workspace) -> None:
    log_in(page, MAX, "/leads")
    chips = page.locator("td .chip[class*='state-']")
    colours: dict[str, str] = {}
    for i in range(chips.count()):
        chip = chips.nth(i)
        colours[chip.inner_text()] = chip.evaluate("c => getComputedStyle(c).backgroundColor")
    assert {"active", "responded", "decided", "name"} <= set(colours)
    assert len(set(colours.values())) == len(colours), colours


def test_a_class_keeps_its_colour_on_every_page(page: Any, workspace: Workspace) -> None:
    log_in(page, MAX, "/leads")
    swatch = page.locator("td .lead-class", has_text=re.compile(r"^A$")).first.locator(".swatch")
    on_list = swatch.evaluate("s => getComputedStyle(s).backgroundColor")
    page.goto(f"/leads/{ADA}")
    on_lead = page.locator("dd .lead-class .swatch").evaluate("s => getComputedStyle(s).backgroundColor")
    assert on_list == on_lead == "rgb(0, 158, 115)"  # the chart's colour of class A
