"""The speed-to-lead section: time from enrollment to the first touch, p50 and p90, by source, class and owner.

The first touch is the enrollment's first email sent or contact task done (``touched_at`` of the
facts, the same rule as :func:`cadence.services.first_touch.first_touches`); times are elapsed
minutes, nights and weekends included, as a lead waits them (the SLA itself counts business
minutes). Percentiles are nearest-rank (:func:`cadence.core.first_touch.percentile`), read by the
database: the value at rank ``ceil(p * n)`` of each group's ordered times.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Rep
from cadence.services.reports.scope import Scope, seconds_between, to_int

GROUPS = (("source", "source"), ("class", "lead_class"), ("owner", "owner_id"))
"""Each breakdown: its name in the report, and the facts column it groups by."""


def _percentiles(session: Session, scope: Scope, key: ColumnElement[Any] | None) -> dict[Any, tuple[float, float]]:
    """Per value of ``key`` (None: all together, under ``all``): p50 and p90 minutes to first touch of the touched."""
    f = scope.facts.c
    seconds = seconds_between(scope.dialect, f.enrolled_at, f.touched_at)
    minutes = case((seconds < 0, 0.0), else_=seconds / 60.0)
    ranked = (
        select(
            (literal_column("'all'") if key is None else key).label("key"),
            minutes.label("minutes"),
            func.row_number().over(partition_by=key, order_by=minutes).label("rank"),
            func.count().over(partition_by=key).label("n"),
        )
        .where(f.touched_at.is_not(None))
        .subquery()
    )
    r = ranked.c
    p50_rank, p90_rank = (r.n + 1) // 2, (9 * r.n + 9) // 10  # ceil(0.5 n), ceil(0.9 n) in integers
    found: dict[Any, dict[str, float]] = {}
    for value, rank, n, at in session.execute(
        select(r.key, r.rank, r.n, r.minutes).where(or_(r.rank == p50_rank, r.rank == p90_rank))
    ).tuples():
        picked = found.setdefault(value, {})
        if rank == (n + 1) // 2:
            picked["p50"] = float(at)
        if rank == (9 * n + 9) // 10:
            picked["p90"] = float(at)
    return {value: (p["p50"], p["p90"]) for value, p in found.items()}


def _row(key: str, label: Any, leads: int, touched: int, p: tuple[float, float] | None) -> dict[str, Any]:
    return {
        key: label,
        "leads": leads,
        "touched": touched,
        "not_touched": leads - touched,
        "p50_minutes": None if p is None else round(p[0], 1),
        "p90_minutes": None if p is None else round(p[1], 1),
    }


def first_touch(session: Session, scope: Scope) -> dict[str, Any]:
    """Time to first touch of the period's enrollments: overall and by source, class and owner."""
    f = scope.facts.c
    leads, touched = session.execute(select(func.count(), func.count(f.touched_at))).one()
    result: dict[str, Any] = {
        "overall": _row("all", "all", to_int(leads), to_int(touched), _percentiles(session, scope, None).get("all"))
    }
    owners = dict(session.execute(select(Rep.id, Rep.email)).tuples().all())
    for name, column in GROUPS:
        key = f[column]
        percentiles = _percentiles(session, scope, key)
        rows = []
        for value, count, with_touch in session.execute(
            select(key, func.count(), func.count(f.touched_at)).group_by(key)
        ).tuples():
            label = owners.get(value) if column == "owner_id" else value
            rows.append(_row(name, label or "-", to_int(count), to_int(with_touch), percentiles.get(value)))
        result[f"by_{name}"] = sorted(rows, key=lambda r: str(r[name]))
    return result
