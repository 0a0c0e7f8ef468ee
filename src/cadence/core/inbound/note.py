"""A message's own words (quoted text, forwarded blocks and the signature cut off) and the note kept."""

from __future__ import annotations

import re

from cadence.core.inbound.kinds import NOTE_LIMIT
from cadence.core.inbound.message import SPACES

# Where the message's own words end: the quoted message, a forwarded block, the signature.
_QUOTE_STARTS = [
    re.compile(p, re.I)
    for p in (
        r"^\s*>",
        r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|forwarded message)",
        r"^\s*_{8,}\s*$",
        r"^\s*(from|von|de|sent|gesendet|envoyé)\s*:\s*\S",
        r"^\s*on\b.{0,300}\bwrote\s*:\s*$",
        r"^\s*le\b.{0,300}\ba écrit\s*:\s*$",
        r"^\s*am\b.{0,300}\bschrieb\b.{0,200}:\s*$",
        r"^\s*-- ?$",
        r"^\s*sent from my \w+",
        r"^\s*get outlook for \w+",
    )
]
_WROTE_END = re.compile(r"\b(wrote|a écrit|schrieb)\b[^:\n]{0,200}:\s*$", re.I)
_BLANKS = re.compile(r"\n{3,}")


def own_text(text: str) -> str:
    """``text`` up to where quoted text, a forwarded message or the signature starts."""
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines[:2000]):
        if any(p.search(line) for p in _QUOTE_STARTS):
            break
        # "On Mon, Dec 7, 2026 at 9:00 AM Rita Alvarez <rita@cadence.example>" + "wrote:" on the next line
        if re.match(r"^\s*(on|le|am)\b", line, re.I) and any(
            _WROTE_END.search(following) for following in lines[index + 1 : index + 3]
        ):
            break
        kept.append(SPACES.sub(" ", line).strip())
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def make_note(text: str, limit: int = NOTE_LIMIT) -> str | None:
    """At most ``limit`` characters of ``text``, cut at a word, with an ellipsis when cut."""
    text = text.strip()
    if not text:
        return None
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
