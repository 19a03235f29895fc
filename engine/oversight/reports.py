"""C31 reports: SLA attainment per period and priority, against the goals, with the breaches listed.

Computed with SQL over ``sla_clock`` joined to ``ticket``: the clocks cache their
state, due moment and stop moment (``engine.sla``), so no workflow instance and
no segment is read. The CLI (``supportdesk report``) and the web page both call
``sla_report``; ``sla_report_csv`` writes what either downloads.

The rules:

* a clock belongs to the period (week from Monday, or calendar month, in
  Europe/London) of its ticket's ``created_at``;
* a clock has an outcome when it is stopped, or when it is not stopped and its
  due moment has passed (an open breach); a clock still within its target has none;
* breached = a breach was recorded (``breached_at``: it stays through any later
  re-grade, pause or re-open, C14), or the clock ran past its due moment (stopped
  late, or still counting past it: an open breach the worker has yet to record);
* met = stopped and not breached;
* a breached clock counts against the priority in force when it was breached
  (``breached_priority``), a met one against its last.

Beside the attainment, the page shows the calls logged per period by channel and
priority (``volume``), the calls open at the end of each period (``backlog``: from
logging until the resolution clock stops or the call is closed) and the customers'
ratings per period they were given in (``satisfaction``, C27). ``report_table``
gives each table as data, ``table_csv`` and ``table_json`` write it out. A report
asked for with no dates covers the last few periods that hold calls (``data_range``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import and_, case, func, literal, or_, select, union_all

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.store.models import Feedback, SlaClock, Ticket
from supportdesk.engine.tickets.calls import CHANNELS
from supportdesk.engine.tickets.sla_clocks import clock_outcomes
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, clock, local
from supportdesk.engine.working_time.sla import at_risk
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, METRICS, PRIORITIES, RESOLUTION

WEEK, MONTH = "week", "month"
PERIODS = (WEEK, MONTH)
# The first response target is the same for every priority, and its clock starts before
# the call is triaged (it has no priority): it is reported for all priorities together.
ALL = "All"
# A report's figures are one grouped query per period, joined by UNION ALL (SQLite takes at most
# 500); keep it to a size a page can show.
MAX_PERIODS = 120
# How far back a report goes when no range is asked for: this period and the ones before it.
DEFAULT_PERIODS = {WEEK: 8, MONTH: 6}


@dataclass(frozen=True)
class Period:
    """A week (Monday to Sunday) or a calendar month, in London dates."""

    kind: str
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        if self.kind == WEEK:
            return f"Week of {self.first_day:%a %d %b %Y}"
        return f"{self.first_day:%B %Y}"

    @property
    def short_label(self) -> str:
        return f"{self.first_day:%d %b}" if self.kind == WEEK else f"{self.first_day:%b %Y}"


@dataclass(frozen=True)
class Figures:
    """Clocks with an outcome, split into met and breached."""

    met: int = 0
    breached: int = 0

    @property
    def with_outcome(self) -> int:
        return self.met + self.breached

    @property
    def attainment(self) -> float | None:
        """The share met; None when no clock had an outcome (not 0 %: nothing was missed)."""
        return self.met / self.with_outcome if self.with_outcome else None

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.met + other.met, self.breached + other.breached)


@dataclass(frozen=True)
class Line:
    """One metric and priority across the periods of a report."""

    metric: str
    priority: str  # ALL for the first response
    goal: float
    figures: tuple[Figures, ...]  # one per period, in order

    @property
    def total(self) -> Figures:
        return sum(self.figures, Figures())

    def below_goal(self, figures: Figures) -> bool:
        return figures.attainment is not None and figures.attainment < self.goal


class Breach(NamedTuple):
    """One breached clock of the report. A named tuple, not a frozen dataclass: a CSV of a busy year
    makes tens of thousands, and a frozen dataclass of these six fields takes 0.69 µs to make, this 0.25."""

    reference: str
    metric: str
    priority: str | None
    due_at: datetime
    stopped_at: datetime | None  # None: the clock still runs (or is paused) past its due moment
    late: timedelta  # working time from the due moment to the stop, or to the report's moment

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True)
class SlaReport:
    period: str
    start: date
    end: date
    generated_at: datetime
    goals: dict[str, float]
    periods: tuple[Period, ...]
    lines: tuple[Line, ...]
    breaches: tuple[Breach, ...] = field(default=())  # the first ``breach_limit`` by due moment, or all
    breach_count: int = 0  # all of them
    # C14: per metric, the range's calls whose clock runs now in its last share of working time
    # (the SLA policy's "at risk"), as the inbox and the ticket page flag them.
    at_risk: dict[str, int] = field(default_factory=dict)

    def lines_of(self, metric: str) -> list[Line]:
        return [line for line in self.lines if line.metric == metric]

    def line(self, metric: str, priority: str) -> Line:
        return next(line for line in self.lines if line.metric == metric and line.priority == priority)


# --- the range asked for ---------------------------------------------------------------------------------


def period_start(day: date, period: str) -> date:
    return day - timedelta(days=day.weekday()) if period == WEEK else day.replace(day=1)


def _next_start(first_day: date, period: str) -> date:
    if period == WEEK:
        return first_day + timedelta(days=7)
    return (first_day.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods_between(period: str, start: date, end: date) -> list[Period]:
    """The periods that hold the days from ``start`` to ``end`` (inclusive)."""
    found, first_day = [], period_start(start, period)
    while first_day <= end:
        following = _next_start(first_day, period)
        found.append(Period(period, first_day, following - timedelta(days=1)))
        first_day = following
    return found


def london_midnight(day: date) -> datetime:
    """The UTC moment a London date begins (23:00 UTC the day before in summer)."""
    return datetime.combine(day, time(0), DISPLAY_ZONE).astimezone(UTC)


def default_range(period: str, today: date) -> tuple[date, date]:
    """This period and the few before it, up to today."""
    first_day = period_start(today, period)
    for _ in range(DEFAULT_PERIODS[period] - 1):
        first_day = period_start(first_day - timedelta(days=1), period)
    return first_day, today


def data_range(desk: Desk, period: str, today: date) -> tuple[date, date]:
    """The last ``DEFAULT_PERIODS`` periods that hold calls, up to the newest call logged by today: a
    report opened with no dates shows the weeks with data, not empty ones before or after them. Periods
    without calls between them are skipped in the count (each step back is one index lookup, on
    ``ix_ticket_kind_created_priority_reference``); with no call at all, ``default_range``."""
    with desk.db.reading() as session:
        newest = _newest_call_before(session, london_midnight(today + timedelta(days=1)))
        if newest is None:
            return default_range(period, today)
        last_day = local(newest).date()
        first_day = period_start(last_day, period)
        for _ in range(DEFAULT_PERIODS[period] - 1):
            earlier = _newest_call_before(session, london_midnight(first_day))
            if earlier is None:
                break
            first_day = period_start(local(earlier).date(), period)
    return first_day, last_day


def _newest_call_before(session, moment: datetime) -> datetime | None:
    return session.scalar(select(func.max(Ticket.created_at)).where(Ticket.kind == "call", Ticket.created_at < moment))


def requested_range(
    period: str | None, start: str | None, end: str | None, desk: Desk | None = None
) -> tuple[str, date, date]:
    """The period kind and dates a page or the CLI asked for, as text, checked; empty ones take the
    defaults: with ``desk`` and no dates at all, the periods that hold data (``data_range``), else this
    period and the few before it. InvalidInput names the field (``period``, ``from`` or ``to``)."""
    period = (period or WEEK).strip()
    if period not in PERIODS:
        raise InvalidInput("unknown period", {"period": f"The period is one of: {', '.join(PERIODS)}"})
    today = local(clock.now()).date()
    no_dates = not (start or "").strip() and not (end or "").strip()
    default_start, default_end = (
        data_range(desk, period, today) if desk is not None and no_dates else default_range(period, today)
    )
    problems: dict[str, str] = {}
    first = _date(start, "from", problems) or default_start
    last = _date(end, "to", problems) or default_end
    if not problems and first > last:
        problems["to"] = "The end date comes before the start date"
    if not problems and len(periods_between(period, first, last)) > MAX_PERIODS:
        problems["from"] = _too_many_periods(period)
    if problems:
        raise InvalidInput("the report cannot cover those dates", problems)
    return period, first, last


def _too_many_periods(period: str) -> str:
    return f"Ask for at most {MAX_PERIODS} {period}s at once"


def _date(text: str | None, name: str, problems: dict[str, str]) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems[name] = f"Enter a date like 2026-11-23, not {text!r}"
        return None


# --- the report ------------------------------------------------------------------------------------------


# The priority a clock is counted against: the one in force when it was breached, else its last.
COUNTED_PRIORITY = func.coalesce(SlaClock.breached_priority, SlaClock.priority)
# When it was breached: the due moment then, else (an open breach not recorded yet) the due moment now.
BREACH_MOMENT = func.coalesce(SlaClock.breached_at, SlaClock.due_at)


def _in_range(start: date, end: date):
    return and_(
        Ticket.kind == "call",
        Ticket.created_at >= london_midnight(start),
        Ticket.created_at < london_midnight(end + timedelta(days=1)),
    )


def sla_report(desk: Desk, *, period: str, start: date, end: date, breach_limit: int | None = None) -> SlaReport:
    """The attainment of each metric per period and priority, from ``start`` to ``end`` (London dates,
    inclusive, of the tickets' creation), and the breaches, as they stand at the clock's now: all of
    them, or the first ``breach_limit`` by due moment (a page shows a few hundred; a CSV has them all)."""
    if period not in PERIODS:
        raise InvalidInput("unknown period", {"period": f"The period is one of: {', '.join(PERIODS)}"})
    if start > end:
        raise InvalidInput("the report cannot cover those dates", {"to": "The end date comes before the start date"})
    periods = periods_between(period, start, end)
    if len(periods) > MAX_PERIODS:
        raise InvalidInput("the report cannot cover those dates", {"from": _too_many_periods(period)})
    now = clock.now()
    met, breached = clock_outcomes(now)
    with desk.db.reading() as session:
        counts = session.execute(_counts_query(periods, met, breached, start, end)).all()
        query = _breaches_query(breached, _in_range(start, end))
        breaches, breach_count = _breaches(desk, session, query, breach_limit, now)
        at_risk_now = _at_risk(desk, session, _in_range(start, end), now)
    goals = dict(desk.sla_policy.goals)
    return SlaReport(
        period,
        start,
        end,
        now,
        goals,
        tuple(periods),
        _lines(counts, len(periods), goals, desk.sla_policy.resolution),
        breaches,
        breach_count,
        at_risk_now,
    )


def _at_risk(desk: Desk, session, in_range, now: datetime) -> dict[str, int]:
    """Per metric, the range's clocks at risk now (``clocks_at_risk``)."""
    found = dict.fromkeys(METRICS, 0)
    for clock_at_risk in clocks_at_risk(desk, session, in_range, now):
        found[clock_at_risk.metric] = found.get(clock_at_risk.metric, 0) + 1
    return found


@dataclass(frozen=True)
class ClockAtRisk:
    ticket_id: int
    metric: str
    priority: str | None  # the ticket's


def clocks_at_risk(desk: Desk, session, where, now: datetime) -> list[ClockAtRisk]:
    """Each clock of the tickets ``where`` selects that is at risk now (C14): running, not breached, a
    policy share or less of its target's working time left. Only clocks still before their due moment
    are read. The report and the manager's board both count these."""
    rows = session.execute(
        select(SlaClock.ticket_id, SlaClock.metric, Ticket.priority, SlaClock.due_at, SlaClock.budget_seconds)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(
            where,
            SlaClock.state == "running",
            SlaClock.breached_at.is_(None),
            SlaClock.due_at > now,
            SlaClock.budget_seconds.is_not(None),
        )
    )
    share = desk.sla_policy.at_risk_share
    return [
        ClockAtRisk(ticket_id, metric, priority)
        for ticket_id, metric, priority, due_at, budget_seconds in rows
        if at_risk(desk.calendar.between(now, due_at), timedelta(seconds=budget_seconds), share)
    ]


def _counts_query(periods: list[Period], met, breached, start: date, end: date):
    """Met and breached clocks per period, metric and priority line, as one statement of one grouped
    query per period: grouping the whole range at once sorted every clock of it (a CASE over the
    periods' boundaries gave each its period), where each period's query sorts only its own clocks,
    found by a range of the reports' index on ``ticket``. At 100,000 calls: 250 -> 161 ms on SQLite."""
    priority = case((SlaClock.metric == FIRST_RESPONSE, literal(ALL)), else_=COUNTED_PRIORITY)
    per_period = [
        select(
            literal(index).label("period_index"),
            SlaClock.metric,
            priority.label("line_priority"),
            func.sum(case((met, 1), else_=0)),
            func.sum(case((breached, 1), else_=0)),
        )
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(_in_range(max(start, p.first_day), min(end, p.last_day)), or_(met, breached))
        .group_by(SlaClock.metric, priority)
        for index, p in enumerate(periods)
    ]
    return union_all(*per_period)


def _lines(counts: Iterable, period_count: int, goals: dict[str, float], targets: dict) -> tuple[Line, ...]:
    found: dict[tuple[str, str], list[Figures]] = {}
    for index, metric, priority, met, breached in counts:
        figures = found.setdefault((metric, priority or "None"), [Figures()] * period_count)
        figures[index] = Figures(int(met or 0), int(breached or 0))
    # Every line the policy has, even with nothing in it, so pages and charts keep their shape;
    # a priority the policy no longer has (changed since) is kept too, after the others.
    wanted = [(FIRST_RESPONSE, ALL)] + [(RESOLUTION, p) for p in PRIORITIES if p in targets]
    wanted += sorted(key for key in found if key not in wanted)
    order = {metric: i for i, metric in enumerate(METRICS)}
    wanted.sort(key=lambda key: order.get(key[0], len(order)))
    lines = [
        Line(metric, priority, goals.get(metric, 0.0), tuple(found.get((metric, priority), [Figures()] * period_count)))
        for metric, priority in wanted
    ]
    return (*lines, _overall(RESOLUTION, lines, goals, period_count))


def _overall(metric: str, lines: list[Line], goals: dict[str, float], period_count: int) -> Line:
    """All priorities of ``metric`` together: the charter's 95 % is over all calls."""
    per_period = [
        sum((line.figures[i] for line in lines if line.metric == metric), Figures()) for i in range(period_count)
    ]
    return Line(metric, ALL, goals.get(metric, 0.0), tuple(per_period))


def _breaches_query(breached, in_range):
    # A first response clock starts before triage and keeps no priority: show the call's.
    priority = func.coalesce(COUNTED_PRIORITY, Ticket.priority)
    return (
        select(Ticket.reference, SlaClock.metric, priority, BREACH_MOMENT, SlaClock.stopped_at)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(in_range, breached)
        .order_by(BREACH_MOMENT, Ticket.reference, SlaClock.metric)
    )


def _breaches(desk: Desk, session, query, limit: int | None, now: datetime) -> tuple[tuple[Breach, ...], int]:
    """The first ``limit`` breaches (all when None), and how many there are in all.

    A CSV of a busy year holds tens of thousands. Each row becomes its ``Breach`` as the cursor gives
    it (through the connection: the ORM's ``execute`` would fetch every row first), so no list of rows
    outlives the collector's young generations beside the breaches: that list doubled the full
    collections a report set off, each over every object of the process."""
    rows = session.connection().execute(query.limit(limit)) if limit != 0 else ()
    late_by_now = desk.calendar.working_time_to(now)
    found = tuple(_breach(desk, row, late_by_now) for row in rows)
    if limit is None or len(found) < limit:
        return found, len(found)
    return found, session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def _breach(desk: Desk, row, late_by_now: Callable[[datetime], timedelta]) -> Breach:
    """The row as a breach, with how late it was: to its stop, or (an open one) to the report's now."""
    reference, metric, priority, due_at, stopped_at = row
    late = desk.calendar.between(due_at, stopped_at) if stopped_at is not None else late_by_now(due_at)
    return Breach(reference or "", metric, priority, due_at, stopped_at, late)


# --- volume, backlog and satisfaction -------------------------------------------------------------------

# A call's priority before triage (C05): none yet.
NOT_TRIAGED = "Not triaged"
RATINGS = (1, 2, 3, 4, 5)  # C27: the customer's rating of a resolved call


def _period_index(column, periods: list[Period] | tuple[Period, ...]):
    """SQL: the index in ``periods`` of the London period ``column`` falls in (``len(periods)`` after the
    last) as a CASE over the periods' UTC boundaries: portable across SQLite and PostgreSQL, and right
    across a change of summer time."""
    return case(
        *[(column < london_midnight(p.last_day + timedelta(days=1)), index) for index, p in enumerate(periods)],
        else_=len(periods),
    )


@dataclass(frozen=True)
class Volume:
    """Calls logged per period (London time), by channel and by priority (the call's priority now)."""

    periods: tuple[Period, ...]
    by_channel: dict[str, tuple[int, ...]]  # channel -> calls per period
    by_priority: dict[str, tuple[int, ...]]  # priority (or NOT_TRIAGED) -> calls per period

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(counts[i] for counts in self.by_channel.values()) for i in range(len(self.periods)))


def volume(desk: Desk, *, period: str, start: date, end: date) -> Volume:
    periods = periods_between(period, start, end)
    index = _period_index(Ticket.created_at, periods)
    query = (
        select(index, Ticket.channel, Ticket.priority, func.count())
        .where(_in_range(start, end))
        .group_by(index, Ticket.channel, Ticket.priority)
    )
    by_channel = {channel: [0] * len(periods) for channel in CHANNELS}
    by_priority = {priority: [0] * len(periods) for priority in (*PRIORITIES, NOT_TRIAGED)}
    with desk.db.reading() as session:
        for at, channel, priority, calls in session.execute(query):
            if at < len(periods):
                by_channel.setdefault(channel, [0] * len(periods))[at] += calls
                by_priority.setdefault(priority or NOT_TRIAGED, [0] * len(periods))[at] += calls
    return Volume(
        tuple(periods),
        {channel: tuple(counts) for channel, counts in by_channel.items()},
        # Enhancement and Advice only when some call has them: most desks see few.
        {p: tuple(c) for p, c in by_priority.items() if p in ("High", "Medium", "Low") or any(c)},
    )


@dataclass(frozen=True)
class BacklogPoint:
    """The calls open (logged, not yet resolved or closed) at the end of a period, or now for the
    period under way; None for a period that has not begun."""

    period: Period
    at: datetime
    open_calls: int | None


def backlog(desk: Desk, *, period: str, start: date, end: date) -> tuple[BacklogPoint, ...]:
    """The open calls at the end of each period. A call is open from its logging until its resolution
    clock stops (C27: resolved) or it is closed (enhancements and advice have no resolution clock),
    whenever it was logged: the backlog carries calls over from before the range."""
    now = clock.now()
    periods = periods_between(period, start, end)
    ends = [min(london_midnight(p.last_day + timedelta(days=1)), now) for p in periods]
    resolved_at = (
        select(SlaClock.stopped_at)
        .where(SlaClock.ticket_id == Ticket.id, SlaClock.metric == RESOLUTION, SlaClock.state == "stopped")
        .scalar_subquery()
    )
    calls = (
        select(Ticket.created_at.label("logged"), func.coalesce(resolved_at, Ticket.closed_at).label("over"))
        .where(Ticket.kind == "call", Ticket.created_at < max(ends))
        .subquery()
    )
    counts = [
        func.sum(case((and_(calls.c.logged < at, or_(calls.c.over.is_(None), calls.c.over >= at)), 1), else_=0))
        for at in ends
    ]
    with desk.db.reading() as session:
        row = session.execute(select(*counts)).one()
    return tuple(
        BacklogPoint(p, at, int(count or 0) if london_midnight(p.first_day) <= now else None)
        for p, at, count in zip(periods, ends, row, strict=True)
    )


@dataclass(frozen=True)
class Ratings:
    """The customers' ratings (C27), 1 to 5, counted."""

    counts: tuple[int, ...] = (0,) * len(RATINGS)  # of 1, 2, 3, 4, 5

    @property
    def count(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        return sum(r * n for r, n in zip(RATINGS, self.counts, strict=True)) / self.count if self.count else None

    def __add__(self, other: Ratings) -> Ratings:
        return Ratings(tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)))


@dataclass(frozen=True)
class Satisfaction:
    """The ratings received per period (London time, by the day the customer gave them)."""

    periods: tuple[Period, ...]
    ratings: tuple[Ratings, ...]

    @property
    def total(self) -> Ratings:
        return sum(self.ratings, Ratings())


def satisfaction(desk: Desk, *, period: str, start: date, end: date) -> Satisfaction:
    periods = periods_between(period, start, end)
    index = _period_index(Feedback.received_at, periods)
    query = (
        select(index, Feedback.rating, func.count())
        .join(Ticket, Feedback.ticket_id == Ticket.id)
        .where(
            Ticket.kind == "call",
            Feedback.rating.in_(RATINGS),
            Feedback.received_at >= london_midnight(start),
            Feedback.received_at < london_midnight(end + timedelta(days=1)),
        )
        .group_by(index, Feedback.rating)
    )
    counts = [[0] * len(RATINGS) for _ in periods]
    with desk.db.reading() as session:
        for at, rating, given in session.execute(query):
            if at < len(periods):
                counts[at][rating - 1] += given
    return Satisfaction(tuple(periods), tuple(Ratings(tuple(c)) for c in counts))


# --- every table, for CSV and JSON -----------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table of the report page as data: its columns and rows of plain values (numbers, text, dates,
    moments, None), written out as CSV or JSON."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


TABLES = {
    "attainment": "SLA attainment per period and priority (C31)",
    "breaches": "SLA breaches (C14, C31)",
    "volume": "Calls logged per period, by channel and priority",
    "backlog": "Open calls at the end of each period",
    "satisfaction": "Customers' ratings per period (C27)",
}


def report_table(desk: Desk, name: str, *, period: str, start: date, end: date) -> Table:
    """The table ``name`` (one of ``TABLES``) of the report from ``start`` to ``end``."""
    if name in ("attainment", "breaches"):
        report = sla_report(desk, period=period, start=start, end=end, breach_limit=None if name == "breaches" else 0)
        return _attainment_table(report) if name == "attainment" else _breaches_table(report)
    if name == "volume":
        return _volume_table(volume(desk, period=period, start=start, end=end))
    if name == "backlog":
        return _backlog_table(backlog(desk, period=period, start=start, end=end))
    if name == "satisfaction":
        return _satisfaction_table(satisfaction(desk, period=period, start=start, end=end))
    raise KeyError(name)


def _period_cells(p: Period) -> tuple:
    return (p.label, p.first_day, p.last_day)


def _attainment_table(report: SlaReport) -> Table:
    rows = []
    for line in report.lines:
        named = [*zip(report.periods, line.figures, strict=True), (None, line.total)]
        for p, f in named:
            where = _period_cells(p) if p else ("Total", report.start, report.end)
            rows.append(
                (*where, line.metric, line.priority, f.with_outcome, f.met, f.breached, f.attainment, line.goal)
            )
    return Table("attainment", TABLES["attainment"], FIGURES_HEADER, tuple(rows))


def _breaches_table(report: SlaReport) -> Table:
    rows = tuple(
        (b.reference, b.metric, b.priority, b.due_at, b.stopped_at, _whole_minutes(b.late)) for b in report.breaches
    )
    return Table("breaches", TABLES["breaches"], BREACHES_HEADER, rows)


def _volume_table(found: Volume) -> Table:
    columns = (
        "period",
        "first_day",
        "last_day",
        "calls",
        *(f"channel_{c}" for c in found.by_channel),
        *(f"priority_{_column_name(p)}" for p in found.by_priority),
    )
    rows = tuple(
        (
            *_period_cells(p),
            found.totals[i],
            *(counts[i] for counts in found.by_channel.values()),
            *(counts[i] for counts in found.by_priority.values()),
        )
        for i, p in enumerate(found.periods)
    )
    return Table("volume", TABLES["volume"], columns, rows)


def _column_name(priority: str) -> str:
    return "none" if priority == NOT_TRIAGED else priority


def _backlog_table(points: tuple[BacklogPoint, ...]) -> Table:
    rows = tuple((*_period_cells(b.period), b.at, b.open_calls) for b in points)
    return Table("backlog", TABLES["backlog"], ("period", "first_day", "last_day", "at", "open_calls"), rows)


def _satisfaction_table(found: Satisfaction) -> Table:
    columns = ("period", "first_day", "last_day", "ratings", "average", *(f"rated_{r}" for r in RATINGS))
    rows = [
        (*_period_cells(p), r.count, r.average, *r.counts) for p, r in zip(found.periods, found.ratings, strict=True)
    ]
    total = found.total
    rows.append(
        ("Total", found.periods[0].first_day, found.periods[-1].last_day, total.count, total.average, *total.counts)
    )
    return Table("satisfaction", TABLES["satisfaction"], columns, tuple(rows))


def table_csv(table: Table) -> str:
    """A header row and the rows. Moments are London time with their offset; shares are fractions
    (0.8500), averages have two decimals; an empty cell is no value (no clock had an outcome, no rating)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_csv_cell(value) for value in row])
    return out.getvalue()


def _csv_cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return local(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_json(table: Table, *, period: str, start: date, end: date) -> dict:
    """The table as JSON for scripts: the range, then one object per row, keyed by the columns."""
    return {
        "table": table.name,
        "title": table.title,
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "generated_at": clock.now().isoformat(),
        "columns": list(table.columns),
        "rows": [dict(zip(table.columns, map(_json_value, row), strict=True)) for row in table.rows],
    }


def _json_value(value):
    if isinstance(value, datetime):
        return local(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- CSV -------------------------------------------------------------------------------------------------

FIGURES_HEADER = (
    "period",
    "first_day",
    "last_day",
    "metric",
    "priority",
    "with_outcome",
    "met",
    "breached",
    "attainment",
    "goal",
)
BREACHES_HEADER = ("reference", "metric", "priority", "due", "stopped", "late_working_minutes")


def sla_report_csv(report: SlaReport) -> str:
    """The figures (one row per period and line, then a total per line), a blank row, then the
    breaches. Moments are London time with their offset; shares are fractions (0.85)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIGURES_HEADER)
    for line in report.lines:
        for period, figures in zip(report.periods, line.figures, strict=True):
            writer.writerow(_figures_row(period.label, period.first_day, period.last_day, line, figures))
        writer.writerow(_figures_row("Total", report.start, report.end, line, line.total))
    writer.writerow(())
    writer.writerow(BREACHES_HEADER)
    for breach in report.breaches:
        writer.writerow(
            (
                breach.reference,
                breach.metric,
                breach.priority or "",
                local(breach.due_at).isoformat(),
                local(breach.stopped_at).isoformat() if breach.stopped_at else "open",
                _whole_minutes(breach.late),
            )
        )
    return out.getvalue()


def _figures_row(name: str, first: date, last: date, line: Line, figures: Figures) -> tuple:
    share = "" if figures.attainment is None else f"{figures.attainment:.4f}"
    return (
        name,
        first.isoformat(),
        last.isoformat(),
        line.metric,
        line.priority,
        figures.with_outcome,
        figures.met,
        figures.breached,
        share,
        f"{line.goal:.2f}",
    )


def _whole_minutes(amount: timedelta) -> int:
    # Rounded up: a clock stopped seconds after its due moment was late, and must not read "0".
    return math.ceil(amount.total_seconds() / 60)
