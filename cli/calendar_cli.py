"""``supportdesk calendar``: ask the charter's working-time calendar from a shell.

    supportdesk calendar add "2026-12-24T17:00" 8h
    supportdesk calendar add "2026-12-18T10:00" 10d
    supportdesk calendar between "2026-10-23T08:30" "2026-10-26T18:00"
    supportdesk calendar add --calendar my-calendar.toml "2026-12-24T17:00" 1h30m

Times without a UTC offset are read as local time in the calendar's zone (a
convenience of the command line; the library itself refuses naive datetimes).
Answers are printed in local time and in UTC, with the working periods crossed
and the bank holidays or closures skipped on the way, so an answer can be checked
by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from supportdesk.engine.working_time.calendar import CalendarConfigError, Period, WorkingCalendar

# Installed, cli/ and workflows/ both sit under site-packages/supportdesk/.
DEFAULT_CALENDAR_FILE = Path(__file__).resolve().parents[1] / "workflows" / "calendar.toml"

# Either whole working days ("10d") or working time ("8h", "90m", "1h30m"), not both:
# "1d2h" would leave open whether the hours count before or after the days.
_DURATION_RE = re.compile(r"^(?:(?P<days>\d+)d|(?=\d)(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?)$")


class WorkingDuration(click.ParamType):
    """``10d`` -> 10 (working days); ``8h``, ``90m``, ``1h30m`` -> a timedelta of working time."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | timedelta:
        if isinstance(value, int | timedelta):
            return value
        match = _DURATION_RE.match(str(value).strip().lower())
        if match is None:
            self.fail(
                f"{value!r} is not a working duration: use e.g. 8h, 90m, 1h30m or 10d (d = working days)", param, ctx
            )
        if match["days"] is not None:
            return int(match["days"])
        return timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))


class Moment(click.ParamType):
    """An ISO 8601 date-time; left naive when it has no offset (localised once the calendar is known)."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date-time: use e.g. 2026-12-24T17:00 or 2026-12-24T17:00+00:00", param, ctx)


def _localize(moment: datetime, zone: ZoneInfo, hint: str) -> datetime:
    """Read a naive command-line time as wall time in ``zone``, refusing skipped or repeated times."""
    if moment.tzinfo is not None:
        return moment
    first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    # The two folds disagree only at a clock change: either the time was skipped or it happened twice.
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise click.BadParameter(
            f"{moment:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks went forward)", param_hint=hint
        )
    raise click.BadParameter(
        f"{moment:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks went back); "
        f"add a UTC offset, e.g. {first.isoformat()}",
        param_hint=hint,
    )


def _clock(moment: datetime) -> str:
    return f"{moment:%H:%M:%S}" if moment.second or moment.microsecond else f"{moment:%H:%M}"


def _when(moment: datetime) -> str:
    """Local time with its zone abbreviation, then UTC."""
    utc = moment.astimezone(UTC)
    return f"{moment:%a %Y-%m-%d} {_clock(moment)} {moment:%Z} ({utc:%Y-%m-%d} {_clock(utc)} UTC)"


def _span(amount: timedelta) -> str:
    """8h, 1h30m, 0m, -2h15m (seconds only when there are any)."""
    sign = "-" if amount < timedelta(0) else ""
    seconds = int(abs(amount).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
    return sign + ("".join(parts) or "0m")


def _period_line(period: Period) -> str:
    start, end = period
    # A period across a clock change shows both zone abbreviations.
    start_zone = f" {start:%Z}" if start.tzname() != end.tzname() else ""
    return f"  {start:%a %Y-%m-%d} {_clock(start)}{start_zone}-{_clock(end)} {end:%Z}  {_span(period.duration)}"


def _echo_explanation(cal: WorkingCalendar, a: datetime, b: datetime) -> None:
    """The working periods between a and b, and the exceptional days (holidays, closures) on the way."""
    periods = cal.periods_between(a, b)
    click.echo("Working periods crossed:" if periods else "Working periods crossed: none")
    for period in periods:
        click.echo(_period_line(period))
    low, high = sorted((a.astimezone(cal.zone).date(), b.astimezone(cal.zone).date()))
    days = (low + timedelta(days=offset) for offset in range((high - low).days + 1))
    exceptions = [(day, note) for day in days if (note := cal.day_exception(day))]
    if exceptions:
        click.echo("Exceptional days on the way:")
        for day, note in exceptions:
            click.echo(f"  {day:%a %Y-%m-%d}  {note}")


def _load(path: Path) -> WorkingCalendar:
    try:
        return WorkingCalendar.from_toml(path)
    except (CalendarConfigError, OSError) as err:
        raise click.ClickException(str(err)) from err


def _calendar_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--calendar",
        "calendar_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=DEFAULT_CALENDAR_FILE,
        show_default="workflows/calendar.toml",
        help="Calendar TOML file to use instead of the charter's.",
    )(command)


@click.group(name="calendar")
def calendar() -> None:
    """Working-time arithmetic of the support charter (C12/C13): open 08:30-18:00
    Monday to Friday, UK time, closed on England & Wales bank holidays.

    Times without a UTC offset are local time in the calendar's zone."""


@calendar.command("add")
@click.argument("start", type=Moment())
@click.argument("amount", type=WorkingDuration())
@_calendar_option
def add_command(start: datetime, amount: int | timedelta, calendar_file: Path) -> None:
    """When AMOUNT of working time after START has elapsed.

    AMOUNT is working time (8h, 90m, 1h30m) or working days (10d: the same
    working moment ten working days later)."""
    cal = _load(calendar_file)
    logged = _localize(start, cal.zone, "'START'").astimezone(cal.zone)
    clock_start = cal.next_open(logged)
    if isinstance(amount, int):
        due = cal.add_days(logged, amount)
        days = f"{amount} working day{'s' * (amount != 1)}"
        label = f"{days} ({_span(cal.between(logged, due))} of working time)"
    else:
        due, label = cal.add(logged, amount), f"{_span(amount)} of working time"
    click.echo(f"Start:        {_when(logged)}")
    if clock_start.astimezone(UTC) != logged.astimezone(UTC):
        click.echo(f"Clock starts: {_when(clock_start)} (out of hours: next opening)")
    click.echo(f"Amount:       {label}")
    click.echo(f"Due:          {_when(due)}")
    _echo_explanation(cal, clock_start, due)


@calendar.command("between")
@click.argument("start", type=Moment())
@click.argument("end", type=Moment())
@_calendar_option
def between_command(start: datetime, end: datetime, calendar_file: Path) -> None:
    """The working time from START to END (negative when END is earlier)."""
    cal = _load(calendar_file)
    a = _localize(start, cal.zone, "'START'").astimezone(cal.zone)
    b = _localize(end, cal.zone, "'END'").astimezone(cal.zone)
    click.echo(f"From:         {_when(a)}")
    click.echo(f"To:           {_when(b)}")
    click.echo(f"Working time: {_span(cal.between(a, b))}")
    _echo_explanation(cal, a, b)
