"""Decisions as typed in the workspace: what passes, and the message for what does not."""

from __future__ import annotations

from datetime import date

import pytest

from cadence.core.decisions import QUALIFYING_QUESTIONS, Outcome
from cadence.errors import ValidationError
from cadence.services.workspace.decisions import DecisionForm, DecisionInput, check_decision, parse_day

ALL_ANSWERS = {key: f"answer {n}" for n, (key, _) in enumerate(QUALIFYING_QUESTIONS)}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (DecisionForm(), None),
        (DecisionForm(decision="  "), None),
        (
            DecisionForm("not_interested", " no budget "),
            DecisionInput(Outcome.NOT_INTERESTED, "no budget", None, False),
        ),
        (
            DecisionForm("bad_fit", "too small", answers=ALL_ANSWERS),  # answers are not kept for other outcomes
            DecisionInput(Outcome.BAD_FIT, "too small", None, False),
        ),
        (
            DecisionForm("meeting_booked", "call on Friday", skip_qualification=True),
            DecisionInput(Outcome.MEETING_BOOKED, "call on Friday", None, True),
        ),
    ],
)
def test_a_decision_as_typed_gives_the_decision_to_record(given: DecisionForm, expected: DecisionInput | None) -> None:
    assert check_decision(given) == expected


def test_a_meeting_with_every_answer_keeps_the_answers() -> None:
    chosen = check_decision(DecisionForm("meeting_booked", "call on Friday", answers=ALL_ANSWERS))
    assert chosen is not None
    assert (chosen.outcome, chosen.answers, chosen.qualification_skipped) == (
        Outcome.MEETING_BOOKED,
        ALL_ANSWERS,
        False,
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (DecisionForm("unsubscribed", "by hand"), "Choose one of the decisions in the list."),
        (DecisionForm("no_response", "by hand"), "Choose one of the decisions in the list."),
        (DecisionForm("bad_fit", "   "), "Give the reason for the decision"),
        (DecisionForm("bad_fit", "x" * 5001), "The reason is longer than 5000 characters."),
        (DecisionForm("meeting_booked", "call"), "Meeting booked needs the answers to the qualifying questions"),
        (
            DecisionForm("qualified_handoff", "call", answers={next(iter(ALL_ANSWERS)): "yes"}),
            "Answer every qualifying question; missing:",
        ),
    ],
)
def test_a_decision_that_cannot_be_recorded_says_why(given: DecisionForm, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_decision(given)
    assert str(raised.value).startswith(message)


def test_a_day_is_read_as_a_date_field_gives_it() -> None:
    assert parse_day(" 2026-12-01 ", "The end") == date(2026, 12, 1)
    assert parse_day("  ", "The end") is None
    with pytest.raises(ValidationError, match=r"^The end must be a date such as 2026-12-01\.$"):
        parse_day("1 December", "The end")
