"""One lead's cadence, by its email address: enroll the lead, and plan when each step would land."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cadence.core.schedule import plan
from cadence.errors import ValidationError
from cadence.services.cadence_versions import calendar_for
from cadence.services.context import Context
from cadence.services.enrollments import get_lead, plan_for, start_enrollment


@dataclass(frozen=True)
class Enrolled:
    """A lead just enrolled: in which cadence, and when its first step is due."""

    email: str
    cadence: str
    version: str
    first_due_at: datetime | None


@dataclass(frozen=True)
class Anyway:
    """Enroll a person who did not qualify (a name, unfit): who decided it and why (both recorded)."""

    by: str | None
    why: str


def enroll_lead(
    ctx: Context,
    session: Session,
    email: str,
    *,
    cadence_name: str | None,
    now: datetime,
    anyway: Anyway | None = None,
) -> Enrolled:
    """Enroll the lead ``email`` with Day 0 at ``now``, in ``cadence_name`` or else its class's cadence.

    A cadence named here becomes the lead's cadence. With ``anyway``, a name or an unfit contact is
    enrolled too (in ``cadence_name``, or the cadence of the first class its source and size would
    give it): who, when, why and the reasons it was held back are kept in ``Lead.enrolled_anyway``.
    Raises :class:`ValidationError` for a name or an unfit contact without ``anyway`` or a cadence,
    :class:`~cadence.errors.NotFound` for an unknown lead or cadence, and what
    :func:`~cadence.services.enrollments.start_enrollment` raises.
    """
    from cadence.services.leads import lead_data

    lead = get_lead(session, email)
    name = cadence_name or lead.cadence
    if name is None and anyway is not None:
        data = lead_data(lead)
        rank = ctx.rules.source_rank(data.source)
        rule = next((r for r in ctx.rules.classes if r.matches(data, rank)), ctx.rules.classes[-1])
        name = rule.cadence
    if name is None:
        why = "; ".join(lead.not_enrolled_reasons or []) or "it did not qualify"
        raise ValidationError(
            f"{lead.reference} is a {lead.kind}, not a lead ({why}): enroll it anyway with --anyway --reason TEXT, "
            "or name a cadence with --cadence"
        )
    if anyway is not None:
        if not anyway.why.strip():
            raise ValidationError(
                "--anyway needs --reason: say why this person is followed up although it did not qualify"
            )
        lead.enrolled_anyway = {
            "by": anyway.by,
            "at": now.isoformat(),
            "why": anyway.why.strip()[:500],
            "was": lead.kind,
            "reasons": list(lead.not_enrolled_reasons or []),
        }
        lead.not_enrolled_reasons = None
    cadence = ctx.cadence(name)
    if cadence_name or anyway is not None:
        lead.cadence = cadence.name
    enrollment = start_enrollment(session, lead, cadence, now=now, settings=ctx.settings)
    return Enrolled(lead.reference, cadence.name, cadence.version, enrollment.next_due_at)


def lead_plan(
    ctx: Context,
    session: Session,
    email: str,
    *,
    cadence_name: str | None,
    start: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """When each step would land for the lead ``email``, in its own time zone. Writes nothing.

    The plan is its enrollment's, or one starting at ``start``; with ``cadence_name``, that cadence's
    starting at ``start`` (default ``now``). Returns ``{"email", "cadence", "timezone", "steps"}``,
    each step with its number, day, channel, template, local time, weekday and UTC time.
    """
    lead = get_lead(session, email)
    if cadence_name is not None:
        cadence = ctx.cadence(cadence_name)
        instants = plan(cadence, calendar_for(lead, cadence, ctx.settings), start or now)
    else:
        cadence, instants = plan_for(session, lead, settings=ctx.settings, cadences=ctx.cadences, start=start)
    calendar = calendar_for(lead, cadence, ctx.settings)
    steps: list[dict[str, Any]] = []
    for i, (step, at) in enumerate(zip(cadence.steps, instants, strict=True)):
        local = at.astimezone(calendar.tz)
        steps.append(
            {
                "step": i + 1,
                "day": step.day,
                "channel": step.channel.value,
                "template": step.template,
                "local": local.isoformat(),
                "weekday": local.strftime("%a"),
                "utc": at.isoformat(),
            }
        )
    return {"email": lead.reference, "cadence": cadence.name, "timezone": str(calendar.tz), "steps": steps}
