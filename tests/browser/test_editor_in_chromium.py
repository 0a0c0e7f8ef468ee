"""A marketer edits a template in Chromium: a broken save refused with its line and reason, then a restore."""

from __future__ import annotations

from typing import Any

from cadence.services import template_store
from tests.browser.conftest import Workspace, screenshot
from tests.browser.test_workspace_in_chromium import fits, log_in
from tests.web.workspace import MIA

INTRO = "email/introduction.j2"


def test_a_marketer_edits_a_template_is_refused_a_broken_save_and_restores_a_version(
    browser: Any, workspace: Workspace
) -> None:
    # A context of its own: the browser rightly reports the refused save's 422 in its console.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    context.set_default_timeout(15_000)
    try:
        edit(context.new_page(), workspace)
    finally:
        context.close()


def edit(page: Any, workspace: Workspace) -> None:
    start = f"/editor/{INTRO}"
    log_in(page, MIA, start)
    box = page.get_by_label(f"Content of {INTRO}")
    original = box.input_value()
    assert "{% block subject %}" in original

    box.fill(original.replace("{% block subject %}", "{% block subject %}Quick question: ", 1))
    page.get_by_label("What changed (optional)").fill("a question in the subject")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith(f"Saved {INTRO} as version 2")
    assert page.locator("#preview-subject").inner_text().startswith("Quick question: ")
    screenshot(page, "editor-saved")

    broken = original.replace("common.clean(lead.first_name", "common.clean(lead.frist_name", 1)
    assert broken != original
    box.fill(broken)
    page.get_by_role("button", name="Save").click()
    refused = page.locator("#refused")
    refused.wait_for()
    line = next(n for n, text in enumerate(broken.splitlines(), start=1) if "frist_name" in text)
    assert f"line {line}: " in refused.inner_text()
    assert "frist_name" in refused.inner_text()
    assert box.input_value() == broken  # the marketer's text is kept to fix it
    screenshot(page, "editor-refused")

    page.goto(f"{start}?old=1&new=2")
    assert "+{% block subject %}Quick question: " in page.locator("#diff").inner_text()
    page.get_by_role("button", name="Restore version 1").click()
    page.wait_for_url(f"**{start}")
    assert page.get_by_role("status").inner_text().startswith(f"Saved {INTRO} as version 3")
    assert box.input_value() == original
    assert not page.locator("#preview-subject").inner_text().startswith("Quick question: ")
    assert fits(page)
    screenshot(page, "editor-restored")
    with workspace.ctx.sessions() as s:
        assert [v.comment for v in template_store.history(s, INTRO)] == [
            "restored version 1",
            "a question in the subject",
            f"first version, from {workspace.ctx.settings.templates_dir}",
        ]
