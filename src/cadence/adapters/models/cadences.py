"""Cadences at work: pinned versions, enrollments, touches, tasks, decisions, responses, suppressions.

``touches`` holds every contact attempt; its unique key (enrollment_id, step_index) is what makes a
step happen at most once. A cadence pause is a cadence stopped from sending by the bounce guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadence.adapters.models.base import Base
from cadence.adapters.models.leads import Lead, Rep


class CadenceVersion(Base):
    """A cadence definition as it was when an enrollment started; enrollments pin it."""

    __tablename__ = "cadence_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(12))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


OPEN_STATES_SQL = "state IN ('active', 'paused', 'responded')"


class Enrollment(Base):
    """A lead going through one version of one cadence.

    ``next_step`` is the index of the next step to run (equal to the number of steps once all
    ran, while the grace period for replies runs); ``next_due_at`` is when it is due, and is set
    only while the enrollment is active.
    """

    __tablename__ = "enrollments"
    __table_args__ = (
        # At most one enrollment under way per lead.
        Index(
            "uq_enrollments_open_lead",
            "lead_id",
            unique=True,
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        # What is due costs O(due): only active enrollments are in this index.
        Index(
            "ix_enrollments_due",
            "next_due_at",
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        # The report's period selects enrollments by their enrollment time.
        Index("ix_enrollments_enrolled_at", "enrolled_at"),
        # Lapsed pauses (out-of-office return dates passed) cost O(lapsed): only paused ones are here.
        Index(
            "ix_enrollments_paused_until",
            "paused_until",
            sqlite_where=text("state = 'paused'"),
            postgresql_where=text("state = 'paused'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    cadence_name: Mapped[str] = mapped_column(String(63))
    cadence_version: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(20))
    enrolled_at: Mapped[datetime]
    # Day 0 for scheduling: the enrollment time, moved later by the time spent paused.
    anchor_at: Mapped[datetime]
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None]
    last_touch_at: Mapped[datetime | None]
    last_touch_day: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    paused_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    first_touch_breached_at: Mapped[datetime | None]
    """When the class's first-touch SLA passed with the lead not touched (it was escalated then)."""
    # No foreign key: a second reference to ``leads`` would make every join of the two tables ambiguous.
    held_by_lead_id: Mapped[int | None] = mapped_column(Integer)
    """Paused because this colleague (same account) answered: the hold ends with the owner's decision on them."""
    # The owner's sending mailbox every email of this enrollment leaves from (None: the global SMTP server).
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("sending_mailboxes.id"))

    lead: Mapped[Lead] = relationship(lazy="joined")


class Touch(Base):
    """One step executed (or being executed) for one enrollment: every contact attempt."""

    __tablename__ = "touches"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_index"),
        Index("ix_touches_lead_id_created", "lead_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    step_index: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(200))
    template_version: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(998))
    message_id: Mapped[str | None] = mapped_column(String(250), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    # Random per claim: the runner that claimed the step writes (and hands it to SMTP) only while it is still there.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    executed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    # The sending mailbox the email went out from (what its caps and bounce guard count).
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("sending_mailboxes.id"), index=True)


class Task(Base):
    """Work for a rep: a call, a LinkedIn invite, research, a postcard, an answer to a reply."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        # Everyone's open tasks by due time (a manager's task board, the API), and the tasks done lately.
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_status_completed", "status", "completed_at"),
        # One rep's tasks of every status by due time (GET /api/v1/tasks?owner=).
        Index("ix_tasks_owner_due", "owner_id", "due_at"),
        # An enrollment's tasks (time to first touch reads the last 30 days' enrollments' tasks), and the
        # report's facts: an enrollment's done contact tasks and the first one's completion time. With
        # the status in it, SQLite without statistics no longer prefers ix_tasks_status_completed for
        # these look-ups (all the done tasks, read once per enrollment).
        Index("ix_tasks_enrollment_status_completed", "enrollment_id", "status", "completed_at"),
        # The report: open tasks overdue per owner, and the tasks tied to no enrollment created in a period.
        Index(
            "ix_tasks_open_owner_due",
            "owner_id",
            "due_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "ix_tasks_unlinked_created_at",
            "created_at",
            sqlite_where=text("enrollment_id IS NULL"),
            postgresql_where=text("enrollment_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]

    lead: Mapped[Lead] = relationship(lazy="joined")
    owner: Mapped[Rep | None] = relationship(lazy="joined")


class Decision(Base):
    """The end of a lead's cadence, with its reason. A lead has one current decision (not superseded)."""

    __tablename__ = "decisions"
    __table_args__ = (
        # The report: decisions tied to no enrollment, made in a period.
        Index(
            "ix_decisions_unlinked_decided_at",
            "decided_at",
            sqlite_where=text("enrollment_id IS NULL"),
            postgresql_where=text("enrollment_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    outcome: Mapped[str] = mapped_column(String(30), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    qualification_skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime]
    # The lead's current decision has none; one a later decision replaced keeps its place in the history.
    superseded_at: Mapped[datetime | None]
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    meeting_at: Mapped[datetime | None]
    """When the booked meeting starts (a calendar invitation, a booking notification); None when not known."""


class Response(Base):
    """Something the lead sent us: a reply, an automatic reply, a bounce, a call back."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"))
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(250))
    received_at: Mapped[datetime]


class Suppression(Base):
    """An address (``bob@x.example``) or a domain (``@x.example``) that is never emailed."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class CadencePause(Base):
    """A cadence stopped from sending (its bounce rate passed the guard's threshold) until resumed by hand.

    The row stays once resumed (``resumed_at``): the guard then counts only the sends after it.
    """

    __tablename__ = "cadence_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_name: Mapped[str] = mapped_column(String(63), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]
