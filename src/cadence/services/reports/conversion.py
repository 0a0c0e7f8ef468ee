"""The funnel, conversion by source, class and cadence, and the time from enrollment to response and decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead
from cadence.services.reports.rules import HANDOFF_OUTCOME, MEETING_OUTCOMES
from cadence.services.reports.scope import Scope, between, count_if, hours, median_of, rate, seconds_between, to_int


def funnel(session: Session, scope: Scope) -> dict[str, int]:
    """Names, unfit and leads created in the period; enrolled, contacted, responded, meetings booked, handed off."""
    kinds = dict(
        session.execute(
            select(Lead.kind, func.count())
            .where(*between(Lead.created_at, scope.since, scope.until))
            .group_by(Lead.kind)
        )
        .tuples()
        .all()
    )
    f = scope.facts.c
    row = session.execute(
        select(
            func.count(),
            count_if(f.contacted == 1),
            count_if(f.first_at.is_not(None)),
            count_if(f.outcome.in_(MEETING_OUTCOMES)),
            count_if(f.outcome == HANDOFF_OUTCOME),
        )
    ).one()
    return {
        "names": to_int(kinds.get("name")),
        "unfit": to_int(kinds.get("unfit")),
        "leads": to_int(kinds.get("lead")),
        "enrolled": to_int(row[0]),
        "contacted": to_int(row[1]),
        "responded": to_int(row[2]),
        "meetings_booked": to_int(row[3]),
        "handed_off": to_int(row[4]),
    }


def conversion(session: Session, scope: Scope, column: str) -> list[dict[str, Any]]:
    """The funnel and the mean times per value of ``column`` of the facts (source, class or cadence)."""
    f = scope.facts.c
    key = f[column]
    query = (
        select(
            key,
            func.count(),
            count_if(f.contacted == 1),
            count_if(f.first_at.is_not(None)),
            count_if(f.outcome.in_(MEETING_OUTCOMES)),
            count_if(f.outcome == HANDOFF_OUTCOME),
            func.avg(seconds_between(scope.dialect, f.enrolled_at, f.first_at)),
            func.avg(seconds_between(scope.dialect, f.enrolled_at, f.decided_at)),
        )
        .group_by(key)
        .order_by(key)
    )
    rows = []
    for value, enrolled, contacted, responded, meetings, handed_off, to_response, to_decision in session.execute(
        query
    ).tuples():
        enrolled = to_int(enrolled)
        rows.append(
            {
                column.removeprefix("lead_"): value if value is not None else "(none)",
                "enrolled": enrolled,
                "contacted": to_int(contacted),
                "responded": to_int(responded),
                "meetings_booked": to_int(meetings),
                "handed_off": to_int(handed_off),
                "response_rate": rate(to_int(responded), enrolled),
                "conversion_rate": rate(to_int(meetings), enrolled),
                "mean_hours_to_first_response": hours(to_response),
                "mean_hours_to_decision": hours(to_decision),
            }
        )
    return rows


def durations(session: Session, scope: Scope, end: str) -> dict[str, Any]:
    """Count, mean, median, min and max hours from enrollment to ``end`` (``first_at`` or ``decided_at``)."""
    f = scope.facts.c
    seconds = seconds_between(scope.dialect, f.enrolled_at, f[end]).label("seconds")
    present = f[end].is_not(None)
    count, mean, low, high = session.execute(
        select(func.count(), func.avg(seconds), func.min(seconds), func.max(seconds)).where(present)
    ).one()
    count = to_int(count)
    median = median_of(session, select(seconds).where(present), count)
    return {
        "count": count,
        "mean_hours": hours(mean),
        "median_hours": hours(median),
        "min_hours": hours(low),
        "max_hours": hours(high),
    }
