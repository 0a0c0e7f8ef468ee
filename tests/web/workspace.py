"""The workspace's test data and helpers: two reps with leads at several stages, four accounts, logged-in clients.

The data (:func:`seed_workspace`), as of :data:`NOW` (Wednesday 2 December 2026, 09:00 in New York):

* Rita (rep, New York) owns Ada (default cadence: research, two emails sent, LinkedIn done; her
  Day-8 call is overdue since yesterday), Bob (research due today) and Cy (LinkedIn due tomorrow,
  then a call), and Nia, a name (one interaction, not enrolled).
* Sam (rep, London) owns Dee (replied to the first email; a call back due today) and Eve (decided:
  meeting booked, with the qualifying answers).
* Accounts: rita and sam (reps), mia (marketer), max (manager), all with :data:`PASSWORD`.

The password hasher is swapped for a cheap argon2id (:data:`CHEAP`, the ``cheap_hasher`` fixture): the
production one takes about a second per hash on a small machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, text

from cadence.adapters.models import Base, Enrollment, Lead, Task, Touch
from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.core.leads import make_lead
from cadence.services.advance import template_variables, templates_for
from cadence.services.claims import advance
from cadence.services.context import Context
from cadence.services.enrollments import decide, get_lead, record_response
from cadence.services.leads import ImportRow, import_leads
from cadence.services.reps import add_rep
from cadence.services.users import add_user

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York: the leads are imported
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # Wednesday 09:00 in New York: the app's clock
PASSWORD = "correct horse battery staple"
RITA, SAM, MIA, MAX = "rita@cadence.example", "sam@cadence.example", "mia@cadence.example", "max@cadence.example"
ADA, BOB, CY, DEE, EVE, NIA = (
    "ada@analytical.example",
    "bob@builders.example",
    "cy@cyclops.example",
    "dee@delta.example",
    "eve@echo.example",
    "nia@names.example",
)
ANSWERS = {key: f"answer to {key}" for key, _ in QUALIFYING_QUESTIONS}
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    """A clock the test moves: ``clock.now += timedelta(hours=3)``."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _row(number: int, email: str, first: str, last: str, owner: str, **extra: str) -> ImportRow:
    values = {
        "email": email,
        "first_name": first,
        "last_name": last,
        "title": "VP Engineering",
        "company": f"{last} Ltd",
        "industry": "Software",
        "company_size": "500",
        "source": "webinar",
        "interactions": "3",
        "timezone": "America/New_York",
        "country": "US",
        "city": "New York",
        "owner": owner,
    }
    values.update(extra)
    return ImportRow(number, make_lead(values))


def _touch(ctx: Context, s: Any, lead: Lead, *, at: datetime, subject: str | None = None) -> Touch:
    """Run the enrollment's next step at ``at`` (sent or done), as the advance flow records it."""
    enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
    cadence = ctx.cadence(enrollment.cadence_name)
    step = cadence.steps[enrollment.next_step]
    if subject is None and step.channel.value == "email":
        subject = f"A note for {lead.first_name}"
    touch = Touch(
        enrollment_id=enrollment.id,
        lead_id=lead.id,
        step_index=enrollment.next_step,
        day=step.day,
        channel=step.channel.value,
        template=step.template,
        template_version="v1",
        subject=subject,
        message_id=f"<t{lead.id}.{enrollment.next_step}@mail.cadence.example>" if subject else None,
        state="sent" if step.channel.value == "email" else "done",
        due_at=at,
        claimed_at=at,
        executed_at=at,
        attempts=1,
    )
    s.add(touch)
    advance(enrollment, cadence, at=at, settings=ctx.settings, grace_days=3)
    s.flush()
    return touch


def _task(
    ctx: Context, s: Any, lead: Lead, *, due: datetime, title: str, touch: Touch | None = None, step: int | None = None
) -> Task:
    """A task for the lead's owner on ``touch``'s step (else ``step``, else the next), with its instructions."""
    enrollment = s.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
    cadence = ctx.cadence(enrollment.cadence_name)
    index = touch.step_index if touch is not None else step if step is not None else enrollment.next_step
    definition = cadence.steps[index]
    assert definition.template is not None
    variables = template_variables(ctx, lead, cadence, index, now=due)
    task = Task(
        lead_id=lead.id,
        owner_id=lead.owner_id,
        enrollment_id=enrollment.id,
        touch_id=touch.id if touch is not None else None,
        channel=definition.channel.value,
        title=title,
        instructions=templates_for(ctx).render_text(definition.template, variables),
        due_at=due,
        priority=lead.priority if lead.priority is not None else 2,
        status="open",
        created_at=due,
    )
    s.add(task)
    s.flush()
    return task


@dataclass(frozen=True)
class Seeded:
    """The ids the tests need."""

    ada_call: int
    bob_research: int
    cy_linkedin: int
    dee_call: int


def seed_workspace(ctx: Context) -> Seeded:
    """The data described in the module documentation, with the four accounts."""
    day = timedelta(days=1)
    with ctx.sessions() as s, s.begin():
        add_rep(s, RITA, "Rita Alvarez", now=START, timezone="America/New_York", signature="Rita | Sales")
        add_rep(s, SAM, "Sam Okafor", now=START, timezone="Europe/London")
        rows = [
            _row(2, ADA, "Ada", "Lovelace", RITA, source="webinar", phone="+1 212 555 0100"),
            _row(3, BOB, "Bob", "Builder", RITA, source="form_fill", interactions="2"),
            _row(4, CY, "Cy", "Clops", RITA, source="email_open", interactions="4"),
            _row(5, NIA, "Nia", "Name", RITA, interactions="1"),
            _row(6, DEE, "Dee", "Delta", SAM, timezone="Europe/London", country="GB"),
            _row(7, EVE, "Eve", "Echo", SAM, timezone="Europe/London", country="GB"),
        ]
        import_leads(s, rows, now=START, settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences)
        ada, bob, cy, dee, eve = (get_lead(s, e) for e in (ADA, BOB, CY, DEE, EVE))
        _touch(ctx, s, ada, at=START + day)
        _touch(ctx, s, ada, at=START + 2 * day, subject="Ada, a quick question from Cadence Demo Company")
        _touch(ctx, s, ada, at=START + 7 * day, subject="Re: Ada, a quick question from Cadence Demo Company")
        linkedin = _touch(ctx, s, ada, at=START + 8 * day)
        linkedin_task = _task(ctx, s, ada, due=START + 8 * day, title="Connect with Ada Lovelace", touch=linkedin)
        linkedin_task.status, linkedin_task.outcome, linkedin_task.completed_at = "done", "sent", START + 8 * day
        call = _touch(ctx, s, ada, at=NOW - day + timedelta(hours=1))
        ada_call = _task(ctx, s, ada, due=NOW - day + timedelta(hours=1), title="Call Ada Lovelace", touch=call)
        research = _touch(ctx, s, bob, at=NOW + timedelta(hours=1))
        bob_research = _task(ctx, s, bob, due=NOW + timedelta(hours=1), title="Research Bob Builder", touch=research)
        for offset in (1, 2, 5):
            _touch(ctx, s, cy, at=START + offset * day)
        cy_linkedin = _task(ctx, s, cy, due=NOW + day, title="Connect with Cy Clops on LinkedIn")
        _touch(ctx, s, dee, at=START + day)
        _touch(ctx, s, dee, at=START + 2 * day, subject="Dee, a quick question from Cadence Demo Company")
        record_response(s, dee, now=START + 3 * day, kind="reply", channel="email", note="Call me next week")
        dee_call = _task(ctx, s, dee, due=NOW + timedelta(hours=2), title="Call Dee Delta back", step=4)
        _touch(ctx, s, eve, at=START + day)
        _touch(ctx, s, eve, at=START + 2 * day, subject="Eve, a quick question from Cadence Demo Company")
        record_response(s, eve, now=START + 3 * day, kind="reply", channel="email", note="Happy to talk")
        decide(s, eve, Outcome.MEETING_BOOKED, now=START + 4 * day, reason="Demo on Friday", answers=ANSWERS,
               decided_by=SAM)  # fmt: skip
        for email, role in ((RITA, "rep"), (SAM, "rep"), (MIA, "marketer"), (MAX, "manager")):
            add_user(s, email, role=role, password=PASSWORD, now=START)
        return Seeded(ada_call.id, bob_research.id, cy_linkedin.id, dee_call.id)


# -- HTTP ---------------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf_token field on the page"
    return found.group(1)


def log_in(http: httpx.Client, email: str, password: str = PASSWORD, next_path: str = "") -> httpx.Response:
    """Fill in and send the login form as a browser does (the form's token, the cookie it set)."""
    form = http.get("/login")
    assert form.status_code == 200, form.text
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": next_path}
    return http.post("/login", data=data)


@contextmanager
def signed_in(base_url: str, email: str) -> Iterator[httpx.Client]:
    """A client logged in as ``email``."""
    with httpx.Client(base_url=base_url, timeout=10, follow_redirects=False) as http:
        response = log_in(http, email)
        assert response.status_code == 303, response.text
        yield http


def post_form(http: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    """POST ``data`` to ``path`` with the session's CSRF token (the same on every page: taken from /leads)."""
    token = csrf_of(http.get("/leads").text)
    return http.post(path, data={"csrf_token": token, **data})


# -- Seeding once per session -------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Every row :func:`seed_workspace` wrote, by table, and the ids it returned."""

    rows: dict[str, list[dict[str, Any]]]
    seeded: Seeded


def take_snapshot(engine: Engine, seeded: Seeded) -> Snapshot:
    """The rows of every table of ``engine``'s database (a small one: the seed)."""
    with engine.connect() as conn:
        rows = {
            table.name: [dict(r) for r in conn.execute(table.select()).mappings()]
            for table in Base.metadata.sorted_tables
        }
    return Snapshot({name: items for name, items in rows.items() if items}, seeded)


def restore_snapshot(engine: Engine, snapshot: Snapshot) -> Seeded:
    """Write the snapshot's rows into ``engine``'s empty database (ids included) and return its ids.

    Much faster than seeding again (no qualification, scheduling or rendering); on PostgreSQL the
    id sequences are moved past the restored ids.
    """
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            items = snapshot.rows.get(table.name)
            if items:
                conn.execute(table.insert(), items)
                if engine.dialect.name == "postgresql" and "id" in table.c:
                    sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                    conn.execute(text(f"SELECT setval({sequence}, (SELECT MAX(id) FROM {table.name}))"))
    return snapshot.seeded
