"""Waking snoozed leads: a lead that answered "not now, try me in March" is enrolled again when March comes.

:func:`wake_snoozed` takes every lead whose ``snoozed_until`` has passed, each in a transaction of
its own, and applies :class:`~cadence.core.events.SnoozeOver` through the one rule: the answered
enrollment closes and the lead is enrolled in its snooze cadence (``re-engage`` by default), if that
cadence's re-enrollment rules allow it. A cooldown not over yet moves the wake-up to its end; a cap
reached, a missing cadence or a suppressed address gives the owner the task to re-engage by hand.
Either way the snooze ends: nothing wakes a lead twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Lead, Touch
from cadence.core.cadences import Cadence
from cadence.core.events import SnoozeOver
from cadence.services.context import Context
from cadence.services.enrollments import handle, start_enrollment
from cadence.services.suppression import is_suppressed

YEAR = timedelta(days=365)
BATCH = 500


@dataclass
class WakeReport:
    """What one :func:`wake_snoozed` run did."""

    enrolled: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)
    """Leads whose cadence's cooldown is not over: woken again when it is."""
    refused: list[str] = field(default_factory=list)
    """Leads not enrolled again (a cap, a missing cadence, a suppressed address): their owner has a task."""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "enrolled": len(self.enrolled),
            "postponed": len(self.postponed),
            "refused": len(self.refused),
            "errors": list(self.errors),
        }


def wake_snoozed(ctx: Context, *, now: datetime, limit: int = BATCH) -> WakeReport:
    """Enroll again the leads whose snooze is over as of ``now`` (see the module); at most ``limit`` a run.

    A lead that fails is reported in ``errors`` and tried again by the next run.
    """
    report = WakeReport()
    with ctx.sessions() as session:
        due = list(
            session.scalars(
                select(Lead.id).where(Lead.snoozed_until <= now).order_by(Lead.snoozed_until, Lead.id).limit(limit)
            )
        )
    for lead_id in due:
        try:
            with ctx.sessions() as session, session.begin():
                lead = session.scalar(
                    select(Lead)
                    .where(Lead.id == lead_id, Lead.snoozed_until <= now)
                    .with_for_update(of=Lead, key_share=True)
                )
                if lead is not None:  # else another run woke it meanwhile
                    _wake(session, ctx, lead, now=now, report=report)
        except Exception as exc:  # reported; the snooze stays, and the next run tries again
            report.errors.append(f"lead {lead_id}: {type(exc).__name__}: {exc}"[:500])
    return report


def _wake(session: Session, ctx: Context, lead: Lead, *, now: datetime, report: WakeReport) -> None:
    name = lead.snooze_cadence or ctx.settings.reengage_cadence
    cadence: Cadence | None = ctx.cadences.get(name)
    refused: str | None = None
    if cadence is None:
        refused = f"no cadence named {name!r} in the cadences folder"
    elif lead.email is not None and is_suppressed(session, lead.email):
        refused = "the address is suppressed"
    else:
        last_touch = session.scalar(select(func.max(Touch.executed_at)).where(Touch.lead_id == lead.id))
        earliest = cadence.reenroll.not_before(last_touch)
        if earliest is not None and now < earliest:
            lead.snoozed_until = earliest
            report.postponed.append(lead.reference)
            return
        recent = session.scalar(
            select(func.count(Enrollment.id)).where(Enrollment.lead_id == lead.id, Enrollment.enrolled_at > now - YEAR)
        )
        refused = cadence.reenroll.refusal(at=now, last_touch_at=last_touch, enrollments_past_year=recent or 0)
    handle(session, lead, SnoozeOver(cadence=name, refused=refused), at=now, settings=ctx.settings)
    lead.snoozed_until = lead.snooze_cadence = None
    if refused is not None or cadence is None:
        report.refused.append(lead.reference)
        return
    start_enrollment(session, lead, cadence, now=now, settings=ctx.settings)
    report.enrolled.append(lead.reference)
