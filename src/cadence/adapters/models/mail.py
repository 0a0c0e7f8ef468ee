"""Mail: the digests sent, the replies mailboxes read (sync-replies), sending mailboxes and DKIM keys.

IMAP UIDs and UIDVALIDITY are 32-bit unsigned: beyond PostgreSQL's INTEGER, hence BIGINT.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cadence.adapters.models.base import Base
from cadence.adapters.models.leads import Rep


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
