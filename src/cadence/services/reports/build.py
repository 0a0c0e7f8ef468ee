"""The report as data: every section read from one snapshot, in one transaction that is rolled back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from cadence.services.context import Context
from cadence.services.reports.accounts import accounts
from cadence.services.reports.conversion import conversion, durations, funnel
from cadence.services.reports.decisions import chosen_decisions, decisions
from cadence.services.reports.first_touch import first_touch
from cadence.services.reports.owners import owners
from cadence.services.reports.rules import RULES
from cadence.services.reports.scope import drop_facts, make_scope
from cadence.services.reports.steps import attributed, cohort_touches, steps, variants
from cadence.services.stages import leads_per_stage


def build_report(session: Session, *, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """The report for enrollments in ``[since, until)`` (either may be None: unbounded), tasks overdue as of ``now``."""
    scope = make_scope(session, since, until, now)
    touches = cohort_touches(scope)
    replied = attributed(scope.cohort, ("reply",))
    chosen = chosen_decisions(scope)
    report = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "now": now.isoformat(),
        },
        "rules": list(RULES),
        "funnel": funnel(session, scope),
        "steps": steps(session, scope, touches, replied),
        "variants": variants(session, scope, touches, replied),
        "conversion": {
            "by_source": conversion(session, scope, "source"),
            "by_class": conversion(session, scope, "lead_class"),
            "by_cadence": conversion(session, scope, "cadence"),
        },
        "timing": {
            "first_response": durations(session, scope, "first_at"),
            "decision": durations(session, scope, "decided_at"),
        },
        "decisions": decisions(session, scope, chosen),
        "owners": owners(session, scope, chosen),
        "stages": leads_per_stage(session, now=now),
        "first_touch": first_touch(session, scope),
        "accounts": accounts(session, scope, chosen),
    }
    drop_facts(session, scope.facts)
    return report


def generate_report(ctx: Context, *, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """:func:`build_report` in one transaction, rolled back (on PostgreSQL a repeatable-read snapshot).

    Its only write is a temporary table of its own; every figure comes from the same snapshot.
    """
    with ctx.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            # About twenty mid-sized queries: compiling each with JIT costs more than it saves.
            session.execute(text("SET LOCAL jit = off"))
        try:
            return build_report(session, since=since, until=until, now=now)
        finally:
            session.rollback()
