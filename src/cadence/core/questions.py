"""The qualifying questions (seed 001): configuration ops edit, and the answers a lead has given (pure).

They live in ``templates/questions.yaml``; :func:`parse_questions` validates it, naming the line
and the reason of each fault. A question with ``points_at`` (a buying role: ``decision_maker``,
``approver``) is answered by naming a contact of the lead's account, ``@lead:EMAIL``
(:func:`pointed_address`); the contact gets that role when it has none. Without the file, the seven
questions of seed 001 apply (:data:`DEFAULT_QUESTIONS`). A meeting is handed to sales only when
every question is answered, across every conversation (:func:`missing`), or when skipping them is
recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cadence.core.accounts import Role
from cadence.core.decisions import QUALIFYING_QUESTIONS
from cadence.errors import ConfigurationError, ValidationError, shown, shown_keys

MAX_QUESTIONS = 30
MAX_QUESTION = 300
MAX_ANSWER = 2000
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Question:
    """One qualifying question: its key (how answers name it) and its text (what the rep asks)."""

    key: str
    text: str
    points_at: str | None = None
    """A buying role (:class:`cadence.core.accounts.Role`): the answer may name a contact, who gets the role."""


DEFAULT_POINTS_AT = {"decides": Role.DECISION_MAKER.value, "approves": Role.APPROVER.value}
"""Seed 001's "who decides" and "who approves": answered by naming a contact of the account."""
DEFAULT_QUESTIONS: tuple[Question, ...] = tuple(
    Question(key, text, DEFAULT_POINTS_AT.get(key)) for key, text in QUALIFYING_QUESTIONS
)
"""Seed 001's seven, shipped in ``templates/questions.yaml`` and used when that file is absent."""
POINTER = "@lead:"
"""How an answer names a contact: ``@lead:EMAIL``."""


def pointed_address(answer: str) -> str | None:
    """The address an answer ``@lead:EMAIL`` names (stripped), else ``None`` (a plain text answer)."""
    text = answer.strip()
    if not text.lower().startswith(POINTER):
        return None
    return text[len(POINTER) :].strip()


def pairs(questions: tuple[Question, ...]) -> tuple[tuple[str, str], ...]:
    """The questions as (key, text) pairs, the shape events and templates take."""
    return tuple((q.key, q.text) for q in questions)


def _where(raw: Any, fallback: str) -> str:
    return f"line {raw['__line__']}" if isinstance(raw, dict) and raw.get("__line__") else fallback


def parse_questions(data: Any) -> tuple[Question, ...]:
    """The questions of ``questions.yaml`` (parsed YAML), or a :class:`ConfigurationError` naming the line.

    ``None`` (an empty file) gives :data:`DEFAULT_QUESTIONS`.
    """
    if data is None:
        return DEFAULT_QUESTIONS
    if not isinstance(data, dict):
        raise ConfigurationError("questions.yaml must be a mapping with a list under 'questions'")
    unknown = set(data) - {"questions", "__line__"}
    if unknown:
        raise ConfigurationError(f"{_where(data, 'top level')}: unknown key(s) {shown_keys(unknown)}")
    items = data.get("questions")
    if not isinstance(items, list) or not items:
        raise ConfigurationError(f"{_where(data, 'top level')}: 'questions' must be a non-empty list")
    if len(items) > MAX_QUESTIONS:
        raise ConfigurationError(f"at most {MAX_QUESTIONS} qualifying questions, not {len(items)}")
    questions: list[Question] = []
    seen: set[str] = set()
    for number, item in enumerate(items, 1):
        where = _where(item, f"question {number}")
        if not isinstance(item, dict):
            raise ConfigurationError(f"{where}: each question is a mapping with 'key' and 'question'")
        extra = set(item) - {"key", "question", "points_at", "__line__"}
        if extra:
            raise ConfigurationError(
                f"{where}: unknown key(s) {shown_keys(extra)}; a question has key, question and maybe points_at"
            )
        key, text = item.get("key"), item.get("question")
        if not isinstance(key, str) or not _KEY.match(key):
            raise ConfigurationError(
                f"{where}: key {shown(key)} must be lower-case letters, digits and _ (at most 63, a letter first)"
            )
        if key in seen:
            raise ConfigurationError(f"{where}: the key {key} is used by an earlier question")
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError(f"{where}: question {key} has no text")
        if len(text.strip()) > MAX_QUESTION:
            raise ConfigurationError(f"{where}: question {key} is longer than {MAX_QUESTION} characters")
        points_at = item.get("points_at")
        roles = {r.value for r in Role}
        if points_at is not None and points_at not in roles:
            raise ConfigurationError(
                f"{where}: points_at of {key} is {shown(points_at)}; it is one of {', '.join(sorted(roles))}"
            )
        seen.add(key)
        questions.append(Question(key, " ".join(text.split()), points_at))
    return tuple(questions)


def parse_answer_items(items: list[str], questions: tuple[Question, ...]) -> dict[str, str]:
    """``KEY=VALUE`` texts (as typed at the command line) as answers, or a :class:`ValidationError`."""
    given: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(f"{shown(item)} is not KEY=VALUE (for example committed=yes)")
        given[key.strip()] = value
    return validate_partial(given, questions)


def validate_partial(given: Mapping[str, Any], questions: tuple[Question, ...]) -> dict[str, str]:
    """Some answers: known keys, text of at most :data:`MAX_ANSWER` characters; blank ones are left out."""
    known = {q.key for q in questions}
    unknown = [k for k in given if k != "__line__" and k not in known]
    if unknown:
        raise ValidationError(
            f"unknown question key(s): {shown_keys(unknown)}; the questions are {', '.join(q.key for q in questions)}"
        )
    answers: dict[str, str] = {}
    for key, value in given.items():
        if key == "__line__" or value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"answer {key} must be text")
        text = " ".join(value.split()) if isinstance(value, str) else shown(value)
        if len(text) > MAX_ANSWER:
            raise ValidationError(f"answer {key} is longer than {MAX_ANSWER} characters")
        if text:
            answers[key] = text
    return answers


def missing(questions: tuple[Question, ...], answers: Mapping[str, str]) -> list[Question]:
    """The questions ``answers`` leave unanswered, in the configured order."""
    return [q for q in questions if not str(answers.get(q.key) or "").strip()]
