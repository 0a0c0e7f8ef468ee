"""Automatic replies: RFC 3834 ``Auto-Submitted``, the ``X-Autoreply`` family, ``Precedence`` and wording."""

from __future__ import annotations

import re
from email.message import Message

from cadence.core.inbound.message import header

_AUTO_LABEL = (
    r"auto(matic)?[- ]?(reply|response|antwort)|auto|autoreply|out of (the )?office( auto[- ]?reply)?|ooo|"
    r"abwesenheitsnotiz|abwesend|automatische antwort|r[ée]ponse automatique|absence|absent|"
    r"respuesta autom[áa]tica|risposta automatica|resposta autom[áa]tica|afwezig|automatisch antwoord|"
    r"(i am|i'm) (out of (the )?office|away)|away from (the )?office|vacation (reply|response)|"
    r"on (vacation|leave|holiday)"
)
_UNTIL = r"(until|till|through|bis|jusqu'?(au|à)|hasta|fino al?)\s[^,;?!]*$"
# A label, not the start of a sentence: the label alone (or followed by "until <a date>"), followed by ':'
# or a dash and the original subject, or in brackets. "Absence of a budget..." and "On vacation next week,
# but let's meet" are people writing.
_AUTO_SUBJECT = re.compile(
    rf"^\s*(\[\s*({_AUTO_LABEL})\s*\]|\(\s*({_AUTO_LABEL})\s*\)|"
    rf"({_AUTO_LABEL})\s*(:|[-\u2013\u2014]\s|[.!]?\s*$|{_UNTIL}))",
    re.I,
)
# What an out-of-office note says, for bulk mail that carries no other mark. Not "I will reply with the
# figures" nor "we will return the contract": people write that in replies their gateway marks as bulk.
_OOO_WORDS = re.compile(
    r"out of (the )?office|on (annual |parental |maternity |paternity |sick )?(leave|vacation|holiday)|"
    r"away from (the office|my desk|my e-?mail)|(limited|no) access to (my )?e-?mail|currently (out|away)|"
    r"will (be back|return) (on|from|after|to (the|my) (office|desk))|automatic reply|auto(matic)?[- ]?reply",
    re.I,
)


def auto_reason(message: Message, subject: str, text: str) -> tuple[str | None, bool]:
    """(why this is an automatic reply, or None; True when it is bulk mail that is not one)."""
    submitted = (header(message, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted[:40]}", False
    for name in ("X-Autoreply", "X-Autorespond", "X-Autorespond-Response"):
        value = header(message, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"{name} header", False
    precedence = (header(message, "Precedence") or "").strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply", False
    if precedence in ("bulk", "junk", "list"):
        if _OOO_WORDS.search(subject) or _OOO_WORDS.search(text[:3000]):
            return f"Precedence: {precedence} with out-of-office wording", False
        return None, True
    if _AUTO_SUBJECT.match(subject):
        return "out-of-office subject", False
    return None, False
