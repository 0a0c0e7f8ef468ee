"""Composing emails: a step's variables, its template variant, the rendered parts, the message's bytes.

The preview (:func:`preview_email`) runs the same code as a send, on a sample Message-ID, so that
what a marketer sees is what a lead gets. Rendering happens in the event loop's thread, one email
at a time (a template renders in well under a millisecond); compiled templates live on the
:class:`~cadence.services.context.Context`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from cadence.adapters.mail import Unsendable, build_message, make_message_id, message_bytes
from cadence.adapters.models import Lead, Rep
from cadence.adapters.templates import RenderedEmail, TemplateError, Templates
from cadence.core.cadences import Cadence
from cadence.core.questions import DEFAULT_QUESTIONS, Question
from cadence.core.tokens import sign_unsubscribe
from cadence.errors import ConfigurationError
from cadence.services.advance.work import Built, WorkItem
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.claims import Claim
from cadence.services.context import Context
from cadence.services.sending_domains import Signers


def choose_variant(templates: tuple[str, ...], lead_email: str, enrollment_id: int, step_index: int) -> str | None:
    """One of a step's template variants, the same every time for the same lead and step."""
    if not templates:
        return None
    digest = hashlib.sha256(f"{lead_email}|{enrollment_id}|{step_index}".encode()).digest()
    return templates[int.from_bytes(digest[:4], "big") % len(templates)]


def lead_variables(lead: Lead) -> dict[str, Any]:
    """The ``lead`` variable of the templates (absent optional fields are None)."""
    from cadence.core.leads import Address

    address = Address(lead.address_line1, lead.address_line2, lead.city, lead.region, lead.postal_code, lead.country)
    full_name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or None
    return {
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "full_name": full_name,
        "title": lead.title,
        "company": lead.company,
        "industry": lead.industry,
        "company_size": lead.company_size,
        "phone": lead.phone,
        "linkedin_url": lead.linkedin_url,
        "city": lead.city,
        "region": lead.region,
        "country": lead.country,
        "timezone": lead.timezone,
        "source": lead.source,
        "interactions": lead.interactions,
        "address_lines": address.lines(),
        "custom": dict(lead.custom or {}),
        "class": lead.lead_class,
        "why_now": lead.why_now,
        "topic": lead.topic,
    }


def owner_variables(owner: Rep | None) -> dict[str, Any]:
    """The ``owner`` variable of the templates."""
    if owner is None:
        return {"name": "The team", "first_name": "The team", "email": None, "signature": None}
    return {
        "name": owner.name,
        "first_name": owner.name.split()[0] if owner.name.split() else owner.name,
        "email": owner.email,
        "signature": owner.signature,
    }


def _questions(ctx: Context) -> tuple[Question, ...]:
    """The configured qualifying questions; seed 001's while ``questions.yaml`` is broken.

    A call script is no reason to hold a cadence: the fault is reported by ``cadence templates
    check`` and refused wherever a decision needs the questions.
    """
    try:
        return ctx.questions
    except ConfigurationError:
        return DEFAULT_QUESTIONS


def template_variables(
    ctx: Context, lead: Lead, cadence: Cadence, step_index: int, *, now: datetime, previous_subject: str | None = None
) -> dict[str, Any]:
    """Every variable a template may use, for ``lead`` at step ``step_index`` of ``cadence``."""
    settings = ctx.settings
    step = cadence.steps[step_index]
    token = sign_unsubscribe(lead.email, settings.secret_key.get_secret_value()) if lead.email is not None else None
    calendar = calendar_for(lead, cadence, settings)
    return {
        "lead": lead_variables(lead),
        "owner": owner_variables(lead.owner),
        "company": {
            "name": settings.company_name,
            "website": settings.company_website,
            "postal_address": settings.postal_address,
            "benefit": settings.company_benefit,
        },
        "step": {
            "number": step_index + 1,
            "day": step.day,
            "channel": step.channel.value,
            "total_steps": len(cadence.steps),
            "previous_subject": previous_subject,
            "instructions": step.instructions,
        },
        "unsubscribe_url": f"{settings.base_url.rstrip('/')}/unsubscribe/{token}" if token is not None else None,
        "qualifying_questions": [question.text for question in _questions(ctx)],
        "today": calendar.local_date(now).isoformat(),
    }


def work_item(
    ctx: Context,
    claim: Claim,
    lead: Lead,
    cadence: Cadence,
    *,
    now: datetime,
    thread_parent: tuple[str, str] | None = None,
    template: str | None = None,
    cadence_key: tuple[str, str] | None = None,
) -> WorkItem:
    """A claimed step of ``lead``'s ``cadence`` with its variables (``template``: else the lead's variant)."""
    step = cadence.steps[claim.step_index]
    return WorkItem(
        claim=claim,
        step=step,
        step_total=len(cadence.steps),
        template=template or choose_variant(step.templates, lead.reference, claim.enrollment_id, claim.step_index),
        lead_email=lead.email,
        lead_name=lead.label,
        lead_priority=lead.priority if lead.priority is not None else 9,
        owner_id=lead.owner_id,
        owner_email=lead.owner.email if lead.owner else None,
        owner_name=lead.owner.name if lead.owner else ctx.settings.company_name,
        variables=template_variables(
            ctx, lead, cadence, claim.step_index, now=now, previous_subject=thread_parent[1] if thread_parent else None
        ),
        thread_parent=thread_parent,
        cadence_key=cadence_key,
        owner_cap=lead.owner.daily_email_cap if lead.owner else None,
    )


def templates_for(ctx: Context) -> Templates:
    """The compiled templates of the context's templates folder (kept by the context)."""
    return ctx.templates


class Versions:
    """The version hash of each template, read once per batch (not once per message: it stats files)."""

    def __init__(self, ctx: Context) -> None:
        self._templates = ctx.templates
        self._known: dict[str | None, str | None] = {}

    def get(self, name: str | None) -> str | None:
        """The version of template ``name`` (None for a step without template, or a template that is gone)."""
        if name not in self._known:
            exists = name is not None and self._templates.exists(name)
            self._known[name] = self._templates.version(name) if exists and name is not None else None
        return self._known[name]


@dataclass(frozen=True)
class MailIdentity:
    """The settings a message is composed with (a subset of :class:`cadence.settings.Settings`)."""

    mail_domain: str
    reply_to: str | None
    unsubscribe_address: str | None

    @classmethod
    def of(cls, ctx: Context) -> MailIdentity:
        """The identity the context's settings give."""
        return cls(ctx.settings.mail_domain, ctx.settings.reply_to, ctx.settings.unsubscribe_address)


def headers(identity: MailIdentity, item: WorkItem) -> dict[str, str]:
    """Our own headers: one-click unsubscribe (RFC 8058) and the touch the message belongs to."""
    unsubscribe = item.variables["unsubscribe_url"]
    mailto = (
        identity.unsubscribe_address or identity.reply_to or item.from_address or f"unsubscribe@{identity.mail_domain}"
    )
    return {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Cadence-Touch": str(item.claim.touch_id),
    }


def compose(identity: MailIdentity, item: WorkItem, rendered: RenderedEmail, *, now: datetime) -> EmailMessage:
    """The exact message of a rendered email step: headers, text and HTML."""
    subject = rendered.subject
    if item.thread_parent is not None:
        parent_subject = item.thread_parent[1]
        subject = parent_subject if parent_subject.lower().startswith("re:") else f"Re: {parent_subject}"
    assert item.message_id is not None  # given before an email is composed
    return build_message(
        from_name=item.owner_name,
        from_address=item.from_address or f"sales@{identity.mail_domain}",
        to_address=item.recipient,
        to_name=item.variables["lead"]["full_name"],
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=item.message_id,
        date=now,
        reply_to=identity.reply_to or item.from_address,
        in_reply_to=item.thread_parent[0] if item.thread_parent else None,
        references=[item.thread_parent[0]] if item.thread_parent else (),
        headers=headers(identity, item),
    )


def render(templates: Templates, item: WorkItem) -> RenderedEmail:
    """The email step's rendered parts (rendered once: an owner's daily cap renders first). Raises TemplateError."""
    if not isinstance(item.rendered, RenderedEmail):
        assert item.template is not None  # an email step always names one (checked at parse time)
        item.rendered = templates.render_email(item.template, item.variables)
    return item.rendered


def build(ctx: Context, item: WorkItem, *, now: datetime, signers: Signers | None = None) -> Built | str | Unsendable:
    """Render, compose and serialize one email, its header section verified on the bytes, and (with
    ``signers``, for a domain that has a key) DKIM-sign it.

    A string: why a template cannot render or a DKIM key cannot be used, for the step to be held until
    it is fixed. An :class:`Unsendable`: the lead's data cannot make a safe message (a value that would
    break a header, data the email package refuses): the step fails for good and its owner is told;
    never retried.
    """
    item.message_id = item.message_id or make_message_id(item.claim.touch_id, ctx.settings.mail_domain)
    try:
        rendered = render(ctx.templates, item)
    except TemplateError as exc:
        return str(exc)
    try:
        message = compose(MailIdentity.of(ctx), item, rendered, now=now)
        data = message_bytes(message)
    except Unsendable as exc:
        return exc
    except (ValueError, TypeError, UnicodeError, MessageError) as exc:  # this lead's step fails, not the batch
        return Unsendable(f"the message cannot be built from the lead's data: {type(exc).__name__}: {exc}"[:2000])
    if signers is not None and signers.keys:
        signed = signers.sign(data, item.from_address or f"sales@{ctx.settings.mail_domain}")
        if isinstance(signed, str):
            return signed[:2000]
        data = signed
    return Built(str(message["Subject"]), data)


def preview_email(ctx: Context, session: Session, lead_email: str, template: str, *, now: datetime) -> EmailMessage:
    """Exactly what ``template`` would send to the lead now (as the step of the lead's cadence that uses it).

    Writes nothing. The Message-ID is a sample one.
    """
    from cadence.services.enrollments import get_lead, open_enrollment

    lead = get_lead(session, lead_email)
    enrollment = open_enrollment(session, lead)
    if enrollment is not None:
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
    else:
        cadence = ctx.cadence(lead.cadence or "default")
    index = next((i for i, st in enumerate(cadence.steps) if template in st.templates), 0)
    claim = Claim(touch_id=0, enrollment_id=enrollment.id if enrollment else 0, lead_id=lead.id, step_index=index,
                  due_at=now)  # fmt: skip
    item = work_item(ctx, claim, lead, cadence, now=now, template=template)
    item.message_id = f"<c.preview@{ctx.settings.mail_domain}>"
    return compose(MailIdentity.of(ctx), item, render(ctx.templates, item), now=now)
