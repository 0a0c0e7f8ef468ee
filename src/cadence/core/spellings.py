"""The usual spellings of time zones and countries in exported lead lists, and what they mean (pure).

A CRM or webinar export writes ``Eastern Time``, ``(GMT-05:00) Eastern Time (US & Canada)`` or
``EST`` for a time zone and ``usa``, ``United States`` or ``U.S.A.`` for a country. Only spellings
that name one zone or one country are listed: ``IST`` (India, Israel or Ireland) and ``CST``
(US Central or China) outside of a US context are ambiguous, and ``CST`` is read as US Central
because that is what every US CRM means by it.
"""

from __future__ import annotations

import re
from zoneinfo import available_timezones

TIMEZONE_NAMES: dict[str, str] = {
    "eastern": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "us eastern": "America/New_York",
    "central": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "us central": "America/Chicago",
    "mountain": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mt": "America/Denver",
    "arizona": "America/Phoenix",
    "pacific": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "us pacific": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "akst": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "hst": "Pacific/Honolulu",
    "atlantic": "America/Halifax",
    "newfoundland": "America/St_Johns",
    "utc": "UTC",
    "gmt": "Etc/GMT",
    "coordinated universal": "UTC",
    "greenwich mean": "Europe/London",
    "british": "Europe/London",
    "bst": "Europe/London",
    "uk": "Europe/London",
    "london": "Europe/London",
    "western european": "Europe/Lisbon",
    "central european": "Europe/Paris",
    "cet": "Europe/Paris",
    "cest": "Europe/Paris",
    "eastern european": "Europe/Athens",
    "eet": "Europe/Athens",
    "india": "Asia/Kolkata",
    "china": "Asia/Shanghai",
    "japan": "Asia/Tokyo",
    "jst": "Asia/Tokyo",
    "korea": "Asia/Seoul",
    "singapore": "Asia/Singapore",
    "aest": "Australia/Sydney",
    "australian eastern": "Australia/Sydney",
    "new zealand": "Pacific/Auckland",
}
"""Time zone names as exports write them (lower case, without ``time``/``standard``/``daylight``)."""

COUNTRY_NAMES: dict[str, str] = {
    "usa": "US",
    "u s": "US",
    "u s a": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "canada": "CA",
    "can": "CA",
    "mexico": "MX",
    "mex": "MX",
    "brazil": "BR",
    "bra": "BR",
    "argentina": "AR",
    "chile": "CL",
    "colombia": "CO",
    "peru": "PE",
    "ireland": "IE",
    "irl": "IE",
    "france": "FR",
    "fra": "FR",
    "germany": "DE",
    "deutschland": "DE",
    "deu": "DE",
    "ger": "DE",
    "spain": "ES",
    "espana": "ES",
    "españa": "ES",
    "esp": "ES",
    "portugal": "PT",
    "italy": "IT",
    "italia": "IT",
    "ita": "IT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "holland": "NL",
    "nld": "NL",
    "belgium": "BE",
    "luxembourg": "LU",
    "switzerland": "CH",
    "austria": "AT",
    "sweden": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "iceland": "IS",
    "poland": "PL",
    "czech republic": "CZ",
    "czechia": "CZ",
    "greece": "GR",
    "turkey": "TR",
    "türkiye": "TR",
    "israel": "IL",
    "united arab emirates": "AE",
    "uae": "AE",
    "saudi arabia": "SA",
    "egypt": "EG",
    "south africa": "ZA",
    "nigeria": "NG",
    "kenya": "KE",
    "india": "IN",
    "ind": "IN",
    "china": "CN",
    "chn": "CN",
    "japan": "JP",
    "jpn": "JP",
    "south korea": "KR",
    "korea": "KR",
    "republic of korea": "KR",
    "singapore": "SG",
    "sgp": "SG",
    "hong kong": "HK",
    "taiwan": "TW",
    "philippines": "PH",
    "indonesia": "ID",
    "malaysia": "MY",
    "thailand": "TH",
    "vietnam": "VN",
    "viet nam": "VN",
    "australia": "AU",
    "aus": "AU",
    "new zealand": "NZ",
    "nzl": "NZ",
}
"""Country names and three-letter codes as exports write them (lower case, dots as spaces)."""

_OFFSET_PREFIX = re.compile(r"^\((?:gmt|utc)\s*[+\-−]?\s*\d{1,2}(?::?\d{2})?\)\s*", re.IGNORECASE)
_REGION_SUFFIX = re.compile(r"\s*\((?:us|u\.s\.)\s*(?:&|and)\s*canada\)\s*$", re.IGNORECASE)
_ZONE_WORDS = re.compile(r"\b(?:time|standard|daylight|summer|zone)\b", re.IGNORECASE)
_ZONES_BY_LOWER: dict[str, str] | None = None


def timezone_for(text: str) -> str | None:
    """The IANA zone ``text`` means (``Eastern Time``, ``EST``, ``america/new_york``), or None if unsure."""
    global _ZONES_BY_LOWER
    if _ZONES_BY_LOWER is None:
        _ZONES_BY_LOWER = {name.lower(): name for name in available_timezones()}
    stripped = text.strip()
    exact = _ZONES_BY_LOWER.get(stripped.lower().replace(" ", "_"))
    if exact is not None:
        return exact
    words = _REGION_SUFFIX.sub("", _OFFSET_PREFIX.sub("", stripped))
    words = " ".join(_ZONE_WORDS.sub(" ", words).replace("-", " ").split()).lower()
    return TIMEZONE_NAMES.get(words)


def country_for(text: str) -> str | None:
    """The ISO 3166 two-letter code ``text`` names (``usa``, ``United States``, ``U.K.``), or None if unsure."""
    words = " ".join(text.replace(".", " ").replace("-", " ").split()).lower()
    if len(words) == 2 and words.isascii() and words.isalpha():
        return words.upper()
    return COUNTRY_NAMES.get(words)
