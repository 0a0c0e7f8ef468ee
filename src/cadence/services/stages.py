"""Stages of maturation: applying the rules of ``stages.yaml`` (:mod:`cadence.core.stages`), moves by hand,
each lead's stage history, and leads per stage for the report."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Rep, StageChange
from cadence.core.events import AnyEvent, Consequences, Responded, TaskDone
from cadence.core.intent import REVIEW_BELOW
from cadence.core.stages import DEFAULT_STAGES, StageMove, Stages, hand_move, rule_move, triggers
from cadence.services.context import CONTEXT

if TYPE_CHECKING:
    from cadence.services.context import Context

RULE_BY = "cadence"
"""Who moves a lead when a rule of ``stages.yaml`` does."""
DAY_SECONDS = 86_400.0


def context_of(session: Session) -> Context | None:
    """The context whose session this is (None for a session made otherwise)."""
    ctx: Context | None = session.info.get(CONTEXT)
    return ctx


def stages_of(session: Session) -> Stages:
    """The configured stages (the context's ``stages.yaml``), else seed 001's."""
    ctx = context_of(session)
    return ctx.stages if ctx is not None else DEFAULT_STAGES


def fired_by(event: AnyEvent, result: Consequences) -> list[str]:
    """The stage triggers an event and its consequences fire: the reply's intent, the task's outcome, the decision."""
    intent = None
    task = None
    if isinstance(event, Responded) and event.reading is not None:
        reading = event.reading
        intent = reading.intent if reading.confidence >= REVIEW_BELOW else "unclear"
    if isinstance(event, TaskDone):
        task = (event.channel, event.outcome)
    decision = result.decision.outcome.value if result.decision is not None else None
    return triggers(intent=intent, task=task, decision=decision)


def record_move(session: Session, lead: Lead, move: StageMove, *, at: datetime) -> StageChange:
    """Write ``move``: the lead's current stage, and a row of its history."""
    lead.stage, lead.stage_entered_at = move.stage, at
    change = StageChange(
        lead_id=lead.id, stage=move.stage, previous=move.previous, entered_at=at, by=move.by[:320], reason=move.reason
    )
    session.add(change)
    session.flush()
    return change


def apply_rules(session: Session, lead: Lead, fired: Iterable[str], *, at: datetime) -> StageChange | None:
    """Move the lead as the rules say for what ``fired`` (forward only); the change, if any."""
    fired = list(fired)
    if not fired:
        return None
    move = rule_move(stages_of(session), lead.stage, fired, by=RULE_BY)
    return record_move(session, lead, move, at=at) if move is not None else None


def move_by_hand(
    session: Session, lead: Lead, stage: str, *, reason: str | None, by: str, now: datetime
) -> StageChange:
    """A person moves ``lead`` to ``stage`` (any stage, forward or back), with a reason kept in its history."""
    move = hand_move(stages_of(session), lead.stage, stage, reason=reason, by=by)
    return record_move(session, lead, move, at=now)


def stage_of(session: Session, lead: Lead) -> dict[str, Any]:
    """The lead's stage (key, name, since when) and its history, newest first."""
    stages = stages_of(session)
    history = session.scalars(select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id.desc()))
    return {
        "key": lead.stage or stages.first.key,
        "name": stages.name(lead.stage),
        "since": (lead.stage_entered_at or lead.created_at).isoformat(),
        "history": [
            {
                "stage": change.stage,
                "name": stages.name(change.stage),
                "previous": change.previous,
                "at": change.entered_at.isoformat(),
                "by": change.by,
                "reason": change.reason,
            }
            for change in history
        ],
        "choices": [{"key": s.key, "name": s.name} for s in stages.stages],
    }


def leads_per_stage(session: Session, *, now: datetime, owner: Rep | None = None) -> list[dict[str, Any]]:
    """Leads (not names, not unfit) per stage, in the stages' order, with the median days they have spent in it.

    A stage no longer in ``stages.yaml`` that still holds leads comes last, under its key. The
    database counts and finds each median (``ORDER BY ... OFFSET`` over an index): no lead is read.
    """
    stages = stages_of(session)
    first = stages.first.key
    mine = [Lead.kind == "lead", *([Lead.owner_id == owner.id] if owner is not None else [])]
    stored = dict(session.execute(select(Lead.stage, func.count()).where(*mine).group_by(Lead.stage)).tuples().all())
    counts: dict[str, int] = {s.key: 0 for s in stages.stages}
    for stage, count in stored.items():
        counts[stage or first] = counts.get(stage or first, 0) + int(count)
    rows = []
    for key, count in counts.items():
        middle = _median_days(session, mine, key, first, stored, count, now)
        rows.append(
            {
                "stage": key,
                "name": stages.name(key),
                "leads": count,
                "median_days": round(middle, 1) if middle is not None else None,
            }
        )
    return rows


def _median_days(
    session: Session,
    mine: list[Any],
    key: str,
    first: str,
    stored: dict[str | None, int],
    count: int,
    now: datetime,
) -> float | None:
    """The median days in stage ``key`` of its ``count`` leads: since they entered it (or were created, in the first).

    Days fall as the entry time rises, so the middle entry times give the middle days. A lead never
    moved has no stage and no entry time (:func:`record_move` sets both): the first stage's leads are
    read in ``created_at`` order off the index, unless some were moved back to it by name.
    """
    if count == 0:
        return None
    since: ColumnElement[datetime] = func.coalesce(Lead.stage_entered_at, Lead.created_at)
    order: ColumnElement[datetime]
    if key != first:
        where, order = Lead.stage == key, since
    elif stored.get(first):
        where, order = or_(Lead.stage.is_(None), Lead.stage == first), since
    else:
        where, order = Lead.stage.is_(None), Lead.created_at.expression
    middle = session.execute(
        select(order).where(*mine, where).order_by(order).offset((count - 1) // 2).limit(2 - count % 2)
    ).scalars()
    days = [max(0.0, (now - at).total_seconds() / DAY_SECONDS) for at in middle]
    return sum(days) / len(days) if days else None
