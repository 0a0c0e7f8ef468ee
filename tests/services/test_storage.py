"""Storage behaviour on SQLite and PostgreSQL: claims, pinned versions, indexes, constraints."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from cadence.adapters.models import Enrollment, Touch
from cadence.core.leads import make_lead
from cadence.services.cadence_versions import pinned_cadence
from cadence.services.claims import TouchState, advance, claim_due
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.services.suppression import is_suppressed

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def seed(ctx: Context, count: int, *, now: datetime = NOW, cadence: str = "default") -> None:
    rows = [
        ImportRow(
            row=i + 2,
            lead=make_lead(
                {
                    "email": f"lead{i}@acme.example",
                    "first_name": f"Lead{i}",
                    "title": "Director",
                    "industry": "Software",
                    "company_size": "300",
                    "source": "webinar",
                    "interactions": "3",
                    "timezone": "Europe/Paris",
                    "country": "FR",
                }
            ),
        )
        for i in range(count)
    ]
    with ctx.sessions() as s, s.begin():
        add_rep(s, "rita@cadence.example", "Rita", now=now)
        import_leads(s, rows, now=now, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences,
                     cadence_override=cadence)  # fmt: skip


def test_claims_take_each_due_step_once_and_hide_it_for_the_lease(ctx: Context) -> None:
    seed(ctx, 5)
    later = NOW + timedelta(days=2)
    with ctx.sessions() as s, s.begin():
        first = claim_due(s, now=later, limit=100, settings=ctx.settings)
    with ctx.sessions() as s, s.begin():
        again = claim_due(s, now=later, limit=100, settings=ctx.settings)
    assert len(first.claims) == 5
    assert again.claims == []
    # The lease lapses (the runner died before doing anything): the same touch is claimed again.
    lapsed = later + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        retaken = claim_due(s, now=lapsed, limit=100, settings=ctx.settings)
    assert sorted(c.touch_id for c in retaken.claims) == sorted(c.touch_id for c in first.claims)


def test_a_step_marked_sending_but_never_handed_over_is_claimed_again_after_the_lease(ctx: Context) -> None:
    seed(ctx, 1)
    later = NOW + timedelta(days=2)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=later, limit=10, settings=ctx.settings).claims[0]
        s.get_one(Touch, claim.touch_id).state = TouchState.SENDING
    with ctx.sessions() as s, s.begin():
        assert claim_due(s, now=later + timedelta(seconds=10), limit=10, settings=ctx.settings).claims == []
    lapsed = later + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        batch = claim_due(s, now=lapsed, limit=10, settings=ctx.settings)
        assert batch.uncertain == []
        [again] = batch.claims
        assert again.touch_id == claim.touch_id
        assert again.token != claim.token  # the dead runner's writes no longer match
        assert s.get_one(Touch, claim.touch_id).state == TouchState.CLAIMED


def test_a_step_stuck_in_handing_becomes_uncertain_and_is_never_claimed_again(ctx: Context) -> None:
    seed(ctx, 1)
    later = NOW + timedelta(days=2)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=later, limit=10, settings=ctx.settings).claims[0]
        s.get_one(Touch, claim.touch_id).state = TouchState.HANDING
    lapsed = later + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        batch = claim_due(s, now=lapsed, limit=10, settings=ctx.settings)
        assert batch.uncertain == [claim.touch_id]
        assert batch.claims == []
        enrollment = s.get_one(Enrollment, claim.enrollment_id)
        assert enrollment.next_step == 1  # moved on: the uncertain step is not re-sent
        assert s.get_one(Touch, claim.touch_id).state == TouchState.UNCERTAIN


@pytest.mark.parametrize("state", [TouchState.SENT, TouchState.UNCERTAIN, TouchState.DONE, TouchState.SKIPPED])
def test_a_recorded_outcome_whose_runner_died_is_applied_not_redone(ctx: Context, state: str) -> None:
    seed(ctx, 1)
    later = NOW + timedelta(days=2)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=later, limit=10, settings=ctx.settings).claims[0]
        s.get_one(Touch, claim.touch_id).state = state
    lapsed = later + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        batch = claim_due(s, now=lapsed, limit=10, settings=ctx.settings)
        assert batch.claims == []
        assert (batch.recovered, batch.uncertain) == ((0, [claim.touch_id]) if state == "uncertain" else (1, []))
        assert s.get_one(Enrollment, claim.enrollment_id).next_step == 1
        assert s.get_one(Touch, claim.touch_id).state == state


def test_a_bounce_whose_runner_died_is_suppressed_and_decided(ctx: Context) -> None:
    seed(ctx, 1)
    later = NOW + timedelta(days=2)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=later, limit=10, settings=ctx.settings).claims[0]
        touch = s.get_one(Touch, claim.touch_id)
        touch.state, touch.error = TouchState.BOUNCED, "recipient refused: 550 5.1.1 user unknown"
    lapsed = later + timedelta(seconds=ctx.settings.lease_seconds + 1)
    with ctx.sessions() as s, s.begin():
        assert claim_due(s, now=lapsed, limit=10, settings=ctx.settings).recovered == 1
    with ctx.sessions() as s:
        enrollment = s.get_one(Enrollment, claim.enrollment_id)
        assert enrollment.state == "decided"
        assert is_suppressed(s, enrollment.lead.email)


def test_the_touch_key_forbids_a_second_execution_of_a_step(ctx: Context) -> None:
    seed(ctx, 1)
    with ctx.sessions() as s, s.begin():
        claim = claim_due(s, now=NOW + timedelta(days=2), limit=10, settings=ctx.settings).claims[0]
    with pytest.raises(IntegrityError), ctx.sessions() as s, s.begin():
        s.add(
            Touch(
                enrollment_id=claim.enrollment_id,
                lead_id=claim.lead_id,
                step_index=claim.step_index,
                day=1,
                channel="research",
                state="claimed",
                due_at=NOW,
            )
        )


def test_one_enrollment_under_way_per_lead_is_enforced_by_the_database(ctx: Context) -> None:
    seed(ctx, 1)
    with ctx.sessions() as s:
        lead = get_lead(s, "lead0@acme.example")
        s.add(
            Enrollment(
                lead=lead, cadence_name="default", cadence_version="x", state="paused", enrolled_at=NOW, anchor_at=NOW
            )
        )
        with pytest.raises(IntegrityError):
            s.commit()


def test_an_enrollment_keeps_its_cadence_version_when_the_file_changes(ctx: Context) -> None:
    seed(ctx, 1)
    original = ctx.cadences["default"]
    edited = replace(original, steps=original.steps[:2])
    assert edited.version != original.version
    with ctx.sessions() as s, s.begin():
        lead = get_lead(s, "lead0@acme.example")
        enrollment = s.scalars(sa.select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
        assert enrollment.cadence_version == original.version
        pinned = pinned_cadence(s, "default", enrollment.cadence_version)
        assert len(pinned.steps) == len(original.steps)
    ctx.cadences["default"] = edited  # the marketer edits the live cadence
    seed_more = make_lead(
        {
            "email": "new@acme.example",
            "title": "CTO",
            "industry": "Software",
            "company_size": "300",
            "source": "webinar",
            "interactions": "3",
        }
    )
    with ctx.sessions() as s, s.begin():
        import_leads(s, [ImportRow(2, seed_more)], now=NOW, settings=ctx.settings, rules=ctx.rules,
                     cadences=ctx.cadences)  # fmt: skip
        new = s.scalars(sa.select(Enrollment).where(Enrollment.lead_id == get_lead(s, "new@acme.example").id)).one()
        assert new.cadence_version == edited.version


def test_steps_run_through_to_the_no_response_decision(ctx: Context) -> None:
    seed(ctx, 1, cadence="nurture")
    clock = NOW
    executed = 0
    for _ in range(200):
        clock += timedelta(hours=6)
        with ctx.sessions() as s, s.begin():
            batch = claim_due(s, now=clock, limit=10, settings=ctx.settings)
            for claim in batch.claims:
                enrollment = s.get_one(Enrollment, claim.enrollment_id)
                touch = s.get_one(Touch, claim.touch_id)
                touch.state, touch.executed_at = TouchState.DONE, clock
                cadence = pinned_cadence(s, enrollment.cadence_name, enrollment.cadence_version)
                advance(enrollment, cadence, at=clock, settings=ctx.settings, grace_days=3)
                executed += 1
            if batch.completed:
                break
    with ctx.sessions() as s:
        enrollment = s.scalars(sa.select(Enrollment)).one()
        assert enrollment.state == "completed"
        assert executed == len(ctx.cadences["nurture"].steps)
        assert enrollment.lead.status == "completed"


def test_due_query_uses_the_partial_index(ctx: Context, backend: str) -> None:
    seed(ctx, 3)
    query = (
        sa.select(Enrollment.id)
        .where(Enrollment.state == "active", Enrollment.next_due_at <= NOW)
        .order_by(Enrollment.next_due_at)
        .limit(10)
    )
    with ctx.engine.connect() as conn:
        compiled = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if backend == "sqlite":
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: ask whether the index can serve
            plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_enrollments_due" in plan


@pytest.mark.postgresql
def test_two_runners_claim_disjoint_steps_on_postgresql(postgresql_ctx: Context) -> None:
    ctx = postgresql_ctx
    seed(ctx, 60)
    later = NOW + timedelta(days=2)
    barrier = threading.Barrier(2)
    results: list[list[int]] = [[], []]

    def runner(slot: int) -> None:
        with ctx.sessions() as s, s.begin():
            barrier.wait()
            for _ in range(6):
                results[slot].extend(c.touch_id for c in claim_due(s, now=later, limit=5, settings=ctx.settings).claims)
            barrier.wait(timeout=30)  # hold both transactions open at once

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results[0]
    assert results[1]
    assert not set(results[0]) & set(results[1])
    assert len(results[0]) + len(results[1]) == 60
