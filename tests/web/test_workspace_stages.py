"""The stage of maturation on a lead's page: shown with its history; its owner moves it, with a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cadence.adapters.models import Lead, StageChange
from cadence.services.context import Context
from tests.web.workspace import ADA, MIA, NOW, RITA, SAM, post_form, signed_in


def stage_of(ctx: Context, email: str) -> tuple[str | None, list[tuple[str, str, str]]]:
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == email)).one()
        rows = s.scalars(select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id))
        return lead.stage, [(c.stage, c.by, c.reason) for c in rows]


def test_the_owner_moves_a_lead_to_a_stage_with_a_reason_and_sees_the_history(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{ADA}").text
        assert '<h2 id="stage-heading">Stage: Identify contacts</h2>' in page
        moved = post_form(http, f"/leads/{ADA}/stage", {"stage": "assessment", "reason": "asked for pricing"})
        assert (moved.status_code, moved.headers["location"]) == (303, f"/leads/{ADA}")
        page = http.get(f"/leads/{ADA}").text
    assert "Moved to Assessment." in page
    assert '<h2 id="stage-heading">Stage: Assessment</h2>' in page
    assert "<td>Assessment</td><td>rita@cadence.example</td><td>asked for pricing</td>" in page
    assert stage_of(ctx, ADA) == ("assessment", [("assessment", RITA, "asked for pricing")])
    with ctx.sessions() as s:
        assert s.scalars(select(StageChange).where(StageChange.by == RITA)).one().entered_at == NOW


@pytest.mark.one_database
def test_a_move_without_a_reason_is_refused_and_nothing_changes(site: str, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        refused = post_form(http, f"/leads/{ADA}/stage", {"stage": "vetting", "reason": "  "})
    assert refused.status_code == 422
    assert "say why the lead moves" in refused.text
    assert stage_of(ctx, ADA) == (None, [])


@pytest.mark.one_database
def test_neither_another_rep_nor_a_marketer_moves_someone_elses_lead(site: str, ctx: Context) -> None:
    for who in (SAM, MIA):
        with signed_in(site, who) as http:
            response = post_form(http, f"/leads/{ADA}/stage", {"stage": "vetting", "reason": "mine now"})
            assert response.status_code in (403, 404)
    assert stage_of(ctx, ADA) == (None, [])
