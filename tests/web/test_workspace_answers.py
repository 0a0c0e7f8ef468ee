"""Qualifying answers captured at every conversation in the workspace; the meeting gate checks their union."""

from __future__ import annotations

import re

from sqlalchemy import Select, select

from cadence.adapters.models import Decision, Lead, QualifyingAnswer
from cadence.core.questions import DEFAULT_QUESTIONS
from cadence.services.context import Context
from tests.web.workspace import ADA, RITA, Seeded, post_form, signed_in

FIRST_TWO = {"answer_committed": "Yes, this quarter", "answer_approves": "The CFO"}
THE_REST = {f"answer_{q.key}": f"answer to {q.key}" for q in DEFAULT_QUESTIONS[1:] if q.key != "approves"}


def ada_answers() -> Select[tuple[QualifyingAnswer]]:
    return select(QualifyingAnswer).join(Lead, Lead.id == QualifyingAnswer.lead_id).where(Lead.email == ADA)


def missing_on(page: str) -> list[str]:
    section = page.split('id="answers-heading"', 1)[1].split("</section>", 1)[0]
    listed = section.split('<ul class="missing">', 1)[1].split("</ul>", 1)[0] if 'class="missing"' in section else ""
    return re.findall(r"<li>(.*?)</li>", listed)


def test_a_connected_call_keeps_the_answers_it_gave_and_the_lead_page_shows_known_and_missing(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    with signed_in(site, RITA) as http:
        page = http.get(f"/tasks/{seeded.ada_call}").text
        assert 'name="answer_committed"' in page  # the call's outcome form asks
        done = post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": "connected", "note": "good call", **FIRST_TWO})
        assert done.status_code == 303
        lead = http.get(f"/leads/{ADA}").text
    with ctx.sessions() as s:
        rows = s.scalars(ada_answers().order_by(QualifyingAnswer.question)).all()
        assert [(r.question, r.answer, r.answered_by, r.task_id) for r in rows] == [
            ("approves", "The CFO", RITA, seeded.ada_call),
            ("committed", "Yes, this quarter", RITA, seeded.ada_call),
        ]
    assert "Yes, this quarter" in lead
    assert missing_on(lead) == [q.text for q in DEFAULT_QUESTIONS if q.key not in ("committed", "approves")]


def test_a_meeting_is_recorded_when_this_form_and_earlier_conversations_answer_every_question(
    site: str, ctx: Context, seeded: Seeded
) -> None:
    decision = {"decision": "meeting_booked", "reason": "Demo on Tuesday"}
    with signed_in(site, RITA) as http:
        post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": "connected", **FIRST_TWO})
        short = post_form(http, f"/leads/{ADA}/decision", decision | {"answer_requirement": "CRM sync"})
        assert short.status_code == 422
        assert "missing: What is their desired solution?" in short.text
        assert "Are they committed" not in short.text.split("missing:", 1)[1].split("</p>", 1)[0]
        booked = post_form(http, f"/leads/{ADA}/decision", decision | THE_REST)
        assert booked.status_code == 303
    with ctx.sessions() as s:
        recorded = s.scalars(select(Decision).where(Decision.reason == "Demo on Tuesday")).one()
        assert recorded.answers is not None
        assert set(recorded.answers) == {q.key for q in DEFAULT_QUESTIONS}
        assert recorded.answers["committed"] == "Yes, this quarter"


def test_a_voicemail_answers_nothing(site: str, ctx: Context, seeded: Seeded) -> None:
    with signed_in(site, RITA) as http:
        refused = post_form(http, f"/tasks/{seeded.ada_call}", {"outcome": "voicemail", **FIRST_TWO})
        assert refused.status_code == 422
        assert "no conversation" in refused.text
    with ctx.sessions() as s:
        assert s.scalars(ada_answers()).all() == []
