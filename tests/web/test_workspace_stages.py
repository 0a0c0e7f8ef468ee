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


# -- what replies did on their own, and undoing it -----------------------------------------------------


def test_the_owner_undoes_a_snooze_from_the_lead_page_and_the_undo_is_shown(site: str, ctx: Context) -> None:
    from datetime import date

    from cadence.adapters.models import LeadAction
    from tests.stages.conftest import reply

    reply(ctx, "not_now", at=NOW, named=date(2027, 3, 1), email=ADA)
    with ctx.sessions() as s:
        action = s.scalars(select(LeadAction)).one()
    with signed_in(site, RITA) as http:
        page = http.get(f"/leads/{ADA}").text
        assert '<h2 id="actions-heading">What replies did on their own</h2>' in page
        assert "read as not_now, confidence 0.95<br>words of not_now" in page
        assert f'<input type="hidden" name="action_id" value="{action.id}">' in page
        done = post_form(http, f"/leads/{ADA}/undo", {"action_id": str(action.id)})
        assert (done.status_code, done.headers["location"]) == (303, f"/leads/{ADA}")
        page = http.get(f"/leads/{ADA}").text
        again = post_form(http, f"/leads/{ADA}/undo", {"action_id": str(action.id)})
    assert "Undone: snoozed until 2027-03-01" in page
    assert '<span class="chip">undone</span>' in page
    assert 'name="action_id"' not in page
    assert again.status_code == 422
    assert "was undone already" in again.text
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == ADA)).one()
        assert lead.snoozed_until is None
        assert s.scalars(select(LeadAction)).one().undone_by == RITA


@pytest.mark.one_database
def test_another_rep_cannot_undo_and_a_marketer_sees_no_undo_button(site: str, ctx: Context) -> None:
    from datetime import date

    from cadence.adapters.models import LeadAction
    from tests.stages.conftest import reply

    reply(ctx, "not_now", at=NOW, named=date(2027, 3, 1), email=ADA)
    with ctx.sessions() as s:
        action = s.scalars(select(LeadAction)).one()
    with signed_in(site, SAM) as http:
        assert post_form(http, f"/leads/{ADA}/undo", {"action_id": str(action.id)}).status_code in (403, 404)
    with signed_in(site, MIA) as http:
        page = http.get(f"/leads/{ADA}").text
    assert "What replies did on their own" in page
    assert 'name="action_id"' not in page
    with ctx.sessions() as s:
        assert s.scalars(select(LeadAction)).one().undone_at is None
