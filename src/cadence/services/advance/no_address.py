"""Email steps of a lead known only by phone: skipped at intake with a reason people read, never sent.

A colleague added with a phone number and no address is enrolled like any contact: its cadence's
call, LinkedIn and other task steps become its owner's tasks. Its email steps cannot be sent; the
core's rule (``NoAddress``) marks each one skipped with :data:`~cadence.core.event_data.NO_ADDRESS_REASON`
and moves the enrollment on, as a withdrawn email does: it is not retried, and the lead's timeline
shows why nothing went out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Touch
from cadence.core import events
from cadence.core.cadences import Channel
from cadence.core.event_data import NO_ADDRESS_REASON
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.context import Context
from cadence.services.enrollments import handle


def skip_without_address(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Skip the email steps of leads without an address (recorded, the enrollment moved on); the rest go on."""
    kept: list[WorkItem] = []
    for item in items:
        if item.step.channel is not Channel.EMAIL or item.lead_email is not None:
            kept.append(item)
            continue
        touch = session.get_one(Touch, item.claim.touch_id)
        enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
        found = handle(session, enrollment.lead, events.NoAddress(), at=now, settings=ctx.settings,
                       enrollment=enrollment, touch=touch).consequences  # fmt: skip
        touch.lease_until = None
        touch.executed_at = touch.executed_at or now
        if found.touch is not None:
            touch.error = NO_ADDRESS_REASON
        report.skipped += 1
    return kept
