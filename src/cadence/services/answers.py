"""Qualifying answers: captured at every conversation, kept per lead with who gave them and when.

The lead's latest answer to each question counts (:func:`known_answers`); the meeting gate checks
the union of all of them (:func:`gate_answers`). An answer to a question that ``points_at`` a buying
role may name a contact of the lead's account (``@lead:EMAIL``): it is stored as a link to that
contact with their name as the answer, and the contact gets the role when it has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cadence.adapters.models import Lead, QualifyingAnswer
from cadence.core.questions import DEFAULT_QUESTIONS, Question, missing, pointed_address
from cadence.errors import ValidationError
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
    """Store ``answers`` (validated: :func:`cadence.core.questions.validate_partial`) for ``lead``; how many.

    An answer ``@lead:EMAIL`` to a question that points at a buying role names a contact of the lead's
    account (:func:`pointed_contact`): stored as a link with the contact's name, who gets the role if
    it has none. Raises :class:`ValidationError` when the address is no contact of the account.
    """
    points_at = {q.key: q.points_at for q in configured_questions(session)}
    rows: list[QualifyingAnswer] = []
    for key, text in answers.items():
        contact = pointed_contact(session, lead, key, text, points_at.get(key))
        if contact is not None and contact.buying_role is None:
            contact.buying_role = points_at[key]
        rows.append(
            QualifyingAnswer(
                lead_id=lead.id,
                question=key,
                answer=contact_name(contact) if contact is not None else text,
                answered_by=by,
                task_id=task_id,
                answered_at=at,
                contact_id=contact.id if contact is not None else None,
            )
        )
    session.add_all(rows)
    session.flush()
    return len(answers)


def contact_name(contact: Lead) -> str:
    """How an answer shows a contact: the name and the address or phone (without a name: the address or ``#ID``)."""
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    reach = contact.email or contact.phone
    if not name:
        return contact.reference
    return f"{name} ({reach})" if reach else name


def pointed_contact(session: Session, lead: Lead, key: str, text: str, points_at: str | None) -> Lead | None:
    """The contact the answer ``text`` to question ``key`` names (``@lead:EMAIL``), else ``None`` (plain text).

    The contact is the lead itself or a lead of the same account; anything else is a
    :class:`ValidationError` naming the reason.
    """
    address = pointed_address(text)
    if address is None:
        return None
    if points_at is None:
        raise ValidationError(
            f"the answer to {key} is text: only a question about who decides or approves names a contact"
        )
    if not address:
        raise ValidationError(f"the answer to {key} names no contact: write @lead: and the contact's address")
    contact = _find(session, address)
    if contact is None:
        raise ValidationError(f"{address} is not a contact yet: add them as a colleague first, then name them")
    if contact.id != lead.id and (lead.account_id is None or contact.account_id != lead.account_id):
        raise ValidationError(f"{contact.reference} works at another account than {lead.reference}: name a colleague")
    return contact


def _find(session: Session, ref: str) -> Lead | None:
    from cadence.services.enrollments import find_lead  # enrollments records answers: imported when used

    return find_lead(session, ref)


def account_contacts(session: Session, lead: Lead) -> list[tuple[str, str]]:
    """The contacts an answer about who decides or approves can name: (``@lead:EMAIL`` or ``@lead:#ID``, their name)."""
    if lead.account_id is None:
        return [(f"@lead:{lead.reference}", contact_name(lead))]
    others = session.scalars(
        select(Lead).where(Lead.account_id == lead.account_id, Lead.id != lead.id).order_by(Lead.id).limit(200)
    )
    return [(f"@lead:{c.reference}", contact_name(c)) for c in (lead, *others)]


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
    """The union of the lead's stored answers and ``given`` (given wins), and the questions still unanswered.

    An answer of ``given`` naming a contact (``@lead:EMAIL``) is their name in the union (:func:`named`).
    """
    union = {k: v for k, v in known_answers(session, lead.id).items() if k in {q.key for q in questions}}
    union.update({k: named(session, v) for k, v in (given or {}).items() if str(v or "").strip()})
    return union, missing(questions, union)


def named(session: Session, text: str) -> str:
    """``text``, or for ``@lead:EMAIL`` naming a lead, that lead's name: how a decision keeps the answer."""
    address = pointed_address(text)
    try:
        contact = _find(session, address) if address else None
    except ValidationError:  # refused, with its reason, when the answer is recorded
        return text
    return contact_name(contact) if contact is not None else text
