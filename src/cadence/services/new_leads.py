"""An import's new leads, written a chunk at a time with a few statements instead of one ORM object each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment, Lead, Rep

_CHUNK = 500
"""Addresses per ``IN (...)`` when the new leads' ids are read back."""


@dataclass
class NewLead:
    """A lead an import creates: its columns, written with the chunk's other new leads by :func:`write_new`."""

    values: dict[str, Any]
    owner: Rep
    enrollment: dict[str, Any] | None = None
    """Its enrollment's columns (:meth:`ChunkLookups.new_enrollment`), if it is enrolled."""
    id: int | None = None
    """Its id, once written."""
    lead: Lead | None = None
    """The lead read back, when a later row of the chunk updates it."""


def write_new(session: Session, pending: dict[str, NewLead]) -> None:
    """Write the leads of ``pending`` not written yet, with their enrollments: a few statements for all of them.

    ``insert()`` with a list of rows is one ``executemany`` (pipelined by psycopg on PostgreSQL), and
    their ids are read back by address in a few ``IN (...)`` queries: an ORM flush of as many objects
    costs several times the CPU (each object's state, ``INSERT ... RETURNING`` pages of thousands of
    parameters for the driver to parse). ``render_nulls``: every row has the same columns, so that
    they stay one batch (without it, the ORM groups rows by which of their values are None).
    """
    new = [lead for lead in pending.values() if lead.id is None]
    if not new:
        return
    session.flush()  # their accounts first, and what changed on the known leads
    ids = insert_leads(session, [lead.values for lead in new])
    for lead in new:
        lead.id = ids[lead.values["email"]]
    enrollments = [{**lead.enrollment, "lead_id": lead.id} for lead in new if lead.enrollment is not None]
    if enrollments:
        session.execute(insert(Enrollment).execution_options(render_nulls=True), enrollments)


def insert_leads(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the leads ``rows`` (all with the same columns); the id of each by its address."""
    if len(rows) == 1:  # one statement: a lead sent alone (the API)
        return {rows[0]["email"]: session.execute(insert(Lead).returning(Lead.id), rows[0]).scalar_one()}
    session.execute(insert(Lead).execution_options(render_nulls=True), rows)
    wanted = [row["email"] for row in rows]
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        ids.update(
            (email, id_)
            for email, id_ in session.execute(select(Lead.email, Lead.id).where(Lead.email.in_(part)))
            if email
        )
    return ids
