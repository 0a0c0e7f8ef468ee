"""The bounce guard: a mailbox or a cadence whose recent emails bounce too often stops sending until resumed by hand.

After each batch, for each mailbox and cadence that sent in it: among its last
``CADENCE_BOUNCE_GUARD_SENDS`` emails that went out or bounced (40 by default), if there are that
many and the share of hard bounces passes ``CADENCE_BOUNCE_GUARD_RATE`` (5%), it is paused, with the
figures as its reason. Its emails stay due and wait; the owner gets a task (in the workspace and the
morning digest), which the manager's digest lists too (``CADENCE_MANAGER_EMAIL``) from the next
morning on, while it is open. Only
``cadence mailboxes resume`` or ``cadence cadences resume`` lifts the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import CadencePause, Enrollment, Lead, SendingMailbox, Task, Touch
from cadence.core.cadences import Channel
from cadence.core.event_data import MAY_HAVE_GONE_OUT
from cadence.core.events import TouchState
from cadence.errors import NotFound
from cadence.services.mailboxes import bounce_record
from cadence.settings import Settings

_COUNTED = sorted({*MAY_HAVE_GONE_OUT, TouchState.BOUNCED})
ALERT_TITLE = "Sending paused: "
"""How the guard's tasks begin: the manager's digest lists the open ones at once, not only once overdue."""


@dataclass(frozen=True)
class Tripped:
    """A mailbox or cadence the guard paused, and why."""

    kind: str  # "mailbox" or "cadence"
    name: str
    reason: str


def _over(bounced: int, sends: int, settings: Settings) -> bool:
    return sends >= settings.bounce_guard_sends and bounced > settings.bounce_guard_rate * sends


def _reason(bounced: int, sends: int, settings: Settings) -> str:
    return (
        f"{bounced} of its last {sends} emails bounced ({bounced / sends:.0%}, more than the "
        f"{settings.bounce_guard_rate:.0%} allowed): check the list these leads came from"
    )


def _cadence_record(session: Session, cadence: str, sends: int, since: datetime | None) -> tuple[int, int, int | None]:
    """(hard bounces, sends, the lead of the latest bounce) among the cadence's last ``sends`` emails since
    ``since`` (its last resume by hand)."""
    last = list(
        session.execute(
            select(Touch.state, Touch.lead_id)
            .join(Enrollment, Enrollment.id == Touch.enrollment_id)
            .where(
                Enrollment.cadence_name == cadence,
                Touch.channel == Channel.EMAIL.value,
                Touch.state.in_(_COUNTED),
                Touch.executed_at >= (since or datetime(1970, 1, 1, tzinfo=UTC)),
            )
            .order_by(Touch.id.desc())
            .limit(sends)
        ).tuples()
    )
    bounced = [lead for state, lead in last if state == TouchState.BOUNCED]
    return len(bounced), len(last), bounced[0] if bounced else None


def _alert(
    session: Session, *, owner_id: int | None, lead_id: int | None, title: str, text: str, now: datetime
) -> None:
    """A task for the owner, on the lead whose bounce tripped the guard (every task belongs to a lead)."""
    if lead_id is None:
        return
    session.add(Task(lead_id=lead_id, owner_id=owner_id, channel=Channel.TASK.value, title=title[:300],
                     instructions=text, due_at=now, priority=0, status="open", created_at=now))  # fmt: skip


def check(
    session: Session, settings: Settings, *, now: datetime, mailbox_ids: set[int], cadences: set[str]
) -> list[Tripped]:
    """Pause the mailboxes and cadences among these whose bounce rate passed the threshold; what was paused."""
    tripped: list[Tripped] = []
    for mailbox in session.scalars(
        select(SendingMailbox).where(SendingMailbox.id.in_(sorted(mailbox_ids)), SendingMailbox.state == "active")
    ):
        bounced, sends = bounce_record(session, mailbox, settings.bounce_guard_sends)
        if not _over(bounced, sends, settings):
            continue
        reason = _reason(bounced, sends, settings)
        mailbox.state = "paused"
        mailbox.paused_reason = f"paused automatically: {reason}"
        mailbox.paused_at = now
        lead = session.scalar(
            select(Touch.lead_id)
            .where(Touch.mailbox_id == mailbox.id, Touch.state == TouchState.BOUNCED)
            .order_by(Touch.id.desc())
            .limit(1)
        )
        _alert(session, owner_id=mailbox.rep_id, lead_id=lead, now=now,
               title=f"{ALERT_TITLE}mailbox {mailbox.address} bounced too often",
               text=f"The mailbox {mailbox.address} was paused: {reason}. Its emails wait. When the list is "
                    f"cleaned, a manager resumes it: cadence mailboxes resume {mailbox.address}")  # fmt: skip
        tripped.append(Tripped("mailbox", mailbox.address, reason))
    pauses = {p.cadence_name: p for p in session.scalars(select(CadencePause))}
    for name in sorted(cadences):
        pause = pauses.get(name)
        if pause is not None and pause.resumed_at is None:
            continue
        since = pause.resumed_at if pause is not None else None
        bounced, sends, lead = _cadence_record(session, name, settings.bounce_guard_sends, since)
        if not _over(bounced, sends, settings):
            continue
        reason = _reason(bounced, sends, settings)
        if pause is None:
            pause = CadencePause(cadence_name=name)
            session.add(pause)
        pause.reason = f"paused automatically: {reason}"
        pause.paused_at = now
        pause.resumed_at = None
        owner = session.scalar(select(Lead.owner_id).where(Lead.id == lead)) if lead is not None else None
        _alert(session, owner_id=owner, lead_id=lead, now=now,
               title=f"{ALERT_TITLE}cadence {name} bounced too often",
               text=f"The emails of cadence {name} were paused: {reason}. They wait. When the list is cleaned, "
                    f"a manager resumes it: cadence cadences resume {name}")  # fmt: skip
        tripped.append(Tripped("cadence", name, reason))
    return tripped


def resume_cadence(session: Session, name: str, *, now: datetime) -> str:
    """Lift a cadence's pause (its waiting emails go within the hour, each at its lead's next slot); its reason.

    From ``now`` on, the bounce guard counts its sends afresh.
    """
    pause = session.scalar(select(CadencePause).where(CadencePause.cadence_name == name))
    if pause is None or pause.resumed_at is not None:
        raise NotFound(f"the cadence {name} is not paused")
    pause.resumed_at = now
    return pause.reason


def paused_cadences(session: Session) -> list[dict[str, str]]:
    """The cadences the guard paused, with why and when."""
    return [
        {"cadence": p.cadence_name, "reason": p.reason, "paused_at": p.paused_at.isoformat()}
        for p in session.scalars(
            select(CadencePause).where(CadencePause.resumed_at.is_(None)).order_by(CadencePause.cadence_name)
        )
    ]
