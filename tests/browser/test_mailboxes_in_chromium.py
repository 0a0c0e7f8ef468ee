"""A manager adds a sending mailbox and removes it again, in headless Chromium.

One test: the form is first sent with a mistake (shown beside its field, what was typed kept),
then corrected; the removal is confirmed on a page that says what happens to the leads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cadence.adapters.models import AuditEntry, SendingMailbox
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import MAX, RITA

BOX = "rita@outreach.cadence.example"


def test_a_manager_adds_a_mailbox_fixes_a_mistake_and_removes_it(browser: Any, workspace: Workspace) -> None:
    # A context of its own: the browser rightly reports the 422 of the first try in its console.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    try:
        page = context.new_page()
        log_in(page, MAX, "/mailboxes")
        form = page.get_by_role("form", name="Add a mailbox")
        form.get_by_label("Address (From: of its emails)").fill(BOX)
        form.get_by_label("Rep (their leads' emails leave from it)").select_option(RITA)
        form.get_by_label("SMTP host").fill("smtp.outreach.example")
        form.get_by_label("Daily cap (emails a day, its rep's local day)").fill("fifty")
        form.get_by_label("Ramp-up START:STEP:MAX (optional)").fill("10:5:50")
        form.get_by_label("IMAP host").fill("imap.outreach.example")
        form.get_by_label("IMAP password: Prefect Secret block name").fill("rita-imap")
        form.get_by_role("button", name="Add the mailbox").click()
        page.wait_for_load_state()
        cap = page.get_by_label("Daily cap (emails a day, its rep's local day)")
        assert cap.get_attribute("aria-invalid") == "true"
        assert page.locator("#mb-daily_cap-error").inner_text() == "the daily cap must be a whole number, not 'fifty'"
        assert page.get_by_label("Ramp-up START:STEP:MAX (optional)").input_value() == "10:5:50"
        assert page.get_by_label("IMAP host").input_value() == "imap.outreach.example"
        assert fits(page)
        screenshot(page, "manager-mailbox-add-mistake")
        with workspace.ctx.sessions() as s:
            assert s.scalars(select(SendingMailbox)).all() == []

        cap.fill("50")
        page.get_by_role("button", name="Add the mailbox").click()
        page.wait_for_url("**/mailboxes")
        assert f"{BOX} is added" in page.get_by_role("status").inner_text()
        row = page.locator("tbody tr").filter(has_text=BOX).first
        assert "0 of 10" in row.inner_text()  # day one of its ramp-up
        screenshot(page, "manager-mailbox-added")

        page.get_by_role("link", name=f"Remove {BOX}").click()
        page.wait_for_url("**/mailboxes/remove?address=*")
        assert "It has no leads under way." in page.locator("#consequence").inner_text()
        assert "Its inbox is no longer read for replies" in page.locator("#consequence").inner_text()
        screenshot(page, "manager-mailbox-remove-confirm")
        page.get_by_role("button", name=f"Remove {BOX}").click()
        page.wait_for_url("**/mailboxes")
        assert f"{BOX} is removed." in page.get_by_role("status").inner_text()
        assert page.get_by_role("link", name=f"Remove {BOX}").count() == 0
        with workspace.ctx.sessions() as s:
            assert s.scalars(select(SendingMailbox.state)).all() == ["removed"]
            actions = s.scalars(select(AuditEntry.action).where(AuditEntry.actor == MAX).order_by(AuditEntry.id))
            assert [a for a in actions if a.startswith("mailboxes.")] == ["mailboxes.add", "mailboxes.remove"]
    finally:
        context.close()
