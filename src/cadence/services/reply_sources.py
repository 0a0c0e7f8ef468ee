"""The inboxes sync-replies reads: the shared replies mailbox, and each sending mailbox with an inbox of its own.

The shared mailbox is configured by ``CADENCE_IMAP_*`` (its read state is keyed by the account
``''``); a sending mailbox by its ``--imap-*`` settings, its password in a Prefect Secret block as
its SMTP password is (its read state keyed by its address). A paused mailbox is still read: its
leads may answer while it waits. A removed one is not. A sending mailbox's inbox is read from the day
the mailbox was added (IMAP ``SINCE``): a rep's own inbox holds years of mail from people who are now
leads, and an old message is not an answer to a cadence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.imap import ImapConfig
from cadence.adapters.models import SendingMailbox
from cadence.errors import ConfigurationError
from cadence.settings import Settings

SHARED = ""
"""The account key of the shared replies mailbox (``CADENCE_IMAP_*``)."""


@dataclass(frozen=True)
class ReplySource:
    """One inbox to read: how to reach it, its folder, and the key of its read state."""

    account: str
    label: str
    host: str
    port: int
    tls: Literal["none", "starttls", "tls"]
    username: str
    folder: str
    timeout: float
    password: str | None = None
    password_block: str | None = None
    since: date | None = None
    """Only messages the server received on or after this day (None: the whole folder)."""

    async def config(self) -> ImapConfig:
        """How to log in (the password read from its Prefect Secret block, if it names one).

        :class:`ConfigurationError` when the block cannot be read.
        """
        password = self.password or ""
        if self.password_block:
            from prefect.blocks.system import Secret

            try:
                block: Secret[str] = await Secret.aload(self.password_block)
                password = str(block.get())
            except Exception as exc:  # Prefect raises ValueError for a missing block, others for its API
                raise ConfigurationError(
                    f"the IMAP password of {self.label} cannot be read from the Prefect Secret block "
                    f"{self.password_block!r}: {exc}"
                ) from exc
        return ImapConfig(host=self.host, port=self.port, username=self.username, password=password, tls=self.tls,
                          timeout=self.timeout, origin="settings" if self.account == SHARED else "mailbox")  # fmt: skip

    def same_inbox(self, other: ReplySource) -> bool:
        """Whether ``other`` reads the same folder of the same IMAP account (read once, not twice)."""
        return (self.host, self.port, self.username.lower(), self.folder) == (
            other.host, other.port, other.username.lower(), other.folder,
        )  # fmt: skip


def shared_source(settings: Settings) -> ReplySource:
    """The shared replies mailbox, from ``CADENCE_IMAP_*``; :class:`ConfigurationError` when unset."""
    if not settings.imap_host:
        raise ConfigurationError("CADENCE_IMAP_HOST is not set: there is no replies mailbox to read")
    if not settings.imap_username:
        raise ConfigurationError("CADENCE_IMAP_USERNAME is not set: sync-replies cannot log in to the mailbox")
    return ReplySource(
        account=SHARED,
        label=f"the shared replies mailbox ({settings.imap_username})",
        host=settings.imap_host,
        port=settings.imap_port,
        tls=settings.imap_tls,
        username=settings.imap_username,
        folder=settings.imap_folder,
        timeout=settings.imap_timeout,
        password=settings.imap_password.get_secret_value() if settings.imap_password else "",
    )


def mailbox_source(mailbox: SendingMailbox, settings: Settings) -> ReplySource | None:
    """The inbox of a sending mailbox, or None when it has no IMAP settings."""
    if not mailbox.imap_host:
        return None
    tls: Literal["none", "starttls", "tls"] = (
        "none" if mailbox.imap_tls == "none" else "starttls" if mailbox.imap_tls == "starttls" else "tls"
    )
    return ReplySource(
        account=mailbox.address,
        label=f"the mailbox {mailbox.address}",
        host=mailbox.imap_host,
        port=mailbox.imap_port or 993,
        tls=tls,
        username=mailbox.imap_username or mailbox.address,
        folder=mailbox.imap_folder or "INBOX",
        timeout=settings.imap_timeout,
        password_block=mailbox.imap_password_block,
        since=mailbox.created_at.date(),
    )


def mailbox_sources(session: Session, settings: Settings) -> list[ReplySource]:
    """The inbox of each sending mailbox (active or paused) with IMAP settings, by address."""
    mailboxes = session.scalars(
        select(SendingMailbox)
        .where(SendingMailbox.state != "removed", SendingMailbox.imap_host.is_not(None))
        .order_by(SendingMailbox.address)
    )
    return [source for m in mailboxes if (source := mailbox_source(m, settings)) is not None]
