"""The managers' dashboard in one read: leads by status and class, each cadence's funnel, decisions, reps' tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cadence.adapters.files import load_cadences
from cadence.errors import CadenceError
from cadence.services.context import Context
from cadence.services.dashboard import (
    Funnel,
    LeadCounts,
    OutcomeCount,
    RepTasks,
    cadence_funnels,
    decisions_by_outcome,
    leads_by_status_and_class,
    tasks_by_rep,
)
from cadence.services.response_sla import LateAnswer, late_answers
from cadence.services.stuck import count_stuck, stuck_leads

STUCK_SHOWN = 20
"""How many of the leads with neither a decision nor a next step the dashboard lists (the rest: the CLI)."""


@dataclass(frozen=True)
class Overview:
    """The dashboard's numbers (see :mod:`cadence.services.dashboard`)."""

    leads: LeadCounts
    funnels: list[Funnel]
    decisions: list[OutcomeCount]
    reps: list[RepTasks]
    late_answers: list[LateAnswer] = field(default_factory=list)
    """Leads that answered and wait past the response SLA (:mod:`cadence.services.response_sla`)."""
    stuck: list[dict[str, Any]] = field(default_factory=list)
    """The oldest leads with neither a decision nor a next step (:mod:`cadence.services.stuck`), at most
    :data:`STUCK_SHOWN`."""
    stuck_total: int = 0


def overview(ctx: Context, *, now: datetime) -> Overview:
    """The dashboard's numbers at ``now``; the funnels follow the cadences as they are in the folder now.

    A cadence folder that cannot be read gives no funnels rather than no dashboard.
    """
    try:
        cadences = load_cadences(ctx.templates_dir)
    except CadenceError:
        cadences = {}
    with ctx.sessions() as session:
        return Overview(
            leads=leads_by_status_and_class(session),
            funnels=cadence_funnels(session, cadences),
            decisions=decisions_by_outcome(session),
            reps=tasks_by_rep(session, now=now, default_timezone=ctx.settings.default_timezone),
            late_answers=late_answers(session, now=now, settings=ctx.settings),
            stuck=stuck_leads(session, limit=STUCK_SHOWN),
            stuck_total=count_stuck(session),
        )
