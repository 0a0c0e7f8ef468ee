"""A rep records what happened outside the cadence, in headless Chromium: a contact with its outcome, a note,
a snooze, the research findings, a colleague added from the call task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Enrollment, LeadNote
from cadence.services.enrollments import get_lead
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import ADA, BOB, CY, RITA


def test_a_rep_records_a_call_from_their_own_phone_on_the_call_task(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.ada_call}"
    log_in(page, RITA, start)
    channel = page.locator("#contact-channel")
    assert not channel.is_visible()  # folded
    page.get_by_text("Record a reply or a contact made outside the cadence").click()
    channel.select_option("call")
    page.locator("#contact-outcome").select_option("answered")
    page.locator("#contact-note").fill("Interested, wants numbers by Friday")
    screenshot(page, "rep-contact-form")
    page.get_by_role("button", name="Record the contact", exact=True).click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith(f"Recorded the contact with {ADA}.")
    timeline = page.locator("section", has=page.locator("#timeline-heading"))
    assert "Call from my own phone: Interested, wants numbers by Friday" in timeline.inner_text()
    assert f"by {RITA}" in timeline.inner_text()
    assert fits(page)
    screenshot(page, "rep-contact-recorded")
    with workspace.ctx.sessions() as s:
        lead = get_lead(s, ADA)
        assert s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).all()[-1].state == "responded"


def test_a_rep_adds_a_note_and_snoozes_a_lead_from_its_page(page: Any, workspace: Workspace) -> None:
    start = f"/leads/{CY}"
    log_in(page, RITA, "/leads")
    page.goto(start)
    timeline = page.locator("section", has=page.locator("#timeline-heading"))
    assert "Note: Met Cy" not in timeline.inner_text()
    page.get_by_text("Add a note").click()
    page.get_by_label("Note", exact=True).fill("Met Cy at the trade fair; budget opens in March.")
    page.get_by_role("button", name="Add the note").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text() == f"Added the note on {CY}."
    assert (
        "Note: Met Cy at the trade fair" in page.locator("section", has=page.locator("#timeline-heading")).inner_text()
    )
    page.get_by_text("Snooze to a date").click()
    page.get_by_label("Wake on").fill("2027-03-01")
    page.get_by_label("Why (optional)").fill("Budget opens in March")
    screenshot(page, "rep-snooze-form")
    page.get_by_role("button", name="Snooze", exact=True).click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith("Snoozed until 2027-03-01")
    assert (
        "Snoozed until 2027-03-01: Budget opens in March"
        in page.locator("section", has=page.locator("#timeline-heading")).inner_text()
    )
    assert fits(page)
    screenshot(page, "rep-note-and-snooze")
    with workspace.ctx.sessions() as s:
        lead = get_lead(s, CY)
        assert lead.snoozed_until is not None
        kinds = [n.kind for n in s.scalars(select(LeadNote).where(LeadNote.lead_id == lead.id))]
        assert kinds == ["note", "snooze"]


def test_a_rep_records_the_research_findings_on_the_research_task(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.bob_research}"
    log_in(page, RITA, start)
    page.get_by_label("Why them, why now (one line)").fill("Builders Ltd just won the harbour contract")
    page.get_by_label("Topic of interest").fill("site safety")
    screenshot(page, "rep-research-findings")
    page.get_by_role("button", name="Done", exact=True).click()
    page.wait_for_url("**/tasks")
    with workspace.ctx.sessions() as s:
        lead = get_lead(s, BOB)
        assert (lead.why_now, lead.topic) == ("Builders Ltd just won the harbour contract", "site safety")


def test_a_rep_adds_a_colleague_from_the_call_task(page: Any, workspace: Workspace) -> None:
    start = f"/tasks/{workspace.seeded.ada_call}"
    log_in(page, RITA, start)
    page.get_by_text("Add a colleague they named").click()
    page.get_by_label("Their name").fill("Charles Babbage")
    page.get_by_label("Their email").fill("charles@analytical.example")
    page.get_by_label("Their role in the buying group").select_option("approver")
    screenshot(page, "rep-colleague-from-call-task")
    page.get_by_role("button", name="Add the colleague").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith("Added charles@analytical.example")
    with workspace.ctx.sessions() as s:
        owner = get_lead(s, "charles@analytical.example").owner
        assert owner is not None
        assert owner.email == RITA
