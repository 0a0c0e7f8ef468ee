"""Reading the workspace's forms: the task outcomes' buttons, and a decision's fields as typed.

What a decision must hold (the qualifying questions, which outcomes a person may record) is
checked by :mod:`cadence.services.workspace.decisions`.
"""

from __future__ import annotations

from cadence.services.tasks import OUTCOMES
from cadence.services.workspace.decisions import DECISION_LABELS, MANUAL_OUTCOMES, QUESTIONS, DecisionForm

__all__ = ["DECISION_LABELS", "MANUAL_OUTCOMES", "OUTCOME_LABELS", "QUESTIONS", "decision_form", "task_outcomes"]

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

ANSWER_PREFIX = "answer_"


def task_outcomes(channel: str) -> list[tuple[str, str]]:
    """The outcomes of a task on ``channel`` as (value, label), in button order, ``skipped`` last."""
    values = sorted(OUTCOMES.get(channel, frozenset({"done"})), key=lambda v: _ORDER.index(v) if v in _ORDER else 99)
    return [(value, OUTCOME_LABELS.get(value, value.replace("_", " ").capitalize())) for value in values] + [
        ("skipped", OUTCOME_LABELS["skipped"])
    ]


def decision_form(form: dict[str, str]) -> DecisionForm:
    """The decision fields of a form as typed: ``decision``, ``reason``, ``answer_<key>``, ``skip_qualification``."""
    return DecisionForm(
        decision=form.get("decision", ""),
        reason=form.get("reason", ""),
        answers={k[len(ANSWER_PREFIX) :]: v for k, v in form.items() if k.startswith(ANSWER_PREFIX) and len(k) < 80},
        skip_qualification=form.get("skip_qualification") == "yes",
    )
