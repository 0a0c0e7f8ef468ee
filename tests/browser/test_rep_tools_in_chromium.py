"""A rep's tools on the task and lead pages, driven end to end in headless Chromium."""

from __future__ import annotations

from typing import Any

from cadence.services.enrollments import get_lead
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import ADA, RITA


def test_a_rep_dials_from_a_call_task_and_unfolds_the_decision_form(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.ada_call}"
    log_in(page, RITA, start)
    dial = page.locator("p.dial").get_by_role("link", name="+1 212 555 0100")
    assert dial.get_attribute("href") == "tel:+12125550100"
    assert page.get_by_role("heading", name="Call script").is_visible()
    assert page.locator("ul.missing li").count() == 7
    decision = page.get_by_label("Decision", exact=True)
    assert not decision.is_visible()  # folded
    screenshot(page, "rep-call-task")
    page.get_by_text("Connected, and the lead decided").click()
    assert decision.is_visible()
    assert fits(page)
    screenshot(page, "rep-call-task-decision-open")


def test_a_rep_corrects_a_leads_details_from_the_task_page(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.ada_call}"
    log_in(page, RITA, start)
    phone = page.get_by_label("Phone", exact=True)
    assert not phone.is_visible()  # folded
    page.get_by_text("Edit the lead's details").click()
    phone.fill("+1 212 555 0142")
    page.get_by_label("Title", exact=True).fill("Chief Analyst")
    page.get_by_role("button", name="Save the details").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text() == "Saved ada@analytical.example: title, phone."
    assert page.locator("p.dial a").get_attribute("href") == "tel:+12125550142"
    with workspace.ctx.sessions() as s:
        lead = get_lead(s, ADA)
        assert (lead.phone, lead.title) == ("+1 212 555 0142", "Chief Analyst")
    screenshot(page, "rep-edit-saved")


def test_a_wrong_phone_number_is_refused_with_its_reason(browser: Any, workspace: Workspace) -> None:
    # A context of its own: the browser rightly reports the 422 in its console.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    try:
        page = context.new_page()
        log_in(page, RITA, "/leads")
        page.goto(f"/leads/{ADA}")
        page.get_by_text("Edit the lead's details").click()
        page.get_by_label("Phone", exact=True).fill("not a number")
        page.get_by_role("button", name="Save the details").click()
        page.wait_for_load_state()
        assert "is not a phone number" in page.get_by_role("alert").inner_text()
        assert page.get_by_label("Phone", exact=True).input_value() == "not a number"  # what was typed stays
        assert fits(page)
        screenshot(page, "rep-edit-refused")
        with workspace.ctx.sessions() as s:
            assert get_lead(s, ADA).phone != "not a number"
    finally:
        context.close()


def test_a_rep_reads_the_full_text_of_an_email_sent(page: Any, workspace: Workspace) -> None:
    log_in(page, RITA, "/leads")
    page.goto(f"/leads/{ADA}")
    emails = page.locator("details.sent-email")
    assert emails.count() == 2
    first = emails.first
    body = first.locator("pre")
    assert not body.is_visible()
    page.get_by_role("link", name="read it").first.click()
    first.locator("summary").click()
    assert body.is_visible()
    assert body.inner_text().startswith("Hi Ada,")
    assert "Re-rendered" in first.locator(".notice").inner_text()
    assert fits(page)
    screenshot(page, "rep-sent-email")
