"""Taking work: claim due steps, read what they need, and settle what is decided before any email.

One claim (:func:`take`, after the batch resumed the pauses whose end has passed) is: claim up to ``limit`` due steps
(:func:`cadence.services.claims.claim_due`, token-fenced) and read their leads, owners, cadences
and threads in a few bulk queries; give back the steps whose lead is outside its allowed slot now
(send window, business day, holiday: the step is moved to the next slot, not run); hold the steps
of cadences whose templates do not check; space the contacts of one account
(:mod:`cadence.services.advance.accounts`); create the tasks of task steps; keep each owner within
their daily email cap. What is left are the emails to send.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from cadence.adapters.models import Enrollment, Lead, Rep, Task, Touch
from cadence.adapters.templates import TemplateError, sample_variables
from cadence.core import events
from cadence.core.cadences import Cadence, Channel
from cadence.core.event_data import MAY_HAVE_GONE_OUT
from cadence.core.events import TouchState, consequences
from cadence.core.schedule import local_instant
from cadence.core.webhooks import EventType
from cadence.services.advance import pacing, settle
from cadence.services.advance.accounts import space_account_contacts
from cadence.services.advance.compose import Versions, render, work_item
from cadence.services.advance.no_address import skip_without_address
from cadence.services.advance.work import RunReport, WorkItem
from cadence.services.cadence_versions import calendar_for, pinned_cadence
from cadence.services.claims import Claim, ClaimBatch, advance, claim_due
from cadence.services.context import Context
from cadence.services.enrollments import resume
from cadence.services.webhooks import outbox

TASK_TITLES = {
    Channel.CALL: "Call {name}",
    Channel.LINKEDIN: "Connect with {name} on LinkedIn",
    Channel.RESEARCH: "Research {name}",
    Channel.POSTCARD: "Send a postcard to {name}",
    Channel.TASK: "Follow up with {name}",
}


def claim(
    session: Session, ctx: Context, *, now: datetime, limit: int, only_enrollment: int | None, report: RunReport
) -> tuple[list[WorkItem], dict[int, Enrollment]]:
    """Claim up to ``limit`` due steps and read what they need: (the steps, their enrollments as claimed)."""
    batch = claim_due(session, now=now, limit=limit, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days,
                      only_enrollment=only_enrollment)  # fmt: skip
    report.claimed += len(batch.claims)
    report.completed += batch.completed
    report.uncertain += len(batch.uncertain)
    report.uncertain_touches.extend(batch.uncertain)
    report.recovered += batch.recovered
    return _load(session, ctx, batch, now), dict(batch.enrollments)


def _load(session: Session, ctx: Context, batch: ClaimBatch, now: datetime) -> list[WorkItem]:
    """Everything needed to execute the claimed steps, from the rows the claim loaded (no query per step)."""
    enrollments = dict(batch.enrollments)
    cadences = {key: pinned_cadence(session, *key) for key in {_cadence_key(e) for e in enrollments.values()}}
    threaded = [
        c
        for c in batch.claims
        if cadences[_cadence_key(enrollments[c.enrollment_id])].steps[c.step_index].thread == "previous"
    ]
    parents = _thread_parents(session, threaded)
    items: list[WorkItem] = []
    for claimed in batch.claims:
        enrollment = enrollments[claimed.enrollment_id]
        key = _cadence_key(enrollment)
        items.append(work_item(ctx, claimed, enrollment.lead, cadences[key], now=now,
                               thread_parent=parents.get(claimed.touch_id), cadence_key=key))  # fmt: skip
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
    for claimed in claims:
        earlier = [row for row in sent.get(claimed.enrollment_id, []) if row[0] < claimed.step_index]
        if earlier:
            _, message_id, subject = max(earlier, key=lambda row: row[0])
            if message_id and subject:
                parents[claimed.touch_id] = (message_id, subject)
    return parents


def defer_outside_slot(
    session: Session, ctx: Context, items: list[WorkItem], snapshots: dict[int, Enrollment], now: datetime,
    report: RunReport,
) -> list[WorkItem]:  # fmt: skip
    """Give back the steps whose lead is outside its allowed slot now; they are due at the next slot.

    A step is due inside a slot when it is scheduled, but it may be taken later: a held step whose
    template was fixed in the evening, a retry whose backoff ends at night, a runner that was down.
    """
    kept: list[WorkItem] = []
    for item in items:
        enrollment = snapshots[item.claim.enrollment_id]
        facts = settle.step_facts(session, ctx, enrollment, item.claim.step_index, TouchState.CLAIMED, now=now)
        found = consequences(events.StepDue(), facts)
        if found.deferred_to is None:
            kept.append(item)
            continue
        give_back(session, session.get_one(Touch, item.claim.touch_id))
        session.get_one(Enrollment, enrollment.id).next_due_at = found.deferred_to
        report.deferred += 1
    return kept


def give_back(session: Session, touch: Touch) -> None:
    """Give a claim back without running its step: it is claimed again when the step is next due.

    A touch this claim created goes; one that was waiting (held, retried) keeps its attempts and its
    error, so that its backoff and its history go on.
    """
    if touch.attempts == 0 and touch.error is None:
        session.delete(touch)
    else:
        touch.claim_token = None
        touch.lease_until = None


def cadence_problems(ctx: Context, cadence: Cadence) -> list[str]:
    """What is wrong with the templates a cadence uses (checked once per version of each template)."""
    templates = ctx.templates
    names = sorted({name for step in cadence.steps for name in step.templates})
    try:
        key = (cadence.version, *(f"{n}@{templates.version(n) if templates.exists(n) else '-'}" for n in names))
    except TemplateError as exc:
        return [str(exc)]
    if key not in ctx.cadence_problems:
        problems: list[str] = []
        for name in names:
            if not templates.exists(name):
                problems.append(f"{name}: no such template")
                continue
            problems += [f"{p.path}:{p.line or '?'}: {p.reason}" for p in templates.check(name, sample_variables())]
        ctx.cadence_problems[key] = problems
    return ctx.cadence_problems[key]


def hold(session: Session, ctx: Context, item: WorkItem, now: datetime, reason: str, report: RunReport) -> None:
    """A template is broken: the step waits (due again at the lead's slot after an hour, the core's recheck time)."""
    touch = session.get_one(Touch, item.claim.touch_id)
    enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
    facts = settle.step_facts(session, ctx, enrollment, item.claim.step_index, TouchState(touch.state), now=now)
    found = consequences(events.StepHeld(reason=reason[:2000]), facts)
    touch.state = TouchState.HELD
    touch.error = reason[:2000]
    touch.lease_until = None
    if found.enrollment is not None:
        enrollment.next_due_at = found.enrollment.next_due_at
    report.held += 1
    who = item.lead_email or item.lead_name
    report.failures.append({"lead": who, "step": item.claim.step_index + 1, "held": reason[:300]})


def hold_broken_cadences(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Hold every step of a cadence whose templates do not check: due, not lost, and reported."""
    runnable: list[WorkItem] = []
    broken: dict[tuple[str, str], list[str]] = {}
    for item in items:
        assert item.cadence_key is not None  # set when loaded
        key = item.cadence_key
        if key not in broken:
            broken[key] = cadence_problems(ctx, pinned_cadence(session, *key))
        if broken[key]:
            hold(session, ctx, item, now, f"cadence {key[0]} has template errors: {'; '.join(broken[key][:5])}", report)
        else:
            runnable.append(item)
    return runnable


def hold_until_researched(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Hold each email step that waits for the research (``wait_for: research``) while its research task is open."""
    from cadence.services.research import research_pending

    runnable: list[WorkItem] = []
    for item in items:
        reason = research_pending(session, item.claim.enrollment_id) if item.step.wait_for == "research" else None
        if reason is not None:
            hold(session, ctx, item, now, reason, report)
        else:
            runnable.append(item)
    return runnable


def record_tasks(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport, versions: Versions
) -> None:
    """Create the owner's task for each task step, and move its enrollment on."""
    if not items:
        return
    active = {
        e.id: e
        for e in session.scalars(
            select(Enrollment)
            .where(Enrollment.id.in_([i.claim.enrollment_id for i in items]))
            .options(lazyload(Enrollment.lead))
            .with_for_update(of=Enrollment)
            .execution_options(populate_existing=True)
        ).unique()
        if e.state == "active"
    }
    created: list[Task] = []
    for item in items:
        touch = session.get_one(Touch, item.claim.touch_id)
        enrollment = active.get(item.claim.enrollment_id)
        if enrollment is None:
            session.delete(touch)  # the lead stopped since the claim: the claim is given back
            report.skipped += 1
            continue
        try:
            item.rendered = ctx.templates.render_text(item.template, item.variables) if item.template else None
        except TemplateError as exc:
            hold(session, ctx, item, now, str(exc), report)
            continue
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
            instructions=item.rendered if isinstance(item.rendered, str) else None,
            due_at=item.claim.due_at,
            priority=item.lead_priority,
            status="open",
            created_at=now,
        )
        session.add(task)
        created.append(task)
        touch.state = TouchState.DONE
        touch.executed_at = now
        touch.template = item.template
        touch.template_version = versions.get(item.template)
        touch.lease_until = None
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        advance(enrollment, cadence, at=now, settings=ctx.settings, grace_days=ctx.settings.reply_grace_days)
        report.tasks[item.step.channel.value] += 1
    if created and outbox.wanted(session, EventType.TASK_CREATED):
        session.flush()
        leads = {
            lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_({t.lead_id for t in created})))
        }
        outbox.record(session, [outbox.task_event(EventType.TASK_CREATED, leads[t.lead_id], t, now) for t in created])


def apply_caps(
    session: Session, ctx: Context, items: list[WorkItem], now: datetime, report: RunReport
) -> list[WorkItem]:
    """Keep each owner within their daily email cap; overflow moves to the lead's next open day.

    The emails of capped owners are rendered first: a broken one takes no slot (it is held).
    """
    kept: list[WorkItem] = []
    used: dict[int, int] = {}
    for item in sorted(items, key=lambda i: (i.lead_priority, i.claim.due_at, i.claim.touch_id)):
        if item.owner_id is None or item.owner_cap is None:
            kept.append(item)
            continue
        try:
            render(ctx.templates, item)
        except TemplateError as exc:
            hold(session, ctx, item, now, str(exc), report)
            continue
        if item.owner_id not in used:
            used[item.owner_id] = _sent_today(session, ctx, item.owner_id, now)
        if used[item.owner_id] < item.owner_cap:
            used[item.owner_id] += 1
            kept.append(item)
            continue
        enrollment = session.get_one(Enrollment, item.claim.enrollment_id)
        cadence = pinned_cadence(session, enrollment.cadence_name, enrollment.cadence_version)
        calendar = calendar_for(enrollment.lead, cadence, ctx.settings)
        next_day = calendar.local_date(now) + timedelta(days=1)
        enrollment.next_due_at = calendar.next_slot(calendar.start_of_day(next_day))
        give_back(session, session.get_one(Touch, item.claim.touch_id))
        report.capped += 1
    return kept


def _sent_today(session: Session, ctx: Context, owner_id: int, now: datetime) -> int:
    """The emails of ``owner_id``'s leads that may have gone out today, in the owner's time zone."""
    owner = session.get_one(Rep, owner_id)
    tz = ZoneInfo(owner.timezone or ctx.settings.default_timezone)
    start = local_instant(now.astimezone(tz).date(), datetime.min.time(), tz)
    count = session.scalar(
        select(func.count())
        .select_from(Touch)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(
            Lead.owner_id == owner_id,
            Touch.channel == Channel.EMAIL.value,
            Touch.state.in_(sorted(MAY_HAVE_GONE_OUT)),
            Touch.executed_at >= start,
            Touch.executed_at < start + timedelta(days=1),
        )
    )
    return count or 0


def resume_lapsed_pauses(ctx: Context, *, now: datetime, limit: int) -> int:
    """Resume enrollments whose pause had an end (an out-of-office return date) that has passed."""
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


def take(
    ctx: Context, *, now: datetime, limit: int, only_enrollment: int | None, report: RunReport, versions: Versions
) -> tuple[list[WorkItem], dict[int, Enrollment]]:
    """Claim a batch and settle all but its emails, in one transaction: (emails to send, enrollments as claimed)."""
    with ctx.sessions() as session, session.begin():
        items, snapshots = claim(session, ctx, now=now, limit=limit, only_enrollment=only_enrollment, report=report)
        items = skip_without_address(session, ctx, items, now, report)
        items = defer_outside_slot(session, ctx, items, snapshots, now, report)
        items = hold_broken_cadences(session, ctx, items, now, report)
        items = hold_until_researched(session, ctx, items, now, report)
        items = space_account_contacts(session, ctx, items, now, report)
        record_tasks(session, ctx, [i for i in items if i.step.channel.is_task], now, report, versions)
        emails = apply_caps(session, ctx, [i for i in items if not i.step.channel.is_task], now, report)
        emails = pacing.hold_paused_cadences(session, ctx, emails, now, report)
        emails = pacing.apply_mailbox_gate(session, ctx, emails, now, report)
    return emails, snapshots
