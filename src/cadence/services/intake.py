"""Leads arriving one at a time (the API, the contact form): create or update, qualify, enroll, and say what happened.

A person sent here goes through the same validation as a row of a CSV import
(:func:`cadence.core.leads.make_lead`) and the same import (:func:`cadence.services.leads.import_leads`):
the same rules decide name, lead or unfit, the class, the owner and the cadence. An interaction
(webinar attended, ebook downloaded, page visited, form filled) is kept as history and counted: a
name that crosses the threshold becomes a lead and is enrolled at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Interaction, Lead
from cadence.core.leads import LeadData, clean_text, make_lead, normalize_email
from cadence.core.qualification import qualify
from cadence.errors import NotFound, ValidationError
from cadence.services.context import Context
from cadence.services.enrollments import open_enrollment
from cadence.services.leads import ImportRow, import_leads, lead_data
from cadence.services.wake import announce


class InteractionKind(StrEnum):
    """The interactions a person can have with us that count towards becoming a lead."""

    WEBINAR_ATTENDED = "webinar_attended"
    EBOOK_DOWNLOADED = "ebook_downloaded"
    PAGE_VISITED = "page_visited"
    FORM_FILLED = "form_filled"


@dataclass
class Intake:
    """What became of one person sent in: created or updated, name, lead or unfit and why, and what happens next."""

    email: str
    created: bool
    kind: str
    reasons: list[str]
    lead_class: str | None
    owner: str | None
    cadence: str | None
    status: str
    enrolled: bool
    first_step_at: datetime | None
    suppressed: bool = False
    interactions: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data, as the API answers."""
        return {
            "email": self.email,
            "created": self.created,
            "kind": self.kind,
            "reasons": self.reasons,
            "class": self.lead_class,
            "owner": self.owner,
            "cadence": self.cadence,
            "status": self.status,
            "enrolled": self.enrolled,
            "first_step_at": self.first_step_at.isoformat() if self.first_step_at else None,
            "suppressed": self.suppressed,
            "interactions": self.interactions,
            **self.extra,
        }


def _intake(ctx: Context, session: Session, data: LeadData, *, now: datetime) -> Intake:
    """Import ``data`` as a one-row import; raises :class:`ValidationError` for what the import rejects."""
    existed = session.scalar(select(Lead.id).where(Lead.email == data.email)) is not None
    report = import_leads(
        session,
        [ImportRow(row=1, lead=data)],
        now=now,
        settings=ctx.settings,
        rules=ctx.rules,
        cadences=ctx.cadences,
    )
    if report.errors:
        raise ValidationError(str(report.errors[0]["reason"]))
    if report.erased:
        raise ValidationError(
            "this person asked to be forgotten: cadence keeps nothing about them and never enrolls them"
        )
    lead = session.scalar(select(Lead).where(Lead.email == data.email))
    assert lead is not None, "the import wrote the lead"
    if report.enrolled:
        announce(session, lead.reference)  # speed to lead: the runners hear of it when this commits
    described = describe(
        ctx, session, lead, created=not existed, enrolled=report.enrolled > 0, suppressed=report.suppressed > 0
    )
    # what the import warned of (an unknown owner: another rep has the lead; a role or disposable address)
    described.extra["warnings"] = [str(w["warning"]) for w in report.warnings]
    return described


def describe(
    ctx: Context,
    session: Session,
    lead: Lead,
    *,
    created: bool = False,
    enrolled: bool = False,
    suppressed: bool = False,
) -> Intake:
    """What ``lead`` is now: its qualification with the reasons, owner, cadence and its next step's time."""
    result = qualify(lead_data(lead), ctx.rules)
    enrollment = open_enrollment(session, lead)
    return Intake(
        email=lead.reference,
        created=created,
        kind=result.kind.value,
        reasons=list(result.reasons),
        lead_class=lead.lead_class,
        owner=lead.owner.email if lead.owner else None,
        cadence=lead.cadence,
        status=lead.status,
        enrolled=enrolled,
        first_step_at=enrollment.next_due_at if enrollment is not None else None,
        suppressed=suppressed,
        interactions=lead.interactions,
    )


REQUIRED = frozenset({"email", "owner", "interactions"})
"""The fields a person is refused for: no usable address, an owner that is no address, a count that is no count."""


def usable_lead(values: Mapping[str, Any], custom: Mapping[str, Any]) -> tuple[LeadData, list[str]]:
    """Validate a person as the import does; an optional field that cannot be used is left empty, with a warning.

    A lead is never refused for a cosmetic problem (a country spelled ``USA``, a phone number with
    letters): only an unusable ``email``, ``owner`` or ``interactions`` raises :class:`ValidationError`.
    Returns the person and the warnings (one per field left empty).
    """
    given = dict(values)
    make_lead({name: given[name] for name in REQUIRED if name in given})  # these refuse the person
    lead = make_lead(given, dict(custom), lenient=True)  # the rest is normalized, or left empty with a warning
    return lead, list(lead.warnings)


def upsert_lead(
    ctx: Context, session: Session, values: Mapping[str, Any], custom: Mapping[str, Any], *, now: datetime
) -> Intake:
    """Create or update the person ``values`` describes (the import's fields and rules); the caller commits.

    An optional field that cannot be used is left empty and named in the answer's ``warnings``.
    Raises :class:`ValidationError` for an unusable email or interactions count, or an owner that is no
    address; an owner who is no rep is a warning, as in the import (another rep gets the lead).
    """
    data, warnings = usable_lead(values, custom)
    intake = _intake(ctx, session, data, now=now)
    intake.extra["warnings"] = warnings + intake.extra["warnings"]
    return intake


def record_interaction(
    ctx: Context,
    session: Session,
    email: str,
    kind: InteractionKind,
    *,
    topic: str | None,
    at: datetime,
    now: datetime,
    recorded_by: str | None,
    person: Mapping[str, Any] | None = None,
) -> Intake:
    """Keep one interaction of ``email`` and count it; a person not seen before is created from ``person``.

    A name whose count reaches the rules' threshold becomes a lead and is enrolled at once (Day 0 is
    ``now``). ``at`` is when the interaction happened (it may be in the past); the caller commits.
    """
    address = normalize_email(email)
    topic_text = clean_text("topic", topic, max_length=300)
    lead = session.scalar(select(Lead).where(Lead.email == address).with_for_update(of=Lead))
    count = (lead.interactions if lead is not None else 0) + 1
    values: dict[str, Any] = dict(person or {})
    values["email"] = address
    values["interactions"] = count
    custom = values.pop("custom", None) or {}
    data, warnings = usable_lead(values, custom)
    intake = _intake(ctx, session, data, now=now)
    intake.extra["warnings"] = warnings + intake.extra["warnings"]
    lead = session.scalar(select(Lead).where(Lead.email == address))
    assert lead is not None
    session.add(
        Interaction(
            lead_id=lead.id, kind=kind.value, topic=topic_text, occurred_at=at, recorded_at=now, recorded_by=recorded_by
        )
    )
    session.flush()
    intake.extra["interaction"] = {"kind": kind.value, "topic": topic_text, "at": at.isoformat()}
    return intake


def interactions_of(session: Session, email: str) -> list[dict[str, Any]]:
    """The interactions of the person with ``email``, oldest first."""
    lead = session.scalar(select(Lead).where(Lead.email == normalize_email(email)))
    if lead is None:
        raise NotFound(f"no lead with email {normalize_email(email)}")
    rows = session.scalars(
        select(Interaction).where(Interaction.lead_id == lead.id).order_by(Interaction.occurred_at, Interaction.id)
    )
    return [
        {"kind": i.kind, "topic": i.topic, "at": i.occurred_at.isoformat(), "recorded_by": i.recorded_by} for i in rows
    ]
