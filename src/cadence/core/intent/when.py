"""Dates a reply names, in English, German, French and Spanish, resolved against the message's own date.

:func:`named_date` reads when a ``not_now`` reply asks to be contacted again ("try me in March",
"after the 15th", "next quarter", "in zwei Wochen", "début mars", "el mes que viene");
:func:`back_date` reads when an out-of-office sender is back ("bis zum 14.12.", "jusqu'au
14 décembre", "hasta el 14 de diciembre"), after the English wording of
:func:`cadence.core.inbound.return_date`. Both look at the first 5,000 characters only and return
None when the wording is vague ("nach Ostern", "after the holidays").
"""

from __future__ import annotations

import re
from calendar import monthrange
from datetime import date, datetime, timedelta

from cadence.core.inbound import return_date

_LIMIT = 5_000

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january januar jänner janvier enero",
        "february februar février fevrier febrero",
        "march märz maerz mars marzo",
        "april avril abril",
        "may mai mayo",
        "june juni juin junio",
        "july juli juillet julio",
        "august août aout agosto",
        "september sept septembre septiembre setiembre",
        "october oktober octobre octubre",
        "november novembre noviembre",
        "december dezember décembre decembre diciembre",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number
_MONTH = "(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\b"

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "couple of": 2, "a couple of": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "ein": 1, "eine": 1, "einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "uno": 1, "una": 1, "dos": 2, "tres": 3,
    "cuatro": 4, "cinco": 5, "seis": 6,
}  # fmt: skip
_NUMBER = "(?P<n>" + "|".join(sorted(map(re.escape, _NUMBERS), key=len, reverse=True)) + r"|\d{1,2})"
_UNITS = {
    "day": "d", "days": "d", "tag": "d", "tage": "d", "tagen": "d", "jour": "d", "jours": "d", "día": "d",
    "días": "d", "dia": "d", "dias": "d",
    "week": "w", "weeks": "w", "woche": "w", "wochen": "w", "semaine": "w", "semaines": "w", "semana": "w",
    "semanas": "w",
    "month": "m", "months": "m", "monat": "m", "monate": "m", "monaten": "m", "mois": "m", "mes": "m", "meses": "m",
    "year": "y", "years": "y", "jahr": "y", "jahre": "y", "jahren": "y", "an": "y", "ans": "y", "année": "y",
    "années": "y", "año": "y", "años": "y",
}  # fmt: skip
_UNIT = "(?P<unit>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b"

_PART = {
    "early": 1, "beginning of": 1, "start of": 1, "anfang": 1, "début": 1, "debut": 1, "principios de": 1,
    "inicios de": 1, "mid": 15, "mid-": 15, "middle of": 15, "mitte": 15, "mi-": 15, "mediados de": 15,
    "end of": 25, "late": 25, "ende": 25, "fin": 25, "fin de": 25, "finales de": 25, "final de": 25,
}  # fmt: skip
_PART_RE = "(?P<part>" + "|".join(sorted(map(re.escape, _PART), key=len, reverse=True)) + r")\s*"
_AFTER = (
    r"(?:(?P<after>after|nach|après|apres|después d[eu]l?|despues d[eu]l?)|ab|from|à partir d[eu]|a partir d[eu]l?)"
)

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "day_month",
        re.compile(
            rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s*(?:of\s+|de\s+)?{_MONTH}(?:\s*,?\s*(?P<year>20\d\d))?", re.I
        ),
    ),
    (
        "month_day",
        re.compile(rf"\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?:\s*,?\s*(?P<year>20\d\d))?", re.I),
    ),
    ("iso", re.compile(r"\b(?P<year>20\d\d)-(?P<mon>\d{1,2})-(?P<day>\d{1,2})\b")),
    ("slashed", re.compile(r"(?<![\d/])(?P<day>\d{1,2})/(?P<mon>\d{1,2})/(?P<year>20\d\d)(?![\d/])")),
    ("dotted", re.compile(r"(?<![\d.])(?P<day>\d{1,2})\.(?P<mon>\d{1,2})\.(?P<year>(?:20)?\d\d)?(?![\d])")),
    ("part_month", re.compile(rf"\b{_PART_RE}{_MONTH}", re.I)),
    (
        "after_day",
        re.compile(
            rf"\b{_AFTER}\s+(?P<article>the\s+|dem\s+|le\s+|el\s+)?(?P<day>\d{{1,2}})(?P<suffix>st|nd|rd|th|er|\.)?"
            r"(?!\s*[\d:.])",
            re.I,
        ),
    ),
    ("month", re.compile(rf"(?:\b{_AFTER}\s+|\b(?:in|im|en|until|bis|hasta|jusqu'en|around|by|de)\s+){_MONTH}", re.I)),
    (
        "quarter",
        re.compile(
            r"\b(?:Q(?P<q>[1-4])|(?P<qw>first|second|third|fourth|1st|2nd|3rd|4th) quarter"
            r"|(?P<qd>ersten|zweiten|dritten|vierten|erstes|zweites|drittes|viertes) quartal"
            r"|(?P<qf>premier|deuxième|second|troisième|quatrième) trimestre"
            r"|(?P<qs>primer|segundo|tercer|cuarto) trimestre)\b",
            re.I,
        ),
    ),
    (
        "next",
        re.compile(
            r"\b(?:next (?P<en>week|month|quarter|year)|(?P<de>nächste[nrs]? (?:woche|monat|quartal|jahr))"
            r"|(?P<fr>(?:la semaine|le mois|le trimestre|l'année|l'an) prochaine?)"
            r"|(?P<es>(?:la próxima semana|la semana que viene|el próximo mes|el mes que viene|el próximo trimestre"
            r"|el trimestre que viene|el próximo año|el año que viene)))",
            re.I,
        ),
    ),
    (
        "relative",
        re.compile(
            rf"\b(?:in|dans|en|dentro de)\s+(?:the\s+)?(?:about\s+|around\s+|roughly\s+|etwa\s+|ca\.\s+|environ\s+"
            rf"|unos\s+|unas\s+)?{_NUMBER}\s+{_UNIT}",
            re.I,
        ),
    ),
    (
        "new_year",
        re.compile(
            r"\b(?:(?:in|after) the new year|im neuen jahr|nach (?:dem )?jahreswechsel|anfang (?:des )?nächsten jahres"
            r"|(?:au|en) début d'année|après les fêtes|(?:a|en) principios de(?:l)? año|después de año nuevo"
            r"|early next year)",
            re.I,
        ),
    ),
    (
        "season",
        re.compile(
            r"\b(?:(?P<after>after|nach|après|apres|después del?|despues del?)"
            r"|in|im|en|this|diesen|cet|este|ce|au|à l')"
            r"\s*(?:the |dem |l'|el )?"
            r"(?P<season>summer|sommer|été|verano|autumn|fall|herbst|automne|otoño|spring|frühling|frühjahr|printemps"
            r"|primavera|winter|hiver|invierno)\b",
            re.I,
        ),
    ),
]
_SEASONS = {
    "spring": 3, "frühling": 3, "frühjahr": 3, "printemps": 3, "primavera": 3, "summer": 6, "sommer": 6,
    "été": 6, "verano": 6, "autumn": 9, "fall": 9, "herbst": 9, "automne": 9, "otoño": 9, "winter": 12,
    "hiver": 12, "invierno": 12,
}  # fmt: skip
_QUARTER_WORDS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "ersten": 1,
    "erstes": 1, "zweiten": 2, "zweites": 2, "dritten": 3, "drittes": 3, "vierten": 4, "viertes": 4, "premier": 1,
    "deuxième": 2, "troisième": 3, "quatrième": 4, "primer": 1, "segundo": 2, "tercer": 3, "cuarto": 4,
}  # fmt: skip


def _valid(year: int, month: int, day: int) -> date | None:
    if not (1 <= month <= 12) or not (1 <= day <= monthrange(year, month)[1]):
        return None
    return date(year, month, day)


def _upcoming(month: int, day: int, today: date, *, strictly_later_month: bool = False) -> date | None:
    """The next ``month``/``day`` on or after ``today`` (this year's, else next year's)."""
    for year in (today.year, today.year + 1):
        found = _valid(year, month, min(day, monthrange(year, month)[1]))
        if found is None:
            continue
        if strictly_later_month and (year, month) <= (today.year, today.month):
            continue
        if found >= today or (strictly_later_month and (year, month) > (today.year, today.month)):
            return found
    return None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _quarter_start(today: date, quarter: int) -> date:
    start = date(today.year, 3 * quarter - 2, 1)
    return start if start > today else date(today.year + 1, 3 * quarter - 2, 1)


def _resolve(kind: str, match: re.Match[str], today: date) -> date | None:  # one branch a wording
    groups = {k: (v.lower() if isinstance(v, str) else v) for k, v in match.groupdict().items()}
    if kind in ("day_month", "month_day", "iso", "dotted", "slashed"):
        month = MONTHS[groups["month"]] if groups.get("month") else int(groups["mon"])
        day = int(groups["day"])
        if groups.get("year"):
            year = int(groups["year"])
            return _valid(year + 2000 if year < 100 else year, month, day)
        return _upcoming(month, day, today) if 1 <= month <= 12 and day >= 1 else None
    if kind == "part_month":
        return _upcoming(MONTHS[groups["month"]], _PART[groups["part"]], today, strictly_later_month=True)
    if kind == "month":
        month = MONTHS[groups["month"]]
        if groups.get("after"):
            month = month % 12 + 1
        return _upcoming(month, 1, today, strictly_later_month=True)
    if kind == "after_day":
        day = int(groups["day"])
        # "after the 15th", "ab dem 15.", "después del 15"; but "free after 3" names an hour
        said_day = groups.get("article") or groups.get("suffix") or re.search(r"(del|du)\s*$", match.group(0)[:-2])
        if not said_day or not 1 <= day <= 31:
            return None
        for months in range(3):
            first = _add_months(today.replace(day=1), months)
            found = _valid(first.year, first.month, day)
            if found is not None and found > today:
                return found
        return None
    if kind == "quarter":
        word = groups.get("qw") or groups.get("qd") or groups.get("qf") or groups.get("qs") or ""
        quarter = int(groups["q"]) if groups.get("q") else _QUARTER_WORDS[word]
        return _quarter_start(today, quarter)
    if kind == "next":
        words = groups.get("en") or groups.get("de") or groups.get("fr") or groups.get("es") or ""
        if any(w in words for w in ("week", "woche", "semaine", "semana")):
            return today + timedelta(days=7 - today.weekday())
        if any(w in words for w in ("quarter", "quartal", "trimestre")):
            return _quarter_start(today, (today.month - 1) // 3 % 4 + 2 if today.month < 10 else 1)
        if any(w in words for w in ("year", "jahr", "année", "l'an", "año")):
            return date(today.year + 1, 1, 1)
        return _add_months(today.replace(day=1), 1)
    if kind == "relative":
        count = _NUMBERS.get(groups["n"]) or int(groups["n"])
        unit = _UNITS[groups["unit"]]
        if count == 0 or count > 24:
            return None
        if unit == "d":
            return today + timedelta(days=count)
        if unit == "w":
            return today + timedelta(weeks=count)
        return _add_months(today, count * (12 if unit == "y" else 1))
    if kind == "new_year":
        return date(today.year + 1, 1, 1)
    if kind == "season":
        month = _SEASONS[groups["season"]]
        if groups.get("after"):
            month = month % 12 + 3
        return _upcoming(month, 1, today, strictly_later_month=True)
    return None


def named_date(text: str, *, today: date) -> tuple[date, str] | None:
    """The first date ``text`` names for a later contact, resolved against ``today``, with the words naming it.

    A date without a year is the next one on or after ``today``; "in March" is the first of the next
    March, "after the 15th" the next 15th, "next quarter" the first day of the next quarter, "in two
    weeks" fourteen days on. Dates more than two years ahead are not believed.
    """
    text = text[:_LIMIT]
    found: dict[int, tuple[int, date, str]] = {}
    for rank, (kind, pattern) in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            day = _resolve(kind, match, today)
            if day is not None and today <= day <= today + timedelta(days=731):
                # "after January 20th": where the month is named, the most precise reading wins
                at = match.start("month") if "month" in match.groupdict() and match.group("month") else match.start()
                if at not in found or found[at][0] > rank:
                    found[at] = (rank, day, match.group(0).strip())
                break
    if not found:
        return None
    # "busy until the end of January, try me in February": the latest date named is when to come back
    _rank, day, words = max(found.values(), key=lambda f: f[1])
    return day, words


_UNTIL = re.compile(
    r"\b(?:bis(?: zum| einschließlich| einschl\.| inklusive)?|jusqu'(?:au|à)(?: et y compris)?"
    r"|hasta(?: el)?(?: día)?)\s*$",
    re.I,
)
_BACK = re.compile(
    r"\b(?:ab(?: dem)?|à partir du|a partir del|de retour (?:le|au)|wieder (?:im büro |erreichbar |da )?(?:am|ab)"
    r"|zurück am|regreso el|regresaré el|vuelvo el|volveré el|de vuelta el|retour le|reviens le"
    r"|serai de retour le)\s*$",
    re.I,
)
_INCLUSIVE = re.compile(r"(einschließlich|einschl\.|inklusive|inclus|incluido|y compris)", re.I)


def back_date(text: str, *, now: datetime) -> date | None:
    """When an out-of-office reply says its sender is back, in English, German, French or Spanish; or None.

    English wording is read by :func:`cadence.core.inbound.return_date`; the others here: a date after
    "bis", "jusqu'au", "hasta el" (the sender is back that day; "bis einschließlich", "inclus" the
    day after), "ab", "de retour le", "de vuelta el". Dates more than a month past or a year ahead
    are not believed.
    """
    english = return_date(text, now=now)
    if english is not None:
        return english
    today = now.date()
    text = re.sub(r"\s+", " ", text[:_LIMIT])
    found: list[tuple[int, int, date]] = []  # (0 for "back on", 1 for "until"; position; date)
    for kind in ("day_month", "dotted", "iso", "slashed"):
        pattern = dict(_PATTERNS)[kind]
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 40) : match.start()]
            before = re.sub(r"\b(?:montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi"
                            r"|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo)"
                            r",?\s*(?:den |el )?$", "", before, flags=re.I).rstrip()  # fmt: skip
            rank = 0 if _BACK.search(before) else 1 if _UNTIL.search(before) else None
            if rank is None:
                continue
            day = _resolve(kind, match, today)
            if day is None:
                continue
            after = text[match.end() : match.end() + 30]
            if _INCLUSIVE.search(before[-30:]) or _INCLUSIVE.search(after):
                day += timedelta(days=1)
            if today - timedelta(days=31) <= day <= today + timedelta(days=366):
                found.append((rank, match.start(), day))
    return min(found)[2] if found else None
