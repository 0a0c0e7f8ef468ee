"""A rep adds a colleague the lead named on a call, from the call task, then names him as who decides:
headless Chromium."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Lead
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import ADA, RITA

CHARLES = "charles@analytical.example"


def test_a_rep_adds_a_colleague_from_a_call_task_and_names_him_as_who_decides(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.ada_call}"
    log_in(page, RITA, start)
    form = page.get_by_role("form", name="Add a colleague")
    assert not form.is_visible()  # folded
    page.get_by_text("Add a colleague they named").click()
    form.get_by_label("Their name").fill("Charles Babbage")
    form.get_by_label("Their email").fill(CHARLES)
    form.get_by_label("Their phone").fill("+1 212 555 0199")
    screenshot(page, "rep-call-task-colleague")
    form.get_by_role("button", name="Add the colleague").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith(f"Added {CHARLES} to ")
    outcome = page.get_by_role("form", name="Outcome of Call Ada Lovelace")
    decides = outcome.get_by_label("Who decides that a solution has been found?")
    assert decides.get_attribute("list") == "outcome-contacts"
    options = page.locator("#outcome-contacts option")
    assert f"@lead:{CHARLES}" in [options.nth(i).get_attribute("value") for i in range(options.count())]
    decides.fill(f"@lead:{CHARLES}")
    outcome.get_by_role("button", name="Connected").click()
    page.wait_for_url("**/tasks")
    page.goto(f"/leads/{ADA}")
    known = page.locator("dl.answers dd").first.inner_text()
    assert known.startswith(f"Charles Babbage ({CHARLES})")
    page.locator("a[href^='/accounts/']").first.click()
    assert page.locator("dt:has-text('Decision maker') + dd").inner_text() == "known"
    assert fits(page)
    screenshot(page, "account-decision-maker-named")
    with workspace.ctx.sessions() as s:
        added = s.scalars(select(Lead).where(Lead.email == CHARLES)).one()
        assert (added.phone, added.buying_role) == ("+12125550199", "decision_maker")  # E.164
