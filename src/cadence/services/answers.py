"""Qualifying answers: captured at every conversation, kept per lead with who gave them and when.

The lead's latest answer to each question counts (:func:`known_answers`); the meeting gate checks
the union of all of them (:func:`gate_answers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, QualifyingAnswer
from cadence.core.questions import DEFAULT_QUESTIONS, Question, missing
from cadence.services.context import QUESTIONS


def configured_questions(session: Session) -> tuple[Question, ...]:
    """The qualifying questions of the context ``session`` belongs to (seed 001's seven outside one)."""
    source = session.info.get(QUESTIONS)
    questions: tuple[Question, ...] = source() if callable(source) else DEFAULT_QUESTIONS
    return questions


def record_answers(
    session: Session,
    lead: Lead,
    answers: Mapping[str, str],
    *,
    at: datetime,
    by: str | None = None,
    task_id: int | None = None,
) -> int:
    """Store ``answers`` (validated: :func:`cadence.core.questions.validate_partial`) for ``lead``; how many."""
    for key, text in answers.items():
        session.add(
            QualifyingAnswer(
                lead_id=lead.id, question=key, answer=text, answered_by=by, task_id=task_id, answered_at=at
            )
        )
    session.flush()
    return len(answers)


def answer_rows(session: Session, lead_id: int) -> dict[str, QualifyingAnswer]:
    """The lead's latest answer row to each question, by question key."""
    rows = session.scalars(
        select(QualifyingAnswer)
        .where(QualifyingAnswer.lead_id == lead_id)
        .order_by(QualifyingAnswer.answered_at, QualifyingAnswer.id)
    )
    return {row.question: row for row in rows}


def known_answers(session: Session, lead_id: int) -> dict[str, str]:
    """The lead's latest answer to each question, by question key."""
    return {key: row.answer for key, row in answer_rows(session, lead_id).items()}


def gate_answers(
    session: Session, lead: Lead, given: Mapping[str, str] | None, questions: tuple[Question, ...]
) -> tuple[dict[str, str], list[Question]]:
    """The union of the lead's stored answers and ``given`` (given wins), and the questions still unanswered."""
    union = {k: v for k, v in known_answers(session, lead.id).items() if k in {q.key for q in questions}}
    union.update({k: v for k, v in (given or {}).items() if str(v or "").strip()})
    return union, missing(questions, union)
