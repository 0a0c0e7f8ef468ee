"""SQLite with no statistics looks up an enrollment's done tasks by enrollment, not by status alone.

``tenant.py`` and a new install run no ``ANALYZE``: without ``sqlite_stat1`` SQLite picked
``ix_tasks_status_completed`` (status, completed_at) for the facts' contact-task look-ups, reading
every done task once per enrollment. ``ix_tasks_enrollment_status_completed`` matches the look-up.
(PostgreSQL plans from its own statistics, which it always gathers: not asserted here.)
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from cadence.adapters.db import make_engine
from cadence.adapters.models import Enrollment
from cadence.adapters.schema import upgrade
from cadence.services.reports.scope import enrollment_facts


def test_the_facts_read_tasks_by_enrollment_and_status_without_statistics(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        upgrade(engine)
        cohort = select(
            Enrollment.id.label("enrollment_id"),
            Enrollment.lead_id.label("lead_id"),
            Enrollment.enrolled_at.label("enrolled_at"),
            Enrollment.cadence_name.label("cadence"),
        ).subquery("cohort")
        statement = enrollment_facts(cohort).compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'").all() == []
            plan = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")]
    finally:
        engine.dispose()
    tasks = [line for line in plan if " tasks " in f"{line} "]
    assert tasks
    assert all("ix_tasks_enrollment_status_completed (enrollment_id=? AND status=?)" in line for line in tasks), plan
