"""A person corrects a lead's details in the workspace, validated exactly as an import validates them.

The lead's address (its identity), its source and interactions (what qualified it) stay as they
are; so do its class and cadence: a correction does not re-qualify the lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cadence.adapters.models import Lead
from cadence.core.leads import make_lead
from cadence.services import audit
from cadence.services.context import Context
from cadence.services.leads import lead_columns
from cadence.services.users import Viewer
from cadence.services.workspace.access import changeable_lead

EDITABLE_FIELDS: tuple[tuple[str, str], ...] = (
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("title", "Title"),
    ("company", "Company"),
    ("industry", "Industry"),
    ("company_size", "Company size (people)"),
    ("phone", "Phone"),
    ("linkedin_url", "LinkedIn profile URL"),
    ("address_line1", "Address line 1"),
    ("address_line2", "Address line 2"),
    ("postal_code", "Postal code"),
    ("city", "City"),
    ("region", "Region or state"),
    ("country", "Country (two-letter code)"),
    ("timezone", "Time zone (such as Europe/London)"),
)
"""The fields a person may correct, with their labels, in the order the form shows them."""


@dataclass(frozen=True)
class LeadEdited:
    """A correction recorded: the lead's address and the labels of the fields that changed."""

    email: str
    changed: list[str]


def lead_field_values(lead: Lead) -> dict[str, str]:
    """The editable fields of ``lead`` as the form shows them (empty text for no value)."""
    values: dict[str, Any] = {name: getattr(lead, name) for name, _ in EDITABLE_FIELDS}
    return {name: "" if value is None else str(value) for name, value in values.items()}


def edit_lead(ctx: Context, viewer: Viewer, email: str, given: Mapping[str, str], *, now: datetime) -> LeadEdited:
    """Correct the lead's details with the form values ``given`` (a field left out keeps its value).

    The values go through :func:`cadence.core.leads.make_lead`, as an imported row does. Raises
    :class:`~cadence.services.workspace.access.AccessDenied` unless the viewer may change the lead,
    then :class:`~cadence.errors.ValidationError` naming the first field that is wrong; nothing
    is changed then.
    """
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        values: dict[str, Any] = lead_field_values(lead)
        values.update({name: given[name] for name, _ in EDITABLE_FIELDS if name in given})
        values["email"] = lead.email
        data = make_lead(values, email_optional=lead.email is None)  # known by phone: the phone must stay usable
        cleaned = lead_columns(data)
        changed = [label for name, label in EDITABLE_FIELDS if getattr(lead, name) != cleaned[name]]
        if changed:
            for name, value in cleaned.items():
                setattr(lead, name, value)
            lead.updated_at = now
            audit.record(session, viewer.email, "leads.edit", lead.reference, {"fields": changed}, now=now)
        return LeadEdited(email=lead.reference, changed=changed)
