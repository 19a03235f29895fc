"""The charter's working-time calendar, with answers checked by hand.

C13: the line is open 08:30-18:00 Monday to Friday, UK time, closed on England &
Wales bank holidays; a call logged out of hours starts its clocks at the next opening.
C13: SLA clocks count working time only; "10 working days" is the same working
moment ten working days later.

Calendars used below (December 2026 / January 2027 / March 2027):

        Dec 2026             Jan 2027             Mar 2027
    Mo Tu We Th Fr Sa Su  Mo Tu We Th Fr Sa Su  Mo Tu We Th Fr Sa Su
        1  2  3  4  5  6               1  2  3   1  2  3  4  5  6  7
     7  8  9 10 11 12 13   4  5  6  7  8  9 10   8  9 10 11 12 13 14
    14 15 16 17 18 19 20  11 12 13 14 15 16 17  15 16 17 18 19 20 21
    21 22 23 24 25 26 27  18 19 20 21 22 23 24  22 23 24 25 26 27 28
    28 29 30 31           25 26 27 28 29 30 31  29 30 31

Bank holidays: Fri 25 Dec, Mon 28 Dec (Boxing Day, a Saturday, substituted),
Fri 1 Jan, Good Friday 26 Mar 2027, Easter Monday 29 Mar 2027.  Clocks go
forward on Sun 29 Mar 2026 and Sun 28 Mar 2027, back on Sun 25 Oct 2026.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from supportdesk.cli.calendar_cli import WorkingDuration, calendar
from supportdesk.engine.working_time import calendar as calendar_module
from supportdesk.engine.working_time.calendar import (
    CHARTER_CALENDAR_FILE,
    CalendarConfigError,
    WorkingCalendar,
    load_calendar,
)

LONDON = ZoneInfo("Europe/London")
CHARTER = WorkingCalendar.default()
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def uk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def same_instant(actual: datetime, expected: datetime) -> bool:
    # Compare in UTC: Python compares datetimes sharing a tzinfo by wall clock.
    return actual.astimezone(UTC) == expected.astimezone(UTC)


def charter_with(**changes: object) -> WorkingCalendar:
    return WorkingCalendar(**changes)  # the constructor's defaults are the charter's


# --- C13: adding working time ----------------------------------------------------------


def test_C13_friday_17h_plus_8_working_hours_is_monday_15h30() -> None:
    # 1h on Friday (17:00-18:00), 7h on Monday (08:30-15:30).
    due = CHARTER.add(uk(2026, 11, 13, 17), 8 * H)
    assert due == uk(2026, 11, 16, 15, 30)
    assert due.astimezone(UTC) == utc(2026, 11, 16, 15, 30)


ADD_CASES = [
    # (why, start, working time, due (local), due (UTC))
    ("summer Friday 17:00 + 8h", uk(2026, 6, 12, 17), 8 * H, uk(2026, 6, 15, 15, 30), utc(2026, 6, 15, 14, 30)),
    (
        "ends exactly at closing: closing time returned",
        uk(2026, 11, 13, 17),
        H,
        uk(2026, 11, 13, 18),
        utc(2026, 11, 13, 18),
    ),
    (
        "from the closing moment: continues Monday",
        uk(2026, 11, 13, 18),
        H,
        uk(2026, 11, 16, 9, 30),
        utc(2026, 11, 16, 9, 30),
    ),
    ("zero while open: now", uk(2026, 11, 13, 17), timedelta(0), uk(2026, 11, 13, 17), utc(2026, 11, 13, 17)),
    (
        "a whole day from opening ends at closing",
        uk(2026, 11, 16, 8, 30),
        9 * H + 30 * M,
        uk(2026, 11, 16, 18),
        utc(2026, 11, 16, 18),
    ),
    (
        "one minute more runs into the next morning",
        uk(2026, 11, 16, 8, 30),
        9 * H + 31 * M,
        uk(2026, 11, 17, 8, 31),
        utc(2026, 11, 17, 8, 31),
    ),
    ("a working week", uk(2026, 11, 16, 8, 30), 47 * H + 30 * M, uk(2026, 11, 20, 18), utc(2026, 11, 20, 18)),
    (
        "Christmas: skips Fri 25 and Mon 28 (Boxing Day substitute)",
        uk(2026, 12, 24, 17),
        8 * H,
        uk(2026, 12, 29, 15, 30),
        utc(2026, 12, 29, 15, 30),
    ),
    ("New Year: skips Fri 1 Jan", uk(2026, 12, 31, 17), 8 * H, uk(2027, 1, 4, 15, 30), utc(2027, 1, 4, 15, 30)),
    (
        "Easter 2027 and the clocks going forward in one weekend",
        uk(2027, 3, 25, 17),
        8 * H,
        uk(2027, 3, 30, 15, 30),
        utc(2027, 3, 30, 14, 30),
    ),
    (
        "clocks forward 2026: Friday 17:00 GMT + 2h",
        uk(2026, 3, 27, 17),
        2 * H,
        uk(2026, 3, 30, 9, 30),
        utc(2026, 3, 30, 8, 30),
    ),
    (
        "clocks back 2026: Friday 17:00 BST + 2h",
        uk(2026, 10, 23, 17),
        2 * H,
        uk(2026, 10, 26, 9, 30),
        utc(2026, 10, 26, 9, 30),
    ),
    ("95h from Friday 10:00 over Christmas", uk(2026, 12, 18, 10), 95 * H, uk(2027, 1, 6, 10), utc(2027, 1, 6, 10)),
]


@pytest.mark.parametrize(("why", "start", "working", "local", "in_utc"), ADD_CASES, ids=[case[0] for case in ADD_CASES])
def test_C13_add_working_time(why: str, start: datetime, working: timedelta, local: datetime, in_utc: datetime) -> None:
    due = CHARTER.add(start, working)
    assert due == local
    assert due.astimezone(UTC) == in_utc
    assert due.tzinfo == LONDON  # answers come back in the calendar's zone
    assert CHARTER.between(start, due) == working


def test_C13_input_in_another_zone_gives_the_same_answer_in_uk_time() -> None:
    # 16:00 UTC on Friday 23 October 2026 is 17:00 BST.
    due = CHARTER.add(utc(2026, 10, 23, 16), 2 * H)
    assert due.tzinfo == LONDON
    assert due.astimezone(UTC) == utc(2026, 10, 26, 9, 30)
    assert CHARTER.add(datetime(2026, 10, 23, 12, tzinfo=ZoneInfo("America/New_York")), 2 * H) == due


def test_C13_negative_working_time_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CHARTER.add(uk(2026, 11, 13, 17), -H)


# --- C13: out of hours, holidays and clock changes -----------------------------------


def test_C13_call_logged_on_saturday_starts_its_clocks_monday_0830() -> None:
    saturday = uk(2026, 11, 14, 11)
    assert not CHARTER.is_open(saturday)
    assert CHARTER.next_open(saturday) == uk(2026, 11, 16, 8, 30)
    assert CHARTER.add(saturday, timedelta(0)) == uk(2026, 11, 16, 8, 30)
    assert CHARTER.add(saturday, 8 * H) == uk(2026, 11, 16, 16, 30)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (uk(2026, 11, 13, 17, 59), True),
        (uk(2026, 11, 13, 18), False),  # closing moment: closed
        (uk(2026, 11, 16, 8, 29), False),
        (uk(2026, 11, 16, 8, 30), True),  # opening moment: open
        (uk(2026, 12, 25, 10), False),  # Christmas Day
        (uk(2026, 12, 28, 10), False),  # Boxing Day substitute
        (uk(2027, 1, 1, 10), False),
        (uk(2027, 3, 26, 10), False),  # Good Friday
        (uk(2027, 3, 29, 10), False),  # Easter Monday
        (uk(2027, 3, 30, 8, 30), True),
        (utc(2027, 3, 30, 7, 30), True),  # 08:30 BST
        (utc(2027, 3, 30, 7, 29), False),
        (utc(2026, 10, 26, 8, 29), False),  # 08:29 GMT
        (utc(2026, 10, 26, 8, 30), True),
    ],
)
def test_C13_is_open(moment: datetime, is_open: bool) -> None:
    assert CHARTER.is_open(moment) is is_open


@pytest.mark.parametrize(
    ("moment", "opening", "opening_utc"),
    [
        (uk(2026, 11, 13, 18), uk(2026, 11, 16, 8, 30), utc(2026, 11, 16, 8, 30)),
        (uk(2026, 11, 13, 12), uk(2026, 11, 13, 12), utc(2026, 11, 13, 12)),
        (uk(2026, 12, 24, 18), uk(2026, 12, 29, 8, 30), utc(2026, 12, 29, 8, 30)),
        (uk(2026, 12, 31, 20), uk(2027, 1, 4, 8, 30), utc(2027, 1, 4, 8, 30)),
        (uk(2026, 10, 25, 12), uk(2026, 10, 26, 8, 30), utc(2026, 10, 26, 8, 30)),  # the Sunday clocks go back
        (uk(2027, 3, 28, 12), uk(2027, 3, 30, 8, 30), utc(2027, 3, 30, 7, 30)),  # forward, then Easter Monday
        (uk(2027, 3, 25, 18), uk(2027, 3, 30, 8, 30), utc(2027, 3, 30, 7, 30)),
    ],
)
def test_C13_next_open(moment: datetime, opening: datetime, opening_utc: datetime) -> None:
    assert CHARTER.next_open(moment) == opening
    assert CHARTER.next_open(moment).astimezone(UTC) == opening_utc


@pytest.mark.parametrize(
    ("year", "closed_weekdays"),
    [
        # England & Wales bank holidays falling on weekdays, from gov.uk/bank-holidays.
        (2026, ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"]),
        (2027, ["01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-27", "12-28"]),
    ],
)
def test_C13_bank_holidays_are_england_and_wales(year: int, closed_weekdays: list[str]) -> None:
    days = (date(year, 1, 1) + timedelta(days=n) for n in range(365))
    closed = [f"{day:%m-%d}" for day in days if day.weekday() < 5 and not CHARTER.is_working_day(day)]
    assert closed == closed_weekdays


def test_C13_day_exceptions_name_the_bank_holiday() -> None:
    assert CHARTER.day_exception(date(2026, 12, 25)) == "Christmas Day"
    assert CHARTER.day_exception(date(2026, 12, 28)) == "Boxing Day (observed)"
    assert CHARTER.day_exception(date(2026, 12, 26)) is None  # a Saturday: shut anyway
    assert CHARTER.day_exception(date(2026, 12, 24)) is None


def test_C13_opening_periods_follow_uk_time_across_clock_changes() -> None:
    # 08:30-18:00 local is 07:30-17:00 UTC in summer and 08:30-18:00 UTC in winter.
    (summer,) = CHARTER.opening_periods(date(2026, 10, 23))
    (winter,) = CHARTER.opening_periods(date(2026, 10, 26))
    assert summer.start.astimezone(UTC) == utc(2026, 10, 23, 7, 30)
    assert winter.start.astimezone(UTC) == utc(2026, 10, 26, 8, 30)
    assert summer.duration == winter.duration == 9 * H + 30 * M
    assert CHARTER.opening_periods(date(2026, 10, 25)) == []


# --- C13: between and the periods crossed -----------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "working"),
    [
        (uk(2026, 11, 13, 17), uk(2026, 11, 16, 15, 30), 8 * H),
        (uk(2026, 11, 16, 15, 30), uk(2026, 11, 13, 17), -8 * H),  # reversed: negative
        (uk(2026, 11, 13, 17), uk(2026, 11, 13, 17), timedelta(0)),
        (uk(2026, 11, 14, 9), uk(2026, 11, 15, 20), timedelta(0)),  # a weekend
        (uk(2026, 10, 19), uk(2026, 10, 26), 47 * H + 30 * M),  # the week before the clocks go back
        (uk(2026, 3, 23), uk(2026, 3, 30), 47 * H + 30 * M),  # the week before they go forward
        (uk(2027, 3, 22), uk(2027, 3, 29), 38 * H),  # Good Friday week
        (uk(2026, 10, 23, 8, 30), uk(2026, 10, 26, 18), 19 * H),  # 9.5h BST + 9.5h GMT
        (uk(2026, 12, 24), uk(2027, 1, 4), 38 * H),  # 24, 29, 30, 31 December
        (utc(2026, 10, 23, 7, 30), utc(2026, 10, 23, 17), 9 * H + 30 * M),
    ],
)
def test_C13_between(a: datetime, b: datetime, working: timedelta) -> None:
    assert CHARTER.between(a, b) == working


def test_C13_periods_between_explain_the_answer() -> None:
    start = uk(2026, 12, 24, 17)
    due = CHARTER.add(start, 8 * H)
    periods = CHARTER.periods_between(start, due)
    assert periods == [(uk(2026, 12, 24, 17), uk(2026, 12, 24, 18)), (uk(2026, 12, 29, 8, 30), due)]
    assert [p.duration for p in periods] == [H, 7 * H]
    assert CHARTER.periods_between(due, start) == periods  # either order
    assert all(p.start.tzinfo == LONDON for p in periods)


# --- C13: working days ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due", "due_utc"),
    [
        (uk(2026, 12, 18, 10), 10, uk(2027, 1, 6, 10), utc(2027, 1, 6, 10)),
        (uk(2026, 12, 19, 10), 10, uk(2027, 1, 7, 8, 30), utc(2027, 1, 7, 8, 30)),  # Saturday: from Mon 08:30
        (uk(2026, 11, 13, 17, 59), 1, uk(2026, 11, 16, 17, 59), utc(2026, 11, 16, 17, 59)),
        (uk(2026, 11, 13, 18), 1, uk(2026, 11, 17, 8, 30), utc(2026, 11, 17, 8, 30)),  # closed: from Mon 08:30
        (uk(2026, 10, 23, 10), 1, uk(2026, 10, 26, 10), utc(2026, 10, 26, 10)),  # same wall time, BST -> GMT
        (uk(2027, 3, 25, 10), 1, uk(2027, 3, 30, 10), utc(2027, 3, 30, 9)),  # GMT -> BST, over Easter
        (uk(2026, 11, 14, 10), 0, uk(2026, 11, 16, 8, 30), utc(2026, 11, 16, 8, 30)),  # 0 days: next opening
    ],
)
def test_C13_add_working_days(start: datetime, n: int, due: datetime, due_utc: datetime) -> None:
    assert CHARTER.add_days(start, n) == due
    assert CHARTER.add_days(start, n).astimezone(UTC) == due_utc


def test_C13_low_call_logged_friday_18_december_is_due_wednesday_6_january() -> None:
    assert CHARTER.add_days(uk(2026, 12, 18, 10), 10) == uk(2027, 1, 6, 10)


@pytest.mark.parametrize("n", [-1, True, 1.5])
def test_C13_working_days_must_be_a_whole_number(n: object) -> None:
    with pytest.raises(ValueError, match="working days"):
        CHARTER.add_days(uk(2026, 11, 13, 10), n)  # type: ignore[arg-type]


# --- other calendars: lunch breaks, short days, closures --------------------------------


LUNCH = charter_with(opening_hours={day: ["08:30-12:00", "13:00-18:00"] for day in WEEKDAYS})


def test_C13_lunch_break_calendar() -> None:
    monday = (2026, 11, 16)
    assert LUNCH.add(uk(*monday, 11), 2 * H) == uk(*monday, 14)
    assert LUNCH.add(uk(*monday, 11), H) == uk(*monday, 12)  # ends at the lunch closing
    assert LUNCH.add(uk(*monday, 12), H) == uk(*monday, 14)  # from it: after lunch
    assert not LUNCH.is_open(uk(*monday, 12))
    assert LUNCH.next_open(uk(*monday, 12, 30)) == uk(*monday, 13)
    assert LUNCH.between(uk(*monday, 8), uk(*monday, 19)) == 8 * H + 30 * M
    assert LUNCH.periods_between(uk(*monday, 11), uk(*monday, 14)) == [
        (uk(*monday, 11), uk(*monday, 12)),
        (uk(*monday, 13), uk(*monday, 14)),
    ]
    assert LUNCH.add_days(uk(*monday, 12, 30), 1) == uk(2026, 11, 17, 13)  # closed: from 13:00


def test_C13_short_day() -> None:
    cal = charter_with(short_days={"2026-12-24": ["08:30-13:00"]})
    assert cal.is_open(uk(2026, 12, 24, 12, 59))
    assert not cal.is_open(uk(2026, 12, 24, 13))
    assert cal.add(uk(2026, 12, 24, 12), 2 * H) == uk(2026, 12, 29, 9, 30)
    assert cal.add_days(uk(2026, 12, 23, 10), 1) == uk(2026, 12, 24, 10)
    assert cal.add_days(uk(2026, 12, 23, 15), 1) == uk(2026, 12, 24, 13)  # clamped to the early closing
    assert cal.day_exception(date(2026, 12, 24)) == "short day 08:30-13:00"


def test_C13_working_day_clamps_into_the_target_days_hours() -> None:
    cal = charter_with(
        short_days={date(2026, 11, 17): ["08:30-12:00", "14:00-16:00"], date(2026, 11, 18): ["10:00-18:00"]}
    )
    assert cal.add_days(uk(2026, 11, 16, 12, 30), 1) == uk(2026, 11, 17, 12)  # in the gap: end before it
    assert cal.add_days(uk(2026, 11, 16, 17), 1) == uk(2026, 11, 17, 16)  # after the last period
    assert cal.add_days(uk(2026, 11, 17, 9), 1) == uk(2026, 11, 18, 10)  # before a late opening


def test_C13_short_day_overrides_weekend_and_bank_holiday() -> None:
    cal = charter_with(short_days={"2026-12-19": ["10:00-12:00"], "2026-12-28": ["10:00-12:00"]})
    assert cal.is_open(uk(2026, 12, 19, 11))  # a Saturday
    assert cal.is_open(uk(2026, 12, 28, 11))  # Boxing Day substitute
    assert cal.add(uk(2026, 12, 24, 17), 4 * H) == uk(2026, 12, 29, 9, 30)


def test_C13_extra_closure() -> None:
    cal = charter_with(closures={"2026-11-16": "Staff training"})
    assert cal.add(uk(2026, 11, 13, 17), 8 * H) == uk(2026, 11, 17, 15, 30)
    assert not cal.is_working_day(date(2026, 11, 16))
    assert cal.day_exception(date(2026, 11, 16)) == "Staff training"
    assert cal != CHARTER


def test_C13_no_public_holidays() -> None:
    cal = charter_with(holidays_country=None, holidays_subdivision=None)
    assert cal.is_open(uk(2026, 12, 25, 10))


# --- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda t: CHARTER.is_open(t),
        lambda t: CHARTER.next_open(t),
        lambda t: CHARTER.add(t, H),
        lambda t: CHARTER.add_days(t, 1),
        lambda t: CHARTER.between(t, uk(2026, 11, 16)),
        lambda t: CHARTER.between(uk(2026, 11, 16), t),
        lambda t: CHARTER.periods_between(t, uk(2026, 11, 16)),
    ],
)
def test_naive_datetimes_are_refused(call) -> None:
    with pytest.raises(ValueError, match=r"naive datetime.*timezone-aware"):
        call(datetime(2026, 11, 13, 17))  # noqa: DTZ001  (naive on purpose)


def test_non_datetimes_are_refused() -> None:
    with pytest.raises(TypeError, match="datetime"):
        CHARTER.is_open(date(2026, 11, 13))  # type: ignore[arg-type]


# --- configuration --------------------------------------------------------------------


def charter_config(**changes: object) -> dict[str, object]:
    config: dict[str, object] = {
        "timezone": "Europe/London",
        "holidays": {"country": "GB", "subdivision": "ENG"},
        "opening_hours": {day: ["08:30-18:00"] for day in WEEKDAYS},
    }
    config.update(changes)
    return config


def test_C13_the_shipped_toml_file_is_the_charter_calendar() -> None:
    loaded = load_calendar()
    assert loaded == WorkingCalendar.default()
    assert WorkingCalendar.from_toml(CHARTER_CALENDAR_FILE) == CHARTER
    # And it behaves the same, every half hour of two years, clock changes included.
    moment = uk(2026, 1, 1)
    while moment < uk(2028, 1, 1):
        assert loaded.is_open(moment) == CHARTER.is_open(moment), moment
        moment = (moment.astimezone(UTC) + 30 * M).astimezone(LONDON)
    for start in (uk(2026, 12, 18, 10), uk(2027, 3, 25, 17), uk(2026, 10, 23, 17)):
        assert loaded.add(start, 20 * H) == CHARTER.add(start, 20 * H)
        assert loaded.add_days(start, 10) == CHARTER.add_days(start, 10)


def test_C13_default_reads_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_file(*args: object, **kwargs: object) -> None:
        raise AssertionError("default() read a file")

    monkeypatch.setattr(calendar_module.tomllib, "load", no_file)
    monkeypatch.setattr(calendar_module.WorkingCalendar, "from_toml", no_file)
    monkeypatch.setattr(calendar_module, "CHARTER_CALENDAR_FILE", Path("/nonexistent/calendar.toml"))
    assert WorkingCalendar.default() == CHARTER


def test_from_config_matches_the_constructor() -> None:
    config = charter_config(closures={"2026-12-24": "Office move"}, short_days={"2026-12-31": ["08:30-13:00"]})
    built = WorkingCalendar.from_config(config)
    assert built == charter_with(
        closures={date(2026, 12, 24): "Office move"}, short_days={date(2026, 12, 31): ("08:30-13:00",)}
    )
    assert built.add(uk(2026, 12, 23, 17), 8 * H) == uk(2026, 12, 29, 15, 30)
    assert built.add(uk(2026, 12, 31, 12), 2 * H) == uk(2027, 1, 4, 9, 30)


def test_subdivision_alias_is_the_same_calendar() -> None:
    assert charter_with(holidays_subdivision="England") == CHARTER


CONFIG_ERRORS = [
    # (why, config changes, key named, words in the message)
    (
        "closing before opening",
        {"opening_hours": {"monday": ["18:00-08:30"]}},
        "opening_hours.monday[0]",
        "closes at or before it opens",
    ),
    (
        "closing at opening",
        {"opening_hours": {"monday": ["08:30-08:30"]}},
        "opening_hours.monday[0]",
        "closes at or before it opens",
    ),
    (
        "overlapping periods",
        {"opening_hours": {"monday": ["08:30-12:30", "12:00-18:00"]}},
        "opening_hours.monday",
        "08:30-12:30 and 12:00-18:00 overlap",
    ),
    ("bad time format", {"opening_hours": {"monday": ["8.30-18"]}}, "opening_hours.monday[0]", "HH:MM-HH:MM"),
    ("hour out of range", {"opening_hours": {"monday": ["08:30-25:00"]}}, "opening_hours.monday[0]", "bad time of day"),
    (
        "minute out of range",
        {"opening_hours": {"monday": ["08:60-18:00"]}},
        "opening_hours.monday[0]",
        "bad time of day",
    ),
    ("a string, not a list", {"opening_hours": {"monday": "08:30-18:00"}}, "opening_hours.monday", "expected a list"),
    ("unknown day", {"opening_hours": {"funday": ["08:30-18:00"]}}, "opening_hours.funday", "unknown day"),
    ("never open", {"opening_hours": {"monday": []}}, "opening_hours", "never open"),
    ("unknown time zone", {"timezone": "Europe/Lndon"}, "timezone", "unknown time zone 'Europe/Lndon'"),
    ("unknown holiday country", {"holidays": {"country": "XX"}}, "holidays.country", "unknown holiday country"),
    (
        "unknown subdivision",
        {"holidays": {"country": "GB", "subdivision": "XYZ"}},
        "holidays.subdivision",
        "ENG, NIR, SCT, WLS",
    ),
    (
        "misspelt holiday key",
        {"holidays": {"country": "GB", "subdivison": "ENG"}},
        "holidays.subdivison",
        "unknown setting",
    ),
    ("misspelt setting", {"opening_hour": {}}, "opening_hour", "unknown setting"),
    ("bad closure date", {"closures": {"2026-02-30": "nope"}}, "closures.2026-02-30", "bad date"),
    (
        "closure and short day together",
        {"closures": {"2026-12-24": "x"}, "short_days": {"2026-12-24": ["08:30-13:00"]}},
        "short_days.2026-12-24",
        "also listed under [closures]",
    ),
    ("empty short day", {"short_days": {"2026-12-24": []}}, "short_days.2026-12-24", "use [closures]"),
]


@pytest.mark.parametrize(("why", "changes", "key", "words"), CONFIG_ERRORS, ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors_are_clear(why: str, changes: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(CalendarConfigError) as caught:
        WorkingCalendar.from_config(charter_config(**changes), source="calendar.toml")
    assert caught.value.key == key
    assert str(caught.value).startswith(f"calendar.toml: {key}: ")
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_config_missing_setting() -> None:
    config = charter_config()
    del config["timezone"]
    with pytest.raises(CalendarConfigError, match=r"^calendar.toml: timezone: missing setting$"):
        WorkingCalendar.from_config(config, source="calendar.toml")


def test_toml_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('timezone = "Europe/London"\n[opening_hours\n')
    with pytest.raises(CalendarConfigError, match=r"broken\.toml: not valid TOML"):
        WorkingCalendar.from_toml(broken)

    nonsense = tmp_path / "nonsense.toml"
    shipped = CHARTER_CALENDAR_FILE.read_text()
    nonsense.write_text(shipped.replace('monday = ["08:30-18:00"]', 'monday = ["18:00-08:30"]'))
    with pytest.raises(CalendarConfigError) as caught:
        WorkingCalendar.from_toml(nonsense)
    assert str(caught.value).startswith(f"{nonsense}: opening_hours.monday[0]: ")


def test_shipped_toml_is_plain_charter_data() -> None:
    config = tomllib.loads(CHARTER_CALENDAR_FILE.read_text())
    assert config["closures"] == {}
    assert config["short_days"] == {}


# --- the command line -----------------------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(calendar, list(args))
    return result.exit_code, result.output


def test_cli_add_explains_christmas() -> None:
    code, output = run("add", "2026-12-24T17:00", "8h")
    assert code == 0, output
    assert "Due:          Tue 2026-12-29 15:30 GMT (2026-12-29 15:30 UTC)" in output
    assert "  Thu 2026-12-24 17:00-18:00 GMT  1h" in output
    assert "  Tue 2026-12-29 08:30-15:30 GMT  7h" in output
    assert "Fri 2026-12-25  Christmas Day" in output
    assert "Mon 2026-12-28  Boxing Day (observed)" in output


def test_cli_add_working_days() -> None:
    code, output = run("add", "2026-12-18T10:00", "10d")
    assert code == 0, output
    assert "Due:          Wed 2027-01-06 10:00 GMT (2027-01-06 10:00 UTC)" in output
    assert "10 working days (95h of working time)" in output


def test_cli_add_out_of_hours_and_across_the_clock_change() -> None:
    code, output = run("add", "2026-10-24T12:00", "1h30m")  # Saturday
    assert code == 0, output
    assert "Clock starts: Mon 2026-10-26 08:30 GMT" in output
    assert "Due:          Mon 2026-10-26 10:00 GMT" in output
    code, output = run("add", "2026-10-23T16:00+00:00", "120m")  # 17:00 BST
    assert code == 0, output
    assert "Start:        Fri 2026-10-23 17:00 BST (2026-10-23 16:00 UTC)" in output
    assert "Due:          Mon 2026-10-26 09:30 GMT (2026-10-26 09:30 UTC)" in output


def test_cli_between() -> None:
    code, output = run("between", "2026-10-23T08:30", "2026-10-26T18:00")
    assert code == 0, output
    assert "Working time: 19h" in output
    assert "Fri 2026-10-23 08:30-18:00 BST  9h30m" in output
    code, output = run("between", "2026-10-26T18:00", "2026-10-23T08:30")
    assert "Working time: -19h" in output


def test_cli_uses_another_calendar_file(tmp_path: Path) -> None:
    custom = tmp_path / "custom.toml"
    custom.write_text(
        CHARTER_CALENDAR_FILE.read_text().replace("[closures]\n", '[closures]\n"2026-11-16" = "Staff training"\n')
    )
    code, output = run("add", "--calendar", str(custom), "2026-11-13T17:00", "8h")
    assert code == 0, output
    assert "Due:          Tue 2026-11-17 15:30 GMT" in output
    assert "Mon 2026-11-16  Staff training" in output


def test_cli_reports_a_bad_calendar_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    shipped = CHARTER_CALENDAR_FILE.read_text()
    bad.write_text(shipped.replace('timezone = "Europe/London"', 'timezone = "Mars/Base"'))
    code, output = run("between", "--calendar", str(bad), "2026-11-13T17:00", "2026-11-16T17:00")
    assert code == 1
    assert f"{bad}: timezone: unknown time zone 'Mars/Base'" in output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("add", "2026-11-13T17:00", "8x"), "not a working duration"),
        (("add", "2026-11-13T17:00", "1d2h"), "not a working duration"),
        (("add", "13/11/2026", "8h"), "not a date-time"),
        (("add", "2027-03-28T01:30", "1h"), "does not exist in Europe/London"),
        (("add", "2026-10-25T01:30", "1h"), "happens twice in Europe/London"),
    ],
)
def test_cli_refuses_bad_input(args: tuple[str, ...], words: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert words in output


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("8h", 8 * H),
        ("90m", 90 * M),
        ("1h30m", 90 * M),
        ("0h", timedelta(0)),
        ("10d", 10),
        ("0d", 0),
    ],
)
def test_cli_durations(text: str, value: object) -> None:
    assert WorkingDuration().convert(text, None, None) == value
