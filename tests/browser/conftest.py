"""Fixtures for the end-to-end tests in headless Chromium: Debian's chromium driven by Playwright, and the app.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``scripts/install-system-packages.sh``);
Playwright comes with the dev extras. Without either the tests are skipped with the reason, except
under ``CI=true``, where that fails the run. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cadence.services import users
from cadence.services.context import Context
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.conftest import ROOT, TEMPLATES
from tests.support.servers import unavailable
from tests.web.conftest import running
from tests.web.workspace import CHEAP, NOW, Seeded, seed_workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), for one module.

    Not for the whole session: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and every later test that calls ``asyncio.run`` would fail.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: run `sudo bash scripts/install-system-packages.sh` (Debian's chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass(frozen=True)
class Workspace:
    """The running app, on the seeded data (``tests.web.workspace``), and its context."""

    url: str
    ctx: Context
    seeded: Seeded


@pytest.fixture(scope="module")
def workspace(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The workspace app on a seeded SQLite database of the module's own, with cheap password hashes."""
    path = tmp_path_factory.mktemp("browser") / "cadence.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        database_url=f"sqlite:///{path}",
        templates_dir=TEMPLATES,
        default_timezone="UTC",
        secret_key=SecretStr("browser-test-secret"),
        base_url="http://127.0.0.1",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "HASHER", CHEAP)
        ctx = Context(settings)
        try:
            seeded = seed_workspace(ctx)
            with running(create_app(settings, clock=lambda: NOW)) as url:
                yield Workspace(url, ctx, seeded)
        finally:
            ctx.close()


@pytest.fixture
def page(browser: Any, workspace: Workspace) -> Iterator[Any]:
    """A page of a fresh browser context (no cookies), 1280 pixels wide; it fails the test on a console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=workspace.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"the browser reported errors: {errors}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
