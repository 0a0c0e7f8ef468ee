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


class Lead(Base):
    """A person we follow up (a name until they show enough interest)."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
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
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    stage: Mapped[str | None] = mapped_column(String(63), index=True)
    """The stage of maturation (``templates/stages.yaml``); None: the first stage."""
    stage_entered_at: Mapped[datetime | None]
    home_owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    """While the lead is passed back to lead development: the owner it returns to when qualified again."""

    owner: Mapped[Rep | None] = relationship(lazy="joined", foreign_keys=[owner_id])


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


class Task(Base):
    """Work for a rep: a call, a LinkedIn invite, research, a postcard, an answer to a reply."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_owner_status_due", "owner_id", "status", "due_at"),)

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
    """How far sync-replies has read one IMAP folder: its UIDVALIDITY and the last UID read."""

    __tablename__ = "mailbox_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(500), unique=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class InboundMessage(Base):
    """One message read from the replies mailbox and what it was; each (folder, UIDVALIDITY, UID) once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("folder", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
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
