"""A manager's work in headless Chromium: the audit log's filters, erasing a person, deactivating a rep.

The tests share the module's database and run in this order: the audit log is read first, a person
is erased next, and Rita is deactivated last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Lead, Rep
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import BOB, MAX, RITA, SAM


def _actions(page: Any) -> list[str]:
    return page.locator("tr.entry code").all_inner_texts()  # type: ignore[no-any-return]


def test_the_audit_page_filters_by_person_action_and_dates(page: Any, workspace: Workspace) -> None:
    log_in(page, MAX, "/audit")
    assert page.get_by_role("heading", level=1).inner_text() == "Audit log"
    assert {"login.ok", "decision.record", "reps.add"} <= set(_actions(page))
    page.get_by_label("Person").fill(SAM)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit?actor=*")
    assert set(_actions(page)) == {"decision.record"}  # Sam recorded a meeting; the reps were added at the command line
    page.get_by_label("Person").fill("")
    page.get_by_label("Action").select_option("login.ok")
    page.get_by_label("From").fill("2026-12-02")
    page.get_by_label("Until").fill("2026-12-02")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit?*action=login.ok*")
    assert _actions(page) == ["login.ok"]
    assert MAX in page.locator("tr.entry").first.inner_text()
    assert fits(page)
    screenshot(page, "manager-audit-filtered")


def test_a_manager_erases_a_person_after_typing_the_address(browser: Any, workspace: Workspace) -> None:
    # A context of its own: the browser rightly reports the 422 of a wrong confirmation in its console.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    try:
        page = context.new_page()
        log_in(page, MAX, "/leads")
        page.goto(f"/leads/{BOB}")
        page.get_by_role("link", name="Erase this person…").click()
        page.wait_for_url(f"**/erase/{BOB}")
        assert "cannot be undone" in page.inner_text("main")
        screenshot(page, "manager-erase-confirm")
        page.get_by_label("Type the address to confirm").fill("someone.else@builders.example")
        page.get_by_role("button", name="Erase this person").click()
        page.wait_for_load_state()
        assert "nothing was erased" in page.get_by_role("alert").inner_text()
        with workspace.ctx.sessions() as s:
            assert s.scalar(select(Lead.id).where(Lead.email == BOB)) is not None
        page.get_by_label("Type the address to confirm").fill(BOB)
        page.get_by_role("button", name="Erase this person").click()
        page.wait_for_url("**/leads")
        assert "Erased every personal detail" in page.get_by_role("status").inner_text()
        assert "Bob Builder" not in page.inner_text("main")
        with workspace.ctx.sessions() as s:
            assert s.scalar(select(Lead.id).where(Lead.email == BOB)) is None
        page.goto("/audit?action=leads.erase")
        assert _actions(page) == ["leads.erase"]
        screenshot(page, "manager-erase-audited")
    finally:
        context.close()


def test_a_manager_deactivates_a_rep_and_reassigns_her_leads(page: Any, workspace: Workspace) -> None:
    log_in(page, MAX, "/reps")
    rita = page.locator("section.rep", has=page.get_by_role("heading", name="Rita Alvarez"))
    rita.get_by_text("Deactivate", exact=True).click()
    rita.get_by_label("New owner").select_option(SAM)
    screenshot(page, "manager-deactivate-rep")
    rita.get_by_role("button", name="Deactivate Rita Alvarez").click()
    page.wait_for_url("**/reps")
    assert page.get_by_role("status").inner_text().startswith("Deactivated rita@cadence.example:")
    assert "inactive" in page.locator("tr", has_text="Rita Alvarez").inner_text()
    assert fits(page)
    screenshot(page, "manager-rep-deactivated")
    with workspace.ctx.sessions() as s:
        assert s.scalars(select(Rep.active).where(Rep.email == RITA)).one() is False
        owners = {lead.owner.email for lead in s.scalars(select(Lead)) if lead.owner is not None}
    assert RITA not in owners
