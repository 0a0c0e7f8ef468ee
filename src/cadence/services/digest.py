"""The rep digest: each morning, in the rep's time zone, today's and overdue tasks, overdue first.

Tasks overdue by more than ``escalate_after_days`` also go to the manager address, if one is set
(seed 003: people are held to account), and so do answers left past the response SLA
(:mod:`cadence.services.response_sla`) the same morning and the bounce guard's open alerts (a mailbox
or cadence paused) at once; a rep's digest lists its own late answers first.
Each recipient gets at most one digest per local date:
the ``digests`` row is claimed before the email is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cadence.adapters.mail import SmtpSender, build_message, make_message_id
from cadence.adapters.models import Digest, Rep, Task
from cadence.services.context import Context
from cadence.services.guards import ALERT_TITLE
from cadence.services.response_sla import late_answers


@dataclass(frozen=True)
class DigestMail:
    """A digest to send: to whom, for which local date, with which tasks."""

    recipient: str
    name: str
    local_date: str
    overdue: list[dict[str, Any]]
    today: list[dict[str, Any]]
    late_answers: list[dict[str, Any]] = field(default_factory=list)
    """Answers whose owner task is open past the response SLA (also among ``overdue`` or ``today`` for a rep)."""


def _task_line(task: Task, tz: ZoneInfo) -> dict[str, Any]:
    lead = task.lead
    instructions = (task.instructions or task.title or "").strip().splitlines()
    return {
        "id": task.id,
        "lead_name": lead.label,
        "lead_email": lead.email,
        "company": lead.company,
        "class": lead.lead_class,
        "channel": task.channel,
        "title": task.title,
        "due_at": task.due_at.astimezone(tz).strftime("%a %d %b %H:%M"),
        "instructions_first_line": instructions[0] if instructions else "",
        "owner": task.owner.email if task.owner else None,
    }


def due_digests(session: Session, ctx: Context, *, now: datetime) -> list[DigestMail]:
    """The digests due at ``now``: reps whose local hour is the digest hour and who had none today."""
    settings = ctx.settings
    result: list[DigestMail] = []
    sent = {
        (d.recipient, d.local_date)
        for d in session.scalars(select(Digest).where(Digest.sent_at >= now - timedelta(days=2)))
    }
    for rep in session.scalars(select(Rep).where(Rep.active).order_by(Rep.id)):
        tz = ZoneInfo(rep.timezone or settings.default_timezone)
        local = now.astimezone(tz)
        if local.hour != settings.digest_hour or (rep.email, local.date().isoformat()) in sent:
            continue
        start = datetime.combine(local.date(), datetime.min.time(), tzinfo=tz)
        end = start + timedelta(days=1)
        tasks = list(
            session.scalars(
                select(Task)
                .where(Task.owner_id == rep.id, Task.status == "open", Task.due_at < end)
                .order_by(Task.due_at, Task.priority, Task.id)
            )
        )
        overdue = [_task_line(t, tz) for t in tasks if t.due_at < start]
        today = [_task_line(t, tz) for t in tasks if t.due_at >= start]
        by_id = {t.id: t for t in tasks}
        late_lines = [
            _task_line(by_id[a.task_id], tz)
            for a in late_answers(session, now=now, settings=settings, owner_id=rep.id)
            if a.task_id in by_id
        ]
        if overdue or today:
            result.append(DigestMail(rep.email, rep.name, local.date().isoformat(), overdue, today, late_lines))
    if settings.manager_email:
        tz = ZoneInfo(settings.default_timezone)
        local = now.astimezone(tz)
        if local.hour == settings.digest_hour and (settings.manager_email, local.date().isoformat()) not in sent:
            cutoff = now - timedelta(days=settings.escalate_after_days)
            answers = {a.task_id for a in late_answers(session, now=now, settings=settings)}
            # Overdue tasks, and at once the bounce guard's alerts: a mailbox or cadence stopped sending.
            late = list(
                session.scalars(
                    select(Task)
                    .where(Task.status == "open", or_(Task.due_at < cutoff, Task.title.startswith(ALERT_TITLE)))
                    .order_by(Task.due_at, Task.id)
                )
            )
            unanswered = (
                list(session.scalars(select(Task).where(Task.id.in_(answers)).order_by(Task.created_at, Task.id)))
                if answers
                else []
            )
            if late or unanswered:
                result.append(
                    DigestMail(
                        settings.manager_email,
                        "Manager",
                        local.date().isoformat(),
                        [_task_line(t, tz) for t in late if t.id not in answers],
                        [],
                        [_task_line(t, tz) for t in unanswered],
                    )
                )
    return result


async def send_digests(ctx: Context, sender: SmtpSender, *, now: datetime) -> dict[str, int]:
    """Send every digest due at ``now``, each at most once per recipient and local date."""
    from cadence.services.advance import templates_for

    templates = templates_for(ctx)
    sent = skipped = 0
    with ctx.sessions() as session:
        mails = due_digests(session, ctx, now=now)
    for mail in mails:
        with ctx.sessions() as session:
            try:
                with session.begin():
                    row = Digest(
                        recipient=mail.recipient,
                        local_date=mail.local_date,
                        tasks=len(mail.overdue) + len(mail.today),
                        sent_at=now,
                    )
                    session.add(row)
                    session.flush()
                    row.message_id = make_message_id(row.id, ctx.settings.mail_domain)
            except IntegrityError:
                skipped += 1  # another run sent it
                continue
        variables = {
            "rep": {"name": mail.name, "email": mail.recipient},
            "overdue": mail.overdue,
            "today": mail.today,
            "late_answers": mail.late_answers,
            "date": mail.local_date,
            "escalation": mail.recipient == ctx.settings.manager_email,
            "company": {"name": ctx.settings.company_name},
        }
        body = templates.render_text("digest/rep", variables)
        title = "Overdue tasks" if variables["escalation"] else "Your tasks"
        message = build_message(
            from_name="cadence",
            from_address=f"cadence@{ctx.settings.mail_domain}",
            to_address=mail.recipient,
            to_name=mail.name,
            subject=f"{title} for {mail.local_date}: {len(mail.overdue)} overdue, {len(mail.today)} today",
            text=body,
            html=None,
            message_id=row.message_id or make_message_id(row.id, ctx.settings.mail_domain),
            date=now,
        )
        await sender.send(message, sender=f"cadence@{ctx.settings.mail_domain}", recipient=mail.recipient)
        sent += 1
    return {"sent": sent, "skipped": skipped}
