"""Decisions: how a lead's cadence ends, and why (pure)."""

from __future__ import annotations

from enum import StrEnum

from cadence.errors import ValidationError


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
        raise ValidationError(f"unknown outcome {value!r}; choose one of {choices}") from None
