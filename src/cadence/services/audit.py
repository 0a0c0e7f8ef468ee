"""The audit log: who did what and when, append-only.

Any service or edge that changes something a manager may have to account for calls
:func:`record` in the same session (so the entry commits, or not, with the change itself)::

    from cadence.services import audit

    audit.record(session, actor, "reps.deactivate", rep.email, {"reassigned": 12}, now=now)

``actor`` is the person's address (the signed-in user in the workspace), ``cli`` at the command
line, or ``system``. ``action`` is a dotted name (``login.failed``, ``decision.record``, ...);
``subject`` what it was done to (an address, a template name, a key name); ``details`` a small
JSON object. Nothing here updates or deletes a row; on PostgreSQL a trigger refuses both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cadence.adapters.models import AuditEntry
from cadence.errors import ValidationError

MAX_ENTRIES = 1000
"""The most entries one listing returns (newest first)."""
CLI = "cli"
SYSTEM = "system"


def _one_line(value: str, limit: int) -> str:
    """``value`` on one line (CR, LF and other control characters replaced), cut at ``limit``."""
    cleaned = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).strip()
    return cleaned[:limit]


def _plain(value: Any) -> Any:
    """``value`` as JSON-friendly data: datetimes as ISO-8601, unknown objects as their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def record(
    session: Session,
    actor: str,
    action: str,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the audit log in ``session`` (committed with the caller's change).

    ``now`` defaults to the clock; pass the time the change itself was recorded at when there is one.
    """
    if not action.strip():
        raise ValidationError("an audit entry needs an action")
    entry = AuditEntry(
        at=now or datetime.now(UTC),
        actor=_one_line(actor, 320) or SYSTEM,
        action=_one_line(action, 60),
        subject=_one_line(subject, 320) if subject else None,
        details=_plain(details or {}),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What a listing keeps: entries since/until (inclusive/exclusive), by one actor, of one action (or a prefix)."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None


def entries(session: Session, where: AuditFilter, *, limit: int = MAX_ENTRIES) -> list[AuditEntry]:
    """The entries that match ``where``, newest first, at most ``limit``.

    ``action`` matches an action exactly, or every action under it (``login`` matches
    ``login.ok`` and ``login.failed``).
    """
    query = select(AuditEntry)
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    if where.actor:
        query = query.where(AuditEntry.actor == where.actor.strip().lower())
    if where.action:
        name = where.action.strip().lower()
        query = query.where((AuditEntry.action == name) | AuditEntry.action.startswith(name + ".", autoescape=True))
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(max(1, min(limit, MAX_ENTRIES)))
    return list(session.scalars(query))


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """``entry`` as JSON-friendly data (what ``cadence audit list --json`` prints)."""
    return {
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
    }


def actions(session: Session) -> list[str]:
    """Every action the log holds, sorted (for the page's filter).

    One probe of the action index per distinct action (a recursive query walking it from the
    smallest up), not a DISTINCT that reads every entry of a log that only grows.
    """
    walk = text(
        "WITH RECURSIVE walk(action) AS ("
        " SELECT min(action) FROM audit_log"
        " UNION ALL"
        " SELECT (SELECT min(a.action) FROM audit_log a WHERE a.action > walk.action) FROM walk"
        " WHERE walk.action IS NOT NULL)"
        " SELECT action FROM walk WHERE action IS NOT NULL"
    )
    return [str(action) for action in session.scalars(walk)]
