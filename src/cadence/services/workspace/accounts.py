"""Accounts in the workspace: an account's page, a colleague added from a lead's or a task's page, a reassignment.

A rep sees the accounts where they own a contact, and adds colleagues to their own leads; a manager
sees every account and reassigns them; a marketer reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cadence.adapters.models import Lead
from cadence.services.accounts import add_colleague, move_to_account, reassign_account, resolve, show_account
from cadence.services.context import Context
from cadence.services.users import Role, Viewer
from cadence.services.workspace.access import Forbidden, NotVisible, changeable_lead, visible_task

COLLEAGUE_FIELDS = ("name", "email", "phone", "title", "role")


def account_page(ctx: Context, viewer: Viewer, ref: str) -> dict[str, Any]:
    """The account ``ref`` (``#id``, a domain, a name) as :func:`show_account` gives it, if the viewer may see it."""
    with ctx.sessions() as session:
        try:
            account = resolve(session, ref)
        except Exception:
            raise NotVisible from None
        if viewer.role is Role.REP:
            mine = session.scalar(
                select(Lead.id).where(Lead.account_id == account.id, Lead.owner_id == viewer.rep_id).limit(1)
            )
            if mine is None and account.owner_id != viewer.rep_id:
                raise NotVisible
        data = show_account(session, f"#{account.id}")
        if viewer.role is Role.REP:  # another rep's contacts (a colleague left with them) are named, not linked
            for contact in data["contacts"]:
                contact["mine"] = contact["owner"] == viewer.email
        else:
            for contact in data["contacts"]:
                contact["mine"] = True
        return data


def add_colleague_of(
    ctx: Context, viewer: Viewer, email: str, form: dict[str, str], *, now: datetime
) -> dict[str, Any]:
    """Add a colleague of the lead ``email`` (the viewer may change it) from the lead page's form."""
    values: dict[str, str | None] = {k: (form.get(k) or "").strip() or None for k in COLLEAGUE_FIELDS}
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        return add_colleague(session, lead.reference, values, referred=form.get("referred") == "yes", now=now,
                             settings=ctx.settings, rules=ctx.rules, cadences=ctx.cadences)  # fmt: skip


def add_colleague_from_task(
    ctx: Context, viewer: Viewer, task_id: int, form: dict[str, str], *, now: datetime
) -> dict[str, Any]:
    """Add a colleague of the task's lead (the viewer may see the task and change the lead) from the task's page."""
    with ctx.sessions() as session:
        email = visible_task(session, task_id, viewer).lead.reference
    return add_colleague_of(ctx, viewer, email, form, now=now)


def reassign_by_manager(ctx: Context, viewer: Viewer, ref: str, rep_email: str, *, now: datetime) -> dict[str, Any]:
    """A manager gives the account to another rep: contacts and open tasks move (recorded with the manager)."""
    if viewer.role is not Role.MANAGER:
        raise Forbidden
    with ctx.sessions() as session, session.begin():
        return reassign_account(session, ref, rep_email, by=viewer.email, now=now)


def move_lead(ctx: Context, viewer: Viewer, email: str, key: str, *, now: datetime) -> dict[str, Any]:
    """Put the lead (the viewer may change it) in the account of the explicit ``key`` (recorded)."""
    with ctx.sessions() as session, session.begin():
        lead = changeable_lead(session, email, viewer)
        return move_to_account(session, lead.reference, key, by=viewer.email, now=now)
