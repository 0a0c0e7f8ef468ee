"""Reps, the leads they own, the accounts leads work at, and what is recorded on a lead's history.

Accounts are the companies leads work at; stage changes are moves between stages of maturation; lead
actions are what a reply's intent did on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadence.adapters.models.base import Base


class Rep(Base):
    """A sales rep: owns leads and receives tasks."""

    __tablename__ = "reps"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(String(64))
    daily_email_cap: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    role: Mapped[str | None] = mapped_column(String(20))
    """None: a rep who owns leads; ``developer``: works the lead-development queue (passed-back leads)."""
    away_from: Mapped[datetime | None]
    """Out of office from this instant until ``away_until``: new leads go to the other reps meanwhile."""
    away_until: Mapped[datetime | None]


class Lead(Base):
    """A person we follow up (a name until they show enough interest)."""

    __tablename__ = "leads"
    __table_args__ = (
        # The workspace's list pages through leads in (priority, email) order, filtered by status or owner;
        # PostgreSQL sorts NULLs last in an ascending index, the order the list asks for.
        Index("ix_leads_priority_email", "priority", "email"),
        Index("ix_leads_status_priority_email", "status", "priority", "email"),
        Index("ix_leads_owner_priority_email", "owner_id", "priority", "email"),
        # The names and unfit contacts not enrolled, newest first (the managers' review page).
        Index("ix_leads_status_created", "status", "created_at"),
        # The report: names and leads created in a period; leads per stage, in the order they entered it.
        Index("ix_leads_created_at_kind", "created_at", "kind"),
        Index("ix_leads_kind_stage_created_at", "kind", "stage", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    """The lead's address, its identity for mail; None for a contact known only by phone (``#ID`` names it)."""
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(500))
    company: Mapped[str | None] = mapped_column(String(500))
    industry: Mapped[str | None] = mapped_column(String(500))
    company_size: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(60))
    linkedin_url: Mapped[str | None] = mapped_column(String(300))
    address_line1: Mapped[str | None] = mapped_column(String(500))
    address_line2: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(100))
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), index=True)
    persona_fit: Mapped[bool] = mapped_column(Boolean, default=False)
    inbound: Mapped[bool] = mapped_column(Boolean, default=False)
    source_rank: Mapped[int] = mapped_column(Integer)
    lead_class: Mapped[str | None] = mapped_column(String(50))
    priority: Mapped[int | None] = mapped_column(Integer)
    cadence: Mapped[str | None] = mapped_column(String(63))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    """The lead whose reply named this one (a referral)."""
    snoozed_until: Mapped[datetime | None] = mapped_column(index=True)
    """The lead said "not now": it is enrolled in ``snooze_cadence`` at this instant (``wake_snoozed``)."""
    snooze_cadence: Mapped[str | None] = mapped_column(String(63))
    # Flagged at intake (core.addresses): "role" (enrolled, with a warning) or "disposable" (not enrolled).
    address_flag: Mapped[str | None] = mapped_column(String(20))
    address_warning: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    stage: Mapped[str | None] = mapped_column(String(63), index=True)
    """The stage of maturation (``templates/stages.yaml``); None: the first stage."""
    stage_entered_at: Mapped[datetime | None]
    home_owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    """While the lead is passed back to lead development: the owner it returns to when qualified again."""
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    """The company the lead works at (:mod:`cadence.core.accounts`)."""
    buying_role: Mapped[str | None] = mapped_column(String(20))
    """The lead's role in its account's buying group (:class:`cadence.core.accounts.Role`)."""
    not_enrolled_reasons: Mapped[list[str] | None] = mapped_column(JSON)
    """Why this person is not followed up (a name, unfit, suppressed), one sentence each; None when enrolled."""
    enrolled_anyway: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """``{"by", "at", "why"}`` when someone enrolled this person although it did not qualify."""
    why_now: Mapped[str | None] = mapped_column(String(500))
    """The research task's "why them, why now" line (template variable ``why_now``)."""
    topic: Mapped[str | None] = mapped_column(String(200))
    """The topic of interest the research task found (template variable ``topic``)."""

    owner: Mapped[Rep | None] = relationship(lazy="joined", foreign_keys=[owner_id])

    @property
    def reference(self) -> str:
        """How a person names this lead: its address, else ``#ID`` (a contact known only by phone)."""
        return self.email if self.email is not None else f"#{self.id}"

    @property
    def label(self) -> str:
        """The lead's name, else its :attr:`reference`."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.reference


class Account(Base):
    """A company: its contacts are the leads that work there; one owner works the whole account.

    ``key`` is how leads are matched to it (:func:`cadence.core.accounts.account_match`); an account
    merged into another keeps its row, pointing at the one that took its contacts.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(220), unique=True)
    name: Mapped[str | None] = mapped_column(String(500))
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    name_key: Mapped[str | None] = mapped_column(String(220), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime]

    owner: Mapped[Rep | None] = relationship(lazy="joined")


class AccountChange(Base):
    """A merge, a split or a reassignment of an account, as decided: who, when, which contacts moved."""

    __tablename__ = "account_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    other_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    lead_ids: Mapped[list[int] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(320))
    changed_at: Mapped[datetime]


class Interaction(Base):
    """One interaction of a person (webinar attended, ebook downloaded, page visited, form filled): the history."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    topic: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    """The API key's name, or ``contact form``."""


class QualifyingAnswer(Base):
    """One answer to a qualifying question, as given at a conversation; the lead's latest per question counts."""

    __tablename__ = "qualifying_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    question: Mapped[str] = mapped_column(String(63))
    answer: Mapped[str] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(320))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    answered_at: Mapped[datetime]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    """The contact of the account the answer names (``who decides``: ``@lead:EMAIL``); the answer is their name."""


class StageChange(Base):
    """A lead's move to a stage: when, by whom (a person's address, or ``rule: ...``), and why."""

    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    stage: Mapped[str] = mapped_column(String(63))
    previous: Mapped[str | None] = mapped_column(String(63))
    entered_at: Mapped[datetime]
    by: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text)


class LeadAction(Base):
    """Something a reply's intent did on its own (a snooze, a referral, a decision, a suppression), with the
    evidence and what undoing it needs (``undo``); ``undone_at`` once its owner undid it."""

    __tablename__ = "lead_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str] | None] = mapped_column(JSON)
    undo: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(320))
    undo_note: Mapped[str | None] = mapped_column(Text)


class LeadNote(Base):
    """A rep's note on a lead, or a contact made outside the cadence (``kind`` ``contact``: a call from the
    rep's own phone, a LinkedIn message, a meeting in person) with its outcome; on the lead's timeline."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
