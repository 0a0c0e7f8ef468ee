"""Dates in a message: its ``Date`` header, and the return date an out-of-office message names."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime

from cadence.core.inbound.message import SPACES, header

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"""
    (?:(?P<wd>{_WEEKDAY})\.?,?\s+(?:the\s+)?)?
    (?:
        (?P<m1>{_MONTH})\.?\s+(?P<d1>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y1>\d{{4}})\b)?
      | (?:the\s+)?(?P<d2>\d{{1,2}}){_ORD}\.?(?:\s+of)?\s+(?P<m2>{_MONTH})\b\.?(?:,?\s+(?P<y2>\d{{4}})\b)?
      | (?<![\d/.-])(?P<y3>\d{{4}})-(?P<m3>\d{{1,2}})-(?P<d3>\d{{1,2}})(?![\d])
      | (?<![\d/.:-])(?P<a4>\d{{1,2}})(?P<sep>[/.])(?P<b4>\d{{1,2}})
        (?:(?P=sep)(?P<y4>\d{{4}}|\d{{2}})(?![\d/]|\.\d)|(?P<dot>\.)|(?![\d/.:]))
      | (?P<tomorrow>tomorrow)\b
    )
    """,
    re.I | re.X,
)
_WEEKDAY_ALONE = re.compile(rf"\b(?P<wd>{_WEEKDAY})\b\.?(?!\s*,?\s*(?:the\s+)?\d)(?!,?\s+{_MONTH}\b)", re.I)
_RETURN_CUE = re.compile(
    r"\b(back|return(?:ing|s)?|available(?:\s+again)?|reachable(?:\s+again)?|in\s+the\s+office(?:\s+again)?|"
    r"resume|resuming)\b(?:\s+(?:in|to|at|into)\s+(?:the\s+|my\s+)?(?:office|work|desk))?"
    r"(?:\s+(?:again|full[- ]time))?(?:\s+(?:on|by|from|after|as\s+of|starting))?\s*[,:]?\s*$",
    re.I,
)
_UNTIL_CUE = re.compile(
    r"\b(until|till|til|untill|up\s+to|up\s+until)\b(?:\s+(?:and\s+including|on))?\s*[,:]?\s*$", re.I
)
_THROUGH_CUE = re.compile(r"\b(through|thru|to\s+and\s+including)\s*[,:]?\s*$", re.I)
_RANGE_JOIN = re.compile(r"^\s*(?:-|–|—|to|until|till|through|thru)\s*$", re.I)

_RANK = {"return": 0, "until": 1, "through": 2}


def _resolve_year(month: int, day: int, today: date, weekday: int | None) -> date | None:
    candidates: list[date] = []
    for year in (today.year, today.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    if weekday is not None:
        matching = [c for c in candidates if c.weekday() == weekday]
        if len(matching) == 1:
            return matching[0]
    this_year = candidates[0]
    if this_year.year == today.year and this_year >= today:
        return this_year
    rolled = next((c for c in candidates if c.year == today.year + 1), None)
    # A date earlier this year rolls to next year only if that is within half a year: a message read a
    # few days late that says "back on December 5" means the December 5 just past, not next year's.
    if rolled is not None and (rolled - today).days <= 183:
        return rolled
    return this_year


def _full_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _mentioned_date(match: re.Match[str], today: date) -> date | None:
    """The date one :data:`_DATE` match names, with the year inferred from ``today`` when missing."""
    groups = match.groupdict()
    weekday = _WEEKDAYS[groups["wd"][:3].lower()] if groups.get("wd") else None
    if groups.get("tomorrow"):
        return today + timedelta(days=1)
    month_name = groups.get("m1") or groups.get("m2")
    if month_name:
        month = _MONTHS[month_name[:3].lower()]
        day = int(groups.get("d1") or groups.get("d2") or 0)
        year_text = groups.get("y1") or groups.get("y2")
        if year_text:
            return _full_date(int(year_text), month, day)
        return _resolve_year(month, day, today, weekday)
    if groups.get("y3"):
        return _full_date(int(groups["y3"]), int(groups["m3"]), int(groups["d3"]))
    if groups.get("a4"):
        first, second = int(groups["a4"]), int(groups["b4"])
        year_text = groups.get("y4")
        if groups.get("sep") == "." and not year_text and not groups.get("dot"):
            return None  # "10.30" is a time more often than a date
        readings = [(second, first)] if groups.get("sep") == "." else [(first, second), (second, first)]
        options: list[date] = []
        for month, day in readings:
            if not (1 <= month <= 12):
                continue
            if year_text:
                year = int(year_text) + (2000 if len(year_text) == 2 else 0)
                found = _full_date(year, month, day)
            else:
                found = _resolve_year(month, day, today, weekday)
            if found is not None and found not in options:
                options.append(found)
        upcoming = sorted(o for o in options if o >= today)
        if upcoming:
            return upcoming[0]  # 12/05 read on November 30 is December 5, not May 12
        return options[0] if options else None
    return None


def _next_weekday(today: date, weekday: int) -> date:
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


def _cue(before: str) -> str | None:
    if _RETURN_CUE.search(before):
        return "return"
    if _UNTIL_CUE.search(before):
        return "until"
    if _THROUGH_CUE.search(before):
        return "through"
    return None


def return_date(text: str, *, now: datetime) -> date | None:
    """When an out-of-office message says its sender is back, or None when it does not say.

    Reads common English wording: "until December 5", "back on Monday 7 December", "until 12/05/2026",
    "until 2026-12-05", "returning 5 Dec", "out through Friday, Dec 4" (back the day after), "back on
    Monday". A date without a year is taken in ``now``'s year, or the next one when it has passed
    (within half a year). Dates more than a month past or a year ahead are not believed.
    """
    today = now.date()
    text = SPACES.sub(" ", text[:5000])
    found: list[tuple[int, int, date]] = []  # (rank, position, date)
    previous_end = -1
    previous_rank: str | None = None
    for match in _DATE.finditer(text):
        start = match.start()
        before = text[max(0, start - 80) : start]
        cue = _cue(before)
        if cue is None and previous_end >= 0 and _RANGE_JOIN.match(text[previous_end:start]):
            cue = "through" if previous_rank is None or previous_rank == "through" else previous_rank
            joiner = text[previous_end:start].strip().lower()
            if joiner in ("until", "till"):
                cue = "until"
        previous_end = match.end()
        previous_rank = cue
        if cue is None:
            continue
        day = _mentioned_date(match, today)
        if day is None:
            continue
        if cue == "through":
            day += timedelta(days=1)
        found.append((_RANK[cue], start, day))
    for match in _WEEKDAY_ALONE.finditer(text):
        before = text[max(0, match.start() - 80) : match.start()]
        cue = _cue(before)
        if cue is None:
            continue
        day = _next_weekday(today, _WEEKDAYS[match.group("wd")[:3].lower()])
        if cue == "through":
            day += timedelta(days=1)
        found.append((_RANK[cue], match.start(), day))
    for _rank, _position, day in sorted(found):
        if today - timedelta(days=31) <= day <= today + timedelta(days=366):
            return day
    return None


def sent_at(message: Message) -> datetime | None:
    """The message's ``Date`` as an aware datetime, or None when it is missing or unreadable."""
    value = header(message, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
