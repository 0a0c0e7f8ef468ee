"""Erasing a person: personal data gone from every table, a keyed hash keeps them out, the audit log says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from cadence.adapters.models import AuditEntry, Decision, Enrollment, Lead, LeadNote, Response, Suppression, Task, Touch
from cadence.errors import ValidationError
from cadence.services import audit
from cadence.services.audit import AuditFilter
from cadence.services.context import Context
from cadence.services.enrollments import get_lead, record_response
from cadence.services.erasure import PREFIX, erase, erased_key
from cadence.services.intake import upsert_lead
from cadence.services.leads import import_leads
from tests.conftest import Cli
from tests.managers.support import NOW, RITA, SAM, lead_row, seed

ANA, BEN = "ana.person@acme.example", "ben@bolt.example"


def _everything_stored(ctx: Context) -> str:
    """Every row of every table, as one text (what a search for the person's data would look through)."""
    from cadence.adapters.models import Base

    with ctx.engine.connect() as conn:
        return "\n".join(
            repr(row) for table in Base.metadata.sorted_tables for row in conn.execute(table.select()).all()
        )


def test_erase_removes_the_person_from_every_table_and_keeps_counts_and_a_hash(ctx: Context) -> None:
    seed(ctx, {ANA: RITA, BEN: SAM})
    with ctx.sessions.begin() as s:
        ana = get_lead(s, ANA)
        enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == ana.id)).one()
        s.add(
            Touch(
                enrollment_id=enrollment.id, lead_id=ana.id, step_index=1, day=2, channel="email",
                template="email/intro", template_version="abc123", subject="Ana, a quick question",
                message_id="<t1@yourco.example>", state="sent", due_at=NOW, executed_at=NOW, attempts=1,
            )
        )  # fmt: skip
        s.flush()
        record_response(s, ana, now=NOW + timedelta(days=1), kind="reply", note="Ana Person here, call me")
        s.add(LeadNote(lead_id=ana.id, kind="note", text="Ana prefers mornings", author=RITA, created_at=NOW))
        ana.why_now, ana.topic = "Ana is hiring three reps", "Ana's pipeline"
    assert "Ana" in _everything_stored(ctx)
    with ctx.sessions.begin() as s:
        done = erase(s, ctx.settings, ANA, actor="max@yourco.example", now=NOW + timedelta(days=2))
    assert done is not None
    stored = _everything_stored(ctx)
    assert "ana.person" not in stored.lower()
    assert "Ana" not in stored
    assert "ben@bolt.example" in stored  # the others stay
    with ctx.sessions() as s:
        tombstone = s.scalars(select(Lead).where(Lead.email == done.tombstone)).one()
        assert (tombstone.status, tombstone.first_name, tombstone.company) == ("erased", None, None)
        touches = s.execute(select(Touch.template_version, Touch.subject).where(Touch.lead_id == tombstone.id)).all()
        assert [tuple(t) for t in touches] == [("abc123", None)]  # counted in reports, without the subject
        assert s.scalar(select(Response.note).where(Response.lead_id == tombstone.id)) is None
        assert {t.status for t in s.scalars(select(Task).where(Task.lead_id == tombstone.id))} <= {"done", "cancelled"}
        assert s.scalar(select(Decision.outcome).where(Decision.lead_id == tombstone.id)) == "unsubscribed"
        assert s.scalar(select(Suppression.id).where(Suppression.value == erased_key(ctx.settings, ANA)))
        entry = audit.entries(s, AuditFilter(action="leads.erase"))[0]
    assert (entry.actor, entry.subject) == ("max@yourco.example", done.tombstone)
    assert entry.details["hash"] == erased_key(ctx.settings, ANA)[len(PREFIX) :][:12]


def test_an_erased_person_is_never_stored_or_enrolled_again_by_import_or_api(ctx: Context) -> None:
    seed(ctx, {ANA: RITA})
    with ctx.sessions.begin() as s:
        erase(s, ctx.settings, ANA.upper(), actor="cli", now=NOW)
    with ctx.sessions.begin() as s:
        report = import_leads(
            s, [lead_row(2, ANA, RITA)], now=NOW, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences
        )
    assert (report.imported, report.enrolled, report.suppressed) == (0, 0, 1)
    with pytest.raises(ValidationError, match="asked to be forgotten"), ctx.sessions.begin() as s:
        upsert_lead(ctx, s, {"email": ANA, "first_name": "Ana", "interactions": 3}, {}, now=NOW)
    assert "ana.person" not in _everything_stored(ctx).lower()


def test_erasing_an_unknown_address_still_keeps_it_out(ctx: Context) -> None:
    seed(ctx, {})
    with ctx.sessions.begin() as s:
        assert erase(s, ctx.settings, ANA, actor="cli", now=NOW) is None
    with ctx.sessions.begin() as s:
        report = import_leads(
            s, [lead_row(2, ANA, RITA)], now=NOW, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences
        )
    assert report.imported == 0


def test_the_hash_is_keyed_by_the_erasure_key(ctx: Context) -> None:
    other = ctx.settings.model_copy(update={"erasure_key": SecretStr("another-key")})
    assert erased_key(ctx.settings, ANA) != erased_key(other, ANA)
    assert erased_key(ctx.settings, ANA) == erased_key(ctx.settings, " Ana.Person@ACME.example ")


def test_cadence_leads_erase_asks_first_and_then_erases(run_cli: Cli, ctx: Context) -> None:
    seed(ctx, {ANA: RITA})
    refused = run_cli("leads", "erase", ANA, stdin="n\n")
    assert "nothing erased" in refused.stdout
    with ctx.sessions() as s:
        assert s.scalar(select(Lead.id).where(Lead.email == ANA)) is not None
    done = run_cli("leads", "erase", ANA, "--by", "max@yourco.example", stdin="y\n")
    assert f"erased {ANA}" in done.stdout
    with ctx.sessions() as s:
        assert s.scalar(select(Lead.id).where(Lead.email == ANA)) is None
        assert s.scalar(select(AuditEntry.actor).where(AuditEntry.action == "leads.erase")) == "max@yourco.example"
