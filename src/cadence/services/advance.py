"""Executing due steps: claim, execute, record — each step at most once.

One batch (:func:`run_batch`) is: claim up to ``batch_size`` due steps and read everything needed to
execute them (one transaction, a few bulk queries); create the tasks for task steps and record them
(one transaction); then send the emails in waves of :data:`WAVE_PER_CONNECTION` messages per SMTP
connection. The batch is claimed in :data:`CLAIM_PARTS` parts, each while the emails of the part
before go out, and a full batch claims the first part of the next one while its own last emails go
out (:class:`Lookahead`).

Exactly one send per step, across crashes, is three writes per email:

1. its wave is marked ``sending`` (one transaction per wave, which also checks under a row lock that
   each lead is still active and not suppressed, and that the claim is still the runner's own);
2. right before the final ``.`` of DATA, its touch becomes ``handing``, in a transaction of its own
   that checks all that again (:class:`_HandOff`): a decision or an unsubscribe committed before it
   stops the send, and the message is withdrawn (the connection is dropped mid-DATA, so the server
   discards it);
3. right after the server's reply, the outcome (``sent``, ``bounced``, ``retry`` or ``uncertain``)
   is committed, before the next message of the runner is handed over.

The SMTP connections write their messages' bodies in parallel but hand them over one at a time
(:class:`cadence.adapters.mail.SmtpSender`), so at any moment at most one email of a runner is
between 2 and 3. A runner killed at any point leaves at most that one email ``uncertain`` (never
re-sent); an email marked ``sending`` but never handed over is simply sent by the next claim.

The waves are pipelined so that our CPU work, the database's and the SMTP server's overlap: while
wave k is on the wire, wave k+1 is rendered and built; then one transaction (in a worker thread,
while wave k+2 is being rendered) applies wave k's outcomes (moving enrollments on, suppressing
bounced addresses) and marks wave k+1. Compiled templates are cached per folder, and apart from
the two hand-off writes nothing is read or written per message.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gc
import hashlib
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Table, bindparam, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, lazyload

from cadence.adapters.db import (
    DatabaseUnavailable,
    is_postgresql,
    retry_while_unavailable,
)
from cadence.adapters.mail import (
    DeliveryError,
    PermanentFailure,
    SmtpConfig,
    SmtpSender,
    TransientFailure,
    UnknownOutcome,
    Withdrawn,
    make_message_id,
)
from cadence.adapters.models import Enrollment, Lead, Rep, Suppression, Task, Touch, UTCDateTime
from cadence.adapters.templates import TemplateError, Templates
from cadence.core.cadences import Cadence, Channel, Step
from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.core.tokens import sign_unsubscribe
from cadence.errors import database_problem
from cadence.services.claims import Claim, ClaimBatch, TouchState, advance, claim_due
from cadence.services.context import Context
from cadence.services.enrollments import calendar_for, decide, lead_timezone, pinned_cadence
from cadence.services.outgoing import Built, Draft, MailIdentity, RenderProcess, compose, render_process
from cadence.services.suppression import suppress

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
    recovered: int = 0
    superseded: int = 0
    held: int = 0
    skipped: int = 0
    capped: int = 0
    completed: int = 0
    batches: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    uncertain_touches: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before the work was done (the database was away)

    def add(self, other: RunReport) -> None:
        """Add ``other``'s counts to this report."""
        for name in ("claimed", "emails_sent", "retried", "bounced", "uncertain", "recovered", "superseded",
                     "held", "skipped", "capped"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.completed += other.completed
        self.batches += other.batches
        self.tasks.update(other.tasks)
        self.failures.extend(other.failures)
        self.uncertain_touches.extend(other.uncertain_touches)
        self.stopped = self.stopped or other.stopped

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
            "recovered": self.recovered,
            "superseded": self.superseded,
            "held": self.held,
            "skipped": self.skipped,
            "capped": self.capped,
            "completed_no_response": self.completed,
            "batches": self.batches,
            "failures": self.failures[:100],
            "uncertain_touches": self.uncertain_touches[:100],
            "stopped": self.stopped,
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
    cadence_key: tuple[str, str] | None = None  # (name, version) the enrollment is pinned to
    owner_cap: int | None = None  # the owner's daily email cap when the step was claimed


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


def _load(session: Session, ctx: Context, batch: ClaimBatch, now: datetime) -> list[WorkItem]:
    """Everything needed to execute the claimed steps, from the rows the claim loaded (no query per step)."""
    claims = batch.claims
    enrollments = dict(batch.enrollments)
    missing = [c.enrollment_id for c in claims if c.enrollment_id not in enrollments]
    if missing:  # claims made elsewhere: read them in one query
        enrollments.update(
            (e.id, e) for e in session.scalars(select(Enrollment).where(Enrollment.id.in_(missing))).unique()
        )
    cadences = {key: pinned_cadence(session, *key) for key in {_cadence_key(e) for e in enrollments.values()}}
    threaded = [
        c
        for c in claims
        if cadences[_cadence_key(enrollments[c.enrollment_id])].steps[c.step_index].thread == "previous"
    ]
    parents = _thread_parents(session, threaded)
    items: list[WorkItem] = []
    for claim in claims:
        enrollment = enrollments[claim.enrollment_id]
        lead = enrollment.lead
        key = _cadence_key(enrollment)
        cadence = cadences[key]
        step = cadence.steps[claim.step_index]
        parent = parents.get(claim.touch_id)
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
                cadence_key=key,
                owner_cap=lead.owner.daily_email_cap if lead.owner else None,
            )
        )
    return items


def _cadence_key(enrollment: Enrollment) -> tuple[str, str]:
    return (enrollment.cadence_name, enrollment.cadence_version)


def _thread_parents(session: Session, claims: list[Claim]) -> dict[int, tuple[str, str]]:
    """For each claim (by touch id) of a step threaded on the previous email: that email's (Message-ID, subject).

    The previous email is the lead's last one sent at an earlier step; one query for all the claims.
    """
    if not claims:
        return {}
    sent: dict[int, list[tuple[int, str | None, str | None]]] = {}
    rows = session.execute(
        select(Touch.enrollment_id, Touch.step_index, Touch.message_id, Touch.subject).where(
            Touch.enrollment_id.in_(sorted({c.enrollment_id for c in claims})),
            Touch.channel == Channel.EMAIL.value,
            Touch.state == TouchState.SENT,
        )
    )
    for enrollment_id, step_index, message_id, subject in rows:
        sent.setdefault(enrollment_id, []).append((step_index, message_id, subject))
    parents: dict[int, tuple[str, str]] = {}
    for claim in claims:
        earlier = [row for row in sent.get(claim.enrollment_id, []) if row[0] < claim.step_index]
        if earlier:
            _, message_id, subject = max(earlier, key=lambda row: row[0])
            if message_id and subject:
                parents[claim.touch_id] = (message_id, subject)
    return parents


def _leads(session: Session, lead_ids: list[int]) -> dict[int, Lead]:
    """The leads ``lead_ids`` (and their owners), in one query; ``enrollment.lead`` then reads them without SQL."""
    if not lead_ids:
        return {}
    return {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids))).unique()}


def _touches(session: Session, touch_ids: list[int]) -> dict[int, Touch]:
    """The touches ``touch_ids``, in one query."""
    if not touch_ids:
        return {}
    return {t.id: t for t in session.scalars(select(Touch).where(Touch.id.in_(touch_ids)))}


def _suppressed(session: Session, emails: list[str]) -> set[str]:
    """Which of the addresses and domains of ``emails`` are suppressed, in one query (as ``is_suppressed`` decides)."""
    keys = {key for email in emails for key in _suppression_keys(email)}
    if not keys:
        return set()
    return set(session.scalars(select(Suppression.value).where(Suppression.value.in_(sorted(keys)))))


def _suppression_keys(email: str) -> tuple[str, str]:
    address = email.lower()
    return address, "@" + address.rsplit("@", 1)[-1]


def _still_active(session: Session, enrollment_ids: list[int]) -> dict[int, Enrollment]:
    """Lock the enrollments and return those still active: a decision committed before now wins."""
    if not enrollment_ids:
        return {}
    rows = session.scalars(
        select(Enrollment)
        .where(Enrollment.id.in_(enrollment_ids))
        .options(lazyload(Enrollment.lead))  # the lead is read only to reschedule; loaded then, if not already
        .with_for_update(of=Enrollment)
        .execution_options(populate_existing=True)
    ).unique()
    return {e.id: e for e in rows if e.state == "active"}


def _active_ids(session: Session, enrollment_ids: list[int]) -> set[int]:
    """Lock the enrollments that are still active and return their ids: a decision committed before now wins.

    Plain rows, not ORM objects: this runs for every wave.
    """
    if not enrollment_ids:
        return set()
    return set(
        session.scalars(
            select(Enrollment.id)
            .where(Enrollment.id.in_(enrollment_ids), Enrollment.state == "active")
            .with_for_update(of=Enrollment)
        )
    )


def _release(session: Session, touch: Touch) -> None:
    """Give a claim back untouched (the enrollment stopped, or the step moved)."""
    session.delete(touch)


def _record_tasks(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport, versions: _Versions
) -> None:
    if not items:
        return
    active = _still_active(session, [i.claim.enrollment_id for i in items])
    touches = _touches(session, [i.claim.touch_id for i in items])
    _leads(session, [e.lead_id for e in active.values()])  # rescheduling reads them: one query, not one each
    for item in items:
        touch = touches[item.claim.touch_id]
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
        touch.template_version = versions.get(item.template)
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


class _Versions:
    """The version hash of each template, read once per batch (not once per message: it stats files)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._known: dict[str | None, str | None] = {}

    def get(self, name: str | None) -> str | None:
        if name not in self._known:
            self._known[name] = ctx_templates_version(self._ctx, name)
        return self._known[name]


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
                            Touch.state.in_(TouchState.MAY_HAVE_GONE_OUT),
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


def _identity(ctx: Context) -> MailIdentity:
    settings = ctx.settings
    return MailIdentity(settings.mail_domain, settings.reply_to, settings.unsubscribe_address)


def _draft(ctx: Context, item: WorkItem) -> Draft:
    assert item.template is not None  # an email step always names one (checked at parse time)
    return Draft(
        touch_id=item.claim.touch_id,
        template=item.template,
        variables=item.variables,
        message_id=item.message_id or make_message_id(item.claim.touch_id, ctx.settings.mail_domain),
        lead_email=item.lead_email,
        owner_name=item.owner_name,
        owner_email=item.owner_email,
        thread_parent=item.thread_parent,
        rendered=item.rendered,
    )


def compose_email(ctx: Context, item: WorkItem, *, now: datetime) -> EmailMessage:
    """The exact message for a rendered email step: headers, text and HTML (``item.rendered``)."""
    return compose(_identity(ctx), _draft(ctx, item), item.rendered, now=now)


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


WAVE_PER_CONNECTION = 8
"""Messages per SMTP connection in one wave: a wave is marked, sent and recorded as a whole.

Bigger waves spread each transaction over more messages and more bodies over the connections at
once; whatever the size, a crash leaves at most one email ``uncertain`` (the hand-off in flight).
"""


RENDER_PROCESS_MIN_EMAILS = 100
"""A batch with at least this many emails builds them in the render process (``CADENCE_RENDER_PROCESS``).

Below that, starting the process (a fraction of a second, once per runner) would cost more than it saves.
"""

# A built message as it goes on the wire, and its subject (the message object itself is let go at once).
_Prepared = tuple[WorkItem, Built]


async def _prepare_wave(
    ctx: Context, templates: Templates, wave: list[WorkItem], now: datetime, builder: RenderProcess | None
) -> tuple[list[_Prepared], list[tuple[WorkItem, str]]]:
    """Render (unless done already) and build each message of the wave: (ready, held with the reason).

    With a render process (``builder``), in that process, on another core: this process waits for
    the wave in a worker thread, and its event loop does nothing but hand the waves on the wire over
    meanwhile. Without one, or if that process fails, here: the event loop runs between the steps of
    each message (the render's few steps, building the message, serializing it: under a millisecond
    each), so that a hand-off's commit or an SMTP reply waits at most that long.
    """
    for item in wave:
        item.message_id = make_message_id(item.claim.touch_id, ctx.settings.mail_domain)
    ready: list[_Prepared] = []
    held: list[tuple[WorkItem, str]] = []
    if builder is not None:
        drafts = [_draft(ctx, item) for item in wave]
        built = await asyncio.to_thread(builder.build_wave, ctx.settings.templates_dir, _identity(ctx), drafts, now=now)
        if built is not None:
            for item, result in zip(wave, built, strict=True):
                if isinstance(result, str):
                    held.append((item, result))
                else:
                    ready.append((item, result))
            return ready, held
    for item in wave:
        if item.rendered is None:
            assert item.template is not None  # an email step always names one (checked at parse time)
            steps = templates.render_email_steps(item.template, item.variables)
            try:
                while True:
                    next(steps)
                    await asyncio.sleep(0)
            except StopIteration as finished:
                item.rendered = finished.value
            except TemplateError as exc:
                held.append((item, str(exc)))
                continue
            finally:
                steps.close()
        await asyncio.sleep(0)
        message = compose_email(ctx, item, now=now)
        await asyncio.sleep(0)
        # Bytes, not the EmailMessage: its hundred-odd objects would live until the wave is recorded,
        # and the garbage collector would walk them again and again meanwhile.
        ready.append((item, Built(str(message["Subject"]), message.as_bytes())))
        await asyncio.sleep(0)
    return ready, held


def _mark_wave(
    session: Session, ctx: Context, wave: list[_Prepared], now: datetime, report: RunReport, versions: _Versions
) -> list[_Prepared]:
    """Mark the wave ``sending``, only for leads still active and not suppressed now; return what may go out.

    A step whose claim is no longer this runner's (its lease lapsed and another runner claimed it) is
    left alone: the other runner sends it.
    """
    if not wave:
        return []
    active = _active_ids(session, [item.claim.enrollment_id for item, _ in wave])
    tokens = _claim_tokens(session, [item.claim.touch_id for item, _ in wave])
    suppressed = _suppressed(session, [item.lead_email for item, _ in wave if item.claim.enrollment_id in active])
    to_send: list[_Prepared] = []
    for item, message in wave:
        if tokens.get(item.claim.touch_id) != item.claim.token:
            report.superseded += 1
            continue
        if item.claim.enrollment_id not in active:
            _release(session, session.get_one(Touch, item.claim.touch_id))
            report.skipped += 1
            continue
        if any(key in suppressed for key in _suppression_keys(item.lead_email)):
            enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
            touch = session.get_one(Touch, item.claim.touch_id)
            touch.state = TouchState.SKIPPED
            touch.error = "address suppressed"
            touch.executed_at = now
            cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
            advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
            report.skipped += 1
            continue
        to_send.append((item, message))
    if to_send:  # one statement for the wave, not an ORM object per touch
        rows = [
            {
                "touch_id": item.claim.touch_id,
                "token": item.claim.token,
                "message_id": item.message_id,
                "subject": message.subject,
                "template": item.template,
                "template_version": versions.get(item.template),
            }
            for item, message in to_send
        ]
        if is_postgresql(ctx.engine):
            session.connection().execute(_MARK_SENDING_PG, _columns(rows) | {"now": _naive(now)})
        else:
            session.connection().execute(_MARK_SENDING.values(executed_at=now), rows)  # executemany
    return to_send


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column (the arrays a PostgreSQL ``unnest`` statement takes)."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def _naive(value: datetime | None) -> datetime | None:
    """An aware datetime as stored (naive UTC), for raw statements: what :class:`UTCDateTime` binds."""
    return _STORED_DATETIME.process_bind_param(value, None)  # type: ignore[arg-type]  # the dialect is unused


_STORED_DATETIME = UTCDateTime()


_TOUCHES = cast(Table, Touch.__table__)
_ENROLLMENTS = cast(Table, Enrollment.__table__)
_MARK_SENDING = (
    update(_TOUCHES)
    .where(_TOUCHES.c.id == bindparam("touch_id"), _TOUCHES.c.claim_token == bindparam("token"))
    .values(
        state=TouchState.SENDING,
        message_id=bindparam("message_id"),
        subject=bindparam("subject"),
        template=bindparam("template"),
        template_version=bindparam("template_version"),
        attempts=_TOUCHES.c.attempts + 1,
    )
)
# On PostgreSQL the wave's rows go in as arrays, one statement with one row of parameters: psycopg's
# executemany sends and parses a statement per row, which costs this process more than the database.
_MARK_SENDING_PG = text(
    "UPDATE touches SET state = 'sending', message_id = v.message_id, subject = v.subject, template = v.template,"
    " template_version = v.template_version, attempts = touches.attempts + 1, executed_at = :now"
    " FROM unnest(CAST(:touch_id AS INTEGER[]), CAST(:token AS VARCHAR[]), CAST(:message_id AS VARCHAR[]),"
    " CAST(:subject AS VARCHAR[]), CAST(:template AS VARCHAR[]), CAST(:template_version AS VARCHAR[]))"
    " AS v(id, token, message_id, subject, template, template_version)"
    " WHERE touches.id = v.id AND touches.claim_token = v.token"
)
_RECORD_SENT_PG = text(
    "UPDATE touches SET state = 'sent', outcome = COALESCE(touches.outcome, v.reply), error = NULL,"
    " lease_until = NULL"
    " FROM unnest(CAST(:touch_id AS INTEGER[]), CAST(:token AS VARCHAR[]), CAST(:reply AS VARCHAR[]))"
    " AS v(id, token, reply)"
    " WHERE touches.id = v.id AND touches.claim_token = v.token"
)
_MOVE_ON_PG = text(
    "UPDATE enrollments SET next_step = v.new_next_step, last_touch_at = v.new_last_touch_at,"
    " last_touch_day = v.new_last_touch_day, next_due_at = v.new_next_due_at"
    " FROM unnest(CAST(:enrollment_id AS INTEGER[]), CAST(:step AS INTEGER[]), CAST(:anchor AS TIMESTAMP[]),"
    " CAST(:new_next_step AS INTEGER[]), CAST(:new_last_touch_at AS TIMESTAMP[]),"
    " CAST(:new_last_touch_day AS INTEGER[]), CAST(:new_next_due_at AS TIMESTAMP[]))"
    " AS v(id, step, anchor, new_next_step, new_last_touch_at, new_last_touch_day, new_next_due_at)"
    " WHERE enrollments.id = v.id AND enrollments.state = 'active' AND enrollments.next_step = v.step"
    " AND enrollments.anchor_at = v.anchor"
)
_HANDING_SQL = (
    "UPDATE touches SET state = 'handing'"
    " WHERE id = :touch_id AND state = 'sending' AND claim_token = :token"
    " AND EXISTS (SELECT 1 FROM enrollments WHERE id = :enrollment_id AND state = 'active'{lock})"
    " AND NOT EXISTS (SELECT 1 FROM suppressions WHERE value IN (:address, :domain))"
)
"""Right before the final dot: the touch is still ours and `sending`, its lead active and not suppressed.

On PostgreSQL the enrollment is read ``FOR SHARE``: a decision being written on the lead is waited
for, then seen (READ COMMITTED re-reads the row), so a stop committed before this statement wins.
"""
_HANDED_SQL = (
    "UPDATE touches SET state = :new_state, outcome = :outcome, error = :error, lease_until = NULL"
    " WHERE id = :done_id AND state = 'handing' AND claim_token = :done_token"
)
"""Right after the reply: the outcome, while the touch is still ours."""


def outcome_state(outcome: str | BaseException) -> str:
    """The touch state an SMTP outcome leads to (``sent``, ``bounced``, ``uncertain`` or ``retry``)."""
    if isinstance(outcome, str):
        return TouchState.SENT
    if isinstance(outcome, PermanentFailure):
        return TouchState.BOUNCED
    if isinstance(outcome, UnknownOutcome):
        return TouchState.UNCERTAIN
    return TouchState.RETRY


class _Journal:
    """The hand-off writes of one batch, on a database connection of their own.

    The sender hands one message over at a time, so the writes come one at a time, in this order:
    before message 1's dot, ``handing`` for 1; before message 2's dot, 1's outcome and ``handing``
    for 2, in one transaction; ...; at the end of the batch, the last outcome (:meth:`flush`). Every
    outcome is thus committed before the next message is handed over, and a runner killed at any
    moment leaves at most one touch ``handing``.

    The writes are plain SQL statements on a SQLAlchemy connection of the engine, kept for the
    batch; on PostgreSQL they run in a worker thread (so the event loop goes on while the server
    answers), on SQLite in the event loop's thread (a local write costs less than a hand-over to
    another thread). After a database error the connection is dropped and a new one is opened for
    the next write.
    """

    def __init__(self, ctx: Context) -> None:
        self._engine = ctx.engine
        self._postgresql = is_postgresql(ctx.engine)
        self._hand = text(_HANDING_SQL.format(lock=" FOR SHARE" if self._postgresql else ""))
        self._outcome = text(_HANDED_SQL)
        self.errors: tuple[type[BaseException], ...] = (SQLAlchemyError, ctx.engine.dialect.loaded_dbapi.Error)
        """What a failed write raises: SQLAlchemy's errors (connecting) and the driver's (executing)."""
        self._connection: Connection | None = None
        self._pending: dict[str, Any] | None = None  # the last outcome, not written yet

    async def hand(self, item: WorkItem) -> bool:
        """Write the pending outcome and ``handing`` for ``item``, in one transaction; False: withdraw it."""
        claim = item.claim
        address, domain = _suppression_keys(item.lead_email)
        parameters = {"touch_id": claim.touch_id, "token": claim.token, "enrollment_id": claim.enrollment_id,
                      "address": address, "domain": domain}  # fmt: skip
        pending, self._pending = self._pending, None
        return await self._run(lambda: self._write(pending, parameters) == 1)

    def handed(self, item: WorkItem, outcome: str | DeliveryError) -> None:
        """Remember ``item``'s outcome: written with the next hand-off, or by :meth:`flush`."""
        self._pending = {
            "done_id": item.claim.touch_id,
            "done_token": item.claim.token,
            "new_state": outcome_state(outcome),
            "outcome": (outcome if isinstance(outcome, str) else str(outcome.code or ""))[:50] or None,
            "error": None if isinstance(outcome, str) else str(outcome)[:2000],
        }

    async def flush(self) -> None:
        """Write the pending outcome, if any. A failure is not raised: the wave's record writes it again."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        with contextlib.suppress(*self.errors):
            await self._run(lambda: self._write(pending, None))

    async def close(self) -> None:
        """Write what is pending and let the connection go."""
        await self.flush()
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    async def _run(self, write: Callable[[], _T]) -> _T:
        return await asyncio.to_thread(write) if self._postgresql else write()

    def _write(self, pending: dict[str, Any] | None, handing: dict[str, Any] | None) -> int:
        """One transaction: the pending outcome, then ``handing``; the rows ``handing`` changed."""
        if self._connection is None:
            self._connection = self._engine.connect()
        connection = self._connection
        try:
            with connection.begin():
                if pending is not None:
                    connection.execute(self._outcome, pending)
                return int(connection.execute(self._hand, handing).rowcount) if handing is not None else 0
        except BaseException:  # an error, or an interruption mid-statement: the connection's state is unknown
            self._connection = None
            with contextlib.suppress(Exception):
                connection.invalidate()
            raise


class _HandOff:
    """The hand-off of one email (:class:`cadence.adapters.mail.HandOff`), written by the batch's :class:`_Journal`."""

    def __init__(self, journal: _Journal, item: WorkItem, wave: _WaveDatabase) -> None:
        self._journal = journal
        self._item = item
        self._wave = wave

    async def before(self) -> bool:
        """Commit ``handing`` if the step is still ours, its lead active and not suppressed; else withdraw.

        If the database fails this write, the message is not handed over (:class:`TransientFailure`:
        retried later), and neither is the rest of the wave, without waiting for the database again.
        """
        if self._wave.problem is not None:
            raise TransientFailure(f"not handed over: the database failed this wave's hand-offs ({self._wave.problem})")
        try:
            return await self._journal.hand(self._item)
        except self._journal.errors as exc:
            self._wave.problem = database_problem(exc)
            raise TransientFailure(f"not handed over: the database did not answer ({self._wave.problem})") from exc

    async def after(self, outcome: str | DeliveryError) -> None:
        """Note the outcome: it is committed before the next email is handed over."""
        self._journal.handed(self._item, outcome)


@dataclass
class _WaveDatabase:
    """What the hand-offs of one wave know of the database: set once one of its writes failed.

    A SQLite locked by another writer makes each write wait the whole busy timeout: one wait per
    wave, not one per message.
    """

    problem: str | None = None


async def _send_wave(
    ctx: Context, sender: SmtpSender, journal: _Journal, wave: list[_Prepared]
) -> list[str | BaseException]:
    """Hand the wave to SMTP over several connections at once: the server's reply, or the error, of each."""
    envelope_from = ctx.settings.reply_to or None
    database = _WaveDatabase()
    # The wave's last outcome is written with the next hand-off (of the next wave, already under way),
    # or at the end of the batch; the wave's record writes every outcome of the wave anyway.
    return await asyncio.gather(
        *(
            sender.send(
                message.data,
                sender=envelope_from or item.owner_email or f"sales@{ctx.settings.mail_domain}",
                recipient=item.lead_email,
                hand_off=_HandOff(journal, item, database),
            )
            for item, message in wave
        ),
        return_exceptions=True,
    )


def _claim_tokens(session: Session, touch_ids: list[int]) -> dict[int, str | None]:
    """The claim token each touch carries now (one query)."""
    return dict(session.execute(select(Touch.id, Touch.claim_token).where(Touch.id.in_(touch_ids))).tuples().all())


_RECORD_SENT = (
    update(_TOUCHES)
    .where(_TOUCHES.c.id == bindparam("touch_id"), _TOUCHES.c.claim_token == bindparam("token"))
    .values(
        state=TouchState.SENT,
        outcome=func.coalesce(_TOUCHES.c.outcome, bindparam("reply")),
        error=None,
        lease_until=None,
    )
)
_MOVE_ON = (
    update(_ENROLLMENTS)
    .where(
        _ENROLLMENTS.c.id == bindparam("enrollment_id"),
        _ENROLLMENTS.c.state == "active",
        _ENROLLMENTS.c.next_step == bindparam("step"),
        _ENROLLMENTS.c.anchor_at == bindparam("anchor"),
    )
    .values(
        next_step=bindparam("new_next_step"),
        last_touch_at=bindparam("new_last_touch_at"),
        last_touch_day=bindparam("new_last_touch_day"),
        next_due_at=bindparam("new_next_due_at"),
    )
)


def _record_sent(
    session: Session, ctx: Context, sent: list[tuple[WorkItem, str]], now: datetime, snapshots: Mapping[int, Enrollment]
) -> None:
    """Record emails that went out and move their enrollments on: two statements for the whole wave.

    The next step is scheduled from the enrollment as it was claimed (``snapshots``, detached), and
    written only if the enrollment is still as it was then (active, at that step, same anchor): a
    decision, pause or resume since then makes the bulk update miss, and the wave's enrollments are
    then moved on one by one from their current rows.

    Enrollments are written before touches, the order every other writer of a lead's rows takes (a
    decision locks the enrollment, then its touches): the other order could deadlock with it.
    """
    moves: list[dict[str, Any]] = []
    for item, _reply in sent:
        snapshot = snapshots.get(item.claim.enrollment_id)
        if snapshot is None or snapshot.next_step != item.claim.step_index:
            moves = []
            break
        guard = {"enrollment_id": snapshot.id, "step": snapshot.next_step, "anchor": snapshot.anchor_at}
        cadence = pinned_cadence(session, snapshot.cadence_name, snapshot.cadence_version)
        advance(snapshot, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
        moves.append(guard | {"new_next_step": snapshot.next_step, "new_last_touch_at": snapshot.last_touch_at,
                              "new_last_touch_day": snapshot.last_touch_day,
                              "new_next_due_at": snapshot.next_due_at})  # fmt: skip
    postgresql = is_postgresql(ctx.engine)
    if not moves or _move_on(session, moves, postgresql) != len(moves):
        # Something changed since the claim (or no snapshot): from the current rows, one by one.
        enrollments = {
            e.id: e
            for e in session.scalars(
                select(Enrollment).where(Enrollment.id.in_([item.claim.enrollment_id for item, _ in sent]))
            ).unique()
        }
        for item, _reply in sent:
            enrollment = enrollments[item.claim.enrollment_id]
            if enrollment.state == "active" and enrollment.next_step == item.claim.step_index:
                cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
                advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
        session.flush()
    rows = [{"touch_id": item.claim.touch_id, "token": item.claim.token, "reply": reply[:50]} for item, reply in sent]
    if postgresql:
        session.connection().execute(_RECORD_SENT_PG, _columns(rows))
    else:
        session.connection().execute(_RECORD_SENT, rows)  # executemany


def _move_on(session: Session, moves: list[dict[str, Any]], postgresql: bool) -> int:
    """Move the enrollments on as ``moves`` say, each only if still as claimed; how many were."""
    if not postgresql:
        return int(session.connection().execute(_MOVE_ON, moves).rowcount)  # executemany
    columns = _columns(moves)
    for key in ("anchor", "new_last_touch_at", "new_next_due_at"):
        columns[key] = [_naive(value) for value in columns[key]]
    return int(session.connection().execute(_MOVE_ON_PG, columns).rowcount)


def _record_wave(
    session: Session,
    ctx: Context,
    wave: list[_Prepared],
    results: list[str | BaseException],
    now: datetime,
    report: RunReport,
    snapshots: Mapping[int, Enrollment],
) -> None:
    """Apply what SMTP said about each message of the wave: move enrollments on, bounce, retry later.

    The outcome itself was committed at the hand-off (the wave's last one with the next hand-off,
    which may come after this); it is written here again, so that the record does not depend on it.
    Touches whose claim is no longer this runner's are left to their new owner.
    Emails that went out (nearly all) are recorded in bulk, without ORM objects
    (:func:`_record_sent`); the others one by one.
    """
    tokens = _claim_tokens(session, [item.claim.touch_id for item, _ in wave])
    sent: list[tuple[WorkItem, str]] = []
    others: list[tuple[WorkItem, BaseException]] = []
    for (item, _message), result in zip(wave, results, strict=True):
        if tokens.get(item.claim.touch_id) != item.claim.token:
            report.superseded += 1
        elif isinstance(result, str):
            sent.append((item, result))
        else:
            others.append((item, result))
    if sent:
        _record_sent(session, ctx, sent, now, snapshots)
        report.emails_sent += len(sent)
    if not others:
        return
    enrollments = {
        e.id: e
        for e in session.scalars(
            select(Enrollment).where(Enrollment.id.in_([item.claim.enrollment_id for item, _ in others]))
        ).unique()
    }
    touches = _touches(session, [item.claim.touch_id for item, _ in others])
    for item, result in others:
        touch = touches[item.claim.touch_id]
        enrollment = enrollments[item.claim.enrollment_id]
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        moves_on = enrollment.state == "active" and enrollment.next_step == item.claim.step_index
        if isinstance(result, Withdrawn):
            # Not handed over: the lead stopped or was suppressed after the wave was marked.
            if enrollment.state != "active":
                _release(session, touch)
            else:
                touch.state = TouchState.SKIPPED
                touch.error = "address suppressed"
                if moves_on:
                    advance(enrollment, cadence, at=now, settings=ctx.settings,
                            grace_days=ctx.settings.reply_grace_days)  # fmt: skip
            report.skipped += 1
            continue
        touch.lease_until = None
        if isinstance(result, PermanentFailure):
            touch.state = TouchState.BOUNCED
            touch.error = str(result)[:2000]
            touch.outcome = str(result.code) if result.code else None
            suppress(session, item.lead_email, now=now, reason=f"bounced: {result}"[:1000])
            decide(session, enrollment.lead, Outcome.BOUNCED, now=now, reason=str(result)[:1000], decided_by="cadence")
            report.bounced += 1
            report.failures.append({"lead": item.lead_email, "step": item.claim.step_index + 1, "bounced": str(result)})
        elif isinstance(result, UnknownOutcome):
            touch.state = TouchState.UNCERTAIN
            touch.error = str(result)[:2000]
            if moves_on:
                advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
            report.uncertain += 1
            report.uncertain_touches.append(touch.id)
        else:
            error = result if isinstance(result, DeliveryError) else TransientFailure(str(result))
            touch.state = TouchState.RETRY
            touch.error = str(error)[:2000]
            touch.message_id = None
            touch.executed_at = None
            touch.claim_token = None
            if enrollment.state == "active":
                enrollment.next_due_at = now + _backoff(ctx, touch.attempts)
            report.retried += 1
            report.failures.append({"lead": item.lead_email, "step": item.claim.step_index + 1, "retry": str(error)})


def _record_and_mark(
    ctx: Context,
    done: list[_Prepared],
    results: list[str | BaseException],
    held: list[tuple[WorkItem, str]],
    ready: list[_Prepared],
    now: datetime,
    report: RunReport,
    versions: _Versions,
    snapshots: Mapping[int, Enrollment],
) -> list[_Prepared]:
    """One transaction: record the wave that came back, hold the broken ones, mark the next wave ``sending``.

    Run again while PostgreSQL is away (:func:`_retrying`): the SMTP replies of the wave are known
    only here, and an outcome the hand-off could not write is written now or left ``handing``.
    """

    def attempt(counts: RunReport) -> list[_Prepared]:
        with ctx.sessions() as session, session.begin():
            if done:
                _record_wave(session, ctx, done, results, now, counts, snapshots)
            for item, reason in held:
                _hold(session, item, now, reason, counts)
            return _mark_wave(session, ctx, ready, now, counts, versions)

    return _retrying(ctx, report, attempt)


_T = TypeVar("_T")


def _retrying(ctx: Context, report: RunReport, work: Callable[[RunReport], _T]) -> _T:
    """``work(counts)``, one transaction; while PostgreSQL is away, wait for it and run it again
    (up to ``CADENCE_DB_RETRY_SECONDS``, then :class:`DatabaseUnavailable`). ``report`` gets the counts
    of the attempt that committed, not those of the attempts that were rolled back.
    """

    def attempt() -> tuple[_T, RunReport]:
        counts = RunReport()
        return work(counts), counts

    result, counts = retry_while_unavailable(attempt, engine=ctx.engine, seconds=ctx.settings.db_retry_seconds)
    report.add(counts)
    return result


async def _send_emails(
    ctx: Context,
    sender: SmtpSender,
    templates: Templates,
    parts: AsyncIterator[list[WorkItem]],
    now: datetime,
    report: RunReport,
    versions: _Versions,
    snapshots: Mapping[int, Enrollment],
    *,
    expected: int,
    prepared: collections.deque[asyncio.Future[tuple[list[_Prepared], list[tuple[WorkItem, str]]]]] | None = None,
    all_built: asyncio.Event | None = None,
) -> None:
    """Send the emails in pipelined waves, so that rendering, the database and SMTP work at the same time.

    The emails come in parts (as the batch is claimed); ``snapshots`` has each part's claimed
    enrollments by the time the part comes, and ``expected`` is about how many emails there will
    be (a batch of at least :data:`RENDER_PROCESS_MIN_EMAILS` is built in the render process).
    ``prepared``: the batch's first waves, being built already (by :class:`Lookahead`), before
    those of ``parts``; ``all_built`` is set once every wave of the batch is built.

    Waves are under way at once: wave k is on the wire, wave k+1 is marked ``sending`` and handed to
    the sender already (its messages wait for connections, which go on to it as soon as they are
    done with wave k's), waves k+2 (and k+3, with the render process) are rendered and built. When
    wave k comes back, one transaction records it and marks wave k+2 ``sending`` (committed before
    it is handed to SMTP; the leads are checked once per wave, inside it, and again at each
    hand-off) while wave k+1 is on the wire. That transaction runs in a worker thread, so neither
    the hand-offs nor the rendering wait for the database.
    """
    wave_size = max(1, ctx.settings.smtp_connections) * WAVE_PER_CONNECTION
    # The waves handed to the sender, oldest first: the oldest on the wire, the next one (marked
    # `sending`) waiting for its connections, so that each connection goes on to it without a pause.
    on_wire: collections.deque[tuple[list[_Prepared], asyncio.Future[list[str | BaseException]]]] = collections.deque()
    journal = _Journal(ctx)
    builder = _builder(ctx, expected)

    def put_on_wire(wave: list[_Prepared]) -> None:
        if wave:
            on_wire.append((wave, asyncio.ensure_future(_send_wave(ctx, sender, journal, wave))))

    async def come_back() -> tuple[list[_Prepared], list[str | BaseException]]:
        """The oldest wave handed to the sender, once it is done, and its results."""
        wave, results = on_wire[0]
        try:
            return wave, await results
        finally:
            on_wire.popleft()

    # What lives through the batch (Prefect, SQLAlchemy, the claimed rows, the items) need not be walked
    # by the garbage collector at every collection while the emails are built: set it aside until the end.
    gc.freeze()
    # Waves being built, oldest first: two at once with the render process (it starts on the next
    # one as soon as it is done with one, whatever this loop waits for), one in this process.
    preparing: collections.deque[asyncio.Future[tuple[list[_Prepared], list[tuple[WorkItem, str]]]]] = (
        prepared if prepared is not None else collections.deque()
    )
    ahead = _waves_ahead(builder)

    async def waves() -> AsyncGenerator[list[WorkItem], None]:
        async for items in parts:
            for start in range(0, len(items), wave_size):
                yield items[start : start + wave_size]

    upcoming = waves()

    async def prepare_ahead() -> None:
        while len(preparing) < ahead:
            try:
                wave = await anext(upcoming)
            except StopAsyncIteration:  # again at every call once the waves are all out
                return
            preparing.append(asyncio.ensure_future(_prepare_wave(ctx, templates, wave, now, builder)))

    try:
        await prepare_ahead()
        while preparing:
            ready, held = await preparing.popleft()
            await prepare_ahead()
            if not preparing and all_built is not None:
                all_built.set()  # the render process is free: the next batch's first waves may be built
            done, results = await come_back() if len(on_wire) > 1 else ([], [])
            marked = await asyncio.to_thread(
                _record_and_mark, ctx, done, results, held, ready, now, report, versions, snapshots
            )
            put_on_wire(marked)
        while on_wire:
            done, results = await come_back()
            await asyncio.to_thread(_record_and_mark, ctx, done, results, [], [], now, report, versions, snapshots)
    except BaseException:
        for future in preparing:
            future.cancel()
        with contextlib.suppress(BaseException):
            await upcoming.aclose()  # the part being claimed, if any, is let finish
        # Something failed while waves were handed to the sender: let them finish and record them if
        # we can (what cannot be recorded stays as its hand-off left it: `sending` is claimed again
        # after the lease, `handing` becomes `uncertain` and is never re-sent).
        while on_wire:
            with contextlib.suppress(BaseException):
                done, results = await come_back()
                _record_and_mark(ctx, done, results, [], [], now, report, versions, snapshots)
        raise
    finally:
        if all_built is not None:
            all_built.set()
        gc.unfreeze()
        await journal.close()


async def run_batch(
    ctx: Context,
    *,
    now: datetime,
    batch_size: int,
    sender: SmtpSender,
    only_enrollment: int | None = None,
    lookahead: Lookahead | None = None,
) -> RunReport:
    """Claim and execute up to ``batch_size`` due steps as of ``now``.

    Every transaction of the batch that finds PostgreSQL away (a restart, a failover) waits for it
    and runs again, for up to ``CADENCE_DB_RETRY_SECONDS``. A longer outage, or SQLite locked by
    another writer past its busy timeout, does not raise: the batch stops where it was and the
    report's ``stopped`` says why (what it had claimed is taken up again once the lease lapses).

    With a ``lookahead`` (the same one for each batch of a run), a full batch claims the start of
    the next one while its last emails go out, and builds its first waves as soon as its own are
    built, so that the next batch puts emails on the wire at once (:class:`Lookahead`).
    """
    report = RunReport(batches=1)
    try:
        await _run_batch(
            ctx, report, now=now, batch_size=batch_size, sender=sender, only_enrollment=only_enrollment,
            lookahead=lookahead,
        )  # fmt: skip
    except DatabaseUnavailable as exc:
        reason = str(exc)
        report.stopped = (
            f"{reason}{' ' if reason.endswith(('.', '?', '!')) else '. '}The run stopped; nothing is lost: what it "
            "had claimed is taken up by the next run once the claims' lease lapses (CADENCE_LEASE_SECONDS)"
        )
    return report


CLAIM_PARTS = 4
"""A batch is claimed in this many parts, each while the emails of the one before go out.

So the claim's queries and the loading of leads (a fraction of a second for a batch of a thousand)
overlap with sending, but for the first part. Caps are applied to one part at a time, so once a
part has an owner with a daily cap, the rest of the batch is claimed with it, in one go: all of
the batch's capped emails are then weighed together, by priority, as in an unsplit batch.
"""


@dataclass
class _Part:
    """One claimed part of a batch: its emails, ready to be sent, and what claiming it did."""

    emails: list[WorkItem]
    snapshots: dict[int, Enrollment]  # the claimed enrollments, as they were claimed (detached)
    counts: RunReport
    selected: int  # due enrollments taken (claimed, completed or recovered): what counts against the batch
    last: bool  # nothing more is to be claimed in this batch


_Building = asyncio.Future[tuple[list[_Prepared], list[tuple[WorkItem, str]]]]


def _builder(ctx: Context, expected: int) -> RenderProcess | None:
    """The render process, for a batch of about ``expected`` emails (None: build them in this process)."""
    return render_process() if ctx.settings.render_process and expected >= RENDER_PROCESS_MIN_EMAILS else None


def _waves_ahead(builder: RenderProcess | None) -> int:
    """How many waves are built ahead of the one sent next: two in the render process, one here."""
    return 2 if builder is not None else 1


def _part_size(batch_size: int) -> int:
    """How many due steps each part of a batch claims (the batch in :data:`CLAIM_PARTS` parts)."""
    return max(1, -(-batch_size // CLAIM_PARTS))


def _expected(first: _Part, batch_size: int) -> int:
    """About how many emails a batch whose first part is ``first`` will send."""
    return len(first.emails) if first.last else min(batch_size, len(first.emails) * CLAIM_PARTS)


def _claim_batch_part(
    ctx: Context,
    templates: Templates,
    versions: _Versions,
    *,
    now: datetime,
    limit: int,
    left: int,
    only_enrollment: int | None,
) -> _Part:
    """Claim a part of a batch (up to ``limit`` of the ``left`` due steps it may still take), caps applied."""
    counts = RunReport()
    part = _claim_part(ctx, templates, versions, counts, now=now, limit=limit, only_enrollment=only_enrollment)
    if not part.last and any(item.owner_cap is not None for item in part.emails) and limit < left:
        # An owner with a daily cap: the rest of the batch in one go, and the caps over all of it.
        rest = _claim_part(ctx, templates, versions, counts, now=now, limit=left - limit,
                           only_enrollment=only_enrollment)  # fmt: skip
        part = _Part(part.emails + rest.emails, part.snapshots | rest.snapshots, counts,
                     part.selected + rest.selected, last=True)  # fmt: skip
    part.emails = _retrying(ctx, counts, lambda c: _capped_emails(ctx, templates, part.emails, now, c))
    return part


@dataclass
class _Head:
    """The start of the next batch, prepared by the batch before it (see :class:`Lookahead`)."""

    key: tuple[int, datetime, int, int | None]  # (context, now, batch size, enrollment): what it was claimed for
    claiming: asyncio.Future[_Part]  # the first part's claim (pauses resumed first), in a worker thread
    building: asyncio.Future[tuple[_Part, collections.deque[_Building], int]]  # its first waves, once claimed


class Lookahead:
    """What a run of batches carries from one batch to the next: the next batch's start, prepared ahead.

    A batch that took as many due steps as it may (so that more are probably due) claims the first
    part of the next batch while its own last emails go out, and, once its own waves are all
    built, has the first waves of the next one built: the render process goes on from one batch
    to the next without waiting, and the next batch hands its first emails to SMTP as soon as it
    starts. Nothing of the next batch is marked ``sending`` or sent before that batch runs.

    Not done when an owner in the batch has a daily email cap (the next batch's caps must count
    every email of this one, marked once this one is done), nor for a run of one enrollment. A
    start no batch takes (the run ended on an error, or stopped) is let go by :meth:`close`: its
    claims, committed, are taken up again once their lease lapses, as those of a stopped batch.
    """

    def __init__(self) -> None:
        self._head: _Head | None = None

    def begin(
        self,
        ctx: Context,
        templates: Templates,
        *,
        now: datetime,
        batch_size: int,
        only_enrollment: int | None,
        all_built: asyncio.Event,
    ) -> None:
        """Claim the next batch's first part now (in a worker thread), and build its first waves once ``all_built``."""
        if self._head is not None:  # pragma: no cover - one batch at a time takes and begins a head
            raise RuntimeError("the next batch's start is being prepared already")

        def claim() -> _Part:
            counts = RunReport()
            _retrying(ctx, counts, lambda _counts: resume_lapsed_pauses(ctx, now=now, limit=batch_size))
            part = _claim_batch_part(ctx, templates, _Versions(ctx), now=now, limit=_part_size(batch_size),
                                     left=batch_size, only_enrollment=only_enrollment)  # fmt: skip
            part.counts.add(counts)
            return part

        claiming: asyncio.Future[_Part] = asyncio.ensure_future(asyncio.to_thread(claim))

        async def build() -> tuple[_Part, collections.deque[_Building], int]:
            part = await asyncio.shield(claiming)  # cancelled or not, the claim is let finish
            await all_built.wait()
            builder = _builder(ctx, _expected(part, batch_size))
            wave_size = max(1, ctx.settings.smtp_connections) * WAVE_PER_CONNECTION
            waves = [part.emails[i : i + wave_size] for i in range(0, len(part.emails), wave_size)]
            waves = waves[: _waves_ahead(builder)]
            preparing: collections.deque[_Building] = collections.deque(
                asyncio.ensure_future(_prepare_wave(ctx, templates, wave, now, builder)) for wave in waves
            )
            return part, preparing, sum(len(wave) for wave in waves)

        self._head = _Head((id(ctx), now, batch_size, only_enrollment), claiming, asyncio.ensure_future(build()))

    def take(
        self, ctx: Context, *, now: datetime, batch_size: int, only_enrollment: int | None
    ) -> asyncio.Future[tuple[_Part, collections.deque[_Building], int]] | None:
        """The prepared start of this batch: (first part, its first waves being built, emails in them); or None."""
        head, self._head = self._head, None
        if head is None:
            return None
        if head.key != (id(ctx), now, batch_size, only_enrollment):  # pragma: no cover - a run's batches share these
            raise RuntimeError("the next batch's start was prepared for another run")
        return head.building

    async def close(self) -> None:
        """Let go of a start no batch took: its claim is let finish, its waves are not built."""
        head, self._head = self._head, None
        if head is None:
            return
        head.building.cancel()
        with contextlib.suppress(BaseException):
            await head.claiming
        with contextlib.suppress(BaseException):
            _part, preparing, _count = await head.building
            for future in preparing:
                future.cancel()


async def _run_batch(
    ctx: Context,
    report: RunReport,
    *,
    now: datetime,
    batch_size: int,
    sender: SmtpSender,
    only_enrollment: int | None,
    lookahead: Lookahead | None,
) -> None:
    templates = templates_for(ctx)
    versions = _Versions(ctx)
    part_size = _part_size(batch_size)
    left = batch_size
    snapshots: dict[int, Enrollment] = {}
    capped = False  # an email of this batch has an owner with a daily cap

    def claim_part(limit: int) -> _Part:
        return _claim_batch_part(
            ctx, templates, versions, now=now, limit=limit, left=left, only_enrollment=only_enrollment
        )

    head = (
        lookahead.take(ctx, now=now, batch_size=batch_size, only_enrollment=only_enrollment)
        if lookahead is not None
        else None
    )
    prepared: collections.deque[_Building] | None = None
    skip = 0  # the first emails, in the waves prepared ahead
    if head is not None:
        first, prepared, skip = await head
    else:
        _retrying(ctx, report, lambda _counts: resume_lapsed_pauses(ctx, now=now, limit=batch_size))
        first = claim_part(min(part_size, left))
    all_built = asyncio.Event()

    async def parts() -> AsyncIterator[list[WorkItem]]:
        """The emails of each part; the next part is claimed (in a worker thread) while these go out."""
        nonlocal left, capped
        part = first
        emails = part.emails[skip:]
        while True:
            report.add(part.counts)
            snapshots.update(part.snapshots)
            left -= part.selected
            capped = capped or any(item.owner_cap is not None for item in part.emails)
            more = not part.last and left > 0
            claiming = asyncio.ensure_future(asyncio.to_thread(claim_part, min(part_size, left))) if more else None
            if not more and not part.last and lookahead is not None and not capped and only_enrollment is None:
                # This batch took all it may: more is probably due. Its start is prepared meanwhile.
                lookahead.begin(ctx, templates, now=now, batch_size=batch_size, only_enrollment=only_enrollment,
                                all_built=all_built)  # fmt: skip
            try:
                if emails:
                    yield emails
                if claiming is None:
                    return
                part = await claiming
                emails = part.emails
            except BaseException:
                if claiming is not None and not claiming.done():
                    # Let the claim finish (a thread cannot be stopped): what it took waits out its lease.
                    with contextlib.suppress(BaseException):
                        report.add((await claiming).counts)
                raise

    if not first.emails and first.last:
        report.add(first.counts)
        return
    await _send_emails(
        ctx, sender, templates, parts(), now, report, versions, snapshots, expected=_expected(first, batch_size),
        prepared=prepared, all_built=all_built,
    )  # fmt: skip


def _claim_part(
    ctx: Context,
    templates: Templates,
    versions: _Versions,
    counts: RunReport,
    *,
    now: datetime,
    limit: int,
    only_enrollment: int | None,
) -> _Part:
    """Claim up to ``limit`` due steps; hold broken cadences, record the tasks; the emails left to send.

    Owners' daily caps are applied by the caller (:func:`_capped_emails`), to the part as a whole.
    """

    def claim(attempt: RunReport) -> tuple[ClaimBatch, list[WorkItem]]:
        with ctx.sessions() as session, session.begin():
            batch = claim_due(
                session,
                now=now,
                limit=limit,
                settings=ctx.settings,
                grace_days=ctx.settings.reply_grace_days,
                only_enrollment=only_enrollment,
            )
            attempt.claimed = len(batch.claims)
            attempt.completed = batch.completed
            attempt.uncertain += len(batch.uncertain)
            attempt.uncertain_touches.extend(batch.uncertain)
            attempt.recovered += batch.recovered
            return batch, _load(session, ctx, batch, now)

    batch, items = _retrying(ctx, counts, claim)
    last = batch.selected < limit or only_enrollment is not None
    if not items:
        return _Part([], batch.enrollments, counts, batch.selected, last)
    items = _retrying(ctx, counts, lambda c: _hold_broken_cadences(ctx, items, now, c))
    task_items = [i for i in items if i.step.channel.is_task]
    email_items = [i for i in items if not i.step.channel.is_task]
    if task_items:

        def record_tasks(attempt: RunReport) -> None:
            with ctx.sessions() as session, session.begin():
                for item in task_items:
                    try:
                        item.rendered = templates.render_text(item.template, item.variables) if item.template else None
                    except TemplateError as exc:
                        _hold(session, item, now, str(exc), attempt)
                recordable = [i for i in task_items if i.rendered is not None or i.template is None]
                _record_tasks(session, ctx, recordable, now, attempt, versions)

        _retrying(ctx, counts, record_tasks)
    return _Part(email_items, batch.enrollments, counts, batch.selected, last)


def _capped_emails(
    ctx: Context, templates: Templates, items: list[WorkItem], now: datetime, counts: RunReport
) -> list[WorkItem]:
    """The emails within their owners' daily caps (all of them when no owner has a cap)."""
    if not any(item.owner_cap is not None for item in items):
        return items
    with ctx.sessions() as session, session.begin():
        return _capped(session, ctx, templates, items, now, counts)


def _capped(
    session: Session, ctx: Context, templates: Templates, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Apply the owners' daily caps. The emails of capped owners are rendered first: a broken one takes no slot."""
    ready: list[WorkItem] = []
    for item in items:
        if item.owner_cap is not None:
            try:
                assert item.template is not None  # an email step always names one (checked at parse time)
                item.rendered = templates.render_email(item.template, item.variables)
            except TemplateError as exc:
                _hold(session, item, now, str(exc), report)
                continue
        ready.append(item)
    return _apply_caps(session, ctx, ready, now, report)


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
    held: list[tuple[WorkItem, str]] = []
    broken: dict[tuple[str, str], list[str]] = {}
    with ctx.sessions() as session:  # reads only when a pinned version is not cached yet
        for item in items:
            assert item.cadence_key is not None  # set by _load
            key = item.cadence_key
            if key not in broken:
                broken[key] = cadence_problems(ctx, pinned_cadence(session, *key))
            if broken[key]:
                held.append((item, f"cadence {key[0]} has template errors: {'; '.join(broken[key][:5])}"))
            else:
                runnable.append(item)
    if held:
        with ctx.sessions() as session, session.begin():
            for item, reason in held:
                _hold(session, item, now, reason, report)
    return runnable


class BatchRunner(Protocol):
    """Runs one batch (:func:`run_batch` for ``ctx``; the Prefect flow wraps it in a task run per batch)."""

    def __call__(
        self, *, now: datetime, batch_size: int, sender: SmtpSender, only_enrollment: int | None, lookahead: Lookahead
    ) -> Awaitable[RunReport]:
        """Claim and execute up to ``batch_size`` due steps as of ``now``."""
        ...


async def run_until_idle(
    ctx: Context,
    *,
    now: datetime,
    batch_size: int | None = None,
    config: SmtpConfig | None = None,
    only_enrollment: int | None = None,
    max_batches: int = 100_000,
    batch: BatchRunner | None = None,
) -> RunReport:
    """Run batches until nothing more is due at ``now``, or a batch stopped (``stopped`` says why).

    The one loop of the engine: the tests run it, and so does the Prefect flow, which passes
    ``batch`` (:func:`run_batch` as a Prefect task, one task run per batch of leads).
    """
    run = batch or cast(BatchRunner, functools.partial(run_batch, ctx))
    total = RunReport()
    lookahead = Lookahead()
    async with SmtpSender(config or smtp_config(ctx)) as sender:
        try:
            for _ in range(max_batches):
                report = await run(
                    now=now, batch_size=batch_size or ctx.settings.batch_size, sender=sender,
                    only_enrollment=only_enrollment, lookahead=lookahead,
                )  # fmt: skip
                total.add(report)
                if not report.did_work or report.stopped:
                    break
        finally:
            await lookahead.close()
    return total


def next_due(ctx: Context) -> datetime | None:
    """When the next step of any active enrollment falls due."""
    with ctx.sessions() as session:
        return session.scalar(select(func.min(Enrollment.next_due_at)).where(Enrollment.state == "active"))


def lead_zone(ctx: Context, lead: Lead) -> str:
    """The lead's effective time zone (for reports)."""
    return lead_timezone(lead, ctx.settings)
