"""Who may see and change which lead and task in the workspace, without HTTP (the pages answer 404 and 403)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cadence.adapters.models import Task
from cadence.services.context import Context
from cadence.services.enrollments import get_lead
from cadence.services.reps import add_rep
from cadence.services.users import Role, Viewer
from cadence.services.workspace.access import Forbidden, NotVisible, changeable_lead, visible_lead, visible_task
from tests.flows.conftest import lead_row, seed
from tests.web.conftest import MONDAY

LEAD = "lead0@acme.example"


def viewer(role: Role, rep_id: int | None = None) -> Viewer:
    return Viewer(user_id=1, email=f"{role.value}@cadence.example", name=role.value, role=role, rep_id=rep_id,
                  timezone=None, session_id=1, csrf_token="-", flash=None)  # fmt: skip


@pytest.fixture
def people(ctx: Context) -> dict[str, Viewer]:
    """Rita owns lead0 and its task; Sam is another rep; and a marketer, a manager, a rep account with no rep."""
    seed(ctx, [lead_row(0)], now=MONDAY)
    with ctx.sessions() as s, s.begin():
        sam = add_rep(s, "sam@cadence.example", "Sam Lee", now=MONDAY)
        lead = get_lead(s, LEAD)
        s.add(Task(lead_id=lead.id, owner_id=lead.owner_id, channel="call", title="Call Lead0", due_at=MONDAY,
                   priority=1, status="open", created_at=MONDAY))  # fmt: skip
        s.flush()
        rita_id, sam_id = lead.owner_id, sam.id
    return {
        "rita": viewer(Role.REP, rita_id),
        "sam": viewer(Role.REP, sam_id),
        "no rep": viewer(Role.REP),
        "marketer": viewer(Role.MARKETER),
        "manager": viewer(Role.MANAGER),
    }


def _task_id(ctx: Context) -> int:
    with ctx.sessions() as s:
        return s.scalars(select(Task.id)).one()


@pytest.mark.parametrize(
    ("who", "sees", "changes"),
    [
        ("rita", None, None),
        ("sam", NotVisible, NotVisible),  # another rep's lead looks like no lead
        ("no rep", NotVisible, NotVisible),
        ("marketer", None, Forbidden),  # every lead, read-only
        ("manager", None, None),
    ],
)
def test_a_lead_is_seen_and_changed_by_its_rep_and_managers(
    ctx: Context, people: dict[str, Viewer], who: str, sees: type[Exception] | None, changes: type[Exception] | None
) -> None:
    for check, refusal in ((visible_lead, sees), (changeable_lead, changes)):
        with ctx.sessions() as s:
            if refusal is None:
                assert check(s, LEAD, people[who]).email == LEAD
            else:
                with pytest.raises(refusal):
                    check(s, LEAD, people[who])


@pytest.mark.parametrize("email", ["nobody@acme.example", "not an address", ""])
def test_a_lead_that_does_not_exist_is_not_visible_even_to_a_manager(
    ctx: Context, people: dict[str, Viewer], email: str
) -> None:
    with ctx.sessions() as s, pytest.raises(NotVisible):
        visible_lead(s, email, people["manager"])


@pytest.mark.parametrize(
    ("who", "refusal"),
    [("rita", None), ("manager", None), ("sam", NotVisible), ("no rep", NotVisible), ("marketer", Forbidden)],
)
def test_a_task_is_seen_by_its_rep_and_managers_only(
    ctx: Context, people: dict[str, Viewer], who: str, refusal: type[Exception] | None
) -> None:
    task_id = _task_id(ctx)
    with ctx.sessions() as s:
        if refusal is None:
            assert visible_task(s, task_id, people[who]).title == "Call Lead0"
        else:
            with pytest.raises(refusal):
                visible_task(s, task_id, people[who])


@pytest.mark.parametrize("task_id", [0, -1, 2**63, 999_999])
def test_a_task_id_no_row_has_is_not_visible(ctx: Context, people: dict[str, Viewer], task_id: int) -> None:
    with ctx.sessions() as s, pytest.raises(NotVisible):
        visible_task(s, task_id, people["manager"])
