"""Removing a sending mailbox, and saying beforehand what happens to the leads sending from it.

No lead is left behind: its leads under way (active, paused, or answered and waiting for their
owner) lose the mailbox at once, and their next email is routed as any lead's first is
(:func:`cadence.services.advance.pacing.apply_mailbox_gate`): another of the owner's mailboxes,
the active one with the fewest leads; when the others are all paused, the email waits for one to
be resumed; when the owner has no other mailbox, it leaves through the SMTP server of the settings
(``CADENCE_SMTP_*``), as a rep without mailboxes sends. :func:`preview` says which, in words, for
the workspace's confirmation; :func:`remove_mailbox` does it and says the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from cadence.adapters.models import Enrollment
from cadence.services import audit
from cadence.services.mailboxes import get_mailbox, open_leads, owner_mailboxes

UNDER_WAY = ("active", "paused", "responded")
"""The enrollment states whose next email has yet to leave (what a mailbox's leads are)."""


@dataclass(frozen=True)
class Removal:
    """A mailbox's removal: its leads under way, and where their next emails go."""

    address: str
    rep: str
    leads: int
    active_others: tuple[str, ...]
    paused_others: tuple[str, ...]
    reads_replies: bool

    def consequence(self) -> str:
        """What happens to its leads (and its inbox), in words a manager can act on."""
        n = f"{self.leads} lead{'s' if self.leads != 1 else ''} under way"
        if self.leads == 0:
            text = "It has no leads under way."
        elif self.active_others:
            text = (f"Its {n} send their next emails from another of {self.rep}'s mailboxes "
                    f"({', '.join(self.active_others)}), the one with the fewest leads: a new sender address "
                    "in their threads.")  # fmt: skip
        elif self.paused_others:
            text = (f"Its {n} wait: {self.rep}'s other mailboxes ({', '.join(self.paused_others)}) are paused, "
                    "and their next emails go when one is resumed.")  # fmt: skip
        else:
            text = (f"{self.rep} has no other mailbox: its {n} send their next emails through the SMTP server "
                    "of the settings (CADENCE_SMTP_*), as a rep without mailboxes does.")  # fmt: skip
        if self.reads_replies:
            text += " Its inbox is no longer read for replies (the shared replies mailbox still is, if set)."
        return text + " What it sent stays in the leads' histories."

    def as_dict(self) -> dict[str, object]:
        """The removal as plain data (``--json``, the audit log)."""
        return {
            "address": self.address,
            "rep": self.rep,
            "leads": self.leads,
            "moved_to": list(self.active_others),
            "waiting_for": list(self.paused_others) if not self.active_others else [],
            "reads_replies": self.reads_replies,
        }


def preview(session: Session, address: str) -> Removal:
    """What removing the mailbox ``address`` would do (nothing is changed); :class:`NotFound` when there is none."""
    mailbox = get_mailbox(session, address)
    others = [m for m in owner_mailboxes(session, [mailbox.rep_id]).get(mailbox.rep_id, []) if m.id != mailbox.id]
    return Removal(
        address=mailbox.address,
        rep=mailbox.rep.email,
        leads=open_leads(session, [mailbox.id]).get(mailbox.id, 0),
        active_others=tuple(m.address for m in others if m.state == "active"),
        paused_others=tuple(m.address for m in others if m.state == "paused"),
        reads_replies=mailbox.imap_host is not None,
    )


def remove_mailbox(session: Session, address: str, *, now: datetime, actor: str = audit.CLI) -> Removal:
    """Remove a mailbox: its leads under way are routed afresh at their next email (see the module's docstring).

    What it sent stays in the history; the removal is written to the audit log.
    """
    removal = preview(session, address)
    mailbox = get_mailbox(session, address)
    mailbox.state = "removed"
    session.execute(
        update(Enrollment)
        .where(Enrollment.mailbox_id == mailbox.id, Enrollment.state.in_(UNDER_WAY))
        .values(mailbox_id=None)
    )
    audit.record(session, actor, "mailboxes.remove", mailbox.address, removal.as_dict(), now=now)
    return removal
