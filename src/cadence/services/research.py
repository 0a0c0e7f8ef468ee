"""What the research task finds reaches the messages: a "why them, why now" line and the topic of interest.

The findings are given when the research task is done (its form in the workspace, ``cadence tasks
done ID --why-now ... --topic ...``), kept on the lead (``leads.why_now``, ``leads.topic``) and given
to templates as ``lead.why_now`` and ``lead.topic``. An email step with ``wait_for: research`` is held
by the engine (:class:`~cadence.core.events.StepHeld`, with the reason on the lead's timeline) until
the enrollment's research task is done.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, Task
from cadence.errors import ValidationError

MAX_WHY_NOW = 500
"""The longest "why them, why now" line, in characters."""
MAX_TOPIC = 200
"""The longest topic of interest, in characters."""


def _one_line(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if any(c in text for c in "\r\n\x00\u2028\u2029\x85"):
        raise ValidationError(f"{what} must be one line: it goes into emails as it is.")
    if len(text) > limit:
        raise ValidationError(f"{what} is too long: at most {limit} characters, not {len(text)}.")
    return text or None


def record_findings(task: Task, *, why_now: str | None, topic: str | None) -> None:
    """Keep the research task's findings on its lead (an empty one leaves the lead's as it is).

    Raises :class:`~cadence.errors.ValidationError` for findings on a task that is not a research
    task, or findings that are not one line of at most :data:`MAX_WHY_NOW` / :data:`MAX_TOPIC` characters.
    """
    line = _one_line(why_now, "The “why them, why now” line", MAX_WHY_NOW)
    subject = _one_line(topic, "The topic of interest", MAX_TOPIC)
    if line is None and subject is None:
        return
    if task.channel != "research":
        raise ValidationError(f"Only a research task has findings; task {task.id} is a {task.channel} task.")
    lead: Lead = task.lead
    if line is not None:
        lead.why_now = line
    if subject is not None:
        lead.topic = subject


def research_pending(session: Session, enrollment_id: int) -> str | None:
    """Why a step that waits for the research cannot go yet (None when the enrollment's research task is done)."""
    tasks = list(
        session.scalars(
            select(Task).where(Task.enrollment_id == enrollment_id, Task.channel == "research").order_by(Task.id)
        )
    )
    if not tasks:
        return "waiting for the research task: it is not created yet"
    pending = [t for t in tasks if t.status == "open"]
    if pending:
        return f"waiting for the research task “{pending[0].title}” (task {pending[0].id}) to be done"
    return None
