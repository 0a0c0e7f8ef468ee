"""Live previews: what a template renders to for one lead now, exactly as cadence would send it (or give the rep).

A preview writes nothing. The email is built by the send path's own code (``preview_email``), as the
step of the lead's cadence that uses the template (else its first step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Touch
from cadence.errors import CadenceError, NotFound
from cadence.services.advance import preview_email, template_variables, templates_for
from cadence.services.cadence_versions import pinned_cadence
from cadence.services.context import Context
from cadence.services.enrollments import get_lead, open_enrollment
from cadence.services.lead_list import lead_page

_STRUCTURAL_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


@dataclass
class Preview:
    """What a template renders to for one lead: an email's headers and parts, or a task's text; or why not."""

    lead: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    as_step: str | None = None
    """Which step of the lead's cadence the preview stands for (``step 2 (day 2) of default``)."""
    step_uses_it: bool = True
    """False when the lead's cadence does not use the template (the preview then stands for its first step)."""


@dataclass(frozen=True)
class PreviewChoice:
    """The leads offered for a preview, the one chosen, and its preview (None when there is nothing to show)."""

    choices: list[dict[str, Any]]
    chosen: str
    preview: Preview | None


def _part(message: EmailMessage, subtype: str) -> str | None:
    part: Any = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    return str(part.get_content())


def _variables_for(ctx: Context, session: Session, email: str, name: str, now: datetime, preview: Preview) -> None:
    """The variables ``name`` gets for the lead, as at the step of the lead's cadence that uses it (else step 1).

    (``preview_email`` chooses the step the same way.)
    """
    lead = get_lead(session, email)
    enrollment = open_enrollment(session, lead)
    if enrollment is not None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    else:
        cadence = ctx.cadence(lead.cadence or "default")
    found = next((i for i, step in enumerate(cadence.steps) if name in step.templates), None)
    index = found if found is not None else 0
    preview.variables = template_variables(ctx, lead, cadence, index, now=now)
    preview.as_step = f"step {index + 1} (day {cadence.steps[index].day}) of {cadence.name}"
    preview.step_uses_it = found is not None


def _preview(ctx: Context, session: Session, name: str, kind: str, email: str, now: datetime) -> Preview:
    preview = Preview(lead=email)
    try:
        _variables_for(ctx, session, email, name, now, preview)
        if kind == "email":
            message = preview_email(ctx, session, email, name, now=now)
            preview.headers = [(k, str(v)) for k, v in message.items() if k.lower() not in _STRUCTURAL_HEADERS]
            preview.text = _part(message, "plain")
            preview.html = _part(message, "html")
        else:
            preview.text = templates_for(ctx).render_text(name, preview.variables)
    except NotFound as exc:
        preview.error = str(exc)
        preview.variables = {}
    except CadenceError as exc:  # TemplateError, a broken cadence, an invalid address
        preview.error = str(exc)
    return preview


def preview_for(ctx: Context, name: str, kind: str, lead: str, *, now: datetime, choices: int) -> PreviewChoice:
    """The first ``choices`` leads to offer, and the template ``name`` (of ``kind``) rendered for ``lead`` at ``now``.

    An empty ``lead`` means the first lead offered. Only emails and tasks render on their own: for
    other kinds, and when there is no lead at all, the preview is None. Why a preview cannot be
    made (no such lead, a template that fails) is its ``error``, never an exception.
    """
    with ctx.sessions() as session:
        offered = lead_page(session, size=choices).rows
        chosen = lead.strip() or (offered[0]["email"] if offered else "")
        preview = _preview(ctx, session, name, kind, chosen, now) if kind in ("email", "task") and chosen else None
    return PreviewChoice(choices=offered, chosen=chosen, preview=preview)


@dataclass(frozen=True)
class SentEmail:
    """The full text of an email sent to a lead, rendered again (the body is not stored).

    It is rendered from the touch's template with the lead's variables as at the time it was sent;
    ``same_version`` says whether the template is still the version the email was sent with.
    """

    touch_id: int
    subject: str | None
    template: str
    sent_version: str | None
    current_version: str | None
    same_version: bool
    text: str | None
    error: str | None


def sent_emails(
    ctx: Context, session: Session, lead: Lead, touches: list[Touch], *, limit: int = 30
) -> list[SentEmail]:
    """The last ``limit`` emails of ``touches`` (the lead's sent emails) rendered again, through :func:`preview_email`.

    A template that no longer renders, or no longer exists, gives the email's ``error`` instead of
    its text: the page still shows what is known (subject, template, version).
    """
    templates = templates_for(ctx)
    found: list[SentEmail] = []
    for touch in touches[-limit:]:
        if touch.template is None:
            continue
        current: str | None = None
        text: str | None = None
        error: str | None = None
        try:
            current = templates.version(touch.template)
            message = preview_email(ctx, session, lead.reference, touch.template, now=touch.executed_at or touch.due_at)
            text = _part(message, "plain")
        except CadenceError as exc:
            error = str(exc)
        found.append(
            SentEmail(
                touch_id=touch.id,
                subject=touch.subject,
                template=touch.template,
                sent_version=touch.template_version,
                current_version=current,
                same_version=current is not None and current == touch.template_version,
                text=text,
                error=error,
            )
        )
    return found
