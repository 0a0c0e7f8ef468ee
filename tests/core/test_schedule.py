"""When cadence steps are due: time zones east and west of UTC, DST, weekends, holidays, leap day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.core.cadences import Cadence, parse_cadence
from cadence.core.schedule import (
    LeadCalendar,
    add_business_days,
    holiday_calendar,
    local_instant,
    plan,
    step_due_at,
)

LA = "America/Los_Angeles"
NY = "America/New_York"
PARIS = "Europe/Paris"
TOKYO = "Asia/Tokyo"
SYDNEY = "Australia/Sydney"
KOLKATA = "Asia/Kolkata"
AUCKLAND = "Pacific/Auckland"


def cadence(*days: int, **settings: Any) -> Cadence:
    """A cadence with one call step per day offset; ``settings`` as in a cadence file."""
    data: dict[str, Any] = {"name": "test", "steps": [{"day": day, "channel": "call"} for day in days]}
    if settings:
        data["settings"] = settings
    return parse_cadence(data)


WEEKENDS_AND_HOLIDAYS = {"business_days_only": False, "holidays": False}


def calendar_for(plan_of: Cadence, zone: str, country: str | None = None) -> LeadCalendar:
    return LeadCalendar.for_lead(plan_of.settings, zone, country)


def at(zone: str, text: str) -> datetime:
    """An aware instant from a local wall-clock time such as ``2026-06-08 09:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wall(instant: datetime, zone: str) -> str:
    """The lead's local wall-clock time of ``instant``, as ``2026-06-08 09:00``."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def planned(days: tuple[int, ...], zone: str, enrolled: str, country: str | None = None, **settings: Any) -> list[str]:
    """The local wall-clock times at which each step lands."""
    steps = cadence(*days, **settings)
    return [wall(due, zone) for due in plan(steps, calendar_for(steps, zone, country), at(zone, enrolled))]


class TestPlanResults:
    def test_every_result_is_an_aware_utc_instant(self) -> None:
        steps = cadence(0, 1, 5)
        results = plan(steps, calendar_for(steps, TOKYO, "JP"), at(TOKYO, "2026-06-08 09:00"))
        assert [r.utcoffset() for r in results] == [timedelta(0)] * 3
        assert all(r.tzinfo is UTC for r in results)

    def test_plan_gives_one_instant_per_step(self) -> None:
        steps = cadence(0, 0, 3, 9, 9, 20)
        assert len(plan(steps, calendar_for(steps, NY, "US"), at(NY, "2026-06-08 09:00"))) == 6

    def test_plan_agrees_with_step_due_at_given_the_previous_touch(self) -> None:
        steps = cadence(1, 2, 2, 5, 7, 8)
        cal = calendar_for(steps, NY, "US")
        enrolled = at(NY, "2026-11-16 09:00")
        results = plan(steps, cal, enrolled)
        for index in range(1, len(steps.steps)):
            due = step_due_at(
                steps,
                index,
                cal,
                enrolled_at=enrolled,
                previous_touch_at=results[index - 1],
                previous_day=steps.steps[index - 1].day,
            )
            assert due == results[index]


class TestTimeZones:
    """The same UTC instant is Monday afternoon in the west and already Tuesday in the far east."""

    @pytest.mark.parametrize(
        ("zone", "country", "day0_local", "day0_utc", "day1_local", "day1_utc"),
        [
            (LA, "US", "2026-06-08 08:00", "2026-06-08 15:00", "2026-06-09 08:00", "2026-06-09 15:00"),
            (NY, "US", "2026-06-08 08:00", "2026-06-08 12:00", "2026-06-09 08:00", "2026-06-09 12:00"),
            (PARIS, "FR", "2026-06-08 14:00", "2026-06-08 12:00", "2026-06-09 08:00", "2026-06-09 06:00"),
            (KOLKATA, "IN", "2026-06-09 08:00", "2026-06-09 02:30", "2026-06-10 08:00", "2026-06-10 02:30"),
            (TOKYO, "JP", "2026-06-09 08:00", "2026-06-08 23:00", "2026-06-10 08:00", "2026-06-09 23:00"),
            (SYDNEY, "AU", "2026-06-09 08:00", "2026-06-08 22:00", "2026-06-10 08:00", "2026-06-09 22:00"),
            (AUCKLAND, "NZ", "2026-06-09 08:00", "2026-06-08 20:00", "2026-06-10 08:00", "2026-06-09 20:00"),
        ],
    )
    def test_steps_land_in_the_leads_own_send_window(
        self, zone: str, country: str, day0_local: str, day0_utc: str, day1_local: str, day1_utc: str
    ) -> None:
        steps = cadence(0, 1)
        enrolled = utc("2026-06-08 12:00")  # Monday noon UTC
        first, second = plan(steps, calendar_for(steps, zone, country), enrolled)
        assert (wall(first, zone), first) == (day0_local, utc(day0_utc))
        assert (wall(second, zone), second) == (day1_local, utc(day1_utc))

    @pytest.mark.parametrize(
        ("zone", "enrolled_utc", "expected_local"),
        [
            # 23:30 UTC on Monday is still Monday in the west: day 1 is Tuesday.
            (LA, "2026-06-08 23:30", "2026-06-09 08:00"),
            (NY, "2026-06-08 23:30", "2026-06-09 08:00"),
            # ...and already Tuesday in the east: day 1 is Wednesday.
            (PARIS, "2026-06-08 23:30", "2026-06-10 08:00"),
            (KOLKATA, "2026-06-08 23:30", "2026-06-10 08:00"),
            (TOKYO, "2026-06-08 23:30", "2026-06-10 08:00"),
            (AUCKLAND, "2026-06-08 23:30", "2026-06-10 08:00"),
        ],
    )
    def test_day_offsets_count_from_the_leads_local_enrollment_date(
        self, zone: str, enrolled_utc: str, expected_local: str
    ) -> None:
        steps = cadence(1)
        (due,) = plan(steps, calendar_for(steps, zone), utc(enrolled_utc))
        assert wall(due, zone) == expected_local

    def test_a_half_hour_offset_zone_opens_at_half_past_in_utc(self) -> None:
        steps = cadence(1)
        (due,) = plan(steps, calendar_for(steps, KOLKATA, "IN"), at(KOLKATA, "2026-06-08 12:00"))
        assert due == utc("2026-06-09 02:30")

    def test_a_quarter_hour_offset_zone_opens_at_a_quarter_past_in_utc(self) -> None:
        steps = cadence(1)
        (due,) = plan(steps, calendar_for(steps, "Asia/Kathmandu"), at("Asia/Kathmandu", "2026-06-08 12:00"))
        assert due == utc("2026-06-09 02:15")


class TestSendWindow:
    @pytest.mark.parametrize(
        ("enrolled", "expected"),
        [
            ("2026-06-08 07:59", "2026-06-08 08:00"),  # just before the window opens
            ("2026-06-08 08:00", "2026-06-08 08:00"),  # the window includes its start
            ("2026-06-08 12:34", "2026-06-08 12:34"),
            ("2026-06-08 16:59", "2026-06-08 16:59"),  # last minute inside
            ("2026-06-08 17:00", "2026-06-09 08:00"),  # the window excludes its end
            ("2026-06-08 23:59", "2026-06-09 08:00"),
            ("2026-06-12 16:30", "2026-06-12 16:30"),  # Friday afternoon
            ("2026-06-12 17:30", "2026-06-15 08:00"),  # Friday evening waits for Monday
            ("2026-06-13 11:00", "2026-06-15 08:00"),  # Saturday
            ("2026-06-14 23:00", "2026-06-15 08:00"),  # Sunday night
        ],
    )
    def test_a_day_zero_step_is_due_at_enrollment_or_at_the_next_opening(self, enrolled: str, expected: str) -> None:
        assert planned((0,), NY, enrolled, "US") == [expected]

    @pytest.mark.parametrize(
        ("enrolled", "expected"),
        [
            ("2026-06-08 07:00", "2026-06-09 08:00"),  # Monday before the window
            ("2026-06-08 20:00", "2026-06-09 08:00"),  # Monday after it
            ("2026-06-11 18:00", "2026-06-12 08:00"),  # Thursday evening: Friday
            ("2026-06-12 17:30", "2026-06-15 08:00"),  # Friday evening: Saturday, moved to Monday
            ("2026-06-13 11:00", "2026-06-15 08:00"),  # Saturday: Sunday, moved to Monday
            ("2026-06-14 11:00", "2026-06-15 08:00"),  # Sunday: Monday
        ],
    )
    def test_a_day_one_step_opens_the_window_of_the_next_business_day(self, enrolled: str, expected: str) -> None:
        assert planned((1,), NY, enrolled, "US") == [expected]

    @pytest.mark.parametrize(
        ("zone", "enrolled", "days", "expected"),
        [
            (NY, "2026-06-08 09:00", (0,), ["2026-06-08 09:30"]),
            (NY, "2026-06-08 09:30", (0,), ["2026-06-08 09:30"]),
            (NY, "2026-06-08 10:15", (0,), ["2026-06-08 10:15"]),
            (NY, "2026-06-08 10:59", (0,), ["2026-06-08 10:59"]),
            (NY, "2026-06-08 11:00", (0,), ["2026-06-09 09:30"]),
            (NY, "2026-06-08 10:15", (0, 1), ["2026-06-08 10:15", "2026-06-09 09:30"]),
            (NY, "2026-06-12 11:30", (0,), ["2026-06-15 09:30"]),
            (KOLKATA, "2026-06-08 09:00", (0, 2), ["2026-06-08 09:30", "2026-06-10 09:30"]),
            (AUCKLAND, "2026-06-08 13:00", (0,), ["2026-06-09 09:30"]),
        ],
    )
    def test_a_custom_send_window_is_honoured(
        self, zone: str, enrolled: str, days: tuple[int, ...], expected: list[str]
    ) -> None:
        window = {"start": "09:30", "end": "11:00"}
        assert planned(days, zone, enrolled, send_window=window) == expected

    def test_a_custom_window_opens_at_its_utc_instant(self) -> None:
        steps = cadence(1, send_window={"start": "09:30", "end": "11:00"})
        (due,) = plan(steps, calendar_for(steps, KOLKATA), at(KOLKATA, "2026-06-08 12:00"))
        assert due == utc("2026-06-09 04:00")


class TestDaylightSavingTime:
    """08:00 local stays 08:00 local across a change, so its UTC instant moves by the hour."""

    @pytest.mark.parametrize(
        ("zone", "enrolled", "expected_utc"),
        [
            # US spring forward, Sunday 2026-03-08.
            (NY, "2026-03-06 12:00", ["2026-03-07 13:00", "2026-03-08 12:00", "2026-03-09 12:00"]),
            (LA, "2026-03-06 12:00", ["2026-03-07 16:00", "2026-03-08 15:00", "2026-03-09 15:00"]),
            # US fall back, Sunday 2026-11-01.
            (NY, "2026-10-30 12:00", ["2026-10-31 12:00", "2026-11-01 13:00", "2026-11-02 13:00"]),
            (LA, "2026-10-30 12:00", ["2026-10-31 15:00", "2026-11-01 16:00", "2026-11-02 16:00"]),
            # EU spring forward, Sunday 2026-03-29; fall back, Sunday 2026-10-25.
            (PARIS, "2026-03-27 12:00", ["2026-03-28 07:00", "2026-03-29 06:00", "2026-03-30 06:00"]),
            (PARIS, "2026-10-23 12:00", ["2026-10-24 06:00", "2026-10-25 07:00", "2026-10-26 07:00"]),
            # Southern hemisphere: Sydney ends DST on 2026-04-05 and starts it on 2026-10-04.
            (SYDNEY, "2026-04-03 12:00", ["2026-04-03 21:00", "2026-04-04 22:00", "2026-04-05 22:00"]),
            (SYDNEY, "2026-10-02 12:00", ["2026-10-02 22:00", "2026-10-03 21:00", "2026-10-04 21:00"]),
            # Auckland starts DST on 2026-09-27.
            (AUCKLAND, "2026-09-25 12:00", ["2026-09-25 20:00", "2026-09-26 19:00", "2026-09-27 19:00"]),
        ],
    )
    def test_local_send_time_stays_eight_oclock_across_the_change(
        self, zone: str, enrolled: str, expected_utc: list[str]
    ) -> None:
        steps = cadence(1, 2, 3, **WEEKENDS_AND_HOLIDAYS)
        results = plan(steps, calendar_for(steps, zone), at(zone, enrolled))
        assert [wall(r, zone)[11:] for r in results] == ["08:00"] * 3
        assert results == [utc(t) for t in expected_utc]

    def test_a_weekday_step_after_spring_forward_is_an_hour_earlier_in_utc(self) -> None:
        steps = cadence(0, 1)
        friday, monday = plan(steps, calendar_for(steps, NY, "US"), at(NY, "2026-03-06 07:00"))
        assert (friday, monday) == (utc("2026-03-06 13:00"), utc("2026-03-09 12:00"))
        assert wall(friday, NY)[11:] == wall(monday, NY)[11:] == "08:00"

    def test_an_enrollment_inside_the_skipped_hour_gets_the_same_days_window(self) -> None:
        steps = cadence(0, **WEEKENDS_AND_HOLIDAYS)
        (due,) = plan(steps, calendar_for(steps, NY), utc("2026-03-08 07:30"))  # 03:30 EDT
        assert (wall(due, NY), due) == ("2026-03-08 08:00", utc("2026-03-08 12:00"))

    def test_an_enrollment_in_the_repeated_hour_counts_from_the_right_local_date(self) -> None:
        steps = cadence(0, 1, **WEEKENDS_AND_HOLIDAYS)
        # 06:30 UTC is the second 01:30 of the night, in EST.
        day0, day1 = plan(steps, calendar_for(steps, NY), utc("2026-11-01 06:30"))
        assert [wall(day0, NY), wall(day1, NY)] == ["2026-11-01 08:00", "2026-11-02 08:00"]
        assert (day0, day1) == (utc("2026-11-01 13:00"), utc("2026-11-02 13:00"))

    def test_us_and_eu_changes_on_different_dates_keep_each_lead_at_eight_local(self) -> None:
        # Between 2026-03-08 and 2026-03-29, New York is 5 hours behind Paris instead of 6.
        steps = cadence(1)
        (ny,) = plan(steps, calendar_for(steps, NY, "US"), at(NY, "2026-03-16 12:00"))
        (paris,) = plan(steps, calendar_for(steps, PARIS, "FR"), at(PARIS, "2026-03-16 12:00"))
        assert ny - paris == timedelta(hours=5)


class TestHolidays:
    @pytest.mark.parametrize(
        ("zone", "country", "enrolled", "day", "expected"),
        [
            # US Thanksgiving, Thursday 2026-11-26: the step moves to Friday.
            (NY, "US", "2026-11-23 10:00", 3, "2026-11-27 08:00"),
            (NY, "US", "2026-11-25 10:00", 1, "2026-11-27 08:00"),
            (LA, "US", "2026-11-25 10:00", 1, "2026-11-27 08:00"),
            (NY, "US", "2026-11-26 10:00", 0, "2026-11-27 08:00"),  # enrolled on the holiday itself
            # Christmas, Friday 2026-12-25: moves over the weekend to Monday.
            (NY, "US", "2026-12-21 10:00", 4, "2026-12-28 08:00"),
            (PARIS, "FR", "2026-12-21 10:00", 4, "2026-12-28 08:00"),
            # New Year across the year end: Friday 2027-01-01 is a holiday, then a weekend.
            (NY, "US", "2026-12-31 10:00", 1, "2027-01-04 08:00"),
            (PARIS, "FR", "2026-12-31 10:00", 1, "2027-01-04 08:00"),
            # New Zealand also rests on 2 January, observed on Monday 2027-01-04.
            (AUCKLAND, "NZ", "2026-12-31 10:00", 1, "2027-01-05 08:00"),
            # Bastille Day, Tuesday 2026-07-14, is a holiday in France only: the country decides, not the zone.
            (PARIS, "FR", "2026-07-13 10:00", 1, "2026-07-15 08:00"),
            (PARIS, "US", "2026-07-13 10:00", 1, "2026-07-14 08:00"),
            (NY, "US", "2026-07-13 10:00", 1, "2026-07-14 08:00"),
            # US Independence Day falls on a Saturday in 2026 and is observed on Friday 2026-07-03.
            (NY, "US", "2026-07-02 10:00", 1, "2026-07-06 08:00"),
            (PARIS, "FR", "2026-07-02 10:00", 1, "2026-07-03 08:00"),
            # Japan's Labour Thanksgiving Day, Monday 2026-11-23.
            (TOKYO, "JP", "2026-11-20 10:00", 3, "2026-11-24 08:00"),
            # The country code is case-insensitive.
            (NY, "us", "2026-11-25 10:00", 1, "2026-11-27 08:00"),
            # No country, or one the holidays library does not know: no holidays.
            (NY, None, "2026-11-25 10:00", 1, "2026-11-26 08:00"),
            (NY, "ZZ", "2026-11-25 10:00", 1, "2026-11-26 08:00"),
        ],
    )
    def test_a_step_on_a_public_holiday_moves_to_the_next_open_day(
        self, zone: str, country: str | None, enrolled: str, day: int, expected: str
    ) -> None:
        assert planned((day,), zone, enrolled, country) == [expected]

    def test_a_step_on_thanksgiving_moves_to_friday(self) -> None:
        steps = cadence(3)
        (due,) = plan(steps, calendar_for(steps, NY, "US"), at(NY, "2026-11-23 10:00"))
        assert due == utc("2026-11-27 13:00")

    def test_holidays_false_keeps_steps_on_public_holidays(self) -> None:
        assert planned((1,), NY, "2026-11-25 10:00", "US", holidays=False) == ["2026-11-26 08:00"]

    def test_holidays_false_still_skips_weekends(self) -> None:
        assert planned((2,), NY, "2026-12-31 10:00", "US", holidays=False) == ["2027-01-04 08:00"]

    def test_holidays_are_skipped_even_when_weekends_are_allowed(self) -> None:
        assert planned((1,), NY, "2026-11-25 10:00", "US", business_days_only=False) == ["2026-11-27 08:00"]

    def test_a_run_of_holidays_pushes_later_steps_one_day_apart(self) -> None:
        # Christmas Friday, weekend, then the next steps each need a day of their own.
        assert planned((4, 5, 6), NY, "2026-12-21 10:00", "US") == [
            "2026-12-28 08:00",
            "2026-12-29 08:00",
            "2026-12-30 08:00",
        ]

    @pytest.mark.parametrize(
        ("country", "day", "expected"),
        [
            ("US", date(2026, 11, 26), True),
            ("US", date(2026, 7, 14), False),
            ("FR", date(2026, 7, 14), True),
            ("FR", date(2026, 11, 26), False),
            ("fr", date(2026, 7, 14), True),
            (None, date(2026, 12, 25), False),
            ("", date(2026, 12, 25), False),
            ("ZZ", date(2026, 12, 25), False),
        ],
    )
    def test_holiday_calendar_knows_each_countrys_holidays(
        self, country: str | None, day: date, expected: bool
    ) -> None:
        assert (day in holiday_calendar(country)) is expected


class TestWeekends:
    @pytest.mark.parametrize(
        ("enrolled", "day", "business_days_only", "expected"),
        [
            ("2026-06-12 10:00", 1, False, "2026-06-13 08:00"),  # Friday + 1 is Saturday
            ("2026-06-12 10:00", 1, True, "2026-06-15 08:00"),
            ("2026-06-12 10:00", 2, False, "2026-06-14 08:00"),  # Sunday
            ("2026-06-12 10:00", 2, True, "2026-06-15 08:00"),
            ("2026-06-13 10:00", 0, False, "2026-06-13 10:00"),  # enrolled on Saturday
            ("2026-06-13 10:00", 0, True, "2026-06-15 08:00"),
            ("2026-06-12 17:30", 0, False, "2026-06-13 08:00"),  # Friday evening
            ("2026-06-12 17:30", 0, True, "2026-06-15 08:00"),
        ],
    )
    def test_business_days_only_decides_whether_weekends_are_used(
        self, enrolled: str, day: int, business_days_only: bool, expected: str
    ) -> None:
        assert planned((day,), NY, enrolled, "US", business_days_only=business_days_only) == [expected]

    @pytest.mark.parametrize(
        ("business_days_only", "holidays", "day", "expected"),
        [
            (True, True, date(2026, 6, 8), True),  # a Monday
            (True, True, date(2026, 6, 13), False),  # a Saturday
            (True, True, date(2026, 6, 14), False),  # a Sunday
            (True, True, date(2026, 11, 26), False),  # Thanksgiving
            (False, True, date(2026, 6, 13), True),
            (False, True, date(2026, 11, 26), False),
            (True, False, date(2026, 11, 26), True),
            (True, False, date(2026, 6, 13), False),
            (False, False, date(2026, 12, 25), True),
        ],
    )
    def test_is_open_day_combines_weekends_and_holidays(
        self, business_days_only: bool, holidays: bool, day: date, expected: bool
    ) -> None:
        steps = cadence(0, business_days_only=business_days_only, holidays=holidays)
        assert calendar_for(steps, NY, "US").is_open_day(day) is expected


class TestLeapDay:
    @pytest.mark.parametrize(
        ("zone", "enrolled", "days", "expected"),
        [
            # Enrolled on Sunday 2028-02-27: day 2 is Tuesday 29 February.
            (NY, "2028-02-27 10:00", (1, 2, 3), ["2028-02-28 08:00", "2028-02-29 08:00", "2028-03-01 08:00"]),
            # Enrolled on Saturday 2028-02-26: the weekend steps move onto Monday, then leap day.
            (NY, "2028-02-26 10:00", (1, 2, 3), ["2028-02-28 08:00", "2028-02-29 08:00", "2028-03-01 08:00"]),
            # Enrolled on leap day itself.
            (NY, "2028-02-29 10:00", (0, 1), ["2028-02-29 10:00", "2028-03-01 08:00"]),
            (NY, "2028-02-29 10:00", (365,), ["2029-02-28 08:00"]),
            # A year's worth of days from 1 March 2027 ends on leap day.
            (NY, "2027-03-01 10:00", (365,), ["2028-02-29 08:00"]),
            # East of UTC, leap day starts while it is still 28 February in UTC.
            (TOKYO, "2028-02-28 20:00", (0,), ["2028-02-29 08:00"]),
            (AUCKLAND, "2028-02-28 12:00", (1,), ["2028-02-29 08:00"]),
        ],
    )
    def test_steps_count_leap_day_as_a_calendar_day(
        self, zone: str, enrolled: str, days: tuple[int, ...], expected: list[str]
    ) -> None:
        assert planned(days, zone, enrolled) == expected

    def test_a_leap_day_step_in_tokyo_is_due_on_28_february_utc(self) -> None:
        steps = cadence(0)
        (due,) = plan(steps, calendar_for(steps, TOKYO, "JP"), at(TOKYO, "2028-02-28 20:00"))
        assert due == utc("2028-02-28 23:00")


class TestMinimumGap:
    @pytest.mark.parametrize(
        ("min_gap_days", "days", "expected"),
        [
            (1, (1, 2), ["2026-06-09 08:00", "2026-06-10 08:00"]),
            (2, (1, 2), ["2026-06-09 08:00", "2026-06-11 08:00"]),
            (3, (1, 2), ["2026-06-09 08:00", "2026-06-12 08:00"]),
            (4, (1, 2), ["2026-06-09 08:00", "2026-06-15 08:00"]),  # Saturday, moved to Monday
            # The gap counts calendar days: Friday + 2 is Sunday, so Monday; Friday + 4 is Tuesday.
            (2, (4, 5), ["2026-06-12 08:00", "2026-06-15 08:00"]),
            (3, (4, 5), ["2026-06-12 08:00", "2026-06-15 08:00"]),
            (4, (4, 5), ["2026-06-12 08:00", "2026-06-16 08:00"]),
            # Steps already far enough apart are not moved.
            (3, (0, 7), ["2026-06-08 10:00", "2026-06-15 08:00"]),
            # Steps sharing a day offset still land together, whatever the gap.
            (2, (0, 0, 3), ["2026-06-08 10:00", "2026-06-08 10:00", "2026-06-11 08:00"]),
        ],
    )
    def test_min_gap_days_separates_touches_on_different_days(
        self, min_gap_days: int, days: tuple[int, ...], expected: list[str]
    ) -> None:
        assert planned(days, NY, "2026-06-08 10:00", "US", min_gap_days=min_gap_days) == expected


class TestOneTouchPerDay:
    @pytest.mark.parametrize(
        ("enrolled", "days", "expected"),
        [
            # Day 5 is Saturday and moves to Monday, where day 7 is: day 7 waits for Tuesday.
            ("2026-06-08 10:00", (5, 7), ["2026-06-15 08:00", "2026-06-16 08:00"]),
            ("2026-06-08 10:00", (5, 6, 7), ["2026-06-15 08:00", "2026-06-16 08:00", "2026-06-17 08:00"]),
            # A day 0 step pushed to Monday by a Friday-evening enrollment pushes day 1 to Tuesday.
            ("2026-06-12 17:30", (0, 1), ["2026-06-15 08:00", "2026-06-16 08:00"]),
            ("2026-06-12 17:30", (0, 0, 1), ["2026-06-15 08:00", "2026-06-15 08:00", "2026-06-16 08:00"]),
            # Saturday enrollment: day 0, 1 and 2 all fall on the weekend or Monday.
            ("2026-06-13 10:00", (0, 1, 2), ["2026-06-15 08:00", "2026-06-16 08:00", "2026-06-17 08:00"]),
        ],
    )
    def test_steps_with_different_day_offsets_never_share_a_local_day(
        self, enrolled: str, days: tuple[int, ...], expected: list[str]
    ) -> None:
        assert planned(days, NY, enrolled, "US") == expected

    @pytest.mark.parametrize(
        ("enrolled", "days", "expected"),
        [
            ("2026-06-08 10:00", (2, 2, 2), ["2026-06-10 08:00"] * 3),
            ("2026-06-08 10:00", (0, 0), ["2026-06-08 10:00"] * 2),
            ("2026-06-08 16:59", (0, 0), ["2026-06-08 16:59"] * 2),
            ("2026-06-12 10:00", (1, 1), ["2026-06-15 08:00"] * 2),  # together, even when moved
        ],
    )
    def test_steps_sharing_a_day_offset_land_together(
        self, enrolled: str, days: tuple[int, ...], expected: list[str]
    ) -> None:
        assert planned(days, NY, enrolled, "US") == expected


class TestSlippedSteps:
    """A step done late pushes the next one only as far as the minimum gap needs."""

    ENROLLED = "2026-06-08 10:00"  # Monday; the cadence's days 2, 5, 7 are Wed, Sat (so Mon), Mon (so Tue)

    def due(self, index: int, previous_touch: str, *days: int, **settings: Any) -> str:
        steps = cadence(*(days or (2, 5, 7)), **settings)
        result = step_due_at(
            steps,
            index,
            calendar_for(steps, NY, "US"),
            enrolled_at=at(NY, self.ENROLLED),
            previous_touch_at=at(NY, previous_touch),
            previous_day=steps.steps[index - 1].day,
        )
        return wall(result, NY)

    @pytest.mark.parametrize(
        ("previous_touch", "expected"),
        [
            ("2026-06-10 08:00", "2026-06-15 08:00"),  # on time
            ("2026-06-11 15:00", "2026-06-15 08:00"),  # a day late: absorbed
            ("2026-06-12 16:00", "2026-06-15 08:00"),  # Friday: still absorbed
            ("2026-06-15 09:00", "2026-06-16 08:00"),  # done on the next step's day: one day later
            ("2026-06-15 20:00", "2026-06-16 08:00"),  # done after hours: the gap is by local date
            ("2026-06-17 11:00", "2026-06-18 08:00"),  # much later: still only one day later
            ("2026-06-19 11:00", "2026-06-22 08:00"),  # Friday: the next open day is Monday
        ],
    )
    def test_a_late_previous_touch_pushes_the_step_only_as_far_as_the_gap_needs(
        self, previous_touch: str, expected: str
    ) -> None:
        assert self.due(1, previous_touch) == expected

    def test_a_step_is_anchored_on_enrollment_not_pulled_earlier_by_an_early_touch(self) -> None:
        assert self.due(2, "2026-06-09 09:00") == "2026-06-15 08:00"

    def test_the_step_after_a_slipped_step_keeps_one_day_from_it(self) -> None:
        assert self.due(2, "2026-06-16 08:00") == "2026-06-17 08:00"

    @pytest.mark.parametrize(
        ("previous_touch", "expected"),
        [
            ("2026-06-15 09:00", "2026-06-17 08:00"),
            ("2026-06-11 09:00", "2026-06-15 08:00"),  # two days before the nominal Saturday: no push
        ],
    )
    def test_a_larger_gap_pushes_as_far_as_that_gap(self, previous_touch: str, expected: str) -> None:
        assert self.due(1, previous_touch, 2, 5, min_gap_days=2) == expected

    @pytest.mark.parametrize(
        ("previous_touch", "expected"),
        [
            ("2026-06-10 14:20", "2026-06-10 14:20"),  # right after the previous step
            ("2026-06-11 14:20", "2026-06-11 14:20"),  # the pair slipped a day: still together
            ("2026-06-10 18:00", "2026-06-11 08:00"),  # previous done after hours: next opening
            ("2026-06-12 18:00", "2026-06-15 08:00"),
        ],
    )
    def test_a_step_sharing_the_previous_ones_day_follows_it_without_a_gap(
        self, previous_touch: str, expected: str
    ) -> None:
        assert self.due(1, previous_touch, 2, 2) == expected


# The default cadence of DOMAIN.md (seed 002).
REFERENCE_CADENCE: dict[str, Any] = {
    "name": "default",
    "steps": [
        {"day": 1, "channel": "research"},
        {"day": 2, "channel": "email", "template": "email/introduction"},
        {"day": 5, "channel": "email", "template": "email/second"},
        {"day": 7, "channel": "linkedin"},
        {"day": 8, "channel": "call"},
        {"day": 10, "channel": "email", "template": "email/resource"},
        {"day": 12, "channel": "email", "template": "email/another"},
        {"day": 14, "channel": "postcard"},
        {"day": 18, "channel": "call"},
        {"day": 21, "channel": "email", "template": "email/final"},
    ],
}


class TestReferenceCadence:
    """The default cadence of DOMAIN.md (seed 002), enrolled on a Monday 09:00 in New York."""

    @pytest.mark.parametrize(
        ("monday", "expected_dates"),
        [
            pytest.param(
                "2026-06-08",
                [
                    "2026-06-09",  # day 1 Tue: research
                    "2026-06-10",  # day 2 Wed: introductory email
                    "2026-06-15",  # day 5 Sat -> Mon: second email
                    "2026-06-16",  # day 7 Mon, taken -> Tue: LinkedIn
                    "2026-06-17",  # day 8 Tue, taken -> Wed: call
                    "2026-06-18",  # day 10 Thu: resource email
                    "2026-06-22",  # day 12 Sat -> Mon: another email
                    "2026-06-23",  # day 14 Mon, taken -> Tue: postcard
                    "2026-06-26",  # day 18 Fri: call
                    "2026-06-29",  # day 21 Mon: final email
                ],
                id="plain-june",
            ),
            pytest.param(
                "2026-11-16",
                [
                    "2026-11-17",
                    "2026-11-18",
                    "2026-11-23",
                    "2026-11-24",
                    "2026-11-25",
                    "2026-11-27",  # day 10 is Thanksgiving: Friday
                    "2026-11-30",
                    "2026-12-01",
                    "2026-12-04",
                    "2026-12-07",
                ],
                id="thanksgiving",
            ),
        ],
    )
    def test_every_step_lands_on_its_expected_local_date(self, monday: str, expected_dates: list[str]) -> None:
        steps = parse_cadence(REFERENCE_CADENCE)
        results = plan(steps, calendar_for(steps, NY, "US"), at(NY, f"{monday} 09:00"))
        assert [wall(r, NY)[:10] for r in results] == expected_dates
        assert {wall(r, NY)[11:] for r in results} == {"08:00"}


class TestAddBusinessDays:
    @pytest.mark.parametrize(
        ("start", "days", "expected"),
        [
            ("2026-06-12 10:00", 1, "2026-06-15 10:00"),  # Friday + 1 is Monday
            ("2026-06-08 10:00", 5, "2026-06-15 10:00"),
            ("2026-06-13 10:00", 1, "2026-06-15 10:00"),  # from a Saturday
            ("2026-11-25 15:00", 1, "2026-11-27 15:00"),  # over Thanksgiving
            ("2026-11-25 15:00", 2, "2026-11-30 15:00"),
            ("2026-12-31 09:00", 1, "2027-01-04 09:00"),  # over New Year and a weekend
            ("2028-02-25 11:00", 2, "2028-02-29 11:00"),  # onto leap day
            ("2028-02-28 11:00", 2, "2028-03-01 11:00"),  # over leap day
            ("2026-06-12 10:00", 0, "2026-06-12 10:00"),
        ],
    )
    def test_counts_open_days_and_keeps_the_local_wall_time(self, start: str, days: int, expected: str) -> None:
        steps = cadence(0)
        assert wall(add_business_days(calendar_for(steps, NY, "US"), at(NY, start), days), NY) == expected

    def test_keeps_the_local_wall_time_across_a_dst_change(self) -> None:
        steps = cadence(0)
        start = at(NY, "2026-03-06 10:00")  # Friday, EST
        result = add_business_days(calendar_for(steps, NY, "US"), start, 1)
        assert (wall(result, NY), result) == ("2026-03-09 10:00", utc("2026-03-09 14:00"))
        assert start == utc("2026-03-06 15:00")

    @pytest.mark.parametrize(
        ("business_days_only", "holidays", "expected"),
        [
            (True, True, "2026-11-27 15:00"),
            (True, False, "2026-11-26 15:00"),
            (False, True, "2026-11-27 15:00"),
            (False, False, "2026-11-26 15:00"),
        ],
    )
    def test_follows_the_cadences_weekend_and_holiday_settings(
        self, business_days_only: bool, holidays: bool, expected: str
    ) -> None:
        steps = cadence(0, business_days_only=business_days_only, holidays=holidays)
        cal = calendar_for(steps, NY, "US")
        assert wall(add_business_days(cal, at(NY, "2026-11-25 15:00"), 1), NY) == expected

    def test_counts_weekend_days_when_weekends_are_allowed(self) -> None:
        steps = cadence(0, business_days_only=False)
        assert wall(add_business_days(calendar_for(steps, NY, "US"), at(NY, "2026-06-12 10:00"), 1), NY) == (
            "2026-06-13 10:00"
        )

    def test_uses_the_leads_zone_east_of_utc(self) -> None:
        steps = cadence(0)
        # Friday 23:00 UTC is already Saturday in Tokyo: one business day later is Tuesday.
        result = add_business_days(calendar_for(steps, TOKYO, "JP"), utc("2026-06-12 23:00"), 1)
        assert wall(result, TOKYO) == "2026-06-15 08:00"


class TestLocalInstant:
    @pytest.mark.parametrize(
        ("day", "at_time", "zone", "expected"),
        [
            (date(2026, 6, 8), time(8, 0), NY, "2026-06-08 12:00"),
            (date(2026, 1, 15), time(8, 0), NY, "2026-01-15 13:00"),
            (date(2026, 6, 8), time(8, 0), LA, "2026-06-08 15:00"),
            (date(2026, 6, 8), time(8, 0), PARIS, "2026-06-08 06:00"),
            (date(2026, 1, 15), time(8, 0), PARIS, "2026-01-15 07:00"),
            (date(2026, 6, 8), time(8, 0), KOLKATA, "2026-06-08 02:30"),
            (date(2026, 6, 8), time(8, 0), TOKYO, "2026-06-07 23:00"),
            (date(2026, 6, 8), time(8, 0), AUCKLAND, "2026-06-07 20:00"),
            (date(2026, 1, 15), time(8, 0), AUCKLAND, "2026-01-14 19:00"),
            (date(2028, 2, 29), time(8, 0), SYDNEY, "2028-02-28 21:00"),
            # 02:30 does not exist on a spring-forward night: the result lies after the gap (03:30 EDT/CEST).
            (date(2026, 3, 8), time(2, 30), NY, "2026-03-08 07:30"),
            (date(2026, 3, 29), time(2, 30), PARIS, "2026-03-29 01:30"),
            # 01:30 happens twice on a fall-back night: the first one (still summer time).
            (date(2026, 11, 1), time(1, 30), NY, "2026-11-01 05:30"),
            (date(2026, 10, 25), time(2, 30), PARIS, "2026-10-25 00:30"),
        ],
    )
    def test_maps_a_local_wall_time_to_its_utc_instant(
        self, day: date, at_time: time, zone: str, expected: str
    ) -> None:
        result = local_instant(day, at_time, ZoneInfo(zone))
        assert (result, result.tzinfo) == (utc(expected), UTC)

    def test_a_skipped_wall_time_maps_to_an_instant_after_the_gap(self) -> None:
        result = local_instant(date(2026, 3, 8), time(2, 30), ZoneInfo(NY))
        gap_ends = utc("2026-03-08 07:00")  # 03:00 EDT
        assert result >= gap_ends
        assert wall(result, NY) == "2026-03-08 03:30"


class TestNaiveDatetimesAreRefused:
    NAIVE = datetime(2026, 6, 8, 9, 0)

    def test_step_due_at_refuses_a_naive_enrollment_time(self) -> None:
        steps = cadence(0)
        with pytest.raises(ValueError, match="enrolled_at must be timezone-aware"):
            step_due_at(steps, 0, calendar_for(steps, NY), enrolled_at=self.NAIVE)

    def test_step_due_at_refuses_a_naive_previous_touch(self) -> None:
        steps = cadence(0, 1)
        cal = calendar_for(steps, NY)
        with pytest.raises(ValueError, match="previous_touch_at must be timezone-aware"):
            step_due_at(steps, 1, cal, enrolled_at=at(NY, "2026-06-08 09:00"), previous_touch_at=self.NAIVE)

    def test_plan_refuses_a_naive_enrollment_time(self) -> None:
        steps = cadence(0)
        with pytest.raises(ValueError, match="enrolled_at must be timezone-aware"):
            plan(steps, calendar_for(steps, NY), self.NAIVE)

    def test_next_slot_refuses_a_naive_instant(self) -> None:
        with pytest.raises(ValueError, match="earliest must be timezone-aware"):
            calendar_for(cadence(0), NY).next_slot(self.NAIVE)

    def test_local_date_refuses_a_naive_instant(self) -> None:
        with pytest.raises(ValueError, match="instant must be timezone-aware"):
            calendar_for(cadence(0), NY).local_date(self.NAIVE)

    def test_add_business_days_refuses_a_naive_start(self) -> None:
        with pytest.raises(ValueError, match="start must be timezone-aware"):
            add_business_days(calendar_for(cadence(0), NY), self.NAIVE, 1)


# --- Property: whatever the zone, enrollment and cadence, the plan keeps the rules. ---

ZONES = [LA, NY, PARIS, TOKYO, SYDNEY, KOLKATA, AUCKLAND, "Asia/Kathmandu", "America/Santiago", "Pacific/Chatham"]
COUNTRIES = [None, "US", "FR", "JP", "AU", "IN", "NZ"]


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    days = sorted(draw(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12)))
    # Windows stay between 06:00 and 22:00: no DST change happens then in these zones, so the
    # window's edges are real wall-clock times on every day.
    start = draw(st.integers(min_value=6 * 60, max_value=12 * 60))
    end = draw(st.integers(min_value=start + 15, max_value=22 * 60))
    return parse_cadence(
        {
            "name": "property",
            "settings": {
                "send_window": {
                    "start": f"{start // 60:02d}:{start % 60:02d}",
                    "end": f"{end // 60:02d}:{end % 60:02d}",
                },
                "business_days_only": draw(st.booleans()),
                "holidays": draw(st.booleans()),
                "min_gap_days": draw(st.integers(min_value=1, max_value=4)),
            },
            "steps": [{"day": day, "channel": draw(st.sampled_from(["call", "task", "linkedin"]))} for day in days],
        }
    )


@settings(max_examples=150, deadline=None)
@given(
    steps=cadences(),
    zone=st.sampled_from(ZONES),
    country=st.sampled_from(COUNTRIES),
    enrolled=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_a_plan_keeps_every_scheduling_rule(steps: Cadence, zone: str, country: str | None, enrolled: datetime) -> None:
    cal = calendar_for(steps, zone, country)
    results = plan(steps, cal, enrolled)
    options = steps.settings
    enrolled_date = cal.local_date(enrolled)

    assert results == sorted(results)
    assert results[0] >= enrolled
    for step, due in zip(steps.steps, results, strict=True):
        local = due.astimezone(cal.tz)
        assert cal.is_open_day(local.date())
        assert options.window_start <= local.time() < options.window_end
        assert local.date() >= enrolled_date + timedelta(days=step.day)
    for index in range(1, len(results)):
        first, second = results[index - 1], results[index]
        if steps.steps[index - 1].day == steps.steps[index].day:
            assert first == second
        else:
            gap = cal.local_date(second) - cal.local_date(first)
            assert gap >= timedelta(days=options.min_gap_days)
