"""Laws of the working-time arithmetic (C12/C13), checked with hypothesis.

Instants are whole minutes across 2026-2028, in UTC, UK or New York time, with
extra weight on opening and closing moments, where the conventions bite:
periods are half-open [start, end); add(t, d) is the earliest moment, from
next_open(t) on, by which d of working time has elapsed; between is signed.
All comparisons are made in UTC, because Python compares datetimes that share a
tzinfo by wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportdesk.engine.working_time.calendar import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_MINUTES = 3 * 365 * 24 * 60
MICROSECOND = timedelta(microseconds=1)

CHARTER = WorkingCalendar.default()
CALENDARS = {
    "charter": CHARTER,
    # A lunch break, Saturday mornings, a short day, a closure.
    "lunch": WorkingCalendar(
        opening_hours={**{day: ["08:30-12:00", "13:00-18:00"] for day in WEEKDAYS}, "saturday": ["10:00-13:00"]},
        closures={"2026-11-16": "Staff training", "2027-06-01": "Office move"},
        short_days={"2026-12-24": ["08:30-13:00"], "2027-12-24": ["09:00-11:00", "11:30-12:00"]},
    ),
    # Hours around midnight and over the 01:00 clock changes on Sunday nights.
    "night": WorkingCalendar(
        opening_hours={**{day: ["00:00-02:30", "20:00-24:00"] for day in WEEKDAYS}, "sunday": ["00:00-03:00"]},
        holidays_country=None,
        holidays_subdivision=None,
    ),
}

settings.register_profile("calendar", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
calendar_settings = settings(settings.get_profile("calendar"))

zones = st.sampled_from([UTC, LONDON, ZoneInfo("America/New_York")])
any_minute = st.builds(
    lambda m, zone: (EPOCH + timedelta(minutes=m)).astimezone(zone), st.integers(0, SPAN_MINUTES), zones
)
# Opening and closing moments (and midnights) of the calendars above, in UK time.
boundary = st.builds(
    lambda days, clock: datetime.combine(date(2026, 1, 1) + timedelta(days=days), clock, tzinfo=LONDON),
    st.integers(0, 3 * 365),
    st.sampled_from([time(0), time(2, 30), time(3), time(8, 30), time(9), time(12), time(13), time(18), time(20)]),
)
instants = st.one_of(any_minute, boundary)
# Working time: any number of minutes up to about six working weeks, or half hours
# (which from an opening moment tend to land exactly on closing moments).
durations = st.one_of(
    st.integers(0, 300 * 60).map(lambda m: timedelta(minutes=m)),
    st.integers(0, 60).map(lambda k: timedelta(minutes=30 * k)),
)
positive_durations = durations.filter(lambda d: d > timedelta(0))
calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)


def u(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@calendar_settings
@given(calendars, instants, durations)
def test_C13_between_undoes_add(cal: WorkingCalendar, t: datetime, d: timedelta) -> None:
    assert cal.between(t, cal.add(t, d)) == d


@calendar_settings
@given(calendars, instants, durations, durations)
def test_C13_add_is_monotonic_in_the_amount(cal: WorkingCalendar, t: datetime, d1: timedelta, d2: timedelta) -> None:
    d1, d2 = sorted((d1, d2))
    assert u(cal.add(t, d1)) <= u(cal.add(t, d2))


@calendar_settings
@given(calendars, instants, instants, durations)
def test_C13_add_is_monotonic_in_the_start(cal: WorkingCalendar, t1: datetime, t2: datetime, d: timedelta) -> None:
    t1, t2 = sorted((t1, t2), key=u)
    assert u(cal.add(t1, d)) <= u(cal.add(t2, d))


@calendar_settings
@given(calendars, instants, durations, positive_durations)
def test_C13_adding_in_two_steps_is_adding_the_sum(
    cal: WorkingCalendar, t: datetime, a: timedelta, b: timedelta
) -> None:
    # Holds because a positive amount from a closing moment continues in the next period.
    assert u(cal.add(cal.add(t, a), b)) == u(cal.add(t, a + b))


@calendar_settings
@given(calendars, instants, durations)
def test_C13_adding_nothing_starts_the_clock(cal: WorkingCalendar, t: datetime, a: timedelta) -> None:
    assert u(cal.add(t, timedelta(0))) == u(cal.next_open(t))
    # After a first step that ended on a closing moment, adding nothing moves to the next opening.
    first = cal.add(t, a)
    assert u(cal.add(first, timedelta(0))) == u(cal.next_open(first))


@calendar_settings
@given(calendars, instants, positive_durations)
def test_C13_a_positive_amount_ends_inside_or_at_the_end_of_an_open_period(
    cal: WorkingCalendar, t: datetime, d: timedelta
) -> None:
    due = cal.add(t, d)
    # In (start, end] of a period: open just before, and the earliest such moment.
    assert cal.is_open(due - MICROSECOND)
    assert cal.between(t, due - MICROSECOND) < d
    assert u(due) > u(t)


@calendar_settings
@given(calendars, instants, instants, instants)
def test_C13_between_is_additive(cal: WorkingCalendar, a: datetime, b: datetime, c: datetime) -> None:
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)
    assert cal.between(a, b) == -cal.between(b, a)


@calendar_settings
@given(calendars, instants, st.lists(instants, min_size=1, max_size=5))
def test_C13_working_time_to_one_end_is_between_each_start_and_it(
    cal: WorkingCalendar, end: datetime, starts: list[datetime]
) -> None:
    to_end = cal.working_time_to(end)
    assert [to_end(a) for a in starts] == [cal.between(a, end) for a in starts]


@calendar_settings
@given(calendars, instants, instants)
def test_C13_periods_between_add_up_and_are_open(cal: WorkingCalendar, a: datetime, b: datetime) -> None:
    periods = cal.periods_between(a, b)
    assert sum((p.duration for p in periods), timedelta(0)) == abs(cal.between(a, b))
    low, high = sorted((u(a), u(b)))
    for period in periods:
        assert low <= u(period.start) < u(period.end) <= high
        assert cal.is_open(period.start)
        assert cal.is_open(period.end - MICROSECOND)
    for first, second in pairwise(periods):
        assert u(first.end) <= u(second.start)


@calendar_settings
@given(calendars, instants)
def test_C13_next_open_is_the_first_open_moment(cal: WorkingCalendar, t: datetime) -> None:
    opening = cal.next_open(t)
    assert cal.is_open(opening)
    assert u(opening) >= u(t)
    assert cal.between(t, opening) == timedelta(0)
    assert u(cal.next_open(opening)) == u(opening)
    if u(opening) > u(t):
        assert not cal.is_open(t)
        assert not cal.is_open(opening - MICROSECOND)
    assert opening.tzinfo == cal.zone


@calendar_settings
@given(any_minute)
def test_C13_is_open_is_the_charter_read_literally(t: datetime) -> None:
    # An independent statement of the charter: weekday, not an E&W bank holiday, 08:30 <= UK time < 18:00.
    local = t.astimezone(LONDON)
    bank_holidays = holidays.country_holidays("GB", subdiv="ENG")
    expected = local.weekday() < 5 and local.date() not in bank_holidays and time(8, 30) <= local.time() < time(18)
    assert CHARTER.is_open(t) == expected


@settings(calendar_settings, max_examples=40)
@given(calendars, instants, st.integers(1, 40 * 60).map(lambda m: timedelta(minutes=m)))
def test_C13_add_agrees_with_counting_minute_by_minute(cal: WorkingCalendar, t: datetime, d: timedelta) -> None:
    # The slow, obvious way: walk minute by minute, counting the open ones.
    moment, remaining = u(t), d
    while remaining:
        if cal.is_open(moment):
            remaining -= timedelta(minutes=1)
        moment += timedelta(minutes=1)
    assert u(cal.add(t, d)) == moment


@calendar_settings
@given(calendars, instants, st.integers(0, 30), st.integers(0, 30))
def test_C13_working_days(cal: WorkingCalendar, t: datetime, n1: int, n2: int) -> None:
    assert u(cal.add_days(t, 0)) == u(cal.next_open(t))
    n1, n2 = sorted((n1, n2))
    due1, due2 = cal.add_days(t, n1), cal.add_days(t, n2)
    assert u(due1) <= u(due2)
    # The answer lies in [start, end] of a period of a working day, n working days on.
    day = due2.date()
    assert any(u(p.start) <= u(due2) <= u(p.end) for p in cal.opening_periods(day))
    start_day = cal.next_open(t).date()
    days_on = (start_day + timedelta(days=k) for k in range(1, (day - start_day).days + 1))
    working_days = sum(cal.is_working_day(later) for later in days_on)
    assert working_days == n2


@calendar_settings
@given(instants, st.integers(0, 30))
def test_C13_charter_working_days_are_nine_and_a_half_working_hours(t: datetime, n: int) -> None:
    # Every charter working day is 08:30-18:00, so n working days is n * 9h30m of working time
    # (up to the closing-moment convention: ending at 18:00 is the next day's 08:30).
    hours = CHARTER.add(t, n * timedelta(hours=9, minutes=30))
    assert u(CHARTER.add_days(t, n)) == u(CHARTER.next_open(hours))
