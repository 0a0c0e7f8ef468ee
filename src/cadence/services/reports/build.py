"""The report as data: every section read from one snapshot, in one transaction that is rolled back."""

from __future__ import annotations

from collections.abc import Callable
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
from cadence.services.reports.rollup import due, roll_up
from cadence.services.reports.rules import RULES
from cadence.services.reports.scope import drop_facts, make_scope
from cadence.services.reports.steps import attributed, cohort_touches, steps, variants
from cadence.services.stages import leads_per_stage

Progress = Callable[[str, int, int], None]
"""Told before each step of a report: its name, how many steps are done, how many there are."""

SECTIONS = (
    "funnel",
    "steps",
    "variants",
    "conversion",
    "timing",
    "decisions",
    "owners",
    "stages",
    "first_touch",
    "accounts",
)
"""The report's sections, in the order they are computed (after the enrollments of the period)."""


def build_report(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    progress: Progress | None = None,
    settled: bool = True,
) -> dict[str, Any]:
    """The report for enrollments in ``[since, until)`` (either may be None: unbounded), tasks overdue as of ``now``.

    ``progress`` is told before each step: ``enrollments`` (what became of each one in the period),
    then each of :data:`SECTIONS`. ``settled``: read the settled enrollments' kept facts
    (:mod:`.rollup`) rather than compute them (the figures are the same).
    """
    total = len(SECTIONS) + 1
    tell = progress or (lambda _name, _done, _total: None)
    tell("enrollments", 0, total)
    scope = make_scope(session, since, until, now, settled=settled)
    touches = cohort_touches(scope)
    replied = attributed(scope.cohort, ("reply",))
    chosen = chosen_decisions(scope)
    sections: dict[str, Callable[[], Any]] = {
        "funnel": lambda: funnel(session, scope),
        "steps": lambda: steps(session, scope, touches, replied),
        "variants": lambda: variants(session, scope, touches, replied),
        "conversion": lambda: {
            "by_source": conversion(session, scope, "source"),
            "by_class": conversion(session, scope, "lead_class"),
            "by_cadence": conversion(session, scope, "cadence"),
        },
        "timing": lambda: {
            "first_response": durations(session, scope, "first_at"),
            "decision": durations(session, scope, "decided_at"),
        },
        "decisions": lambda: decisions(session, scope, chosen),
        "owners": lambda: owners(session, scope, chosen),
        "stages": lambda: leads_per_stage(session, now=now),
        "first_touch": lambda: first_touch(session, scope),
        "accounts": lambda: accounts(session, scope, chosen),
    }
    report: dict[str, Any] = {
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "now": now.isoformat(),
        },
        "rules": list(RULES),
    }
    for done, name in enumerate(SECTIONS, start=1):
        tell(name, done, total)
        report[name] = sections[name]()
    drop_facts(session, scope.facts)
    tell("done", total, total)
    return report


def generate_report(
    ctx: Context,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    progress: Progress | None = None,
    settled: bool = True,
) -> dict[str, Any]:
    """:func:`build_report` in one transaction, rolled back (on PostgreSQL a repeatable-read snapshot).

    With ``settled`` (the default), :func:`.rollup.roll_up` first (progress step ``settled``; when
    :func:`.rollup.due`) keeps the facts of the enrollments settled since, in a transaction of its
    own (committed); the report then reads them. Without, no roll-up runs and every enrollment's facts
    are computed (the same figures).
    The report's only write is a temporary table of its own; every figure comes from the same snapshot.
    """
    if settled and progress is not None:
        told, steps = progress, len(SECTIONS) + 2
        told("settled", 0, steps)
        progress = lambda name, done, _total: told(name, done + 1, steps)  # noqa: E731
    if settled:
        with ctx.sessions.begin() as session:
            if due(session, now):
                roll_up(session, now)
    with ctx.sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            # About twenty mid-sized queries: compiling each with JIT costs more than it saves.
            session.execute(text("SET LOCAL jit = off"))
        try:
            return build_report(session, since=since, until=until, now=now, progress=progress, settled=settled)
        finally:
            session.rollback()
