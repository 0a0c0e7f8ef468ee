"""The decisions section: by outcome and reason, superseded ones, and meetings booked without the answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, and_, func, or_, select, union_all
from sqlalchemy.orm import Session

from cadence.adapters.models import Decision, Lead, Rep
from cadence.core.leads import lead_reference
from cadence.core.questions import Question
from cadence.services.answers import configured_questions
from cadence.services.reports.rules import MAX_FLAGGED, MEETING_OUTCOMES, TOP_REASONS
from cadence.services.reports.scope import Scope, between, count_if, to_int


def chosen_decisions(scope: Scope) -> Subquery:
    """The decisions the report counts: each enrollment's latest, and those tied to no enrollment in the period."""
    effective = select(scope.facts.c.decision_id.label("id")).where(scope.facts.c.decision_id.is_not(None))
    unlinked = select(Decision.id.label("id")).where(
        Decision.enrollment_id.is_(None), *between(Decision.decided_at, scope.since, scope.until)
    )
    return union_all(effective, unlinked).subquery("chosen")


def _missing_answers(answers: Any, skipped: bool, questions: tuple[Question, ...]) -> str | None:
    if skipped:
        return "qualification skipped"
    if not answers or not isinstance(answers, dict):
        return "no answers"
    missing = [q.key for q in questions if not str(answers.get(q.key) or "").strip()]
    return f"unanswered: {', '.join(missing)}" if missing else None


def decisions(session: Session, scope: Scope, chosen: Subquery) -> dict[str, Any]:
    """The ``chosen`` decisions by outcome and by reason, the superseded count, meetings missing answers."""
    picked = Decision.id.in_(select(chosen.c.id))
    no_reason = or_(Decision.reason.is_(None), func.trim(Decision.reason) == "")
    by_outcome = [
        {"outcome": outcome, "count": to_int(count), "without_reason": to_int(without)}
        for outcome, count, without in session.execute(
            select(Decision.outcome, func.count(), count_if(no_reason))
            .where(picked)
            .group_by(Decision.outcome)
            .order_by(func.count().desc(), Decision.outcome)
        ).tuples()
    ]
    by_reason: list[dict[str, Any]] = []
    shown: dict[str, int] = {}
    others: dict[str, list[int]] = {}
    reasons = session.execute(
        select(Decision.outcome, Decision.reason, func.count())
        .where(picked)
        .group_by(Decision.outcome, Decision.reason)
        .order_by(Decision.outcome, func.count().desc(), Decision.reason)
        .execution_options(yield_per=500)
    ).tuples()
    for outcome, reason, count in reasons:
        if shown.get(outcome, 0) < TOP_REASONS:
            shown[outcome] = shown.get(outcome, 0) + 1
            by_reason.append({"outcome": outcome, "reason": reason, "count": to_int(count)})
        else:
            tally = others.setdefault(outcome, [0, 0])
            tally[0] += 1
            tally[1] += to_int(count)
    for outcome, (groups, count) in sorted(others.items()):
        by_reason.append({"outcome": outcome, "reason": f"({groups} other reasons)", "count": count})
    flagged: list[dict[str, Any]] = []
    total_flagged = 0
    questions = configured_questions(session)
    meetings = session.execute(
        select(
            Decision.id,
            Decision.outcome,
            Decision.decided_at,
            Decision.reason,
            Decision.answers,
            Decision.qualification_skipped,
            Lead.id,
            Lead.email,
            Rep.email,
        )
        .join(Lead, Lead.id == Decision.lead_id)
        .outerjoin(Rep, Rep.id == Lead.owner_id)
        .where(picked, Decision.outcome.in_(MEETING_OUTCOMES))
        .order_by(Decision.decided_at, Decision.id)
        .execution_options(yield_per=500)
    ).tuples()
    for _id, outcome, decided_at, reason, answers, skipped, lead_id, lead_email, owner_email in meetings:
        why = _missing_answers(answers, skipped, questions)
        if why is None:
            continue
        total_flagged += 1
        if len(flagged) < MAX_FLAGGED:
            flagged.append(
                {
                    "lead": lead_reference(lead_id, lead_email),
                    "owner": owner_email,
                    "outcome": outcome,
                    "decided_at": decided_at.isoformat(),
                    "why": why,
                    "reason": reason,
                }
            )
    f = scope.facts.c
    c = scope.cohort.c
    all_of_cohort = session.execute(  # reached by lead (indexed), the enrollment must match too
        select(func.count())
        .select_from(Decision)
        .join(scope.cohort, and_(c.lead_id == Decision.lead_id, c.enrollment_id == Decision.enrollment_id))
    ).scalar_one()
    effective = session.execute(select(func.count()).where(f.decision_id.is_not(None))).scalar_one()
    return {
        "total": sum(o["count"] for o in by_outcome),
        "by_outcome": by_outcome,
        "by_reason": by_reason,
        "superseded": to_int(all_of_cohort) - to_int(effective),
        "meetings_without_answers": {"count": total_flagged, "items": flagged},
    }
