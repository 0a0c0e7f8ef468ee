"""Executing due steps: claim, execute, record — each step at most once.

One batch (:func:`run_batch`) is: claim up to ``batch_size`` due steps (one transaction); create
the tasks for task steps and record them (one transaction); then send the emails in waves of as
many messages as there are SMTP connections. Each wave is marked ``sending`` in the database before
it is handed to SMTP and recorded right after, so a crash leaves at most one wave ``uncertain``
(never re-sent), and a decision committed before a wave is marked stops its sends.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.mail import (
    DeliveryError,
    PermanentFailure,
    SmtpConfig,
    SmtpSender,
    TransientFailure,
    UnknownOutcome,
    build_message,
    make_message_id,
)
from cadence.adapters.models import Enrollment, Lead, Rep, Task, Touch
from cadence.adapters.templates import TemplateError, Templates
from cadence.core.cadences import Cadence, Channel, Step
from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.core.tokens import sign_unsubscribe
from cadence.services.claims import Claim, TouchState, advance, claim_due
from cadence.services.context import Context
from cadence.services.enrollments import calendar_for, decide, lead_timezone, pinned_cadence
from cadence.services.suppression import is_suppressed, suppress

TASK_TITLES = {
    Channel.CALL: "Call {name}",
    Channel.LINKEDIN: "Connect with {name} on LinkedIn",
    Channel.RESEARCH: "Research {name}",
    Channel.POSTCARD: "Send a postcard to {name}",
    Channel.TASK: "Follow up with {name}",
}


@dataclass
class RunReport:
    """What one or more batches did; published as the run's artifact."""

    claimed: int = 0
    emails_sent: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    bounced: int = 0
    uncertain: int = 0
    held: int = 0
    skipped: int = 0
    capped: int = 0
    completed: int = 0
    batches: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    uncertain_touches: list[int] = field(default_factory=list)

    def add(self, other: RunReport) -> None:
        """Add ``other``'s counts to this report."""
        for name in ("claimed", "emails_sent", "retried", "bounced", "uncertain", "held", "skipped", "capped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.completed += other.completed
        self.batches += other.batches
        self.tasks.update(other.tasks)
        self.failures.extend(other.failures)
        self.uncertain_touches.extend(other.uncertain_touches)

    @property
    def did_work(self) -> bool:
        """True when the batch claimed or closed anything."""
        return self.claimed > 0 or self.completed > 0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "claimed": self.claimed,
            "emails_sent": self.emails_sent,
            "tasks_created": dict(sorted(self.tasks.items())),
            "retried": self.retried,
            "bounced": self.bounced,
            "uncertain": self.uncertain,
            "held": self.held,
            "skipped": self.skipped,
            "capped": self.capped,
            "completed_no_response": self.completed,
            "batches": self.batches,
            "failures": self.failures[:100],
            "uncertain_touches": self.uncertain_touches[:100],
        }


@dataclass
class WorkItem:
    """One claimed step with everything needed to execute it, read in one transaction."""

    claim: Claim
    step: Step
    step_total: int
    template: str | None
    lead_email: str
    lead_name: str
    lead_priority: int
    owner_id: int | None
    owner_email: str | None
    owner_name: str
    variables: dict[str, Any]
    thread_parent: tuple[str, str] | None = None  # (message_id, subject) of the previous email
    rendered: Any = None
    message_id: str | None = None


def _choose_variant(templates: tuple[str, ...], lead_email: str, enrollment_id: int, step_index: int) -> str | None:
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


def template_variables(
    ctx: Context, lead: Lead, cadence: Cadence, step_index: int, *, now: datetime, previous_subject: str | None = None
) -> dict[str, Any]:
    """Every variable a template may use, for ``lead`` at step ``step_index`` of ``cadence``."""
    settings = ctx.settings
    step = cadence.steps[step_index]
    token = sign_unsubscribe(lead.email, settings.secret_key.get_secret_value())
    calendar = calendar_for(lead, cadence, settings)
    return {
        "lead": lead_variables(lead),
        "owner": owner_variables(lead.owner),
        "company": {
            "name": settings.company_name,
            "website": settings.company_website,
            "postal_address": settings.postal_address,
        },
        "step": {
            "number": step_index + 1,
            "day": step.day,
            "channel": step.channel.value,
            "total_steps": len(cadence.steps),
            "previous_subject": previous_subject,
            "instructions": step.instructions,
        },
        "unsubscribe_url": f"{settings.base_url.rstrip('/')}/unsubscribe/{token}",
        "qualifying_questions": [question for _, question in QUALIFYING_QUESTIONS],
        "today": calendar.local_date(now).isoformat(),
    }


def _load(session: Session, ctx: Context, claims: list[Claim], now: datetime) -> list[WorkItem]:
    items: list[WorkItem] = []
    for claim in claims:
        enrollment = session.get_one(Enrollment, claim.enrollment_id)
        lead = enrollment.lead
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        step = cadence.steps[claim.step_index]
        parent: tuple[str, str] | None = None
        if step.thread == "previous":
            previous = session.scalars(
                select(Touch)
                .where(
                    Touch.enrollment_id == enrollment.id,
                    Touch.channel == Channel.EMAIL.value,
                    Touch.state == TouchState.SENT,
                    Touch.step_index < claim.step_index,
                )
                .order_by(Touch.step_index.desc())
                .limit(1)
            ).first()
            if previous is not None and previous.message_id and previous.subject:
                parent = (previous.message_id, previous.subject)
        items.append(
            WorkItem(
                claim=claim,
                step=step,
                step_total=len(cadence.steps),
                template=_choose_variant(step.templates, lead.email, enrollment.id, claim.step_index),
                lead_email=lead.email,
                lead_name=" ".join(p for p in (lead.first_name, lead.last_name) if p) or lead.email,
                lead_priority=lead.priority if lead.priority is not None else 9,
                owner_id=lead.owner_id,
                owner_email=lead.owner.email if lead.owner else None,
                owner_name=lead.owner.name if lead.owner else ctx.settings.company_name,
                variables=template_variables(
                    ctx, lead, cadence, claim.step_index, now=now, previous_subject=parent[1] if parent else None
                ),
                thread_parent=parent,
            )
        )
    return items


def _still_active(session: Session, enrollment_ids: list[int]) -> dict[int, Enrollment]:
    """Lock the enrollments and return those still active: a decision committed before now wins."""
    if not enrollment_ids:
        return {}
    rows = session.scalars(
        select(Enrollment)
        .where(Enrollment.id.in_(enrollment_ids))
        .with_for_update(of=Enrollment)
        .execution_options(populate_existing=True)
    ).unique()
    return {e.id: e for e in rows if e.state == "active"}


def _release(session: Session, touch: Touch) -> None:
    """Give a claim back untouched (the enrollment stopped, or the step moved)."""
    session.delete(touch)


def _record_tasks(session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport) -> None:
    active = _still_active(session, [i.claim.enrollment_id for i in items])
    for item in items:
        touch = session.get_one(Touch, item.claim.touch_id)
        enrollment = active.get(item.claim.enrollment_id)
        if enrollment is None:
            _release(session, touch)
            report.skipped += 1
            continue
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        title = TASK_TITLES[item.step.channel].format(name=item.lead_name)
        company = item.variables["lead"]["company"]
        if company:
            title = f"{title} ({company})"
        task = Task(
            lead_id=item.claim.lead_id,
            owner_id=item.owner_id,
            enrollment_id=enrollment.id,
            touch_id=touch.id,
            channel=item.step.channel.value,
            title=title[:300],
            instructions=item.rendered,
            due_at=item.claim.due_at,
            priority=item.lead_priority,
            status="open",
            created_at=now,
        )
        session.add(task)
        touch.state = TouchState.DONE
        touch.executed_at = now
        touch.template = item.template
        touch.template_version = ctx_templates_version(ctx, item.template)
        touch.lease_until = None
        advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
        report.tasks[item.step.channel.value] += 1


_TEMPLATES: dict[str, Templates] = {}


def templates_for(ctx: Context) -> Templates:
    """The compiled templates of the context's templates folder (cached per folder)."""
    key = str(ctx.settings.templates_dir.resolve())
    if key not in _TEMPLATES:
        _TEMPLATES[key] = Templates(ctx.settings.templates_dir)
    return _TEMPLATES[key]


def ctx_templates_version(ctx: Context, name: str | None) -> str | None:
    """The version hash of template ``name`` (None for a step without template)."""
    if name is None:
        return None
    templates = templates_for(ctx)
    return templates.version(name) if templates.exists(name) else None


def _hold(session: Session, item: WorkItem, now: datetime, reason: str, report: RunReport) -> None:
    """A template is broken: the step waits (due, not lost) and is reported."""
    touch = session.get_one(Touch, item.claim.touch_id)
    enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
    touch.state = TouchState.HELD
    touch.error = reason[:2000]
    touch.lease_until = None
    if enrollment.state == "active":
        enrollment.next_due_at = now + timedelta(hours=1)
    report.held += 1
    report.failures.append({"lead": item.lead_email, "step": item.claim.step_index + 1, "held": reason[:300]})


def _owner_day_window(ctx: Context, owner: Rep, now: datetime) -> tuple[datetime, datetime]:
    from zoneinfo import ZoneInfo

    from cadence.core.schedule import local_instant

    tz = ZoneInfo(owner.timezone or ctx.settings.default_timezone)
    day = now.astimezone(tz).date()
    start = local_instant(day, datetime.min.time(), tz)
    return start, start + timedelta(days=1)


def _apply_caps(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Keep each owner within their daily email cap; overflow moves to the lead's next open day."""
    kept: list[WorkItem] = []
    used: dict[int, int] = {}
    caps: dict[int, int | None] = {}
    for item in sorted(items, key=lambda i: (i.lead_priority, i.claim.due_at, i.claim.touch_id)):
        owner_id = item.owner_id
        if owner_id is None:
            kept.append(item)
            continue
        if owner_id not in caps:
            owner = session.get_one(Rep, owner_id)
            caps[owner_id] = owner.daily_email_cap
            if owner.daily_email_cap is not None:
                start, end = _owner_day_window(ctx, owner, now)
                used[owner_id] = (
                    session.scalar(
                        select(func.count())
                        .select_from(Touch)
                        .join(Lead, Lead.id == Touch.lead_id)
                        .where(
                            Lead.owner_id == owner_id,
                            Touch.channel == Channel.EMAIL.value,
                            Touch.state.in_([TouchState.SENT, TouchState.SENDING, TouchState.UNCERTAIN]),
                            Touch.executed_at >= start,
                            Touch.executed_at < end,
                        )
                    )
                    or 0
                )
        cap = caps[owner_id]
        if cap is None or used[owner_id] < cap:
            if cap is not None:
                used[owner_id] += 1
            kept.append(item)
            continue
        touch = session.get_one(Touch, item.claim.touch_id)
        enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        calendar = calendar_for(enrollment.lead, cadence, ctx.settings)
        next_day = calendar.local_date(now) + timedelta(days=1)
        enrollment.next_due_at = calendar.next_slot(calendar.start_of_day(next_day))
        _release(session, touch)
        report.capped += 1
    return kept


def _backoff(ctx: Context, attempts: int) -> timedelta:
    seconds = ctx.settings.retry_base_seconds * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, ctx.settings.retry_max_seconds))


def smtp_config(ctx: Context, password: str | None = None) -> SmtpConfig:
    """The SMTP settings of the context (``password`` overrides the configured one)."""
    s = ctx.settings
    return SmtpConfig(
        host=s.smtp_host,
        port=s.smtp_port,
        username=s.smtp_username,
        password=password
        if password is not None
        else (s.smtp_password.get_secret_value() if s.smtp_password else None),
        tls=s.smtp_tls,
        timeout=s.smtp_timeout,
        connections=s.smtp_connections,
    )


def _headers(ctx: Context, item: WorkItem) -> dict[str, str]:
    unsubscribe = item.variables["unsubscribe_url"]
    mailto = (
        ctx.settings.unsubscribe_address
        or ctx.settings.reply_to
        or item.owner_email
        or f"unsubscribe@{ctx.settings.mail_domain}"
    )
    return {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{mailto}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Cadence-Touch": str(item.claim.touch_id),
    }


def compose_email(ctx: Context, item: WorkItem, *, now: datetime) -> EmailMessage:
    """The exact message for a rendered email step: headers, text and HTML (``item.rendered``)."""
    rendered = item.rendered
    subject = rendered.subject
    if item.thread_parent is not None:
        parent_subject = item.thread_parent[1]
        subject = parent_subject if parent_subject.lower().startswith("re:") else f"Re: {parent_subject}"
    return build_message(
        from_name=item.owner_name,
        from_address=item.owner_email or f"sales@{ctx.settings.mail_domain}",
        to_address=item.lead_email,
        to_name=item.variables["lead"]["full_name"],
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=item.message_id or make_message_id(item.claim.touch_id, ctx.settings.mail_domain),
        date=now,
        reply_to=ctx.settings.reply_to or item.owner_email,
        in_reply_to=item.thread_parent[0] if item.thread_parent else None,
        references=[item.thread_parent[0]] if item.thread_parent else (),
        headers=_headers(ctx, item),
    )


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
    item = WorkItem(
        claim=claim,
        step=cadence.steps[index],
        step_total=len(cadence.steps),
        template=template,
        lead_email=lead.email,
        lead_name=" ".join(p for p in (lead.first_name, lead.last_name) if p) or lead.email,
        lead_priority=lead.priority if lead.priority is not None else 9,
        owner_id=lead.owner_id,
        owner_email=lead.owner.email if lead.owner else None,
        owner_name=lead.owner.name if lead.owner else ctx.settings.company_name,
        variables=template_variables(ctx, lead, cadence, index, now=now),
        message_id=f"<c.preview@{ctx.settings.mail_domain}>",
    )
    item.rendered = templates_for(ctx).render_email(template, item.variables)
    return compose_email(ctx, item, now=now)


async def _send_wave(ctx: Context, sender: SmtpSender, wave: list[WorkItem], now: datetime, report: RunReport) -> None:
    sessions = ctx.sessions
    # 1. Mark the wave `sending` — only for leads still active and not suppressed at this moment.
    to_send: list[tuple[WorkItem, Any]] = []
    with sessions() as session, session.begin():
        active = _still_active(session, [i.claim.enrollment_id for i in wave])
        for item in wave:
            touch = session.get_one(Touch, item.claim.touch_id)
            if item.claim.enrollment_id not in active:
                _release(session, touch)
                report.skipped += 1
                continue
            if is_suppressed(session, item.lead_email):
                enrollment = active[item.claim.enrollment_id]
                touch.state = TouchState.SKIPPED
                touch.error = "address suppressed"
                touch.executed_at = now
                cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
                advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
                report.skipped += 1
                continue
            item.message_id = make_message_id(touch.id, ctx.settings.mail_domain)
            message = compose_email(ctx, item, now=now)
            touch.state = TouchState.SENDING
            touch.message_id = item.message_id
            touch.subject = str(message["Subject"])
            touch.template = item.template
            touch.template_version = ctx_templates_version(ctx, item.template)
            touch.attempts += 1
            touch.executed_at = now
            to_send.append((item, message))
    if not to_send:
        return
    # 2. Hand the wave to SMTP, over several connections at once.
    envelope_from = ctx.settings.reply_to or None
    results = await asyncio.gather(
        *(
            sender.send(
                message,
                sender=envelope_from or item.owner_email or f"sales@{ctx.settings.mail_domain}",
                recipient=item.lead_email,
            )
            for item, message in to_send
        ),
        return_exceptions=True,
    )
    # 3. Record what happened, at once.
    with sessions() as session, session.begin():
        for (item, _message), result in zip(to_send, results, strict=True):
            touch = session.get_one(Touch, item.claim.touch_id)
            enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
            cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
            touch.lease_until = None
            if isinstance(result, str):
                touch.state = TouchState.SENT
                touch.outcome = result[:50]
                touch.error = None
                if enrollment.state == "active" and enrollment.next_step == item.claim.step_index:
                    advance(
                        enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days
                    )
                report.emails_sent += 1
            elif isinstance(result, PermanentFailure):
                touch.state = TouchState.BOUNCED
                touch.error = str(result)[:2000]
                touch.outcome = str(result.code) if result.code else None
                suppress(session, item.lead_email, now=now, reason=f"bounced: {result}"[:1000])
                decide(
                    session, enrollment.lead, Outcome.BOUNCED, now=now, reason=str(result)[:1000], decided_by="cadence"
                )
                report.bounced += 1
                report.failures.append(
                    {"lead": item.lead_email, "step": item.claim.step_index + 1, "bounced": str(result)}
                )
            elif isinstance(result, UnknownOutcome):
                touch.state = TouchState.UNCERTAIN
                touch.error = str(result)[:2000]
                if enrollment.state == "active" and enrollment.next_step == item.claim.step_index:
                    advance(
                        enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days
                    )
                report.uncertain += 1
                report.uncertain_touches.append(touch.id)
            else:
                error = result if isinstance(result, DeliveryError) else TransientFailure(str(result))
                touch.state = TouchState.RETRY
                touch.error = str(error)[:2000]
                touch.message_id = None
                touch.executed_at = None
                if enrollment.state == "active":
                    enrollment.next_due_at = now + _backoff(ctx, touch.attempts)
                report.retried += 1
                report.failures.append(
                    {"lead": item.lead_email, "step": item.claim.step_index + 1, "retry": str(error)}
                )


async def run_batch(
    ctx: Context,
    *,
    now: datetime,
    batch_size: int,
    sender: SmtpSender,
    only_enrollment: int | None = None,
) -> RunReport:
    """Claim and execute up to ``batch_size`` due steps as of ``now``."""
    report = RunReport(batches=1)
    templates = templates_for(ctx)
    resume_lapsed_pauses(ctx, now=now, limit=batch_size)
    with ctx.sessions() as session, session.begin():
        batch = claim_due(
            session,
            now=now,
            limit=batch_size,
            settings=ctx.settings,
            grace_days=ctx.settings.reply_grace_days,
            only_enrollment=only_enrollment,
        )
        report.claimed = len(batch.claims)
        report.completed = batch.completed
        report.uncertain += len(batch.uncertain)
        report.uncertain_touches.extend(batch.uncertain)
        items = _load(session, ctx, batch.claims, now)
    if not items:
        return report
    items = _hold_broken_cadences(ctx, items, now, report)
    task_items = [i for i in items if i.step.channel.is_task]
    email_items = [i for i in items if not i.step.channel.is_task]
    with ctx.sessions() as session, session.begin():
        for item in task_items:
            try:
                item.rendered = templates.render_text(item.template, item.variables) if item.template else None
            except TemplateError as exc:
                _hold(session, item, now, str(exc), report)
        _record_tasks(
            session, ctx, [i for i in task_items if i.rendered is not None or i.template is None], now, report
        )
        ready: list[WorkItem] = []
        for item in email_items:
            try:
                assert item.template is not None  # an email step always names one (checked at parse time)
                item.rendered = templates.render_email(item.template, item.variables)
                ready.append(item)
            except TemplateError as exc:
                _hold(session, item, now, str(exc), report)
        ready = _apply_caps(session, ctx, ready, now, report)
    wave_size = max(1, ctx.settings.smtp_connections)
    for start in range(0, len(ready), wave_size):
        await _send_wave(ctx, sender, ready[start : start + wave_size], now, report)
    return report


def resume_lapsed_pauses(ctx: Context, *, now: datetime, limit: int) -> int:
    """Resume enrollments whose pause had an end (an out-of-office return date) that has passed."""
    from cadence.services.enrollments import resume

    with ctx.sessions() as session, session.begin():
        lapsed = list(
            session.scalars(
                select(Enrollment)
                .where(Enrollment.state == "paused", Enrollment.paused_until <= now)
                .order_by(Enrollment.paused_until)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Enrollment)
            ).unique()
        )
        for enrollment in lapsed:
            resume(session, enrollment.lead, now=enrollment.paused_until or now, settings=ctx.settings)
    return len(lapsed)


_CHECKED: dict[tuple[str, ...], list[str]] = {}


def cadence_problems(ctx: Context, cadence: Cadence) -> list[str]:
    """What is wrong with the templates a cadence uses (checked once per version of each template)."""
    from cadence.adapters.templates import sample_variables

    templates = templates_for(ctx)
    names = sorted({name for step in cadence.steps for name in step.templates})
    try:
        key = (cadence.version, *(f"{n}@{templates.version(n) if templates.exists(n) else '-'}" for n in names))
    except TemplateError as exc:
        return [str(exc)]
    if key not in _CHECKED:
        problems: list[str] = []
        for name in names:
            if not templates.exists(name):
                problems.append(f"{name}: no such template")
                continue
            problems += [f"{p.path}:{p.line or '?'}: {p.reason}" for p in templates.check(name, sample_variables())]
        _CHECKED[key] = problems
    return _CHECKED[key]


def _hold_broken_cadences(ctx: Context, items: list[WorkItem], now: datetime, report: RunReport) -> list[WorkItem]:
    """Hold every step of a cadence whose templates do not check: due, not lost, and reported."""
    runnable: list[WorkItem] = []
    broken: dict[tuple[str, str], list[str]] = {}
    with ctx.sessions() as session, session.begin():
        for item in items:
            enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
            key = (enrollment.cadence_name, enrollment.cadence_version)
            if key not in broken:
                cadence = pinned_cadence(session, *key)
                broken[key] = cadence_problems(ctx, cadence)
            if broken[key]:
                _hold(session, item, now, f"cadence {key[0]} has template errors: {'; '.join(broken[key][:5])}", report)
            else:
                runnable.append(item)
    return runnable


async def run_until_idle(
    ctx: Context,
    *,
    now: datetime,
    batch_size: int | None = None,
    config: SmtpConfig | None = None,
    only_enrollment: int | None = None,
    max_batches: int = 100_000,
) -> RunReport:
    """Run batches until nothing more is due at ``now``."""
    total = RunReport()
    async with SmtpSender(config or smtp_config(ctx)) as sender:
        for _ in range(max_batches):
            report = await run_batch(
                ctx, now=now, batch_size=batch_size or ctx.settings.batch_size, sender=sender,
                only_enrollment=only_enrollment,
            )  # fmt: skip
            total.add(report)
            if not report.did_work:
                break
    return total


def next_due(ctx: Context) -> datetime | None:
    """When the next step of any active enrollment falls due."""
    with ctx.sessions() as session:
        return session.scalar(select(func.min(Enrollment.next_due_at)).where(Enrollment.state == "active"))


def lead_zone(ctx: Context, lead: Lead) -> str:
    """The lead's effective time zone (for reports)."""
    return lead_timezone(lead, ctx.settings)
