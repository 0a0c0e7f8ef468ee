"""The words a reply's sender wrote: top-posted, bottom-posted or inline, without quotes or signature."""

from __future__ import annotations

import re

from cadence.core.inbound import own_text
from cadence.core.inbound.message import SPACES

MAX_TEXT = 20_000
"""The most characters of a body that are read: a person's answer is far shorter."""

_ATTRIBUTION = re.compile(
    r"^\s*(on|le|am|el|il|op)\b.{0,300}\b(wrote|a écrit|schrieb|escribió|escribio|ha scritto|schreef)\b.{0,200}:?\s*$",
    re.I,
)
_HARD_STOP = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|forwarded message"
    r"|weitergeleitete nachricht|message transféré|mensaje reenviado)|_{8,}\s*$|(from|von|de|sent|gesendet|envoyé"
    r"|enviado)\s*:\s*\S|begin forwarded message|anfang der weitergeleiteten)",
    re.I,
)
_SIGNATURE = re.compile(
    r"^\s*(-- ?|sent from my \w+.*|get outlook for \w+.*|envoyé de mon \w+.*|von meinem \w+ gesendet)$", re.I
)
_SIGN_OFF = re.compile(
    r"^\s*(best|best regards|kind regards|regards|warm regards|many thanks|thanks|thank you|thx|cheers|all the best"
    r"|sincerely|br|mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|beste grüße"
    r"|liebe grüße|grüße|gruß|lg|vg|mfg|danke|cordialement|bien cordialement|bien à vous|bien a vous|salutations"
    r"|merci|bonne journée|saludos|un saludo|saludos cordiales|atentamente|un abrazo|gracias|muchas gracias)"
    r"\s*[,.!]*\s*$",
    re.I,
)


def reply_text(body: str) -> str:
    """The sender's own words in ``body``: above the quote (top-posted) and between or below it (bottom-posted).

    Quoted lines (``>``) and their attribution line are dropped; a forwarded or Outlook-quoted message
    (``From:``/``Von:``/``De:`` headers, "Original Message") ends the text, and so do a signature
    (``-- ``, "Sent from my ...") and a sign-off line ("Best,", "Viele Grüße", "Cordialement",
    "Saludos") once something was said. Linear in the length of ``body``.
    """
    top = own_text(body[:MAX_TEXT])
    lines = body[:MAX_TEXT].replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    quoted_seen = False
    for line in lines[:2000]:
        if line.lstrip().startswith(">"):
            quoted_seen = True
            continue
        if _HARD_STOP.match(line) or _SIGNATURE.match(line):
            break
        if _ATTRIBUTION.match(line):
            continue
        kept.append(SPACES.sub(" ", line).strip())
    words = "\n".join(kept).strip() if quoted_seen else top
    return _before_sign_off(words)


def _before_sign_off(text: str) -> str:
    lines = text.split("\n")
    said = False
    for index, line in enumerate(lines):
        if said and _SIGN_OFF.match(line):
            return "\n".join(lines[:index]).strip()
        if line.strip() and not _SIGN_OFF.match(line):
            said = True
    return text.strip()
