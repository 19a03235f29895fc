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
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, or_, select

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.store.models import SlaClock, Ticket
from supportdesk.engine.tickets.sla_clocks import clock_outcomes
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, clock, local
from supportdesk.engine.working_time.sla import at_risk
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, METRICS, PRIORITIES, RESOLUTION

WEEK, MONTH = "week", "month"
PERIODS = (WEEK, MONTH)
# The first response target is the same for every priority, and its clock starts before
# the call is triaged (it has no priority): it is reported for all priorities together.
ALL = "All"
# A report is one SQL CASE over the period boundaries; keep it to a size a page can show.
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


@dataclass(frozen=True)
class Breach:
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


def requested_range(period: str | None, start: str | None, end: str | None) -> tuple[str, date, date]:
    """The period kind and dates a page or the CLI asked for, as text, checked; empty ones take the
    defaults. InvalidInput names the field (``period``, ``from`` or ``to``) with the problem."""
    period = (period or WEEK).strip()
    if period not in PERIODS:
        raise InvalidInput("unknown period", {"period": f"The period is one of: {', '.join(PERIODS)}"})
    default_start, default_end = default_range(period, local(clock.now()).date())
    problems: dict[str, str] = {}
    first = _date(start, "from", problems) or default_start
    last = _date(end, "to", problems) or default_end
    if not problems and first > last:
        problems["to"] = "The end date comes before the start date"
    if not problems and len(periods_between(period, first, last)) > MAX_PERIODS:
        problems["from"] = f"Ask for at most {MAX_PERIODS} {period}s at once"
    if problems:
        raise InvalidInput("the report cannot cover those dates", problems)
    return period, first, last


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
_COUNTED_PRIORITY = func.coalesce(SlaClock.breached_priority, SlaClock.priority)
# When it was breached: the due moment then, else (an open breach not recorded yet) the due moment now.
_BREACH_MOMENT = func.coalesce(SlaClock.breached_at, SlaClock.due_at)


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
    now = clock.now()
    met, breached = clock_outcomes(now)
    with desk.db.reading() as session:
        counts = session.execute(_counts_query(periods, met, breached, _in_range(start, end))).all()
        breach_rows, breach_count = _breaches(session, _breaches_query(breached, _in_range(start, end)), breach_limit)
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
        tuple(_breach(desk, row, now) for row in breach_rows),
        breach_count,
        at_risk_now,
    )


def _at_risk(desk: Desk, session, in_range, now: datetime) -> dict[str, int]:
    """Per metric, the clocks at risk now: running, not breached, a policy share or less of their
    target's working time left. Only clocks still before their due moment are read."""
    rows = session.execute(
        select(SlaClock.metric, SlaClock.due_at, SlaClock.budget_seconds)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(
            in_range,
            SlaClock.state == "running",
            SlaClock.breached_at.is_(None),
            SlaClock.due_at > now,
            SlaClock.budget_seconds.is_not(None),
        )
    )
    found = dict.fromkeys(METRICS, 0)
    for metric, due_at, budget_seconds in rows:
        left = desk.calendar.between(now, due_at)
        found[metric] = found.get(metric, 0) + at_risk(
            left, timedelta(seconds=budget_seconds), desk.sla_policy.at_risk_share
        )
    return found


def _counts_query(periods: list[Period], met, breached, in_range):
    # The London period of created_at as a CASE over the periods' UTC boundaries: portable across
    # SQLite and PostgreSQL, and right across a change of summer time.
    period_index = case(
        *[
            (Ticket.created_at < london_midnight(p.last_day + timedelta(days=1)), index)
            for index, p in enumerate(periods)
        ],
        else_=len(periods),
    )
    priority = case((SlaClock.metric == FIRST_RESPONSE, literal(ALL)), else_=_COUNTED_PRIORITY)
    return (
        select(
            period_index.label("period_index"),
            SlaClock.metric,
            priority.label("line_priority"),
            func.sum(case((met, 1), else_=0)),
            func.sum(case((breached, 1), else_=0)),
        )
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(in_range, or_(met, breached))
        .group_by(period_index, SlaClock.metric, priority)
    )


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
    priority = func.coalesce(_COUNTED_PRIORITY, Ticket.priority)
    return (
        select(Ticket.reference, SlaClock.metric, priority, _BREACH_MOMENT, SlaClock.stopped_at)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(in_range, breached)
        .order_by(_BREACH_MOMENT, Ticket.reference, SlaClock.metric)
    )


def _breaches(session, query, limit: int | None) -> tuple[list, int]:
    """The first ``limit`` breach rows (all when None), and how many there are in all."""
    rows = session.execute(query.limit(limit)).all() if limit != 0 else []
    if limit is None or len(rows) < limit:
        return rows, len(rows)
    return rows, session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def _breach(desk: Desk, row, now: datetime) -> Breach:
    reference, metric, priority, due_at, stopped_at = row
    return Breach(
        reference or "", metric, priority, due_at, stopped_at, desk.calendar.between(due_at, stopped_at or now)
    )


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
