"""The speed-to-lead section: time from enrollment to the first touch, p50 and p90, by source, class and owner.

The first touch is the enrollment's first email sent or contact task done
(:func:`cadence.services.first_touch.first_touches`); times are elapsed minutes, nights and
weekends included, as a lead waits them (the SLA itself counts business minutes).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Rep
from cadence.core.first_touch import percentile
from cadence.services.reports.scope import Scope


def _row(key: str, label: Any, minutes: list[float], leads: int) -> dict[str, Any]:
    return {
        key: label,
        "leads": leads,
        "touched": len(minutes),
        "not_touched": leads - len(minutes),
        "p50_minutes": _round(percentile(minutes, 0.5)),
        "p90_minutes": _round(percentile(minutes, 0.9)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def first_touch(session: Session, scope: Scope) -> dict[str, Any]:
    """Time to first touch of the period's enrollments: overall and by source, class and owner."""
    from cadence.services.first_touch import first_touches

    f = scope.facts.c
    rows = session.execute(select(f.enrollment_id, f.enrolled_at, f.source, f.lead_class, f.owner_id)).all()
    touched = first_touches(session, [r.enrollment_id for r in rows])
    owners = dict(session.execute(select(Rep.id, Rep.email)).tuples().all())
    groups: dict[str, dict[Any, tuple[list[float], list[int]]]] = {
        "source": defaultdict(lambda: ([], [0])),
        "class": defaultdict(lambda: ([], [0])),
        "owner": defaultdict(lambda: ([], [0])),
    }
    everyone: list[float] = []
    for r in rows:
        at = touched.get(r.enrollment_id)
        minutes = max(0.0, (at - r.enrolled_at).total_seconds() / 60) if at is not None else None
        for name, label in (("source", r.source), ("class", r.lead_class), ("owner", owners.get(r.owner_id))):
            values, count = groups[name][label or "-"]
            count[0] += 1
            if minutes is not None:
                values.append(minutes)
        if minutes is not None:
            everyone.append(minutes)
    result: dict[str, Any] = {"overall": _row("all", "all", everyone, len(rows))}
    for name, by in groups.items():
        result[f"by_{name}"] = [_row(name, label, values, count[0]) for label, (values, count) in sorted(by.items())]
    return result
