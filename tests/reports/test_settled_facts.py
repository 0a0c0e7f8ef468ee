"""The report with the settled enrollments' kept facts is the report computed from scratch, whatever lands later.

The history is a small tenant of ``benchmarks/tenant.py`` (copies of a real run's leads spread over
a year): most enrollments ended months ago (settled), some are still under way. Each report is made
twice, from scratch (``settled=False``: every enrollment's facts computed) and with the roll-up, for
all time, the last week and a month of settled enrollments; then rows land on rolled-up enrollments
(a late reply, a new decision, an enrollment reopened and ended again, a lead given to another
owner) and the two must still agree, before the next roll-up and after it.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cadence.adapters.models import Decision, Enrollment, Lead, Rep, Response, RollupMark, SettledFacts
from cadence.services.context import Context
from cadence.services.reports import build_report, generate_report
from cadence.services.reports.rollup import SETTLE_DAYS, roll_up

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import tenant

LEADS = 240
NOW = tenant.NOW + timedelta(hours=1)
PERIODS = {
    "all time": (None, NOW),
    "last week": (NOW - timedelta(days=7), NOW),
    "a settled month": (NOW - timedelta(days=150), NOW - timedelta(days=120)),
}


@pytest.fixture(scope="module")
def sample() -> Any:
    """One small real run (the demo's story through the real code), shared by both databases."""
    return tenant.sample_run()


@pytest.fixture
def built(sample: Any, database_url: str) -> dict[str, Any]:
    return tenant.build(database_url, LEADS, sample=sample, chunk=64, quiet=True, years=1)


def both_ways(ctx: Context) -> None:
    """Every period's report from scratch equals the one with the roll-up (which runs first)."""
    for name, (since, until) in PERIODS.items():
        scratch = generate_report(ctx, since=since, until=until, now=NOW, settled=False)
        assert generate_report(ctx, since=since, until=until, now=NOW) == scratch, name


def without_roll_up(ctx: Context) -> None:
    """Every period's report with the kept facts as they are (no roll-up first) equals the one from scratch."""
    for name, (since, until) in PERIODS.items():
        scratch = generate_report(ctx, since=since, until=until, now=NOW, settled=False)
        with ctx.sessions() as session:
            kept = build_report(session, since=since, until=until, now=NOW)
            session.rollback()
        assert kept == scratch, name


def kept_count(ctx: Context) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(SettledFacts)) or 0


def settled_enrollments(ctx: Context, how_many: int) -> list[Enrollment]:
    with ctx.sessions() as session:
        rows = session.scalars(
            select(Enrollment)
            .join(SettledFacts, SettledFacts.enrollment_id == Enrollment.id)
            .where(SettledFacts.contacted == 1, SettledFacts.first_at.is_(None), SettledFacts.decision_id.is_not(None))
            .order_by(Enrollment.id)
            .limit(how_many)
        ).all()
        session.expunge_all()
    assert len(rows) == how_many
    return list(rows)


def test_the_report_with_settled_facts_is_the_report_from_scratch(built: dict[str, Any], ctx: Context) -> None:
    assert kept_count(ctx) == 0
    both_ways(ctx)
    kept = kept_count(ctx)
    with ctx.sessions() as session:
        ended = session.scalar(select(func.count()).where(Enrollment.ended_at <= NOW - timedelta(days=SETTLE_DAYS)))
        under_way = session.scalar(select(func.count()).where(Enrollment.state.in_(("active", "paused", "responded"))))
    assert 0 < kept <= ended  # most enrollments ended long ago and were kept; the open ones never are
    assert under_way
    assert kept < built["rows"]["enrollments"]
    # The mark lags one roll-up: the second drops what the first kept (every id is above the first
    # mark, 0) and keeps it again; a third finds nothing new.
    with ctx.sessions.begin() as session:
        assert roll_up(session, NOW) == {"dropped": kept, "added": kept}
    with ctx.sessions.begin() as session:
        assert roll_up(session, NOW) == {"dropped": 0, "added": 0}

    # More activity lands on rolled-up enrollments.
    replied, decided, reopened, moved = settled_enrollments(ctx, 4)
    with ctx.sessions.begin() as session:
        session.add(
            Response(lead_id=replied.lead_id, enrollment_id=replied.id, kind="reply", channel="email",
                     received_at=NOW - timedelta(hours=2))
        )  # fmt: skip
        session.add(
            Decision(lead_id=decided.lead_id, enrollment_id=decided.id, outcome="meeting_booked", reason="late call",
                     decided_at=NOW - timedelta(hours=1))
        )  # fmt: skip
        # An undone decision reopens the enrollment; ended again later, with nothing new but its end.
        assert reopened.ended_at is not None
        session.execute(
            update(Enrollment)
            .where(Enrollment.id == reopened.id)
            .values(state="completed", ended_at=reopened.ended_at + timedelta(days=1))
        )
        session.execute(
            update(Decision).where(Decision.enrollment_id == reopened.id).values(outcome="qualified_handoff")
        )
        other = session.scalar(
            select(Rep.id).where(Rep.id != select(Lead.owner_id).where(Lead.id == moved.lead_id).scalar_subquery())
        )
        session.execute(update(Lead).where(Lead.id == moved.lead_id).values(owner_id=other, source="moved"))
    without_roll_up(ctx)  # the kept rows of the changed enrollments are not used
    with ctx.sessions.begin() as session:  # the next roll-up drops them and keeps them again
        assert roll_up(session, NOW) == {"dropped": 3, "added": 3}
    both_ways(ctx)
    with ctx.sessions() as session:
        for enrollment in (replied, decided, reopened):
            assert session.get(SettledFacts, enrollment.id) is not None
        assert session.get(SettledFacts, replied.id).first_at is not None  # type: ignore[union-attr]
        assert session.get(SettledFacts, reopened.id).outcome == "qualified_handoff"  # type: ignore[union-attr]
        assert session.get(RollupMark, 1) is not None


def test_a_wrong_kept_fact_shows_in_the_report(built: dict[str, Any], ctx: Context) -> None:
    """The comparison above can fail: the report does read the kept rows."""
    since, until = PERIODS["all time"]
    scratch = generate_report(ctx, since=since, until=until, now=NOW, settled=False)
    for _ in range(2):  # the facts of the first roll-up are used after the second (the mark lags one)
        with ctx.sessions.begin() as session:
            roll_up(session, NOW)
    with ctx.sessions.begin() as session:
        session.execute(update(SettledFacts).values(contacted=0))
    with ctx.sessions() as session:
        wrong = build_report(session, since=since, until=until, now=NOW)
        session.rollback()
    assert wrong["funnel"]["contacted"] < scratch["funnel"]["contacted"]


def test_two_roll_ups_at_once_keep_each_enrollment_once(built: dict[str, Any], ctx: Context) -> None:
    """The second waits for the first (the mark's row), then drops what the first kept and keeps it again.

    (The first moved the mark to 0, every row above it: see the next test for why the mark lags.)
    """
    started = threading.Barrier(2)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with ctx.sessions.begin() as session:
                started.wait(timeout=30)
                results.append(roll_up(session, NOW))
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    kept = kept_count(ctx)
    assert kept > 0
    assert sorted((r["dropped"], r["added"]) for r in results) == [(0, kept), (kept, kept)]
    since, until = PERIODS["all time"]
    assert generate_report(ctx, since=since, until=until, now=NOW) == generate_report(
        ctx, since=since, until=until, now=NOW, settled=False
    )


def reply(enrollment: Enrollment, **id_: int) -> Response:
    return Response(lead_id=enrollment.lead_id, enrollment_id=enrollment.id, kind="reply", channel="email",
                    received_at=NOW - timedelta(hours=2), **id_)  # fmt: skip


def test_a_row_committed_after_a_roll_up_that_missed_it_is_not_lost(
    built: dict[str, Any], ctx: Context, database_url: str
) -> None:
    """A reply whose transaction is still open while the roll-up reads, with a smaller id than a committed one.

    The roll-up cannot see it, yet sees a larger id: with a mark at the ids seen, the stale kept row
    would pass the check once the reply commits. The mark lags one roll-up, so the reply is above it.
    On PostgreSQL this is the real race (two connections). SQLite serializes writers (the roll-up
    would wait for the open transaction), so there the late reply is emulated: committed after the
    roll-up with the id a transaction open during it would have taken, below a committed one.
    """
    for _ in range(2):  # the kept facts are in use (the mark lags one roll-up)
        with ctx.sessions.begin() as session:
            roll_up(session, NOW)
    late, other = settled_enrollments(ctx, 2)
    if database_url.startswith("postgresql"):
        with ctx.sessions() as open_session:
            open_session.add(reply(late))
            open_session.flush()  # the reply has its id; its transaction stays open
            with ctx.sessions.begin() as session:
                session.add(reply(other))  # a larger id, committed
            with ctx.sessions.begin() as session:
                roll_up(session, NOW)
            open_session.commit()
    else:
        with ctx.sessions() as session:
            gap = (session.scalar(select(func.max(Response.id))) or 0) + 1
        with ctx.sessions.begin() as session:
            session.add(reply(other, id=gap + 1))
        with ctx.sessions.begin() as session:
            roll_up(session, NOW)
        with ctx.sessions.begin() as session:
            session.add(reply(late, id=gap))
    without_roll_up(ctx)  # the late reply's enrollment is computed afresh
    with ctx.sessions.begin() as session:  # the next roll-up drops its kept row and keeps it again
        roll_up(session, NOW)
    without_roll_up(ctx)
    with ctx.sessions() as session:
        assert session.get(SettledFacts, late.id).first_at is not None  # type: ignore[union-attr]
