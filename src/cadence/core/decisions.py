"""Decisions: how a lead's cadence ends, and why (pure)."""

from __future__ import annotations

from enum import StrEnum

from cadence.errors import ValidationError, shown, shown_keys


class Outcome(StrEnum):
    """The final decision on a lead (seeds 000, 002, 003)."""

    MEETING_BOOKED = "meeting_booked"
    QUALIFIED_HANDOFF = "qualified_handoff"
    NOT_INTERESTED = "not_interested"
    BAD_FIT = "bad_fit"
    NO_RESPONSE = "no_response"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    WRONG_CONTACT = "wrong_contact"
    PASSED_BACK = "passed_back"
    QUALIFIED = "qualified"
    """A passed-back lead is ready again: it returns from lead development to its owner."""
    COLLEAGUE_ENGAGED = "colleague_engaged"
    """Stopped because a colleague at the same account answered: the account is worked through them."""


QUALIFYING_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("committed", "Are they committed to finding a solution?"),
    ("requirement", "What is the requirement?"),
    ("desired_solution", "What is their desired solution?"),
    ("decides", "Who decides that a solution has been found?"),
    ("approves", "Who approves the purchase?"),
    ("expectations", "What are their expectations?"),
    ("fit", "Do we have a solution for them?"),
)
"""Seed 001's qualifying questions, answered before a meeting is handed to sales: (key, question)."""

NEEDS_QUALIFICATION: frozenset[Outcome] = frozenset({Outcome.MEETING_BOOKED, Outcome.QUALIFIED_HANDOFF})


def parse_outcome(value: str) -> Outcome:
    """The :class:`Outcome` named ``value``, or a :class:`ValidationError` listing the choices."""
    try:
        return Outcome(value.strip().lower().replace("-", "_"))
    except ValueError:
        choices = ", ".join(o.value for o in Outcome)
        raise ValidationError(f"unknown outcome {shown(value)}; choose one of {choices}") from None


def validate_answers(data: object) -> dict[str, str]:
    """The seven qualifying answers from plain data (a YAML mapping), or a :class:`ValidationError`.

    Keys are those of :data:`QUALIFYING_QUESTIONS`; every answer is non-empty text.
    """
    if not isinstance(data, dict):
        raise ValidationError("the answers must be a mapping of question keys to answers")
    known = {key for key, _ in QUALIFYING_QUESTIONS}
    unknown = [k for k in data if k != "__line__" and k not in known]
    if unknown:
        raise ValidationError(f"unknown question key(s): {shown_keys(unknown)}; expected {', '.join(sorted(known))}")
    answers: dict[str, str] = {}
    missing: list[str] = []
    for key, _question in QUALIFYING_QUESTIONS:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(key)
            continue
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"answer {key} must be text")
        text = value.strip() if isinstance(value, str) else shown(value)
        if len(text) > 2000:
            raise ValidationError(f"answer {key} is longer than 2000 characters")
        answers[key] = text
    if missing:
        raise ValidationError(f"unanswered qualifying question(s): {', '.join(missing)}")
    return answers


def require_qualification(
    outcome: Outcome,
    answers: dict[str, str] | None,
    skipped: bool,
    questions: tuple[tuple[str, str], ...] = (),
) -> None:
    """A meeting or hand-off needs the qualifying answers (seed 001), unless skipping is recorded.

    With ``questions`` (key, text), every one of them needs an answer: those given with the decision
    and those the lead gave at earlier conversations (the shell passes their union).
    """
    if outcome not in NEEDS_QUALIFICATION or skipped:
        return
    if not answers:
        raise ValidationError(
            f"{outcome.value} needs the answers to the qualifying questions: "
            "give them (--answers FILE.yaml, or answer the prompts) or record --skip-qualification"
        )
    unanswered = [text for key, text in questions if not str(answers.get(key) or "").strip()]
    if unanswered:
        raise ValidationError("Answer every qualifying question; missing: " + " ".join(unanswered))
