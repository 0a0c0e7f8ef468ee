"""Pass-back (seed 000): a lead passed back to lead development, and its return to its owner.

The decision ``passed_back`` is not an end. :func:`pass_back` keeps the lead's owner as its
``home_owner``, hands the lead to the lead-development queue (the active developer with the fewest
leads; the manager, ``CADENCE_MANAGER_EMAIL``, when that address is a rep and there is no developer;
else it stays with its owner) and enrolls it in the development cadence (``CADENCE_DEVELOPMENT_CADENCE``).
When it is qualified again (the decision ``qualified``, or an ``interested`` reply), :func:`come_back`
returns it to its home owner with a task and the lead's open tasks.

Both run inside :func:`cadence.services.enrollments.handle`, after the rule's consequences were applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Rep, Task
from cadence.errors import CadenceError
from cadence.services.enrollments import start_enrollment
from cadence.services.reps import DEVELOPER
from cadence.services.rule_rows import full_name
from cadence.services.stages import context_of

MAX_TITLE = 300


@dataclass(frozen=True)
class PassBack:
    """What a pass-back did: who develops the lead now, and the cadence it got (or why none)."""

    developer: str | None
    enrolled: str | None
    note: str


def _developer(session: Session, manager_email: str | None) -> Rep | None:
    """The active developer with the fewest leads (ties: the oldest), else the manager if they are a rep."""
    load = (
        select(Rep, func.count(Lead.id))
        .outerjoin(Lead, Lead.owner_id == Rep.id)
        .where(Rep.active, Rep.role == DEVELOPER)
        .group_by(Rep.id)
        .order_by(func.count(Lead.id), Rep.id)
        .limit(1)
    )
    row = session.execute(load).first()
    if row is not None:
        found: Rep = row[0]
        return found
    if manager_email:
        return session.scalar(select(Rep).where(Rep.email == manager_email.strip().lower(), Rep.active))
    return None


def _task(session: Session, lead: Lead, owner_id: int | None, title: str, text: str, at: datetime) -> Task:
    task = Task(
        lead_id=lead.id,
        owner_id=owner_id,
        channel="task",
        title=title[:MAX_TITLE],
        instructions=text,
        due_at=at,
        priority=lead.priority if lead.priority is not None else 2,
        status="open",
        created_at=at,
    )
    session.add(task)
    return task


def pass_back(session: Session, lead: Lead, *, reason: str | None, at: datetime) -> PassBack:
    """Hand ``lead`` (just decided ``passed_back``) to lead development and enroll it in the development cadence."""
    ctx = context_of(session)
    if lead.home_owner_id is None:  # passed back twice: it still returns to its first owner
        lead.home_owner_id = lead.owner_id
    developer = _developer(session, ctx.settings.manager_email if ctx is not None else None)
    if developer is not None:
        lead.owner_id = developer.id
        session.flush()
        session.expire(lead, ["owner"])
    name = ctx.settings.development_cadence if ctx is not None else "development"
    enrolled: str | None = None
    why = ""
    cadence = ctx.cadences.get(name) if ctx is not None else None
    if ctx is None or cadence is None:
        why = f"no cadence named {name!r} in the cadences folder"
    else:
        try:
            start_enrollment(session, lead, cadence, now=at, settings=ctx.settings)
            enrolled = name
        except CadenceError as exc:  # suppressed, or enrolled meanwhile
            why = str(exc)
    who = developer.email if developer is not None else "its owner (no developer)"
    note = f"passed back: developed by {who}" + (f", enrolled in {enrolled}" if enrolled else f"; not enrolled: {why}")
    text = (
        f"Passed back: {reason or 'no reason given'}\n{note}\nRecord the decision 'qualified' when it is ready again."
    )
    _task(session, lead, lead.owner_id, f"Develop {full_name(lead)}: passed back to lead development", text, at)
    session.flush()
    return PassBack(developer=developer.email if developer else None, enrolled=enrolled, note=note)


def come_back(session: Session, lead: Lead, *, why: str, at: datetime) -> str | None:
    """Return a passed-back lead to its home owner with a task and its open tasks; the home owner's address.

    Nothing happens to a lead that is not in lead development.
    """
    if lead.home_owner_id is None:
        return None
    home = session.get(Rep, lead.home_owner_id)
    developer = lead.owner
    lead.owner_id, lead.home_owner_id = lead.home_owner_id, None
    for task in session.scalars(select(Task).where(Task.lead_id == lead.id, Task.status == "open")):
        task.owner_id = lead.owner_id
    by = f" by {developer.name}" if developer is not None and developer.id != lead.owner_id else ""
    text = f"Qualified again{by}: {why}\nTake it back: re-introduce yourself and agree on the next step."
    _task(session, lead, lead.owner_id, f"{full_name(lead)} is back from lead development", text, at)
    session.flush()
    session.expire(lead, ["owner"])
    return home.email if home is not None else None
