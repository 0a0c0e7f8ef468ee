"""Who may see and change which lead and task in the workspace.

The rules (the web tests hold every one of them):

* a rep sees and changes only their own tasks (``tasks.owner_id``) and leads (``leads.owner_id``);
  anyone else's is "not found", exactly as if it did not exist;
* a marketer sees every lead read-only, and no tasks (forbidden);
* a manager sees everything and may act on any task and lead (recorded under their own address).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cadence.adapters.models import MAX_ROW_ID, Lead, Task
from cadence.errors import CadenceError, NotFound, ValidationError
from cadence.services.enrollments import get_lead
from cadence.services.tasks import get_task
from cadence.services.users import Role, Viewer


class AccessDenied(CadenceError):
    """The viewer may not have this."""


class NotVisible(AccessDenied):
    """Not Found"""


class Forbidden(AccessDenied):
    """Forbidden"""


def can_act(viewer: Viewer) -> bool:
    """Whether the viewer may change leads and tasks at all (reps on their own, managers on any)."""
    return viewer.role in (Role.REP, Role.MANAGER)


def visible_lead(session: Session, email: str, viewer: Viewer) -> Lead:
    """The lead ``email`` if the viewer may see it, else :class:`NotVisible` (another rep's lead looks like no lead)."""
    try:
        lead = get_lead(session, email)
    except (NotFound, ValidationError):
        raise NotVisible from None
    if viewer.role is Role.REP and (viewer.rep_id is None or lead.owner_id != viewer.rep_id):
        raise NotVisible
    return lead


def changeable_lead(session: Session, email: str, viewer: Viewer) -> Lead:
    """The lead ``email`` if the viewer may change it: as :func:`visible_lead`; :class:`Forbidden` for a marketer."""
    lead = visible_lead(session, email, viewer)
    if viewer.role is Role.MARKETER:
        raise Forbidden
    return lead


def visible_task(session: Session, task_id: int, viewer: Viewer) -> Task:
    """The task if the viewer may see and complete it, else :class:`NotVisible` (:class:`Forbidden` for a marketer).

    An id no row can have (0, negative, past a database integer) is a task that does not exist, not
    a query the database would refuse.
    """
    if viewer.role is Role.MARKETER:
        raise Forbidden
    if (viewer.role is Role.REP and viewer.rep_id is None) or not 1 <= task_id <= MAX_ROW_ID:
        raise NotVisible
    try:
        return get_task(session, task_id, owner_id=viewer.rep_id if viewer.role is Role.REP else None)
    except NotFound:
        raise NotVisible from None
