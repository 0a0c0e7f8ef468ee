"""One sync-replies run over every inbox: the shared replies mailbox and each sending mailbox's own.

Each inbox is read by :func:`cadence.services.replies.sync_replies` with its own read state; one
that cannot be read (unreachable, refused login, missing folder or password block) is reported in
:attr:`RepliesRun.failed` and the others are read all the same. The rules a message is judged by
do not depend on the inbox it came from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cadence.adapters.imap import ImapError, ImapMailbox
from cadence.errors import ConfigurationError
from cadence.services.context import Context
from cadence.services.replies import MailboxFactory, SyncReport, sync_replies
from cadence.services.reply_sources import ReplySource, mailbox_sources, shared_source

_COUNTS = ("fetched", "processed", "unmatched", "replies", "paused", "suppressed", "snoozed", "referred")


@dataclass
class RepliesRun:
    """What one run read from each inbox, and the inboxes it could not read."""

    reports: list[SyncReport] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(inbox, why) for each inbox that could not be read."""

    @property
    def errors(self) -> list[str]:
        """The messages that failed (read again next run), each with its inbox."""
        return [f"{r.mailbox}: {e}" for r in self.reports for e in r.errors]

    def as_dict(self) -> dict[str, Any]:
        """Totals over the inboxes read, each inbox's own report (``mailboxes``), and those not read (``failed``)."""
        totals: dict[str, Any] = {name: sum(getattr(r, name) for r in self.reports) for name in _COUNTS}
        totals["tasks_created"] = sum(r.tasks for r in self.reports)
        for name in ("kinds", "decisions", "intents"):
            merged: Counter[str] = Counter()
            for r in self.reports:
                merged.update(getattr(r, name))
            totals[name] = dict(sorted(merged.items()))
        return {
            **totals,
            "errors": self.errors,
            "mailboxes": [r.as_dict() for r in self.reports],
            "failed": [{"mailbox": inbox, "error": why} for inbox, why in self.failed],
        }


def inboxes(ctx: Context) -> tuple[list[ReplySource], list[tuple[str, str]]]:
    """The inboxes to read (the shared one first, when set; the same inbox named twice once), and those whose
    settings are incomplete, with why."""
    found: list[ReplySource] = []
    broken: list[tuple[str, str]] = []
    if ctx.settings.imap_host:
        try:
            found.append(shared_source(ctx.settings))
        except ConfigurationError as exc:
            broken.append(("the shared replies mailbox", str(exc)))
    with ctx.sessions() as session:
        for source in mailbox_sources(session, ctx.settings):
            if not any(source.same_inbox(s) for s in found):
                found.append(source)
    return found, broken


async def sync_every_mailbox(ctx: Context, *, now: datetime, mailbox: MailboxFactory = ImapMailbox) -> RepliesRun:
    """Read every inbox (:func:`inboxes`) once, one after the other; an inbox that fails is reported, not fatal."""
    sources, broken = inboxes(ctx)
    run = RepliesRun(failed=list(broken))
    for source in sources:
        try:
            run.reports.append(await sync_replies(ctx, now=now, mailbox=mailbox, source=source))
        except (ImapError, ConfigurationError) as exc:
            run.failed.append((source.label, str(exc)))
    return run
