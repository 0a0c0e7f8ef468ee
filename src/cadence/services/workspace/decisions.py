"""Decisions as a person records them in the workspace: the choices, and the checks on what a form gave."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from cadence.core.decisions import NEEDS_QUALIFICATION, QUALIFYING_QUESTIONS, Outcome
from cadence.core.questions import DEFAULT_QUESTIONS, Question, validate_partial
from cadence.errors import ValidationError

MANUAL_OUTCOMES: tuple[Outcome, ...] = (
    Outcome.MEETING_BOOKED,
    Outcome.QUALIFIED_HANDOFF,
    Outcome.NOT_INTERESTED,
    Outcome.BAD_FIT,
    Outcome.WRONG_CONTACT,
    Outcome.PASSED_BACK,
    Outcome.QUALIFIED,
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
    "qualified": "Qualified again: back to its owner",
}

QUESTIONS = QUALIFYING_QUESTIONS
REASON_CHARS = 5000


@dataclass(frozen=True)
class DecisionForm:
    """A decision as typed, unchecked: the outcome chosen ("" for none), the reason, the answers, the skip box."""

    decision: str = ""
    reason: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    skip_qualification: bool = False


@dataclass(frozen=True)
class DecisionInput:
    """A decision as a form gave it, checked."""

    outcome: Outcome
    reason: str
    answers: dict[str, str] | None
    qualification_skipped: bool


def check_decision(
    given: DecisionForm,
    known: Mapping[str, str] | None = None,
    questions: tuple[Question, ...] = DEFAULT_QUESTIONS,
    *,
    skip_hint: str = "tick “Skip the qualifying questions”",
) -> DecisionInput | None:
    """The decision ``given`` stands for, checked; None when none was chosen.

    A meeting or a hand-off needs every qualifying question answered, in the form or at an earlier
    conversation (``known``: the lead's answers so far), or the skip box (which is recorded); the
    answers typed are kept. For other outcomes the answers are not kept. ``skip_hint`` says how to
    skip in the refusal (the API names its field).
    """
    chosen = given.decision.strip()
    if not chosen:
        return None
    if chosen not in DECISION_LABELS:
        raise ValidationError("Choose one of the decisions in the list.")
    outcome = Outcome(chosen)
    reason = given.reason.strip()
    if not reason:
        raise ValidationError("Give the reason for the decision: it is the point of the record.")
    if len(reason) > REASON_CHARS:
        raise ValidationError(f"The reason is longer than {REASON_CHARS} characters.")
    if outcome not in NEEDS_QUALIFICATION:
        return DecisionInput(outcome, reason, None, False)
    typed = validate_partial({k: v for k, v in given.answers.items() if v.strip()}, questions)
    union = {**(known or {}), **typed}
    if not any(union.get(q.key) for q in questions):
        if given.skip_qualification:
            return DecisionInput(outcome, reason, None, True)
        raise ValidationError(
            f"{DECISION_LABELS[outcome.value]} needs the answers to the qualifying questions "
            f"(or {skip_hint}, which is recorded)."
        )
    if given.skip_qualification and not typed:
        return DecisionInput(outcome, reason, None, True)
    missing = [q.text for q in questions if not union.get(q.key)]
    if missing:
        raise ValidationError("Answer every qualifying question; missing: " + " ".join(missing))
    return DecisionInput(outcome, reason, typed or None, False)


def parse_day(value: str, what: str) -> date | None:
    """A day as a date field gives it (``2026-12-01``), None when empty; ``what`` names it in the error."""
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{what} must be a date such as 2026-12-01.") from None
