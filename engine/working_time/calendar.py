"""Working-time arithmetic of the support charter (clauses C12 and C13).

The charter says: the support line is open 08:30-18:00 Monday to Friday, UK time
(Europe/London), and closed on England & Wales bank holidays.  Every SLA clock
counts working time only; a call logged out of hours starts its clocks at the
next opening; "10 working days" means the same working moment ten working days
later.  :class:`WorkingCalendar` answers those questions; ``WorkingCalendar.default()``
is the charter's calendar and ``workflows/calendar.toml`` holds the same calendar
in a form a process owner can change without touching code.

Conventions (the property tests in ``tests/test_calendar_properties.py`` pin them):

* **Instants.**  Every method takes timezone-aware datetimes, in any zone, and
  returns aware datetimes in the calendar's own zone.  A naive datetime raises
  ``ValueError``: guessing its zone is how SLA clocks end up an hour out.
  Internally everything is done in UTC, because Python subtracts and compares two
  datetimes that share a tzinfo by their wall clocks, which is wrong across a
  daylight-saving change.  (The same caveat applies to callers: subtract results
  after ``.astimezone(UTC)``, or use :meth:`WorkingCalendar.between`.)
* **Opening hours** are given in local wall time and turned into instants per
  date with zoneinfo, so 08:30 is 08:30 BST in summer and 08:30 GMT in winter.
* **Open periods are half-open** ``[start, end)``: the opening moment is open,
  the closing moment is not.  ``is_open(Friday 18:00)`` is False.
* **next_open(t)** is ``t`` itself when open, else the next opening moment.
* **add(t, d)**: the clock starts at ``next_open(t)``; the answer is the earliest
  moment, no earlier than that start, by which ``d`` of working time has been
  counted.  Hence:

  - ``add(t, 0) == next_open(t)`` (a clock started out of hours starts at the
    next opening);
  - an amount that runs out exactly at a closing time returns the closing time
    (Friday 17:00 + 1h is Friday 18:00, not Monday 08:30): that is when the
    working time has elapsed, and it is the stricter deadline;
  - from a closing moment, a positive amount continues in the next period
    (Friday 18:00 + 1h is Monday 09:30);
  - so ``add(add(t, a), b) == add(t, a + b)`` for every ``b > 0`` (for ``b == 0``
    the left side is ``next_open(add(t, a))``), and for ``d > 0`` the result
    lies in ``(start, end]`` of some open period;
  - negative amounts raise ``ValueError``.

* **between(a, b)** is signed: the working time from ``a`` to ``b``, and
  ``-between(b, a)`` when ``b < a``.  So ``between(a, c) == between(a, b) +
  between(b, c)`` for any three instants, and ``between(t, add(t, d)) == d``.
* **add_days(t, n)**: the same working moment ``n`` working days later, a
  working day being a date with at least one open period.  Out of hours, ``t``
  first moves to ``next_open(t)``.  On the target day the same wall-clock time is
  used; when it is not open there (a short day, a lunch break, a late opening),
  it is clamped to the latest working moment of that day not after it, i.e. the
  end of the period before it, or to the day's first opening when it falls before
  that.  ``add_days(t, 0) == next_open(t)``.
* **Which hours a date has**, most specific rule first: an extra closure closes
  the whole day; a short day has its own periods (even on a weekend or bank
  holiday, because it was written for that date); a public holiday closes the
  day; otherwise the weekday's opening hours apply.
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

__all__ = [
    "CHARTER_CALENDAR_FILE",
    "DAY_NAMES",
    "CalendarConfigError",
    "Period",
    "WorkingCalendar",
    "load_calendar",
]

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# The charter's calendar, in code, so that default() never depends on a file.
CHARTER_TIMEZONE = "Europe/London"
CHARTER_OPENING_HOURS: Mapping[str, Sequence[str]] = MappingProxyType({day: ("08:30-18:00",) for day in DAY_NAMES[:5]})
# The holidays package has no "England & Wales" entity: ENG and WLS hold the same
# bank holidays (including substitute days such as 2026-12-28), so ENG it is.
CHARTER_HOLIDAYS_COUNTRY = "GB"
CHARTER_HOLIDAYS_SUBDIVISION = "ENG"

# Installed, engine/ and workflows/ are both subpackages of supportdesk, so this
# path works from a checkout and from site-packages alike.
CHARTER_CALENDAR_FILE = Path(__file__).resolve().parents[2] / "workflows" / "calendar.toml"

# A calendar that stays shut this long is misconfigured; stop instead of looping forever.
_MAX_CLOSED_DAYS = 3660

_TOP_LEVEL_KEYS = ("timezone", "holidays", "opening_hours", "closures", "short_days")
_REQUIRED_KEYS = ("timezone", "holidays", "opening_hours")
_HOLIDAY_KEYS = ("country", "subdivision")
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Opening hours of one day, as offsets from local midnight: ((start, end), ...).
_Hours = tuple[tuple[timedelta, timedelta], ...]


class CalendarConfigError(ValueError):
    """A calendar configuration that makes no sense, naming the file and the key.

    ``source`` is set by :meth:`WorkingCalendar.from_config`/``from_toml`` after
    the fact, so the message is built when it is shown.
    """

    def __init__(self, problem: str, *, key: str | None = None, source: str | None = None):
        super().__init__(problem)
        self.problem, self.key, self.source = problem, key, source

    def __str__(self) -> str:
        where = [part for part in (self.source, self.key) if part]
        return ": ".join([*where, self.problem])


class Period(NamedTuple):
    """One stretch of open time, from ``start`` (open) to ``end`` (closed)."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        # Via UTC: two datetimes sharing a tzinfo subtract by wall clock.
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


class _RunningTotals(NamedTuple):
    """Working time of whole days: ``totals[i]`` is that of the days from ``first`` to the day
    before ``first + i``, for the days from ``first`` up to (not including) ``after``."""

    first: date
    after: date
    totals: tuple[timedelta, ...]


# --- parsing the configuration ---------------------------------------------------------


def _load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str):
        raise CalendarConfigError(f"expected a time zone name such as 'Europe/London', got {name!r}", key="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarConfigError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/London')", key="timezone"
        ) from None


def _load_holidays(country: object, subdivision: str | None) -> tuple[tuple[str | None, str | None], Any]:
    """The holidays lookup and a normalised (country, subdivision) key for equality."""
    if country is None:
        if subdivision is not None:
            raise CalendarConfigError("a subdivision needs a country", key="holidays.subdivision")
        return (None, None), {}
    supported = holidays_lib.list_supported_countries()
    if not isinstance(country, str) or country not in supported:
        raise CalendarConfigError(
            f"unknown holiday country {country!r} (expected a code the holidays package knows, such as 'GB')",
            key="holidays.country",
        )
    try:
        table = holidays_lib.country_holidays(country, subdiv=subdivision)
    except (NotImplementedError, TypeError, AttributeError):
        choices = ", ".join(supported[country]) or "none"
        raise CalendarConfigError(
            f"unknown subdivision {subdivision!r} of {country} (expected one of: {choices})", key="holidays.subdivision"
        ) from None
    # 'England' and 'ENG' name the same holidays; compare calendars by the code.
    aliases = getattr(type(table), "subdivisions_aliases", {}) or {}
    return (country, aliases.get(subdivision, subdivision)), table


def _parse_clock(hours: int, minutes: int, text: object, key: str, *, closing: bool) -> timedelta:
    # 24:00 is allowed as a closing time, to open until midnight.
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not closing)):
        raise CalendarConfigError(f"bad time of day in {text!r}", key=key)
    return timedelta(hours=hours, minutes=minutes)


def _parse_period(text: object, key: str) -> tuple[timedelta, timedelta]:
    match = _PERIOD_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarConfigError(f"bad period {text!r}: expected 'HH:MM-HH:MM', e.g. '08:30-18:00'", key=key)
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    start = _parse_clock(h1, m1, text, key, closing=False)
    end = _parse_clock(h2, m2, text, key, closing=True)
    if end <= start:
        raise CalendarConfigError(f"period {text!r} closes at or before it opens", key=key)
    return start, end


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_hours(hours: _Hours) -> str:
    return ", ".join(f"{_format_offset(s)}-{_format_offset(e)}" for s, e in hours)


def _parse_periods(texts: object, key: str) -> _Hours:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise CalendarConfigError(f"expected a list of periods such as ['08:30-18:00'], got {texts!r}", key=key)
    hours = tuple(sorted(_parse_period(text, f"{key}[{i}]") for i, text in enumerate(texts)))
    for first, second in pairwise(hours):
        if second[0] < first[1]:  # touching periods (12:00-13:00, 13:00-...) are fine
            raise CalendarConfigError(
                f"periods {_format_hours((first,))} and {_format_hours((second,))} overlap", key=key
            )
    return hours


def _parse_weekly(opening_hours: object) -> tuple[_Hours, ...]:
    if not isinstance(opening_hours, Mapping):
        raise CalendarConfigError("expected a table of day name = list of periods", key="opening_hours")
    weekly: list[_Hours] = [()] * 7
    for name, texts in opening_hours.items():
        if name not in DAY_NAMES:
            raise CalendarConfigError(
                f"unknown day {name!r} (expected one of: {', '.join(DAY_NAMES)})", key=f"opening_hours.{name}"
            )
        weekly[DAY_NAMES.index(name)] = _parse_periods(texts, f"opening_hours.{name}")
    if not any(weekly):
        raise CalendarConfigError("the line would never open: give at least one day opening hours", key="opening_hours")
    return tuple(weekly)


def _parse_date(value: object, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise CalendarConfigError(f"bad date {value!r}: expected 'YYYY-MM-DD'", key=key)


def _parse_closures(closures: object) -> dict[date, str]:
    if not isinstance(closures, Mapping):
        raise CalendarConfigError("expected a table of date = reason", key="closures")
    parsed: dict[date, str] = {}
    for raw, reason in closures.items():
        key = f"closures.{raw}"
        if not isinstance(reason, str):
            raise CalendarConfigError(f"expected the reason as a string, got {reason!r}", key=key)
        parsed[_parse_date(raw, key)] = reason
    return parsed


def _parse_short_days(short_days: object, closures: Mapping[date, str]) -> dict[date, _Hours]:
    if not isinstance(short_days, Mapping):
        raise CalendarConfigError("expected a table of date = list of periods", key="short_days")
    parsed: dict[date, _Hours] = {}
    for raw, texts in short_days.items():
        key = f"short_days.{raw}"
        day = _parse_date(raw, key)
        if day in closures:
            raise CalendarConfigError(f"{day} is also listed under [closures]; keep one", key=key)
        parsed[day] = _parse_periods(texts, key)
        if not parsed[day]:
            raise CalendarConfigError(
                "a short day needs at least one period (use [closures] to close the whole day)", key=key
            )
    return parsed


def _config_to_kwargs(config: object) -> dict[str, Any]:
    """Map the TOML shape onto the constructor's keyword arguments."""
    if not isinstance(config, Mapping):
        raise CalendarConfigError("expected a table of settings")
    for name in config:
        if name not in _TOP_LEVEL_KEYS:
            raise CalendarConfigError(f"unknown setting (expected: {', '.join(_TOP_LEVEL_KEYS)})", key=str(name))
    for name in _REQUIRED_KEYS:
        if name not in config:
            raise CalendarConfigError("missing setting", key=name)
    table = config["holidays"]
    if not isinstance(table, Mapping):
        raise CalendarConfigError("expected a table with country and subdivision", key="holidays")
    for name in table:
        if name not in _HOLIDAY_KEYS:
            raise CalendarConfigError(f"unknown setting (expected: {', '.join(_HOLIDAY_KEYS)})", key=f"holidays.{name}")
    if "country" not in table:
        raise CalendarConfigError("missing setting", key="holidays.country")
    return {
        "timezone": config["timezone"],
        "opening_hours": config["opening_hours"],
        "holidays_country": table["country"],
        "holidays_subdivision": table.get("subdivision"),
        "closures": config.get("closures", {}),
        "short_days": config.get("short_days", {}),
    }


# --- the calendar ----------------------------------------------------------------------


class WorkingCalendar:
    """Opening hours in one time zone, less public holidays and dated closures.

    ``opening_hours`` maps day names ("monday" ... "sunday") to lists of
    ``"HH:MM-HH:MM"`` periods (several per day for a lunch break; a missing day is
    closed; ``"24:00"`` may close a day at midnight).  ``closures`` maps dates (or
    ``"YYYY-MM-DD"``) to a reason; ``short_days`` maps dates to their own periods.
    ``holidays_country=None`` means no public holidays.  Bad input raises
    :class:`CalendarConfigError`.
    """

    def __init__(
        self,
        *,
        timezone: str = CHARTER_TIMEZONE,
        opening_hours: Mapping[str, Sequence[str]] = CHARTER_OPENING_HOURS,
        holidays_country: str | None = CHARTER_HOLIDAYS_COUNTRY,
        holidays_subdivision: str | None = CHARTER_HOLIDAYS_SUBDIVISION,
        closures: Mapping[date | str, str] | None = None,
        short_days: Mapping[date | str, Sequence[str]] | None = None,
    ) -> None:
        self._zone = _load_zone(timezone)
        self._weekly = _parse_weekly(opening_hours)
        self._holidays_key, self._holidays = _load_holidays(holidays_country, holidays_subdivision)
        self._closures = _parse_closures(closures if closures is not None else {})
        self._short_days = _parse_short_days(short_days if short_days is not None else {}, self._closures)
        # Each date's periods are computed once: add() over ten working days walks
        # a fortnight of dates, and the same dates come back call after call.
        self._cache: dict[date, tuple[Period, ...]] = {}
        # The web app asks from several threads, and the holidays package fills in
        # a year's holidays lazily on first lookup; compute one date at a time.
        self._cache_lock = threading.Lock()
        # Working time of whole days as running totals (first day, totals[i] = working time of the
        # days before first + i), grown on demand: between() is two look-ups however far apart its
        # moments are (a report works out the lateness of thousands of breaches, some weeks long).
        # Replaced whole, never changed in place, so threads may read it without a lock.
        self._running_totals: _RunningTotals | None = None

    def __getstate__(self) -> dict:
        # For another process (a parallel audit replay): the rules travel, the caches and their lock do not.
        state = {**self.__dict__, "_cache": {}, "_running_totals": None}
        del state["_cache_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._cache_lock = threading.Lock()

    # --- construction ---

    @classmethod
    def default(cls) -> WorkingCalendar:
        """The charter's calendar, built in code (reads no file)."""
        return cls(
            timezone=CHARTER_TIMEZONE,
            opening_hours=CHARTER_OPENING_HOURS,
            holidays_country=CHARTER_HOLIDAYS_COUNTRY,
            holidays_subdivision=CHARTER_HOLIDAYS_SUBDIVISION,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any], source: str = "<config>") -> WorkingCalendar:
        """Build from the parsed TOML shape; errors name ``source`` and the bad key."""
        try:
            return cls(**_config_to_kwargs(config))
        except CalendarConfigError as err:
            err.source = source
            raise

    @classmethod
    def from_toml(cls, path: str | Path) -> WorkingCalendar:
        """Load a calendar file such as ``workflows/calendar.toml``."""
        path = Path(path)
        with path.open("rb") as file:
            try:
                config = tomllib.load(file)
            except tomllib.TOMLDecodeError as err:
                raise CalendarConfigError(f"not valid TOML: {err}", source=str(path)) from err
        return cls.from_config(config, source=str(path))

    # --- identity ---

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def _identity(self) -> tuple[object, ...]:
        return (
            self._zone.key,
            self._weekly,
            self._holidays_key,
            tuple(sorted(self._closures.items())),
            tuple(sorted(self._short_days.items())),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkingCalendar):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        country, subdivision = self._holidays_key
        return (
            f"WorkingCalendar(timezone={self._zone.key!r}, holidays={country!r}/{subdivision!r}, "
            f"{len(self._closures)} closures, {len(self._short_days)} short days)"
        )

    # --- days ---

    def _hours_for(self, day: date) -> _Hours:
        # Most specific rule first; see the module docstring.
        if day in self._closures:
            return ()
        if day in self._short_days:
            return self._short_days[day]
        if day in self._holidays:
            return ()
        return self._weekly[day.weekday()]

    def _wall_to_utc(self, day: date, offset: timedelta) -> datetime:
        # Local wall time -> instant; zoneinfo picks BST or GMT for that date.
        naive = datetime.combine(day, time()) + offset
        return naive.replace(tzinfo=self._zone).astimezone(UTC)

    def _compute_periods(self, day: date) -> tuple[Period, ...]:
        # Clip to the day's own midnights so neighbouring days never overlap, and
        # merge overlaps that only DST gaps can create (a skipped hour maps wall
        # times out of order); the Europe/London hours at 08:30 never hit either.
        low, high = self._wall_to_utc(day, timedelta(0)), self._wall_to_utc(day, timedelta(days=1))
        spans = sorted(
            (max(low, self._wall_to_utc(day, s)), min(high, self._wall_to_utc(day, e))) for s, e in self._hours_for(day)
        )
        merged: list[Period] = []
        for start, end in spans:
            if start >= end:
                continue
            if merged and start < merged[-1].end:
                merged[-1] = Period(merged[-1].start, max(merged[-1].end, end))
            else:
                merged.append(Period(start, end))
        return tuple(merged)

    def _periods(self, day: date) -> tuple[Period, ...]:
        """The day's open periods, in UTC, cached."""
        periods = self._cache.get(day)
        if periods is None:
            with self._cache_lock:
                periods = self._cache[day] = self._compute_periods(day)
        return periods

    def _periods_from(self, moment: datetime) -> Iterator[Period]:
        """Every open period (UTC) that ends after ``moment`` (UTC), in order, without end."""
        # Start a day early: DST quirks at midnight could leave the local date off by one.
        day = moment.astimezone(self._zone).date() - timedelta(days=1)
        closed_run = 0
        while True:
            periods = self._periods(day)
            yield from (period for period in periods if period.end > moment)
            closed_run = 0 if periods else closed_run + 1
            if closed_run > _MAX_CLOSED_DAYS:
                raise RuntimeError(f"the calendar never opens in the {_MAX_CLOSED_DAYS} days before {day}")
            day += timedelta(days=1)

    def _next_working_day(self, day: date) -> date:
        for _ in range(_MAX_CLOSED_DAYS):
            day += timedelta(days=1)
            if self._periods(day):
                return day
        raise RuntimeError(f"the calendar never opens in the {_MAX_CLOSED_DAYS} days before {day}")

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` has at least one open period."""
        return bool(self._periods(day))

    def opening_periods(self, day: date) -> list[Period]:
        """The open periods of a local date, in the calendar's zone (empty when closed)."""
        return [self._local_period(period) for period in self._periods(day)]

    def day_exception(self, day: date) -> str | None:
        """Why ``day`` departs from its weekday's usual hours, or None when it does not.

        E.g. "Christmas Day", "Boxing Day (observed)", the reason of an extra
        closure, or "short day 08:30-13:00".  A bank holiday on a Saturday, when the
        line is shut anyway, is no exception.
        """
        if self._hours_for(day) == self._weekly[day.weekday()]:
            return None
        if day in self._closures:
            return self._closures[day] or "closed"
        if day in self._short_days:
            return f"short day {_format_hours(self._short_days[day])}"
        return self._holidays.get(day) or "public holiday"

    # --- instants ---

    def _utc(self, moment: datetime, name: str = "t") -> datetime:
        if moment.__class__ is datetime and moment.tzinfo is UTC:
            return moment  # the store's moments, and most others: aware and in UTC already
        if not isinstance(moment, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                f"{name}={moment.isoformat()} is a naive datetime; the working calendar needs "
                f"timezone-aware datetimes (e.g. tzinfo=ZoneInfo({self._zone.key!r}))"
            )
        return moment.astimezone(UTC)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self._zone)

    def _local_period(self, period: Period) -> Period:
        return Period(self._local(period.start), self._local(period.end))

    def _next_open_utc(self, moment: datetime) -> datetime:
        first = next(self._periods_from(moment))
        return max(first.start, moment)

    def is_open(self, t: datetime) -> bool:
        """Whether the line is open at ``t`` (opening moments are open, closing moments are not)."""
        moment = self._utc(t)
        return next(self._periods_from(moment)).start <= moment

    def next_open(self, t: datetime) -> datetime:
        """``t`` itself when open, else the next opening moment."""
        return self._local(self._next_open_utc(self._utc(t)))

    def add(self, t: datetime, working: timedelta) -> datetime:
        """The moment ``working`` working time after ``t`` (see the module docstring)."""
        moment = self._utc(t)
        if not isinstance(working, timedelta):
            raise TypeError(f"working must be a timedelta, got {type(working).__name__}")
        if working < timedelta(0):
            raise ValueError(f"working time must not be negative, got {working}")
        remaining = working
        # Walk whole periods; only the last one is entered part way.
        for period in self._periods_from(moment):
            start = max(period.start, moment)
            if remaining <= period.end - start:
                return self._local(start + remaining)
            remaining -= period.end - start
        raise AssertionError("unreachable: _periods_from never ends")  # pragma: no cover

    def add_days(self, t: datetime, n: int) -> datetime:
        """The same working moment ``n`` working days after ``t`` (see the module docstring)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a whole number of working days >= 0, got {n!r}")
        start = self._next_open_utc(self._utc(t))
        if n == 0:
            return self._local(start)
        local = self._local(start)
        day = local.date()
        for _ in range(n):
            day = self._next_working_day(day)
        wall = datetime.combine(date.min, local.time()) - datetime.combine(date.min, time())
        return self._local(self._clamp(self._periods(day), self._wall_to_utc(day, wall)))

    @staticmethod
    def _clamp(periods: tuple[Period, ...], wanted: datetime) -> datetime:
        """``wanted`` if open, else the end of the period before it, else the day's first opening."""
        if wanted < periods[0].start:
            return periods[0].start
        last_before = [period for period in periods if period.start <= wanted][-1]
        return min(wanted, last_before.end)

    def _clipped_periods(self, low: datetime, high: datetime) -> Iterator[Period]:
        """Open periods (UTC) cut to ``[low, high]``, for ``low <= high`` in UTC."""
        if low >= high:
            return
        for period in self._periods_from(low):
            if period.start >= high:
                return
            yield Period(max(period.start, low), min(period.end, high))

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        return self._working_before(self._utc(b, "b")) - self._working_before(self._utc(a, "a"))

    def working_time_to(self, end: datetime) -> Callable[[datetime], timedelta]:
        """``between(a, end)`` for many ``a``, with ``end``'s running total found once: a report works
        out how late each of thousands of open breaches is at its one moment."""
        before_end = self._working_before(self._utc(end, "end"))
        return lambda a: before_end - self._working_before(self._utc(a, "a"))

    def _working_before(self, moment: datetime) -> timedelta:
        """Working time from the start of the running totals' first day to ``moment`` (UTC). A day's
        periods lie within its own midnights, so the days before ``moment``'s date are whole."""
        day = moment.astimezone(self._zone).date()
        today = timedelta(0)
        for period in self._periods(day):  # in order and apart
            if period.start >= moment:
                break
            today += min(period.end, moment) - period.start
        return self._working_before_day(day) + today

    def _working_before_day(self, day: date) -> timedelta:
        current = self._running_totals
        if current is None or not current.first <= day < current.after:
            current = self._grow_running_totals(day)
        return current.totals[(day - current.first).days]

    def _grow_running_totals(self, day: date) -> _RunningTotals:
        """Cover ``day`` and a year either side of it, from scratch: growing is rare."""
        current = self._running_totals
        first = day - timedelta(days=366) if current is None else min(current.first, day - timedelta(days=366))
        last = day + timedelta(days=366) if current is None else max(current.after, day + timedelta(days=366))
        totals, running = [], timedelta(0)
        for offset in range((last - first).days + 1):
            totals.append(running)
            running += sum((p.duration for p in self._periods(first + timedelta(days=offset))), timedelta(0))
        self._running_totals = _RunningTotals(first, first + timedelta(days=len(totals)), tuple(totals))
        return self._running_totals

    def periods_between(self, a: datetime, b: datetime) -> list[Period]:
        """The open periods between two instants (in either order), cut to them, in local time.

        Their durations add up to ``abs(between(a, b))``; used to explain answers.
        """
        low, high = sorted((self._utc(a, "a"), self._utc(b, "b")))
        return [self._local_period(period) for period in self._clipped_periods(low, high)]


def load_calendar(path: str | Path | None = None) -> WorkingCalendar:
    """Load a calendar file; by default the charter's ``workflows/calendar.toml``."""
    return WorkingCalendar.from_toml(CHARTER_CALENDAR_FILE if path is None else path)
