"""The web workspace and the API (/api/v1): accounts, sessions, failed logins, API keys, idempotent
answers, the audit log, the dashboard's snapshot, and the saved versions of the template store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadence.adapters.models.base import Base
from cadence.adapters.models.leads import Rep


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
