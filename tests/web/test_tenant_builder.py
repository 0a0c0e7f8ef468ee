"""``benchmarks/tenant.py`` builds a tenant the product works on: the report and the workspace count what it built.

The builder feeds the performance benchmarks (reports, pages); this small tenant keeps it from
drifting away from the schema and from the rows the real code writes. No speed is asserted here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cadence.adapters.models import Account, Decision, Enrollment, Lead, Rep, Touch
from cadence.services.context import Context
from cadence.services.users import Role, add_user
from cadence.settings import Settings
from cadence.web.app import create_app
from tests.conftest import Cli
from tests.web.workspace import PASSWORD, log_in

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import tenant

LEADS = 200
MANAGER = "boss@cadence.example"


@pytest.fixture(scope="module")
def sample() -> Any:
    """One small real run (the demo's story through the real code), shared by both databases."""
    return tenant.sample_run()


@pytest.fixture
def built(sample: Any, database_url: str) -> dict[str, Any]:
    # 200 leads over 60 days: some still under way at the tenant's present, a few of them due
    return tenant.build(database_url, LEADS, sample=sample, chunk=64, quiet=True, years=60 / 365)


def test_the_tenant_has_every_table_filled_as_asked(built: dict[str, Any], ctx: Context) -> None:
    rows = built["rows"]
    assert rows["leads"] == LEADS
    assert rows["reps"] == tenant.REPS
    assert rows["accounts"] == LEADS // tenant.CONTACTS_PER_ACCOUNT
    assert rows["touches"] >= 5 * rows["enrollments"] > 0
    assert rows["tasks"] >= 2 * rows["enrollments"]
    assert min(rows["decisions"], rows["responses"], rows["stage_changes"]) > 0
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == LEADS
        assert s.scalar(select(func.count(func.distinct(Lead.owner_id)))) == tenant.REPS
        assert s.scalar(select(func.count()).select_from(Rep)) == tenant.REPS
        assert s.scalar(select(func.count()).select_from(Account)) == rows["accounts"]
        assert s.scalar(select(func.count()).select_from(Touch)) == rows["touches"]
        # histories cut at the present: some enrollments under way, some of them due within the last day
        active = s.scalar(select(func.count()).where(Enrollment.state == "active"))
        due = s.scalar(select(func.count()).where(Enrollment.state == "active", Enrollment.next_due_at <= tenant.NOW))
        assert 0 < due <= active
        assert s.scalar(select(func.max(Touch.executed_at))) <= tenant.NOW - timedelta(days=1)
        # ids were given by the builder: the sequences were moved past them
        s.add(Decision(lead_id=1, outcome="no_response", reason="test", decided_at=tenant.NOW))
        s.flush()


def test_the_report_counts_what_was_built(built: dict[str, Any], ctx: Context, run_cli: Cli) -> None:
    report = run_cli("report", "--json", "--now", tenant.NOW.isoformat()).json()
    with ctx.sessions() as s:
        enrolled = s.scalar(select(func.count()).select_from(Enrollment))
        leads = s.scalar(select(func.count()).where(Lead.kind == "lead"))
        names = s.scalar(select(func.count()).where(Lead.kind == "name"))
    assert report["funnel"]["enrolled"] == enrolled == built["rows"]["enrollments"]
    assert (report["funnel"]["leads"], report["funnel"]["names"]) == (leads, names)
    assert report["first_touch"]["overall"]["leads"] == enrolled
    assert sum(s["leads"] for s in report["stages"]) == leads
    assert len([o for o in report["owners"] if o["owner"] != "(no owner)"]) == tenant.REPS


@pytest.fixture
def manager(built: dict[str, Any], ctx: Context, cheap_hasher: object) -> str:
    with ctx.sessions() as s, s.begin():
        add_user(s, MANAGER, role=Role.MANAGER, password=PASSWORD, now=tenant.NOW)
    return MANAGER


def test_the_workspace_lists_the_leads_that_were_built(
    manager: str, workspace_settings: Settings, serve: Callable[[FastAPI], str]
) -> None:
    site = serve(create_app(workspace_settings, clock=lambda: tenant.NOW))
    with httpx.Client(base_url=site, timeout=30, follow_redirects=False) as http:
        assert log_in(http, manager).status_code == 303
        page = http.get("/leads")
    assert page.status_code == 200
    assert f"{LEADS} leads" in page.text
    assert "@co0.example" in page.text  # the first account's contacts
