"""Reading the workspace's forms: task outcomes and decisions (with the qualifying questions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cadence.core.decisions import NEEDS_QUALIFICATION, QUALIFYING_QUESTIONS, Outcome, validate_answers
from cadence.errors import ValidationError
from cadence.services.tasks import OUTCOMES

OUTCOME_LABELS: dict[str, str] = {
    "connected": "Connected",
    "voicemail": "Voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
    "sent": "Sent",
    "accepted": "Accepted",
    "done": "Done",
    "answered": "Answered",
    "skipped": "Skip",
}
"""The buttons' words for each task outcome."""

_ORDER = ("connected", "voicemail", "no_answer", "wrong_number", "sent", "accepted", "answered", "done")

MANUAL_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.MEETING_BOOKED,
    Outcome.QUALIFIED_HANDOFF,
    Outcome.NOT_INTERESTED,
    Outcome.BAD_FIT,
    Outcome.WRONG_CONTACT,
    Outcome.PASSED_BACK,
)
"""The decisions a person records in the workspace. ``no_response`` is the cadence's own; an unsubscribe
or a bounce goes through suppression (the unsubscribe link, ``cadence suppress add``), not through a form."""

DECISION_LABELS: dict[str, str] = {
    "meeting_booked": "Meeting booked",
    "qualified_handoff": "Qualified hand-off to sales",
    "not_interested": "Not interested",
    "bad_fit": "Bad fit",
    "wrong_contact": "Wrong contact",
    "passed_back": "Passed back to lead generation",
}

QUESTIONS = QUALIFYING_QUESTIONS
ANSWER_PREFIX = "answer_"


def task_outcomes(channel: str) -> list[tuple[str, str]]:
    """The outcomes of a task on ``channel`` as (value, label), in button order, ``skipped`` last."""
    values = sorted(OUTCOMES.get(channel, frozenset({"done"})), key=lambda v: _ORDER.index(v) if v in _ORDER else 99)
    return [(value, OUTCOME_LABELS.get(value, value.replace("_", " ").capitalize())) for value in values] + [
        ("skipped", OUTCOME_LABELS["skipped"])
    ]


@dataclass(frozen=True)
class DecisionInput:
    """A decision as a form gave it, checked."""

    outcome: Outcome
    reason: str
    answers: dict[str, str] | None
    qualification_skipped: bool


def parse_decision(form: dict[str, str]) -> DecisionInput | None:
    """The decision of the form's ``decision`` field and its companions, None when none was chosen.

    A meeting or a hand-off needs all seven qualifying answers, or the ``skip_qualification`` box
    (which is recorded); for other outcomes the answers are not kept.
    """
    chosen = form.get("decision", "").strip()
    if not chosen:
        return None
    if chosen not in DECISION_LABELS:
        raise ValidationError("Choose one of the decisions in the list.")
    outcome = Outcome(chosen)
    reason = form.get("reason", "").strip()
    if not reason:
        raise ValidationError("Give the reason for the decision: it is the point of the record.")
    if len(reason) > 5000:
        raise ValidationError("The reason is longer than 5000 characters.")
    if outcome not in NEEDS_QUALIFICATION:
        return DecisionInput(outcome, reason, None, False)
    given = {key: form.get(ANSWER_PREFIX + key, "").strip() for key, _ in QUESTIONS}
    skipped = form.get("skip_qualification") == "yes"
    if not any(given.values()):
        if skipped:
            return DecisionInput(outcome, reason, None, True)
        raise ValidationError(
            f"{DECISION_LABELS[outcome.value]} needs the answers to the qualifying questions "
            "(or tick “Skip the qualifying questions”, which is recorded)."
        )
    missing = [question for key, question in QUESTIONS if not given[key]]
    if missing:
        raise ValidationError("Answer every qualifying question; missing: " + " ".join(missing))
    return DecisionInput(outcome, reason, validate_answers(given), False)


def parse_date(value: str, what: str) -> date | None:
    """A date from a form's ``<input type="date">`` (``2026-12-01``), None when empty."""
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{what} must be a date such as 2026-12-01.") from None
