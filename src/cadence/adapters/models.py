"""The database schema (SQLAlchemy 2.0 declarative models).

Times are stored as UTC. ``touches`` holds every contact attempt; its unique key
(enrollment_id, step_index) is what makes a step happen at most once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have: ids are INTEGER columns, 32 bits on PostgreSQL."""


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored without zone (SQLite keeps none) and read back as UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store ``value`` as naive UTC; a naive value is refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read a stored value back as an aware UTC datetime."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Base of every model."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


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


class CadenceVersion(Base):
    """A cadence definition as it was when an enrollment started; enrollments pin it."""

    __tablename__ = "cadence_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[str] = mapped_column(String(12))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


OPEN_STATES_SQL = "state IN ('active', 'paused', 'responded')"


class Enrollment(Base):
    """A lead going through one version of one cadence.

    ``next_step`` is the index of the next step to run (equal to the number of steps once all
    ran, while the grace period for replies runs); ``next_due_at`` is when it is due, and is set
    only while the enrollment is active.
    """

    __tablename__ = "enrollments"
    __table_args__ = (
        # At most one enrollment under way per lead.
        Index(
            "uq_enrollments_open_lead",
            "lead_id",
            unique=True,
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        # What is due costs O(due): only active enrollments are in this index.
        Index(
            "ix_enrollments_due",
            "next_due_at",
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        # The report's period selects enrollments by their enrollment time.
        Index("ix_enrollments_enrolled_at", "enrolled_at"),
        # Lapsed pauses (out-of-office return dates passed) cost O(lapsed): only paused ones are here.
        Index(
            "ix_enrollments_paused_until",
            "paused_until",
            sqlite_where=text("state = 'paused'"),
            postgresql_where=text("state = 'paused'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    cadence_name: Mapped[str] = mapped_column(String(63))
    cadence_version: Mapped[str] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(20))
    enrolled_at: Mapped[datetime]
    # Day 0 for scheduling: the enrollment time, moved later by the time spent paused.
    anchor_at: Mapped[datetime]
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None]
    last_touch_at: Mapped[datetime | None]
    last_touch_day: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=2)
    paused_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    first_touch_breached_at: Mapped[datetime | None]
    """When the class's first-touch SLA passed with the lead not touched (it was escalated then)."""
    # No foreign key: a second reference to ``leads`` would make every join of the two tables ambiguous.
    held_by_lead_id: Mapped[int | None] = mapped_column(Integer)
    """Paused because this colleague (same account) answered: the hold ends with the owner's decision on them."""
    # The owner's sending mailbox every email of this enrollment leaves from (None: the global SMTP server).
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("sending_mailboxes.id"))

    lead: Mapped[Lead] = relationship(lazy="joined")


class Touch(Base):
    """One step executed (or being executed) for one enrollment: every contact attempt."""

    __tablename__ = "touches"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_index"),
        Index("ix_touches_lead_id_created", "lead_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    step_index: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(200))
    template_version: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(998))
    message_id: Mapped[str | None] = mapped_column(String(250), unique=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    # Random per claim: the runner that claimed the step writes (and hands it to SMTP) only while it is still there.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    executed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    # The sending mailbox the email went out from (what its caps and bounce guard count).
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("sending_mailboxes.id"), index=True)


class Task(Base):
    """Work for a rep: a call, a LinkedIn invite, research, a postcard, an answer to a reply."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),
        # Everyone's open tasks by due time (a manager's task board, the API), and the tasks done lately.
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_status_completed", "status", "completed_at"),
        # One rep's tasks of every status by due time (GET /api/v1/tasks?owner=).
        Index("ix_tasks_owner_due", "owner_id", "due_at"),
        # An enrollment's tasks (time to first touch reads the last 30 days' enrollments' tasks).
        Index("ix_tasks_enrollment_id", "enrollment_id"),
        # The report: open tasks overdue per owner, and the tasks tied to no enrollment created in a period.
        Index(
            "ix_tasks_open_owner_due",
            "owner_id",
            "due_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "ix_tasks_unlinked_created_at",
            "created_at",
            sqlite_where=text("enrollment_id IS NULL"),
            postgresql_where=text("enrollment_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(Integer, default=2)
    status: Mapped[str] = mapped_column(String(20), default="open")
    outcome: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    exported_at: Mapped[datetime | None]

    lead: Mapped[Lead] = relationship(lazy="joined")
    owner: Mapped[Rep | None] = relationship(lazy="joined")


class Decision(Base):
    """The end of a lead's cadence, with its reason. A lead has one current decision (not superseded)."""

    __tablename__ = "decisions"
    __table_args__ = (
        # The report: decisions tied to no enrollment, made in a period.
        Index(
            "ix_decisions_unlinked_decided_at",
            "decided_at",
            sqlite_where=text("enrollment_id IS NULL"),
            postgresql_where=text("enrollment_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    outcome: Mapped[str] = mapped_column(String(30), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    qualification_skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime]
    # The lead's current decision has none; one a later decision replaced keeps its place in the history.
    superseded_at: Mapped[datetime | None]
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    meeting_at: Mapped[datetime | None]
    """When the booked meeting starts (a calendar invitation, a booking notification); None when not known."""


class Response(Base):
    """Something the lead sent us: a reply, an automatic reply, a bounce, a call back."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"))
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(250))
    received_at: Mapped[datetime]


class Suppression(Base):
    """An address (``bob@x.example``) or a domain (``@x.example``) that is never emailed."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(320), unique=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Digest(Base):
    """A digest emailed to a rep (or the manager) for one local date: at most one each."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("recipient", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    local_date: Mapped[str] = mapped_column(String(10))
    tasks: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(250))
    sent_at: Mapped[datetime]


# -- The replies mailbox (sync-replies) ----------------------------------------------------------
# IMAP UIDs and UIDVALIDITY are 32-bit unsigned: beyond PostgreSQL's INTEGER, hence BIGINT.


class MailboxState(Base):
    """How far sync-replies has read one IMAP folder of one account: its UIDVALIDITY and the last UID read."""

    __tablename__ = "mailbox_states"
    __table_args__ = (UniqueConstraint("account", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(320), default="", server_default="")
    """Whose inbox: ``''`` the shared replies mailbox (``CADENCE_IMAP_*``), else a sending mailbox's address."""
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class InboundMessage(Base):
    """One message read from a replies mailbox and what it was; each (account, folder, UIDVALIDITY, UID) once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("account", "folder", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(320), default="", server_default="")
    """The inbox it was read from: ``''`` the shared replies mailbox, else a sending mailbox's address."""
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(250), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    detail: Mapped[str | None] = mapped_column(Text)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    touch_id: Mapped[int | None] = mapped_column(ForeignKey("touches.id"))
    received_at: Mapped[datetime | None]
    processed_at: Mapped[datetime]
    intent: Mapped[str | None] = mapped_column(String(30))
    """What the message says (:mod:`cadence.core.intent`), with how sure and the words that decided."""
    confidence: Mapped[float | None] = mapped_column(Float)
    evidence: Mapped[list[str] | None] = mapped_column(JSON)
    named_date: Mapped[date | None] = mapped_column(Date)
    """The date the message names (not now: until when; out of office: the return date)."""


# -- The web workspace (cadence web): accounts, their sessions, failed logins ------------------------


class User(Base):
    """An account of the web workspace: a rep (linked to the ``reps`` row of the same email), a marketer or a manager.

    ``password_hash`` is an argon2id hash (PHC string); the password itself is never stored.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('rep', 'marketer', 'manager')", name="role"),
        CheckConstraint("role <> 'rep' OR rep_id IS NOT NULL", name="rep_has_rep"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    rep: Mapped[Rep | None] = relationship(lazy="joined")


class WebSession(Base):
    """A signed-in browser: the SHA-256 of its cookie's random token (never the token), its CSRF token, its flash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    flash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed login, by address and by client address: what the login rate limit counts."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_failed_at", "email", "failed_at"),
        Index("ix_login_failures_client_failed_at", "client", "failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime]


class Import(Base):
    """One ``cadence leads import`` of a file: who ran it, when, and what it did (``counts``)."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    file: Mapped[str] = mapped_column(String(1000))
    imported_by: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(20))
    """``running``, ``done``, ``failed`` (stopped part-way: the rows before were imported) or ``undone``."""
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)


class ImportChange(Base):
    """A lead an import created or updated, and its fields before (``before``: None when created)."""

    __tablename__ = "import_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    created: Mapped[bool] = mapped_column(Boolean)
    enrolled: Mapped[bool] = mapped_column(Boolean)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# -- Deliverability: sending mailboxes, DKIM keys, paused cadences ----------------------------------


class SendingMailbox(Base):
    """A rep's own sending mailbox: its SMTP server, caps, ramp-up, pacing state, and whether it is paused.

    ``next_send_at`` is the pacing state (the earliest time its next email may leave);
    ``first_sent_on`` is the local day of its first email (day 0 of its ramp-up).
    """

    __tablename__ = "sending_mailboxes"
    __table_args__ = (CheckConstraint("state IN ('active', 'paused', 'removed')", name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id"), index=True)
    smtp_host: Mapped[str] = mapped_column(String(253))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_tls: Mapped[str] = mapped_column(String(10))
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    password_block: Mapped[str | None] = mapped_column(String(200))
    daily_cap: Mapped[int] = mapped_column(Integer)
    per_minute: Mapped[int | None] = mapped_column(Integer)
    ramp_start: Mapped[int | None] = mapped_column(Integer)
    ramp_step: Mapped[int | None] = mapped_column(Integer)
    ramp_max: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="active")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_at: Mapped[datetime | None]
    first_sent_on: Mapped[date | None] = mapped_column(Date)
    next_send_at: Mapped[datetime | None]
    # Resumed by hand at: the bounce guard counts only the sends after it.
    guard_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # Its own inbox, read by sync-replies (no imap_host: not read; replies go to the shared mailbox).
    imap_host: Mapped[str | None] = mapped_column(String(253))
    imap_port: Mapped[int | None] = mapped_column(Integer)
    imap_tls: Mapped[str | None] = mapped_column(String(10))
    imap_username: Mapped[str | None] = mapped_column(String(320))
    imap_folder: Mapped[str | None] = mapped_column(String(500))
    imap_password_block: Mapped[str | None] = mapped_column(String(200))

    rep: Mapped[Rep] = relationship(lazy="joined")


class SendingDomain(Base):
    """A sending domain's DKIM selector and where its private key is: a PEM file, or a Prefect Secret block."""

    __tablename__ = "sending_domains"
    __table_args__ = (CheckConstraint("(key_file IS NULL) <> (key_block IS NULL)", name="one_key_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    selector: Mapped[str] = mapped_column(String(63))
    key_file: Mapped[str | None] = mapped_column(Text)
    key_block: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


class CadencePause(Base):
    """A cadence stopped from sending (its bounce rate passed the guard's threshold) until resumed by hand.

    The row stays once resumed (``resumed_at``): the guard then counts only the sends after it.
    """

    __tablename__ = "cadence_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence_name: Mapped[str] = mapped_column(String(63), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime]
    resumed_at: Mapped[datetime | None]


# -- Accounts: the companies leads work at ---------------------------------------------------------------


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


# -- Outbound webhooks: subscriptions, the outbox of events, one delivery per event and subscription --------


class WebhookSubscription(Base):
    """An endpoint that receives some events, signed with its own secret (Standard Webhooks).

    The secret (``whsec_`` and base64) is kept as it is: every delivery is signed with it. A paused
    subscription keeps its deliveries waiting until it is resumed.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEvent(Base):
    """An event in the outbox, written in the transaction of what it reports: nothing is lost on the way out.

    ``message_id`` is the ``webhook-id`` every delivery of it carries (the same on each retry);
    ``dedupe_key`` keeps an event that a path may write twice (a settle run again) to one row.
    """

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime]


PENDING_DELIVERIES_SQL = "state = 'pending'"


class WebhookDelivery(Base):
    """One event to one subscription: ``pending`` until its endpoint answers 2xx (``delivered``) or ``dead``.

    A lead's deliveries to one subscription go out in ``id`` order, one at a time.
    ``next_attempt_at`` is when it is due (pushed past the lease while a worker holds it, with its
    ``claim_token``); ``first_attempt_at`` starts the retry window.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=text(PENDING_DELIVERIES_SQL),
            postgresql_where=text(PENDING_DELIVERIES_SQL),
        ),
        Index(
            "ix_webhook_deliveries_lead_order",
            "subscription_id",
            "lead_id",
            "id",
            sqlite_where=text(PENDING_DELIVERIES_SQL),
            postgresql_where=text(PENDING_DELIVERIES_SQL),
        ),
        Index("ix_webhook_deliveries_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    lead_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]

    event: Mapped[WebhookEvent] = relationship(lazy="joined")
    subscription: Mapped[WebhookSubscription] = relationship(lazy="joined")


# -- The API (/api/v1): its keys, the answers to idempotent requests, interactions -------------------


class ApiKey(Base):
    """A key of the API: the SHA-256 of the key (never the key), its name and scope; revoked keys are kept."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("scope IN ('intake', 'read', 'write')", name="scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The key's first characters, shown in listings so that a person can tell keys apart."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiIdempotency(Base):
    """The answer given to a request with an ``Idempotency-Key``: replayed for 24 hours to the same key."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(index=True)


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


# -- Stages of maturation, and what an intent did automatically ---------------------------------------


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


class TemplateFile(Base):
    """One saved version of a file of the template store (a template, a cadence, the rules); the newest is used."""

    __tablename__ = "template_files"
    __table_args__ = (UniqueConstraint("path", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[str | None] = mapped_column(String(320))
    saved_at: Mapped[datetime]
    comment: Mapped[str | None] = mapped_column(String(500))


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


# -- The audit log: who did what and when (append-only) ---------------------------------------------


class AuditEntry(Base):
    """One thing a person (or the system) did: a login, a decision, an override, an edit, an erasure.

    Append-only: :mod:`cadence.services.audit` only inserts, and on PostgreSQL a trigger refuses
    UPDATE and DELETE on the table.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    """A person's address, ``cli`` (someone at the command line), or ``system``."""
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str | None] = mapped_column(String(320))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DashboardSnapshot(Base):
    """The managers' dashboard's numbers as computed at ``taken_at`` (JSON), so that a page view reads one row.

    :mod:`cadence.services.dashboard_snapshot` writes it in the background and keeps the latest only.
    """

    __tablename__ = "dashboard_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(index=True)
    seconds: Mapped[float] = mapped_column(Float)
    """How long computing the numbers took."""
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)
