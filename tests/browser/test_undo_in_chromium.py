"""Undoing what a reply did on its own, from the lead's page, in headless Chromium."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Lead
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.stages.conftest import reply
from tests.web.workspace import ADA, NOW, RITA


def test_the_owner_undoes_a_snooze_with_the_button_on_the_lead_page(page: Any, workspace: Workspace) -> None:
    reply(workspace.ctx, "not_now", at=NOW, named=date(2027, 3, 1), email=ADA)
    start = f"/leads/{ADA}"
    log_in(page, RITA, "/leads")
    page.goto(start)
    actions = page.get_by_role("region", name="What replies did on their own")
    assert "read as not_now" in actions.inner_text()
    screenshot(page, "lead-automatic-actions")
    actions.get_by_role("button", name="Undo").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith("Undone: snoozed until 2027-03-01")
    assert actions.get_by_role("button", name="Undo").count() == 0
    assert "undone" in actions.inner_text()
    assert fits(page)
    with workspace.ctx.sessions() as s:
        assert s.scalars(select(Lead.snoozed_until).where(Lead.email == ADA)).one() is None
