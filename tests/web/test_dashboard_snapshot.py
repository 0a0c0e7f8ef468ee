"""The dashboard's precomputed numbers: the snapshot equals the direct queries, and is refreshed when stale."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from cadence.core.decisions import Outcome
from cadence.services.context import Context
from cadence.services.dashboard_snapshot import compute, from_json, latest, numbers, refresh, to_json
from cadence.services.enrollments import decide, get_lead
from cadence.services.erasure import erase
from tests.web.workspace import BOB, CY, DEE, NOW, Seeded, _touch


def _same(ctx: Context, at: object) -> None:
    """The stored snapshot equals what the direct queries give now (timing aside)."""
    stored = latest(ctx)
    assert stored is not None
    direct = compute(ctx, now=stored.taken_at)
    assert stored.taken_at == at
    assert dataclasses.replace(stored, seconds=0) == dataclasses.replace(direct, seconds=0)


def test_the_snapshot_equals_the_direct_queries_after_sends_decisions_and_an_erasure(
    ctx: Context, seeded: Seeded
) -> None:
    first = refresh(ctx, now=NOW)
    _same(ctx, NOW)
    sent_before = {f.cadence: f.steps[2].reached for f in first.overview.funnels}["default"]

    with ctx.sessions() as s, s.begin():  # a send: Cy's next step runs
        _touch(ctx, s, get_lead(s, CY), at=NOW + timedelta(minutes=1))
    later = NOW + timedelta(minutes=2)
    after_send = refresh(ctx, now=later)
    _same(ctx, later)
    reached = {(f.cadence, s.index): s.reached for f in after_send.overview.funnels for s in f.steps}
    assert sum(reached.values()) == sum((s.reached for f in first.overview.funnels for s in f.steps), 1)
    assert {f.cadence: f.steps[2].reached for f in after_send.overview.funnels}["default"] >= sent_before

    with ctx.sessions() as s, s.begin():  # a decision
        decide(s, get_lead(s, BOB), Outcome.NOT_INTERESTED, now=later, reason="budget", decided_by="boss@example")
    later += timedelta(minutes=1)
    after_decision = refresh(ctx, now=later)
    _same(ctx, later)
    outcomes = {d.outcome: d.count for d in after_decision.overview.decisions}
    assert outcomes.get("not_interested", 0) == 1 + {d.outcome: d.count for d in first.overview.decisions}.get(
        "not_interested", 0
    )

    with ctx.sessions() as s, s.begin():  # an erasure
        assert erase(s, ctx.settings, DEE, actor="boss@example", now=later) is not None
    later += timedelta(minutes=1)
    after_erasure = refresh(ctx, now=later)
    _same(ctx, later)
    assert after_erasure.overview.leads.by_status().get("erased") == 1  # the row stays, its person is gone
    assert "erased" not in after_decision.overview.leads.by_status()


def test_the_json_form_reads_back_to_the_same_numbers(ctx: Context, seeded: Seeded) -> None:
    direct = compute(ctx, now=NOW)
    again = from_json(to_json(direct), taken_at=direct.taken_at, seconds=direct.seconds)
    assert again == direct
    assert direct.overview.leads.total > 0
    assert direct.overview.funnels
    assert direct.overview.reps


def test_a_view_reads_the_snapshot_while_fresh_and_computes_new_numbers_once_it_is_stale(
    ctx: Context, seeded: Seeded
) -> None:
    interval = ctx.settings.dashboard_refresh_seconds
    assert interval > 0
    shown = numbers(ctx, now=NOW)  # none yet: computed and kept
    assert latest(ctx) == shown
    with ctx.sessions() as s, s.begin():
        decide(s, get_lead(s, BOB), Outcome.BAD_FIT, now=NOW, reason="too small", decided_by="boss@example")
    fresh = numbers(ctx, now=NOW + timedelta(seconds=interval))
    assert fresh.taken_at == NOW  # the snapshot, as it was
    assert "bad_fit" not in {d.outcome for d in fresh.overview.decisions}
    stale = numbers(ctx, now=NOW + timedelta(seconds=2 * interval + 1))
    assert stale.taken_at == NOW + timedelta(seconds=2 * interval + 1)
    assert "bad_fit" in {d.outcome for d in stale.overview.decisions}
    assert latest(ctx) == stale


def test_with_no_refresh_interval_every_view_computes_the_numbers(ctx: Context, seeded: Seeded) -> None:
    live = Context(ctx.settings.model_copy(update={"dashboard_refresh_seconds": 0}))
    try:
        numbers(live, now=NOW)
        assert latest(live) is None
        with live.sessions() as s, s.begin():
            decide(s, get_lead(s, BOB), Outcome.BAD_FIT, now=NOW, reason="too small", decided_by="boss@example")
        assert "bad_fit" in {d.outcome for d in numbers(live, now=NOW).overview.decisions}
    finally:
        live.close()
