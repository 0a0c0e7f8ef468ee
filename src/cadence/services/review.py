"""The people who were not enrolled, with the reasons, and enrolling one anyway (a manager's override)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Lead
from cadence.core.qualification import Kind, qualify
from cadence.errors import ValidationError
from cadence.services import audit
from cadence.services.context import Context
from cadence.services.lead_cadence import Enrolled, enroll_lead
from cadence.services.leads import lead_data
from cadence.services.suppression import suppressed_among

MAX_LISTED = 500


@dataclass(frozen=True)
class NotEnrolled:
    """A person cadence did not enroll: a name (too little interest) or unfit (persona, no class), and why."""

    email: str
    name: str
    company: str | None
    kind: str
    reasons: tuple[str, ...]
    owner: str | None
    source: str | None
    suppressed: bool


def not_enrolled(ctx: Context, session: Session, *, kind: str | None = None) -> list[NotEnrolled]:
    """The names and unfit contacts never enrolled (newest first, at most :data:`MAX_LISTED`), with the reasons.

    The reasons are the qualification rules' own, read again now (rules may have changed since the import).
    """
    kinds = [kind] if kind in (Kind.NAME.value, Kind.UNFIT.value) else [Kind.NAME.value, Kind.UNFIT.value]
    # NOT EXISTS, one probe of the enrollments' lead index per candidate (NOT IN would hash every
    # enrollment); one query per kind, newest first off ix_leads_status_created, so that each reads
    # its newest candidates only; the two lists merged.
    enrolled = exists().where(Enrollment.lead_id == Lead.id)
    candidates = [
        lead
        for status in kinds
        for lead in session.scalars(
            select(Lead)
            .where(Lead.status == status, ~enrolled)
            .order_by(Lead.created_at.desc(), Lead.id.desc())
            .limit(MAX_LISTED)
        )
    ]
    leads = sorted(candidates, key=lambda lead: (lead.created_at, lead.id), reverse=True)[:MAX_LISTED]
    suppressed = suppressed_among(session, [lead.email for lead in leads if lead.email is not None])
    found = []
    for lead in leads:
        result = qualify(lead_data(lead), ctx.rules)
        found.append(
            NotEnrolled(
                email=lead.reference,
                name=lead.label,
                company=lead.company,
                kind=lead.status,
                reasons=result.reasons,
                owner=lead.owner.email if lead.owner is not None else None,
                source=lead.source,
                suppressed=lead.email is not None and lead.email in suppressed,
            )
        )
    return found


def enroll_anyway(
    ctx: Context, session: Session, email: str, *, cadence_name: str, why: str, actor: str, now: datetime
) -> Enrolled:
    """Enroll a name or an unfit contact in ``cadence_name`` although the rules said no; ``why`` is required.

    The override is in the audit log with the rules' reasons and the manager's. A suppressed
    address is still refused (the person asked not to be emailed).
    """
    reason = " ".join(why.split())
    if not reason:
        raise ValidationError("say why this person is enrolled against the rules")
    if not cadence_name:
        raise ValidationError("choose a cadence")
    lead_reasons = list(qualify(lead_data(_lead(session, email)), ctx.rules).reasons)
    done = enroll_lead(ctx, session, email, cadence_name=cadence_name, now=now)
    audit.record(
        session,
        actor,
        "leads.enroll_anyway",
        done.email,
        {"cadence": done.cadence, "why": reason[:500], "rules_said": lead_reasons},
        now=now,
    )
    return done


def _lead(session: Session, email: str) -> Lead:
    from cadence.services.enrollments import get_lead

    return get_lead(session, email)
