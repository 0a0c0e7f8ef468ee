"""The managers' dashboard, precomputed: its numbers are computed in the background and a page view reads one row.

Computing them reads every lead, touch, decision and task (:mod:`cadence.services.dashboard`): at a
million leads that is seconds of database work, too much for each view. ``cadence web`` runs
:func:`refresh` every ``dashboard_refresh_seconds`` (:class:`Refresher`); :func:`numbers` returns
the latest snapshot, or computes one when there is none or it is older than twice the interval
(a server that was stopped). The alerts (late answers, messages to review, failed webhook
deliveries) are read at each view: a manager acts on them. With ``dashboard_refresh_seconds`` 0
every view computes them.

The snapshot is the very numbers :func:`compute` returns, through JSON: the tests hold that they
equal the direct queries after sends, decisions and an erasure.
"""

from __future__ import annotations

import logging
import threading
import time as clock_time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from cadence.adapters.models import DashboardSnapshot
from cadence.services.context import Context
from cadence.services.dashboard import Funnel, FunnelStep, LeadCounts, OutcomeCount, RepTasks
from cadence.services.response_sla import LateAnswer, late_answers
from cadence.services.workspace.dashboard import Overview, overview

logger = logging.getLogger("cadence.dashboard")


@dataclass(frozen=True)
class DashboardNumbers:
    """Everything the dashboard shows, and when it was computed."""

    overview: Overview
    inbound_review: int
    webhooks: dict[str, int]
    first_touch: dict[str, Any]
    taken_at: datetime
    seconds: float
    """How long computing them took."""


def compute(ctx: Context, *, now: datetime) -> DashboardNumbers:
    """The dashboard's numbers at ``now``, read from the database (the direct queries)."""
    from cadence.services.inbound_review import review_count
    from cadence.services.workspace.webhooks import first_touch_times, webhook_counts

    started = clock_time.perf_counter()
    found = overview(ctx, now=now)
    with ctx.sessions() as session:
        review = review_count(session)
    return DashboardNumbers(
        overview=found,
        inbound_review=review,
        webhooks=webhook_counts(ctx),
        first_touch=first_touch_times(ctx, now=now),
        taken_at=now,
        seconds=round(clock_time.perf_counter() - started, 3),
    )


def to_json(numbers: DashboardNumbers) -> dict[str, Any]:
    """``numbers`` as JSON-ready data (:func:`from_json` reads it back)."""
    found = numbers.overview
    return {
        "leads": [[status, lead_class, count] for (status, lead_class), count in found.leads.cells.items()],
        "statuses": found.leads.statuses,
        "classes": found.leads.classes,
        "funnels": [asdict(funnel) for funnel in found.funnels],
        "decisions": [asdict(decision) for decision in found.decisions],
        "reps": [asdict(rep) for rep in found.reps],
        "late_answers": [
            {**asdict(late), "answered_at": late.answered_at.isoformat(), "deadline": late.deadline.isoformat()}
            for late in found.late_answers
        ],
        "stuck": found.stuck,
        "stuck_total": found.stuck_total,
        "inbound_review": numbers.inbound_review,
        "webhooks": numbers.webhooks,
        "first_touch": numbers.first_touch,
    }


def from_json(data: dict[str, Any], *, taken_at: datetime, seconds: float) -> DashboardNumbers:
    """The numbers :func:`to_json` wrote."""
    leads = LeadCounts(
        statuses=list(data["statuses"]),
        classes=list(data["classes"]),
        cells={(status, lead_class): int(count) for status, lead_class, count in data["leads"]},
    )
    funnels = [
        Funnel(f["cadence"], int(f["enrolled"]), [FunnelStep(**step) for step in f["steps"]]) for f in data["funnels"]
    ]
    decisions = [
        OutcomeCount(d["outcome"], int(d["count"]), [(r, int(n)) for r, n in d["reasons"]], d["qualification_skipped"])
        for d in data["decisions"]
    ]
    late = [
        LateAnswer(
            **{
                **item,
                "answered_at": datetime.fromisoformat(item["answered_at"]),
                "deadline": datetime.fromisoformat(item["deadline"]),
            }
        )
        for item in data["late_answers"]
    ]
    return DashboardNumbers(
        overview=Overview(
            leads=leads,
            funnels=funnels,
            decisions=decisions,
            reps=[RepTasks(**rep) for rep in data["reps"]],
            late_answers=late,
            stuck=list(data["stuck"]),
            stuck_total=int(data["stuck_total"]),
        ),
        inbound_review=int(data["inbound_review"]),
        webhooks={k: int(v) for k, v in data["webhooks"].items()},
        first_touch=dict(data["first_touch"]),
        taken_at=taken_at,
        seconds=seconds,
    )


def refresh(ctx: Context, *, now: datetime) -> DashboardNumbers:
    """Compute the numbers at ``now`` and keep them as the latest snapshot (older ones are deleted)."""
    numbers = compute(ctx, now=now)
    with ctx.sessions() as session, session.begin():
        session.add(DashboardSnapshot(taken_at=now, seconds=numbers.seconds, numbers=to_json(numbers)))
        session.flush()
        session.execute(delete(DashboardSnapshot).where(DashboardSnapshot.taken_at < now))
    return numbers


def latest(ctx: Context) -> DashboardNumbers | None:
    """The latest snapshot, if there is one."""
    with ctx.sessions() as session:
        row = session.scalars(
            select(DashboardSnapshot).order_by(DashboardSnapshot.taken_at.desc(), DashboardSnapshot.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        return from_json(row.numbers, taken_at=row.taken_at, seconds=row.seconds)


def numbers(ctx: Context, *, now: datetime) -> DashboardNumbers:
    """What the dashboard shows at ``now``: the latest snapshot while it is fresh, else numbers computed now.

    Fresh: taken less than twice ``dashboard_refresh_seconds`` before ``now`` (and not after it: a
    clock moved back). A snapshot computed here is kept for the next views.
    """
    interval = ctx.settings.dashboard_refresh_seconds
    if interval == 0:
        return compute(ctx, now=now)
    found = latest(ctx)
    if found is not None and now - timedelta(seconds=2 * interval) <= found.taken_at <= now:
        return with_live_alerts(ctx, found, now=now)
    return refresh(ctx, now=now)


def with_live_alerts(ctx: Context, found: DashboardNumbers, *, now: datetime) -> DashboardNumbers:
    """``found`` with its alerts read now: answers past the response time, messages to review, webhook deliveries.

    They ask a manager to act, so they are never minutes old; each reads few rows (open answer
    tasks, an index on the deliveries' state).
    """
    from cadence.services.inbound_review import review_count
    from cadence.services.workspace.webhooks import webhook_counts

    with ctx.sessions() as session:
        late = late_answers(session, now=now, settings=ctx.settings)
        review = review_count(session)
    return replace(
        found,
        overview=replace(found.overview, late_answers=late),
        inbound_review=review,
        webhooks=webhook_counts(ctx),
    )


class Refresher:
    """A thread of ``cadence web`` that refreshes the snapshot every ``dashboard_refresh_seconds``."""

    def __init__(self, ctx: Context, clock: Callable[[], datetime]) -> None:
        self.ctx = ctx
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-refresher", daemon=True)

    def start(self) -> None:
        """Start refreshing (nothing when the interval is 0: every view computes the numbers)."""
        if self.ctx.settings.dashboard_refresh_seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        """Stop after the refresh under way, if any."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def _run(self) -> None:
        interval = self.ctx.settings.dashboard_refresh_seconds
        while not self._stop.is_set():
            try:
                now = self.clock()
                found = latest(self.ctx)
                # a server restarted within the interval finds them fresh: it waits for its turn
                wait = interval if found is None else interval - (now - found.taken_at).total_seconds()
                if found is None or not 0 < wait <= interval:
                    done = refresh(self.ctx, now=now)
                    logger.info("dashboard numbers refreshed in %.1f s", done.seconds)
                    wait = interval
            except Exception:  # the next round tries again; the page computes them if they grow stale
                logger.exception("the dashboard's numbers could not be refreshed")
                wait = interval
            self._stop.wait(wait)
