"""The data of the one rule (:mod:`cadence.core.events`): the facts it reads, the events, the consequences (pure).

Data only: what each event means is :func:`cadence.core.events.consequences`, whose module re-exports
every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cadence.core.cadences import Cadence
from cadence.core.decisions import Outcome
from cadence.core.enrollment import State
from cadence.core.intent import Reading
from cadence.core.schedule import LeadCalendar
from cadence.core.touch_states import MAY_HAVE_GONE_OUT as MAY_HAVE_GONE_OUT
from cadence.core.touch_states import RECLAIMABLE as RECLAIMABLE
from cadence.core.touch_states import STEP_DONE as STEP_DONE
from cadence.core.touch_states import TouchState as TouchState

RESPONSE_KINDS: frozenset[str] = frozenset({"reply", "call", "manual"})
"""Responses that count as the lead answering (an automatic reply or a bounce does not)."""
MEETING_RESPONSE_NOTE = "{outcome} recorded with the decision"


# -- the facts the shell reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where an enrollment stands: the fields the rules read, and write back in :class:`Consequences`.

    The names are those of the ``enrollments`` table's columns, so that the shell copies them both ways.
    """

    state: State
    enrolled_at: datetime
    anchor_at: datetime
    """Day 0 for scheduling: the enrollment time, moved later by the time spent paused."""
    next_step: int = 0
    next_due_at: datetime | None = None
    last_touch_at: datetime | None = None
    last_touch_day: int | None = None
    paused_at: datetime | None = None
    paused_until: datetime | None = None
    ended_at: datetime | None = None
    held_by_lead_id: int | None = None
    """Paused because this colleague (same account) answered: the owner's decision on them ends the hold."""


@dataclass(frozen=True)
class TouchFacts:
    """The touch an event is about (a send outcome, a held or due step, a lapsed claim)."""

    step_index: int
    state: TouchState
    error: str | None = None


@dataclass(frozen=True)
class Policy:
    """The settings the rules read."""

    reply_grace_days: int = 3
    """Business days to wait for a reply after the last step."""
    auto_reply_pause_days: int = 7
    """How long an automatic reply naming no return date pauses the lead."""
    hold_recheck: timedelta = timedelta(hours=1)
    """How soon a held step is looked at again (moved to the next slot)."""
    response_sla_hours: int = 4
    """Business hours within which the owner answers an interested reply."""
    reengage_cadence: str = "re-engage"
    """The cadence a lead snoozed by "not now" is enrolled in when its date comes."""
    referral_cadence: str = "referral"
    """The cadence a lead named in a referral is enrolled in."""
    max_send_attempts: int = 8
    """Attempts at sending one step's email before the step fails (its owner gets a task)."""
    auto_reply_max_days: int = 30
    """The longest an automatic reply pauses a lead, whatever return date it names."""
    """Attempts at sending one step's email before the step fails (its owner gets a task)."""


@dataclass(frozen=True)
class Facts:
    """What the shell read before the event: everything the rule may look at, and the time."""

    at: datetime
    """When the event happened (or, for a lapsed claim, when its recorded outcome did)."""
    enrollment: Position | None = None
    """The lead's latest enrollment, whatever its state; None for a lead never enrolled."""
    cadence: Cadence | None = None
    """The cadence version that enrollment pinned."""
    calendar: LeadCalendar | None = None
    """The lead's calendar under that cadence's settings."""
    decided: Outcome | None = None
    """The decision taken on the lead since its latest enrollment began (ever, if never enrolled)."""
    responded: bool = False
    """True when the latest enrollment has a response of one of :data:`RESPONSE_KINDS`."""
    touch: TouchFacts | None = None
    lead_name: str = ""
    """The lead's name (or address), for the titles of the tasks it gets."""
    policy: Policy = field(default_factory=Policy)
    meeting_at: datetime | None = None
    """When the meeting of the lead's current ``meeting_booked`` decision starts, if it is known."""
    snoozed_until: datetime | None = None
    """The lead said "not now" and waits until then to be enrolled again (a new answer ends the wait)."""


# -- the events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """The SMTP server accepted the touch's email."""

    reply: str = ""


@dataclass(frozen=True)
class Retry:
    """A transient failure: the email goes again after ``backoff`` (then at the next allowed slot)."""

    error: str
    backoff: timedelta
    attempt: int = 1
    """How many attempts failed so far, this one included: at ``Policy.max_send_attempts`` the step fails."""


@dataclass(frozen=True)
class StepFailed:
    """The touch's email can never go out as it is (a header the lead's data would break, an address the
    SMTP server cannot take), or every attempt failed: the step fails for good."""

    error: str


@dataclass(frozen=True)
class Bounced:
    """The recipient's server refused the touch's email for good."""

    error: str


@dataclass(frozen=True)
class Uncertain:
    """The email may have gone out (the connection broke after the final dot): never sent again."""

    error: str


@dataclass(frozen=True)
class Withdrawn:
    """The email was not handed over: the lead stopped or was suppressed after it was claimed."""

    suppressed: bool
    """Whether the address (or its domain) is suppressed now; else the lead stopped, maybe only for a while."""


@dataclass(frozen=True)
class NoAddress:
    """An email step is due for a lead without an email address (known by phone only): it cannot be sent."""


NO_ADDRESS_REASON = "no email address: the lead is known by phone only, so this email step was skipped"
"""The reason a skipped email step of a phone-only lead records on its touch (people read it on the timeline)."""


@dataclass(frozen=True)
class StepHeld:
    """The step cannot run now (a broken template): it waits, due again later."""

    reason: str


@dataclass(frozen=True)
class StepDue:
    """A runner got to a due step: it runs now only inside the lead's slot (window, open day)."""


@dataclass(frozen=True)
class ClaimLapsed:
    """A runner's claim on the touch lapsed: finish what it left, from the touch's recorded state."""


@dataclass(frozen=True)
class GraceOver:
    """Every step ran and the grace period for replies passed with no response."""


@dataclass(frozen=True)
class Responded:
    """The lead answered: a reply (by email or recorded by hand), a connected call, ..."""

    kind: str = "manual"
    """One of :data:`RESPONSE_KINDS`."""
    channel: str = "other"
    note: str | None = None
    subject: str | None = None
    """The subject of a reply, for the owner's task when it has no text."""
    reading: Reading | None = None
    """What a reply says (:func:`cadence.core.intent.read_message`): it decides what follows (table note 4)."""


@dataclass(frozen=True)
class AutoReply:
    """An automatic reply (out of office), naming the day the lead is back or not."""

    return_date: date | None = None
    note: str | None = None


@dataclass(frozen=True)
class BounceNotice:
    """A delivery status notification about the lead's address, read from the replies mailbox."""

    permanent: bool
    status: str = "undelivered"


@dataclass(frozen=True)
class Unsubscribed:
    """The lead asked to get no more email (by email or by the link)."""

    reason: str
    by: str | None = None


@dataclass(frozen=True)
class Decided:
    """A decision on the lead, by a person (or by the cadence)."""

    outcome: Outcome
    reason: str | None = None
    decided_by: str | None = None
    answers: dict[str, str] | None = None
    qualification_skipped: bool = False
    questions: tuple[tuple[str, str], ...] = ()
    """The qualifying questions a meeting or hand-off needs answered (empty: any answers do)."""


@dataclass(frozen=True)
class TaskDone:
    """A rep recorded a task's outcome, possibly with a decision in the same step."""

    channel: str
    outcome: str
    note: str | None = None
    decision: Decided | None = None


@dataclass(frozen=True)
class SnoozeOver:
    """The date a snoozed lead named came: its answered enrollment closes, a new one starts (the shell's).

    ``refused``: why the lead may not be enrolled again (a cadence's re-enrollment rule, a missing
    cadence): then the owner gets the task to re-engage by hand and nothing closes.
    """

    cadence: str
    refused: str | None = None


@dataclass(frozen=True)
class SnoozedByHand:
    """A person snoozed the lead to ``day`` ("call me in March"): its automated steps stop, and on that day
    it wakes and is enrolled again as a lead that answered "not now" is."""

    day: date
    by: str | None = None


@dataclass(frozen=True)
class Paused:
    """Pause the enrollment, until ``until`` or until it is resumed."""

    until: datetime | None = None


@dataclass(frozen=True)
class Resumed:
    """Resume a paused enrollment."""


@dataclass(frozen=True)
class MeetingBooked:
    """The lead booked a meeting (a calendar invitation or acceptance, a booking notification).

    ``questions`` are the qualifying questions as configured, ``answers`` the lead's answers known so
    far (by question key): the owner's task to qualify before the meeting lists what is missing.
    """

    start: datetime
    via: str
    """How it was booked, in words ("calendar invitation", "booking (Cal.com)"): the decision's author."""
    evidence: str = ""
    questions: tuple[tuple[str, str], ...] = ()
    answers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColleagueAnswered:
    """A colleague at the lead's account answered: the lead's cadence does what its ``on_account_response`` says."""

    lead_id: int
    """The colleague who answered."""
    name: str = ""


@dataclass(frozen=True)
class ColleagueDecided:
    """The owner decided the colleague whose answer holds this lead: the hold ends (resumed, or stopped)."""

    lead_id: int
    outcome: Outcome | None
    """None: the colleague's conversation closed with no decision (a snooze over): the hold ends, resumed."""
    name: str = ""


SendOutcome = Sent | Retry | Bounced | Uncertain | Withdrawn | StepFailed
"""What SMTP said about a touch's email."""
AnyEvent = (
    SendOutcome
    | NoAddress
    | StepHeld
    | StepDue
    | ClaimLapsed
    | GraceOver
    | Responded
    | AutoReply
    | BounceNotice
    | Unsubscribed
    | Decided
    | TaskDone
    | SnoozeOver
    | SnoozedByHand
    | Paused
    | Resumed
    | MeetingBooked
    | ColleagueAnswered
    | ColleagueDecided
)
"""Every event the rule knows."""


# -- the consequences the shell applies --------------------------------------------------------------


@dataclass(frozen=True)
class NewDecision:
    """A decision to record: it becomes the lead's current one; the one it replaces stays as history."""

    outcome: Outcome
    reason: str | None = None
    decided_by: str | None = None
    answers: dict[str, str] | None = None
    qualification_skipped: bool = False
    meeting_at: datetime | None = None
    """When the meeting starts (a meeting booked by calendar or booking notification)."""


@dataclass(frozen=True)
class NewResponse:
    """A response to put on the lead's timeline."""

    kind: str
    channel: str
    note: str | None = None
    on_enrollment: bool = True
    """True: recorded on the facts' enrollment; False: on the lead only."""


@dataclass(frozen=True)
class NewTask:
    """A task to create for the lead's owner."""

    channel: str
    title: str
    instructions: str | None
    due_at: datetime


@dataclass(frozen=True)
class NewSnooze:
    """Snooze the lead until ``until``, then enroll it in ``cadence``."""

    until: datetime
    cadence: str


@dataclass(frozen=True)
class NewReferral:
    """A new lead for the person a reply named: ``referred_by`` the lead, same owner, enrolled in ``cadence``."""

    email: str
    name: str | None
    phone: str | None
    cadence: str


@dataclass(frozen=True)
class AccountNews:
    """What happened to a lead that its colleagues' cadences react to: it answered, it was decided, or both."""

    answered: bool = False
    decided: Outcome | None = None
    released: bool = False
    """The lead's conversation closed with no decision (its snooze is over): the colleagues it holds resume."""


@dataclass(frozen=True)
class Consequences:
    """What an event means, as data; the shell applies every field that is set."""

    enrollment: Position | None = None
    """The enrollment's new values; None when it does not change."""
    touch: TouchState | None = None
    """The touch's new state; None when it does not change."""
    touch_error: str | None = None
    release_claim: bool = False
    """Give the claim back: a touch this claim created goes; one that was waiting keeps waiting."""
    reclaim: bool = False
    """Nothing of the lapsed claim reached SMTP: the step is simply claimed again."""
    deferred_to: datetime | None = None
    """The step is not run now but at this instant (the next allowed slot)."""
    uncertain: bool = False
    """The email may have gone out: report it, never send it again."""
    suppress: str | None = None
    """Suppress the lead's address (and the bounced ones) with this reason."""
    decision: NewDecision | None = None
    cancel_open_tasks: bool = False
    response: NewResponse | None = None
    task: NewTask | None = None
    snooze: NewSnooze | None = None
    referral: NewReferral | None = None
    unsnooze: bool = False
    """The lead answered again while snoozed: the snooze ends, nothing re-enrolls it (its owner has the answer)."""
    account: AccountNews | None = None
    """What the lead's colleagues (same account) are told: the shell hands it to each as an event."""
    note: str = ""
    """Why, in a few words: for the timeline and the reports."""

    @property
    def lead_status(self) -> str | None:
        """The lead's new status: its enrollment's new state, else ``decided`` with a decision (no_response
        leaves the lead ``completed``)."""
        if self.enrollment is not None:
            return self.enrollment.state.value
        return State.DECIDED.value if self.decision is not None else None
