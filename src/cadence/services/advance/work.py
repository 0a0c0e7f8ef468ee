"""What a batch works on (:class:`WorkItem`, one claimed step) and what it reports (:class:`RunReport`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cadence.adapters.mail import Unsendable
from cadence.adapters.templates import RenderedEmail
from cadence.core.cadences import Step
from cadence.services.claims import Claim
from cadence.services.mailboxes import MailboxRoute


@dataclass
class WorkItem:
    """One claimed step with everything needed to execute it, read in one transaction."""

    claim: Claim
    step: Step
    step_total: int
    template: str | None
    lead_email: str | None  # None: known by phone only; its email steps are skipped at intake (no_address)
    lead_name: str
    lead_priority: int
    owner_id: int | None
    owner_email: str | None
    owner_name: str
    variables: dict[str, Any]
    thread_parent: tuple[str, str] | None = None  # (message_id, subject) of the previous email
    rendered: RenderedEmail | str | None = None  # an email's parts, or a task's instructions
    message_id: str | None = None
    cadence_key: tuple[str, str] | None = None  # (name, version) the enrollment is pinned to
    owner_cap: int | None = None  # the owner's daily email cap when the step was claimed
    mailbox: MailboxRoute | None = None  # the owner's sending mailbox it leaves from (None: the global SMTP server)

    @property
    def recipient(self) -> str:
        """The address the email goes to; :class:`Unsendable` for a lead without one (intake skips those)."""
        if self.lead_email is None:
            raise Unsendable("the lead has no email address (known by phone only): nothing can be sent to it")
        return self.lead_email

    @property
    def from_address(self) -> str | None:
        """The address the email is from: its mailbox's, else its owner's."""
        return self.mailbox.address if self.mailbox is not None else self.owner_email


@dataclass(frozen=True)
class Built:
    """An email as it goes on the wire, and its subject."""

    subject: str
    data: bytes


@dataclass
class RunReport:
    """What one or more batches did; published as the run's artifact."""

    claimed: int = 0
    emails_sent: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    bounced: int = 0
    uncertain: int = 0
    recovered: int = 0
    superseded: int = 0
    held: int = 0
    failed: int = 0  # steps that will never send (unsendable, or out of attempts): the owner has a task
    deferred: int = 0
    skipped: int = 0
    capped: int = 0
    paced: int = 0  # emails that wait for their mailbox's next slot (pacing, cap, ramp-up, pause)
    completed: int = 0
    batches: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    uncertain_touches: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before the work was done (the database was away)

    def add(self, other: RunReport) -> None:
        """Add ``other``'s counts to this report."""
        for name in ("claimed", "emails_sent", "retried", "bounced", "uncertain", "recovered", "superseded",
                     "held", "deferred", "skipped", "capped", "completed", "batches", "failed", "paced"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.tasks.update(other.tasks)
        self.failures.extend(other.failures)
        self.uncertain_touches.extend(other.uncertain_touches)
        self.stopped = self.stopped or other.stopped

    @property
    def did_work(self) -> bool:
        """True when the batch claimed or closed anything."""
        return self.claimed > 0 or self.completed > 0

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return {
            "claimed": self.claimed,
            "emails_sent": self.emails_sent,
            "tasks_created": dict(sorted(self.tasks.items())),
            "retried": self.retried,
            "bounced": self.bounced,
            "uncertain": self.uncertain,
            "recovered": self.recovered,
            "superseded": self.superseded,
            "held": self.held,
            "failed": self.failed,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "capped": self.capped,
            "paced": self.paced,
            "completed_no_response": self.completed,
            "batches": self.batches,
            "failures": self.failures[:100],
            "uncertain_touches": self.uncertain_touches[:100],
            "stopped": self.stopped,
        }
