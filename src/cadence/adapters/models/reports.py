"""What the results report keeps between runs: the facts of settled enrollments, and how far they go."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cadence.adapters.models.base import Base


class SettledFacts(Base):
    """What became of one settled enrollment, as the report's facts table has it (:mod:`cadence.services.reports`).

    Settled: ended (not active, paused or responded) long enough ago, with no open task and no step
    whose outcome may still change. The lead's source, class and owner are not kept: they can change,
    and the report reads them from the lead. ``ended_at`` is the enrollment's at roll-up time: an
    enrollment reopened and ended again no longer matches and is computed afresh.
    """

    __tablename__ = "report_settled_facts"
    # A period selects the kept rows by their enrollment time.
    __table_args__ = (Index("ix_report_settled_facts_enrolled_at", "enrolled_at"),)

    # No foreign key: the report joins the enrollment anyway, and this table must never block a change to it.
    enrollment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lead_id: Mapped[int] = mapped_column(Integer)
    enrolled_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    cadence: Mapped[str] = mapped_column(String(63))
    contacted: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime | None]
    decision_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(30))
    decided_at: Mapped[datetime | None]
    touched_at: Mapped[datetime | None]


class RollupMark(Base):
    """The one row saying which rows the settled facts have seen, one roll-up behind (:mod:`.rollup`).

    ``seen_*``: the largest id of each table at the last roll-up. ``touch_id`` ... ``decision_id``:
    the mark checked, the ``seen_*`` of the roll-up before (a row whose transaction was still open
    during the last roll-up may have an id below its ``seen_*``). A touch, task, response or decision
    with an id above the mark: its enrollment's facts are computed afresh by the report, and dropped
    and kept again by the next roll-up.
    """

    __tablename__ = "report_rollup_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    touch_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[int] = mapped_column(Integer)
    decision_id: Mapped[int] = mapped_column(Integer)
    seen_touch_id: Mapped[int] = mapped_column(Integer)
    seen_task_id: Mapped[int] = mapped_column(Integer)
    seen_response_id: Mapped[int] = mapped_column(Integer)
    seen_decision_id: Mapped[int] = mapped_column(Integer)
    rolled_at: Mapped[datetime | None]
