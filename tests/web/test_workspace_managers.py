"""The managers' pages over HTTP: reps, people not enrolled, erasing a person, the audit log."""

from __future__ import annotations

import re

from sqlalchemy import select

from cadence.adapters.models import Enrollment, Lead, Rep, Task
from cadence.services import audit
from cadence.services.audit import AuditFilter
from cadence.services.context import Context
from tests.web.workspace import ADA, BOB, MAX, NIA, NOW, RITA, SAM, Seeded, post_form, signed_in


def _owners(ctx: Context) -> dict[str, str | None]:
    with ctx.sessions() as s:
        return {lead.email: lead.owner.email if lead.owner else None for lead in s.scalars(select(Lead))}


def test_a_manager_deactivates_a_rep_and_their_leads_and_tasks_go_to_the_rep_chosen(
    site: str, seeded: Seeded, ctx: Context
) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/reps")
        assert page.status_code == 200
        assert "Rita Alvarez" in page.text
        done = post_form(http, f"/reps/{RITA}/deactivate", {"reassign_to": SAM})
        assert (done.status_code, done.headers["location"]) == (303, "/reps")
        assert "Deactivated rita@cadence.example" in http.get("/reps").text
    assert RITA not in _owners(ctx).values()
    with ctx.sessions() as s:
        assert s.get(Task, seeded.ada_call).owner.email == SAM  # type: ignore[union-attr]
        assert s.scalars(select(Rep.active).where(Rep.email == RITA)).one() is False
    with signed_in(site, SAM):
        pass  # Sam still signs in; Rita's account is disabled:
    with signed_in(site, MAX) as http:
        refused = post_form(http, f"/reps/{SAM}/deactivate", {"reassign_to": RITA})
        assert refused.status_code == 422
        assert "is not active" in refused.text


def test_a_manager_sets_a_rep_away_and_edits_a_rep(site: str, seeded: Seeded, ctx: Context) -> None:
    with signed_in(site, MAX) as http:
        away = post_form(http, f"/reps/{SAM}/away", {"from": "2026-12-02", "until": "2026-12-09"})
        assert away.status_code == 303
        assert "away" in http.get("/reps").text
        wrong = post_form(http, f"/reps/{SAM}/away", {"from": "2026-12-09", "until": "2026-12-02"})
        assert wrong.status_code == 422
        assert post_form(http, f"/reps/{SAM}/edit", {"name": "Samuel Okafor", "timezone": ""}).status_code == 303
    with ctx.sessions() as s:
        sam = s.scalars(select(Rep).where(Rep.email == SAM)).one()
        assert (sam.name, sam.away_until is not None) == ("Samuel Okafor", True)


def test_erasing_needs_the_address_typed_and_then_erases_and_audits(site: str, seeded: Seeded, ctx: Context) -> None:
    with signed_in(site, MAX) as http:
        assert "Erase this person" in http.get(f"/leads/{ADA}").text
        form = http.get(f"/erase/{ADA}")
        assert "cannot be undone" in form.text
        wrong = post_form(http, f"/erase/{ADA}", {"confirm": BOB})
        assert wrong.status_code == 422
        assert ADA in _owners(ctx)
        done = post_form(http, f"/erase/{ADA}", {"confirm": ADA.upper()})
        assert (done.status_code, done.headers["location"]) == (303, "/leads")
    assert ADA not in _owners(ctx)
    with ctx.sessions() as s:
        entry = audit.entries(s, AuditFilter(action="leads.erase"))[0]
    assert entry.actor == MAX


def test_a_rep_cannot_erase_or_deactivate(site: str, seeded: Seeded, ctx: Context) -> None:
    with signed_in(site, RITA) as http:
        assert post_form(http, f"/erase/{ADA}", {"confirm": ADA}).status_code == 403
        assert post_form(http, f"/reps/{SAM}/deactivate", {}).status_code == 403
        assert "Erase this person" not in http.get(f"/leads/{ADA}").text
    assert ADA in _owners(ctx)


def test_the_people_not_enrolled_show_why_and_a_manager_enrolls_one_anyway(
    site: str, seeded: Seeded, ctx: Context
) -> None:
    with signed_in(site, MAX) as http:
        page = http.get("/not-enrolled")
        assert "Nia Name" in page.text
        assert "one interaction: a name (2 make a lead)" in page.text
        no_reason = post_form(http, f"/not-enrolled/{NIA}/enroll", {"cadence": "default", "why": " "})
        assert no_reason.status_code == 422
        done = post_form(http, f"/not-enrolled/{NIA}/enroll", {"cadence": "default", "why": "met her at a fair"})
        assert done.status_code == 303
        assert "Nia Name" not in http.get("/not-enrolled").text
    with ctx.sessions() as s:
        lead = s.scalars(select(Lead).where(Lead.email == NIA)).one()
        assert s.scalar(select(Enrollment.cadence_name).where(Enrollment.lead_id == lead.id)) == "default"
        entry = audit.entries(s, AuditFilter(action="leads.enroll_anyway"))[0]
    assert (entry.actor, entry.subject, entry.details["why"]) == (MAX, NIA, "met her at a fair")


def _rows(html: str) -> list[tuple[str, str]]:
    """The (who, action) of each entry in the audit page's table."""
    return re.findall(r'<tr class="entry"><td>[^<]*</td><td>([^<]*)</td><td><code>([^<]*)</code>', html)


def test_the_audit_page_shows_logins_and_filters_by_person_action_and_date(site: str, seeded: Seeded) -> None:
    with signed_in(site, RITA):
        pass
    with signed_in(site, MAX) as http:
        everything = {action for _, action in _rows(http.get("/audit").text)}
        assert {"login.ok", "decision.record", "reps.add"} <= everything  # the decision: Sam's meeting, in the seed
        ritas = _rows(http.get("/audit", params={"actor": RITA}).text)
        assert ritas == [(RITA, "login.ok")]
        decisions = _rows(http.get("/audit", params={"action": "decision.record"}).text)
        assert decisions == [(SAM, "decision.record")]
        day = NOW.date().isoformat()
        today = {action for _, action in _rows(http.get("/audit", params={"since": day, "until": day}).text)}
        assert today == {"login.ok"}  # the seed's entries are days older
        bad = http.get("/audit", params={"since": "yesterday"})
        assert bad.status_code == 422
        assert "must be a date" in bad.text
