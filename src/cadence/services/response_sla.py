"""The response SLA: a lead that answered is answered within ``CADENCE_RESPONSE_SLA_HOURS`` business hours.

Every answer leaves its owner a task of the ``reply`` channel (answer the reply, answer and book a
meeting, confirm a date, add a referral, review an unclear reply). Such a task still open when the
SLA has run out, counted in business hours of the lead's calendar from the moment the answer came
(the task's creation), is a **late answer**: the owner's digest lists it, the manager's digest
escalates it the same morning (not after ``CADENCE_ESCALATE_AFTER_DAYS``, as other overdue tasks),
and the dashboard shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Task
from cadence.core.cadences import CadenceSettings
from cadence.core.schedule import LeadCalendar, add_business_hours
from cadence.services.cadence_versions import lead_timezone, pinned_cadence
from cadence.services.enrollments import latest_enrollment
from cadence.services.rule_rows import full_name
from cadence.settings import Settings

ANSWER_CHANNEL = "reply"
"""The channel of the tasks an answer leaves its owner."""


@dataclass(frozen=True)
class LateAnswer:
    """An answer whose owner task is still open past the response SLA."""

    task_id: int
    lead_email: str
    lead_name: str
    owner: str | None
    title: str
    answered_at: datetime
    deadline: datetime

    def hours_late(self, now: datetime) -> float:
        """Wall-clock hours since the deadline passed."""
        return round((now - self.deadline).total_seconds() / 3600, 1)


def _calendar(session: Session, lead: Lead, settings: Settings) -> LeadCalendar:
    """The lead's calendar under its latest cadence's settings (the defaults for a lead never enrolled)."""
    enrollment = latest_enrollment(session, lead)
    cadence_settings = CadenceSettings()
    if enrollment is not None:
        cadence_settings = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version).settings
    return LeadCalendar.for_lead(cadence_settings, lead_timezone(lead, settings), lead.country)


def answer_deadline(session: Session, task: Task, settings: Settings) -> datetime:
    """When the answer task ``task`` is late: the SLA's business hours after the answer came."""
    return add_business_hours(_calendar(session, task.lead, settings), task.created_at, settings.response_sla_hours)


def late_answers(
    session: Session, *, now: datetime, settings: Settings, owner_id: int | None = None
) -> list[LateAnswer]:
    """Every open answer task past the response SLA at ``now`` (one owner's, if given), the longest waiting first."""
    # An SLA of N business hours never ends sooner than N hours of the clock: only older tasks are candidates.
    query = (
        select(Task)
        .where(
            Task.status == "open",
            Task.channel == ANSWER_CHANNEL,
            Task.created_at <= now - timedelta(hours=settings.response_sla_hours),
        )
        .order_by(Task.created_at, Task.id)
    )
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    late = []
    for task in session.scalars(query):
        deadline = answer_deadline(session, task, settings)
        if deadline < now:
            late.append(
                LateAnswer(
                    task_id=task.id,
                    lead_email=task.lead.reference,
                    lead_name=full_name(task.lead),
                    owner=task.owner.email if task.owner is not None else None,
                    title=task.title,
                    answered_at=task.created_at,
                    deadline=deadline,
                )
            )
    return late
