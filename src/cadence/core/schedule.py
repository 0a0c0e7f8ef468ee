"""When each step of a cadence is due for a lead (pure: every instant is passed in).

Rules, in the lead's local time:

* step N is due on the enrollment's local date plus its day offset (calendar days, as in the seed);
* it is then moved forward to the next allowed slot: a business day (if the cadence says so), not a
  public holiday in the lead's country, inside the send window ``[start, end)``;
* two steps with different day offsets never land on the same local day: a step waits at least
  ``min_gap_days`` after the previous touch. Steps sharing a day offset land together;
* a step that slipped pushes the following ones only as far as the gap needs, since every step is
  anchored on the enrollment date, not on the previous step.

All results are aware datetimes in UTC.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from cadence.core.cadences import Cadence, CadenceSettings
from cadence.errors import ConfigurationError

_SEARCH_DAYS = 400


@lru_cache(maxsize=256)
def holiday_calendar(country: str | None) -> Container[date]:
    """The public holidays of ``country`` (ISO 3166 alpha-2); empty for None or an unknown country."""
    if not country:
        return frozenset()
    import holidays as holidays_lib  # its country tables: only when a holiday is asked for

    try:
        return holidays_lib.country_holidays(country.upper())
    except NotImplementedError:
        return frozenset()


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local wall time ``at`` on ``day`` in ``tz``.

    A wall time skipped by a DST change (02:30 on a spring-forward night) maps to the instant
    just after the gap; an ambiguous one (fall-back) maps to its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class LeadCalendar:
    """The days and hours on which a cadence may touch one lead."""

    tz: ZoneInfo
    settings: CadenceSettings
    country: str | None = None

    @classmethod
    def for_lead(cls, settings: CadenceSettings, timezone: str, country: str | None) -> LeadCalendar:
        """A calendar for a lead in ``timezone`` (IANA name) living in ``country``."""
        return cls(tz=ZoneInfo(timezone), settings=settings, country=country)

    def is_open_day(self, day: date) -> bool:
        """True when steps may land on local date ``day``."""
        if self.settings.business_days_only and day.weekday() >= 5:
            return False
        if self.settings.skip_holidays and day in holiday_calendar(self.country):
            return False
        return True

    def local_date(self, instant: datetime) -> date:
        """The lead's local date at ``instant``."""
        _require_aware(instant, "instant")
        return instant.astimezone(self.tz).date()

    def next_slot(self, earliest: datetime) -> datetime:
        """The first instant at or after ``earliest`` on an open day inside the send window."""
        _require_aware(earliest, "earliest")
        candidate = earliest.astimezone(UTC)
        day = candidate.astimezone(self.tz).date()
        for _ in range(_SEARCH_DAYS):
            if self.is_open_day(day):
                opens = local_instant(day, self.settings.window_start, self.tz)
                closes = local_instant(day, self.settings.window_end, self.tz)
                if candidate < opens:
                    return opens
                if candidate < closes:
                    return candidate
            day += timedelta(days=1)
            candidate = max(candidate, local_instant(day, time(0, 0), self.tz))
        raise ConfigurationError(f"no open day within {_SEARCH_DAYS} days; check the cadence's settings")

    def start_of_day(self, day: date) -> datetime:
        """The UTC instant of local midnight on ``day``."""
        return local_instant(day, time(0, 0), self.tz)


def step_due_at(
    cadence: Cadence,
    index: int,
    calendar: LeadCalendar,
    *,
    enrolled_at: datetime,
    previous_touch_at: datetime | None = None,
    previous_day: int | None = None,
) -> datetime:
    """When step ``index`` of ``cadence`` is due for a lead enrolled at ``enrolled_at``.

    ``previous_touch_at`` is when the previous step was (or is planned to be) done and
    ``previous_day`` its day offset; both None for the first step.
    """
    _require_aware(enrolled_at, "enrolled_at")
    step = cadence.steps[index]
    nominal = calendar.local_date(enrolled_at) + timedelta(days=step.day)
    earliest = max(enrolled_at.astimezone(UTC), calendar.start_of_day(nominal))
    if previous_touch_at is not None:
        _require_aware(previous_touch_at, "previous_touch_at")
        if previous_day is not None and previous_day == step.day:
            earliest = max(earliest, previous_touch_at.astimezone(UTC))
        else:
            gap_day = calendar.local_date(previous_touch_at) + timedelta(days=cadence.settings.min_gap_days)
            earliest = max(earliest, calendar.start_of_day(gap_day))
    return calendar.next_slot(earliest)


def plan(cadence: Cadence, calendar: LeadCalendar, enrolled_at: datetime) -> list[datetime]:
    """When every step would land, if each is done at its due time."""
    result: list[datetime] = []
    previous: datetime | None = None
    previous_day: int | None = None
    for index, step in enumerate(cadence.steps):
        due = step_due_at(
            cadence, index, calendar, enrolled_at=enrolled_at, previous_touch_at=previous, previous_day=previous_day
        )
        result.append(due)
        previous, previous_day = due, step.day
    return result


def add_business_days(calendar: LeadCalendar, start: datetime, days: int) -> datetime:
    """The instant ``days`` open days after ``start`` (same local wall time), for grace periods."""
    _require_aware(start, "start")
    local = start.astimezone(calendar.tz)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if calendar.is_open_day(day):
            remaining -= 1
    return local_instant(day, local.time().replace(tzinfo=None), calendar.tz)


def add_business_hours(calendar: LeadCalendar, start: datetime, hours: float) -> datetime:
    """The instant ``hours`` working hours after ``start``: only time inside the send window of open days counts.

    A response SLA of 4 business hours from a reply at 16:00 (window 08:00-17:00) ends at 11:00 the
    next open day.
    """
    _require_aware(start, "start")
    remaining = timedelta(hours=hours)
    at = calendar.next_slot(start)
    for _ in range(_SEARCH_DAYS):
        closes = local_instant(calendar.local_date(at), calendar.settings.window_end, calendar.tz)
        if at + remaining <= closes:
            return at + remaining
        remaining -= closes - at
        at = calendar.next_slot(closes)
    raise ConfigurationError(f"no open day within {_SEARCH_DAYS} days; check the cadence's settings")
