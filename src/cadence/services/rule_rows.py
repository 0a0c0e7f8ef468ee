"""Between the rows and the rule (:mod:`cadence.core.events`): an enrollment as a :class:`Position`, the
settings as a :class:`Policy`, a new position written back, and a lead's name as tasks give it."""

from __future__ import annotations

from cadence.adapters.models import Enrollment, Lead
from cadence.core.enrollment import State
from cadence.core.events import (
    Policy,
    Position,
)
from cadence.settings import Settings


def position_of(enrollment: Enrollment) -> Position:
    """The enrollment's row as the rule reads it."""
    return Position(
        state=State(enrollment.state),
        enrolled_at=enrollment.enrolled_at,
        anchor_at=enrollment.anchor_at,
        next_step=enrollment.next_step,
        next_due_at=enrollment.next_due_at,
        last_touch_at=enrollment.last_touch_at,
        last_touch_day=enrollment.last_touch_day,
        paused_at=enrollment.paused_at,
        paused_until=enrollment.paused_until,
        ended_at=enrollment.ended_at,
        held_by_lead_id=enrollment.held_by_lead_id,
    )


def policy_of(settings: Settings) -> Policy:
    """The settings the rule reads."""
    return Policy(
        reply_grace_days=settings.reply_grace_days,
        auto_reply_pause_days=settings.auto_reply_pause_days,
        response_sla_hours=settings.response_sla_hours,
        reengage_cadence=settings.reengage_cadence,
        referral_cadence=settings.referral_cadence,
        max_send_attempts=settings.max_send_attempts,
        auto_reply_max_days=settings.auto_reply_max_days,
    )


def write_position(enrollment: Enrollment, position: Position) -> None:
    """Copy the rule's new position of the enrollment onto its row."""
    enrollment.state = position.state.value
    enrollment.anchor_at = position.anchor_at
    enrollment.next_step = position.next_step
    enrollment.next_due_at = position.next_due_at
    enrollment.last_touch_at = position.last_touch_at
    enrollment.last_touch_day = position.last_touch_day
    enrollment.paused_at = position.paused_at
    enrollment.paused_until = position.paused_until
    enrollment.ended_at = position.ended_at
    enrollment.held_by_lead_id = position.held_by_lead_id


def full_name(lead: Lead) -> str:
    """The lead's name, else its address, else ``#ID`` (for task titles)."""
    name = lead.label
    return " ".join(name.split())[:200]
