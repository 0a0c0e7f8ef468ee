"""A rep captures a qualifying answer on a call task, and the lead's page shows it: headless Chromium."""

from __future__ import annotations

from typing import Any

from cadence.core.questions import DEFAULT_QUESTIONS
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import ADA, RITA


def test_a_rep_records_one_answer_with_a_connected_call_and_sees_it_known(page: Any, workspace: Workspace) -> None:
    log_in(page, RITA, f"/tasks/{workspace.seeded.ada_call}")
    outcome = page.get_by_role("form", name="Outcome of Call Ada Lovelace")
    answer = outcome.get_by_label(DEFAULT_QUESTIONS[0].text)
    assert answer.is_visible()
    answer.fill("Yes, before the end of the quarter")
    screenshot(page, "rep-call-answer")
    outcome.get_by_role("button", name="Connected").click()
    page.wait_for_url("**/tasks")
    page.goto(f"/leads/{ADA}")
    known = page.locator("dl.answers")
    assert known.locator("dt").all_inner_texts() == [DEFAULT_QUESTIONS[0].text]
    assert known.locator("dd").first.inner_text().startswith("Yes, before the end of the quarter (rita@")
    assert page.locator("ul.missing li").all_inner_texts() == [q.text for q in DEFAULT_QUESTIONS[1:]]
    assert fits(page)
    screenshot(page, "lead-answers-known")
