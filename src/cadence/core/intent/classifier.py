"""The intent of one reply: headers first (bounce, automatic reply, unsubscribe), then the sender's own words."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message

from cadence.core.inbound import Inbound, body_text, classify, header, sent_at
from cadence.core.intent.kinds import MAX_EVIDENCE, REVIEW_BELOW, Intent, Reading, Referral
from cadence.core.intent.referral import find_referral
from cadence.core.intent.text import MAX_TEXT, reply_text
from cadence.core.intent.when import back_date, named_date
from cadence.core.intent.words import RULES

__all__ = ["REVIEW_BELOW", "read_message", "read_text"]  # REVIEW_BELOW lives in .kinds, named here as before

MAX_WORDS = 8_000
"""The most characters of a sender's own words that the rules read: an answer is a few lines, and this
bounds the time a hostile message takes (the rules cost about 15 µs a character)."""

_MAX_MATCHES = 200
_EVIDENCE_LENGTH = 160
_WORD_INTENTS: tuple[Intent, ...] = (
    "unsubscribe_request",
    "not_interested",
    "wrong_person",
    "referral",
    "not_now",
    "interested",
    "out_of_office",
)


def read_message(message: Message, *, at: datetime | None = None) -> Reading:
    """What the reply ``message`` says (see :mod:`cadence.core.intent`); never raises.

    Relative dates ("next quarter", "until Friday") are resolved against the message's own ``Date``,
    or ``at`` when it has none (the time it was received); with neither, they stay unknown.
    """
    try:
        return _read_message(message, at=at)
    except Exception as exc:  # defence in depth: what is below is written not to raise
        return Reading(intent="unclear", confidence=0.0, evidence=(f"unreadable message ({type(exc).__name__})",))


def _read_message(message: Message, *, at: datetime | None) -> Reading:
    reference = sent_at(message) or at
    inbound = classify(message, now=reference or datetime(1970, 1, 1, tzinfo=UTC), unsubscribe_addresses=frozenset())
    if inbound.kind == "bounce":
        return Reading(intent="bounce", confidence=0.99, evidence=_evidence_of(inbound))
    body = body_text(message)
    if inbound.kind == "auto_reply":
        own = reply_text(body) or body[:MAX_TEXT]
        words = read_text(own, at=reference, sender=inbound.sender)
        # "I have left the company, please contact ...": only a sender who is gone makes an automatic reply a
        # pointer; "for urgent matters write to support@" is an absence
        gone = any(intent == "wrong_person" for _s, _e, intent, _w in _matches(_normal(own)))
        if gone and words.intent in ("referral", "wrong_person") and words.confidence >= REVIEW_BELOW:
            return Reading(
                intent=words.intent,
                confidence=words.confidence,
                referral=words.referral,
                evidence=(f"automatic reply ({inbound.reason})", *words.evidence)[:MAX_EVIDENCE],
            )
        subject = header(message, "Subject") or ""
        back = back_date(f"{subject}\n{body[:MAX_TEXT]}", now=reference) if reference is not None else None
        return Reading(intent="out_of_office", confidence=0.95, date=back, evidence=_evidence_of(inbound))
    if inbound.kind == "unsubscribe":
        return Reading(intent="unsubscribe_request", confidence=0.95, evidence=_evidence_of(inbound))
    if inbound.kind == "ignored":  # a delay notice, list or bulk mail: its words are nobody's answer
        return Reading(intent="unclear", confidence=0.3, evidence=_evidence_of(inbound))
    return read_text(reply_text(body), at=reference, sender=inbound.sender)


def _evidence_of(inbound: Inbound) -> tuple[str, ...]:
    found = [inbound.reason]
    if inbound.bounce_status:
        found.append(inbound.bounce_status[:_EVIDENCE_LENGTH])
    if inbound.subject:
        found.append(f"Subject: {inbound.subject[:_EVIDENCE_LENGTH]}")
    return tuple(f for f in found if f)[:MAX_EVIDENCE]


def _matches(text: str) -> list[tuple[int, int, Intent, int]]:
    """Every rule's match as (start, end, intent, weight), but where it overlaps an earlier one of another intent.

    Negations come first ("not interested", "kein Interesse an", "no me interesa"), so where two intents'
    words overlap the one that starts first is the one meant.
    """
    found: list[tuple[int, int, Intent, int]] = []
    for intent, weight, pattern in RULES:
        for match in pattern.finditer(text):
            found.append((match.start(), match.end(), intent, weight))
            if len(found) >= _MAX_MATCHES:
                break
    found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    kept: list[tuple[int, int, Intent, int]] = []
    furthest: tuple[int, Intent] | None = None
    for start, end, intent, weight in found:
        if furthest is not None and start < furthest[0] and furthest[1] != intent:
            continue
        kept.append((start, end, intent, weight))
        if furthest is None or end > furthest[0]:
            furthest = (end, intent)
    return kept


def _normal(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text[:MAX_WORDS]).replace("’", "'")


def _line_of(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : line_end if line_end >= 0 else len(text)].strip()
    if len(line) <= _EVIDENCE_LENGTH:
        return line
    middle = (start + end) // 2 - line_start
    half = _EVIDENCE_LENGTH // 2
    return "…" + line[max(0, middle - half) : middle + half].strip() + "…"


def read_text(text: str, *, at: datetime | None, sender: str | None = None) -> Reading:
    """What a reply's own words ``text`` say (quotes and signature already removed, see :func:`reply_text`).

    Each intent's rules add their weight; the rules of precedence then decide (:func:`_decide`):
    words asking to be removed first, then a named time to come back (``not_now``), then a pointer to
    another person (a ``referral`` when it names someone by name, email or phone, else
    ``wrong_person``), then the heaviest intent, ``interested`` on a tie. Whenever words of
    ``interested`` or ``referral`` are present the reply is never ``not_interested`` or
    ``unsubscribe_request``: it is ``unclear``, for a person to read.
    """
    text = _normal(text)
    matches = _matches(text)
    scores: dict[Intent, int] = {}
    evidence: dict[Intent, list[str]] = {}
    for start, end, intent, weight in matches:
        scores[intent] = scores.get(intent, 0) + weight
        line = _line_of(text, start, end)
        if line not in evidence.setdefault(intent, []):
            evidence[intent].append(line)
    today = at.date() if at is not None else None
    named = named_date(text, today=today) if today is not None else None
    ahead = (named[0] - today).days if named is not None and today is not None else None
    intent, confidence = _decide(scores, has_date=named is not None, days_ahead=ahead)
    referral: Referral | None = None
    if intent in ("referral", "wrong_person"):
        referral = find_referral(text, sender=sender)
        if intent == "referral" and referral is None:
            intent = "wrong_person"  # "please talk to our team": nobody named to write to
        if intent != "referral":
            referral = None
    if intent == "unclear" and not scores and text.strip():
        return Reading(intent="unclear", confidence=0.3, evidence=("no rule matched",))
    day = None
    kept = [line for i in (intent, *_WORD_INTENTS) for line in evidence.get(i, [])]
    if intent == "not_now" and named is not None:
        day = named[0]
        kept.insert(1, f"date: {named[1]}")
    elif intent == "out_of_office" and at is not None:
        day = back_date(text, now=at)
    return Reading(
        intent=intent,
        confidence=confidence,
        date=day,
        referral=referral,
        evidence=tuple(dict.fromkeys(kept))[:MAX_EVIDENCE] or (("empty reply",) if not text.strip() else ()),
    )


def _decide(scores: dict[Intent, int], *, has_date: bool, days_ahead: int | None = None) -> tuple[Intent, float]:
    """The intent the scores point to, and how sure that is (see :func:`read_text`).

    A reply whose only sign is a date two weeks or more ahead ("Q3", "after the summer") is ``not_now``,
    not very sure; a nearer date alone ("Tuesday", "next week") is more often a meeting time.
    """
    if not scores:
        far = days_ahead is not None and days_ahead >= 14
        return ("not_now", 0.6) if far else ("unclear", 0.2)
    positive = scores.get("interested", 0) + scores.get("referral", 0)
    pointer = scores.get("referral", 0) + scores.get("wrong_person", 0)
    if scores.get("unsubscribe_request", 0):
        winner: Intent = "unsubscribe_request"  # never snoozed, never passed on: removed, or read by a person
    elif scores.get("not_now", 0) and (has_date or scores["not_now"] >= max(scores.values())):
        winner = "not_now"
    elif pointer and pointer >= scores.get("interested", 0):
        winner = "referral" if scores.get("referral", 0) else "wrong_person"
    else:
        winner = max(scores, key=lambda i: (scores[i], i == "interested"))
    if winner in ("not_interested", "unsubscribe_request") and positive:
        return "unclear", 0.4
    if winner == "out_of_office" and len(scores) > 1:
        others = max(s for i, s in scores.items() if i != "out_of_office")
        if others >= scores["out_of_office"]:
            return "unclear", 0.4
    top = scores[winner] if winner != "referral" else pointer
    rest = sum(s for i, s in scores.items() if i != winner and not (winner == "referral" and i == "wrong_person"))
    if winner == "not_now" and has_date:
        rest = min(rest, 2)
    confidence = 0.55 + 0.12 * min(top, 4) - 0.1 * rest
    return winner, round(max(0.3, min(0.95, confidence)), 2)
