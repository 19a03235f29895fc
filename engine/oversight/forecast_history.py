"""What the SLA forecast knows: the store read as it stood at a moment (``as_of``), nothing later.

Every figure comes from dated rows, so a forecast can be made "as of" any past moment from a store that
holds the future too (the backtest does that, and an auditor can redo a forecast that way):

* an SLA clock's state at ``as_of`` is ``sla.compute`` over its segments dated up to then;
* a call counts when it was logged before ``as_of``; a task's tier and how long it stayed open come from
  the ``task_opened`` and ``task_completed`` events dated up to then.

From that it gathers (``read_history``):

* the period's calls: the clocks already decided (met or breached, as the C31 report counts them), and
  the clocks still open with their working time counted so far, their budget and the tier working them;
* the learning window (``WINDOW`` before ``as_of``): each clock that had its outcome by ``as_of`` as a
  ``ClockStory`` (its working time against its budget, met or not, Delayed or not, the working time a
  task of each tier was open, its call's first response time); only clocks whose whole budget has run
  by ``as_of`` are used, so slow clocks are not left out for being slow (right-censoring);
* arrivals: calls per weekday and hour (London) over the window, and the mix of channel and priority.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.store.models import HistoryEvent, SlaClock, SlaSegment, Ticket
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla import PAUSE, ClockFigures, Segment, compute
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION

ALL = "All"  # the first response line (its clock has no priority), and all priorities together
WINDOW = timedelta(days=56)  # eight weeks of history: enough for every weekday and hour, recent enough
TIERS = ("first_line", "second_line", "third_line")


@dataclass(frozen=True)
class ClockStory:
    """A decided clock of the learning window: one draw of the model's bootstrap."""

    metric: str
    line: str  # the priority it counted under (the one in force at a breach), ALL for a first response
    start_priority: str | None  # the priority it started with (a Delayed High call ends under Medium)
    budget: float  # working seconds its target allowed
    counted: float  # working seconds counted to its stop (a breach still running: so far, a lower bound)
    met: bool
    delayed: bool  # the call was Delayed while the clock ran (C21-C23)
    first_response: float  # working seconds of its call's first response clock
    tier_seconds: dict[str, float] = field(default_factory=dict)  # working seconds a task of each tier was open

    @property
    def share(self) -> float:
        return self.counted / self.budget if self.budget else 0.0


@dataclass(frozen=True)
class OpenClock:
    """A clock of the period's calls with no outcome yet at ``as_of``."""

    reference: str
    metric: str
    line: str
    budget: float
    counted: float
    paused: bool
    tier: str  # the role of the call's open task ("" for none)


@dataclass(frozen=True)
class ArrivalKind:
    channel: str
    priority: str | None  # the priority its resolution clock started with; None: no resolution clock


@dataclass(frozen=True)
class History:
    as_of: datetime
    window_start: datetime
    decided: dict[tuple[str, str], tuple[int, int]]  # (metric, line) -> (met, breached), the period's calls
    open_clocks: tuple[OpenClock, ...]
    stories: tuple[ClockStory, ...]
    rates: dict[tuple[int, int], float]  # (weekday, hour) London -> calls per hour
    arrival_mix: dict[ArrivalKind, int]  # calls of the window by kind
    window_calls: int
    window_days: float

    def pool(self, metric: str, start_priority: str | None = None) -> list[ClockStory]:
        return [
            s
            for s in self.stories
            if s.metric == metric and (metric == FIRST_RESPONSE or s.start_priority == start_priority)
        ]

    def summary(self) -> dict:
        """The inputs as an auditor reads them (stored with the forecast)."""
        per_pool = Counter(f"{s.metric}/{s.start_priority or ALL}" for s in self.stories)
        return {
            "as_of": self.as_of.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_days": round(self.window_days, 1),
            "window_calls": self.window_calls,
            "decided": {f"{m}/{line}": {"met": v[0], "breached": v[1]} for (m, line), v in self.decided.items()},
            "open_clocks": [
                {
                    "reference": c.reference,
                    "metric": c.metric,
                    "line": c.line,
                    "tier": c.tier or None,
                    "counted_minutes": round(c.counted / 60),
                    "budget_minutes": round(c.budget / 60),
                    "paused": c.paused,
                }
                for c in self.open_clocks
            ],
            "stories": dict(sorted(per_pool.items())),
            "arrival_mix": {
                f"{k.channel}/{k.priority or '-'}": n
                for k, n in sorted(self.arrival_mix.items(), key=lambda item: (item[0].channel, item[0].priority or ""))
            },
            "calls_per_week": round(sum(self.rates.values()), 2),  # a rate per hour for each hour of a week
        }


@dataclass
class _Call:
    reference: str
    created_at: datetime
    channel: str
    clocks: dict[str, tuple[ClockFigures, list[Segment]]] = field(default_factory=dict)
    tasks: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)  # (role, opened, completed)


def read_history(desk: Desk, as_of: datetime, period_start: datetime) -> History:
    """The store as it stood at ``as_of``: the period's calls (logged from ``period_start``) and the window."""
    as_of = as_of.astimezone(UTC)
    window_start = min(period_start, as_of - WINDOW)
    calls = _calls(desk, window_start, as_of)
    calendar = desk.calendar
    decided: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    open_clocks: list[OpenClock] = []
    stories: list[ClockStory] = []
    for call in calls:
        tiers = _tier_now(call, as_of)
        first = call.clocks.get(FIRST_RESPONSE)
        first_seconds = first[0].elapsed.total_seconds() if first else 0.0
        for metric, (figures, segments) in call.clocks.items():
            line = _line_of(metric, figures)
            outcome = _outcome(figures)
            if call.created_at >= period_start and outcome is not None:
                decided[(metric, line)][0 if outcome else 1] += 1
            elif call.created_at >= period_start and figures.state != "stopped":
                open_clocks.append(_open_clock(call, metric, line, figures, tiers))
            if outcome is not None and calendar.between(segments[0].at, as_of) >= figures.budget:
                stories.append(_story(call, metric, line, figures, segments, first_seconds, calendar, as_of))
    # The rates are over the time the store held calls: a desk opened last week has a week of history.
    first_call = calls[0].created_at if calls else as_of
    days = (as_of - max(window_start, first_call)).total_seconds() / 86400
    return History(
        as_of=as_of,
        window_start=window_start,
        decided={key: (v[0], v[1]) for key, v in decided.items()},
        open_clocks=tuple(open_clocks),
        stories=tuple(stories),
        rates=_rates(calls, max(window_start, first_call), as_of) if calls else {},
        arrival_mix=Counter(_kind(call) for call in calls),
        window_calls=len(calls),
        window_days=days,
    )


@dataclass(frozen=True)
class Decided:
    """A clock with its outcome, as the C31 report counts it."""

    reference: str
    metric: str
    line: str
    met: bool


def decided_clocks(desk: Desk, since: datetime, until: datetime) -> list[Decided]:
    """Every clock of the calls logged from ``since`` that had its outcome by ``until`` (a forecast's run
    reads its scratch store at the period's end this way)."""
    found = []
    for call in _calls(desk, since, until):
        for metric, (figures, _) in call.clocks.items():
            outcome = _outcome(figures)
            if outcome is not None:
                found.append(Decided(call.reference, metric, _line_of(metric, figures), outcome))
    return found


def _line_of(metric: str, figures: ClockFigures) -> str:
    return ALL if metric == FIRST_RESPONSE else (figures.breached_priority or figures.priority or ALL)


def _outcome(figures: ClockFigures) -> bool | None:
    """True met, False breached, None no outcome yet: as the C31 report counts a clock."""
    if figures.breached:
        return False
    return True if figures.state == "stopped" else None


def _open_clock(call: _Call, metric: str, line: str, figures: ClockFigures, tier: str) -> OpenClock:
    return OpenClock(
        call.reference,
        metric,
        line,
        figures.budget.total_seconds(),
        figures.elapsed.total_seconds(),
        figures.state == "paused",
        tier,
    )


def _story(call, metric, line, figures, segments, first_seconds, calendar, as_of) -> ClockStory:
    clock_start = segments[0].at
    clock_end = figures.stopped_at or as_of
    tier_seconds: Counter[str] = Counter()
    for role, opened, completed in call.tasks:
        low, high = max(opened, clock_start), min(completed or as_of, clock_end)
        if high > low:
            tier_seconds[role] += calendar.between(low, high).total_seconds()
    start_priority = next((s.priority for s in segments if s.budget is not None), None)
    return ClockStory(
        metric=metric,
        line=line,
        start_priority=start_priority if metric == RESOLUTION else None,
        budget=figures.budget.total_seconds(),
        counted=figures.elapsed.total_seconds(),
        met=not figures.breached,
        delayed=any(s.kind == PAUSE for s in segments),
        first_response=first_seconds,
        tier_seconds=dict(tier_seconds),
    )


def _tier_now(call: _Call, as_of: datetime) -> str:
    """The role of the call's open task at ``as_of`` (the latest opened, when several)."""
    open_roles = [(opened, role) for role, opened, completed in call.tasks if completed is None or completed > as_of]
    return max(open_roles)[1] if open_roles else ""


def _kind(call: _Call) -> ArrivalKind:
    resolution = call.clocks.get(RESOLUTION)
    start_priority = None
    if resolution is not None:
        start_priority = next((s.priority for s in resolution[1] if s.budget is not None), None)
    return ArrivalKind(call.channel, start_priority)


def _rates(calls: list[_Call], start: datetime, end: datetime) -> dict[tuple[int, int], float]:
    """Calls per hour for each (weekday, hour) of London time: the calls in it over its hours in the window."""
    hours: dict[tuple[int, int], float] = defaultdict(float)
    moment = start.replace(minute=0, second=0, microsecond=0)
    while moment < end:
        there = local(moment)
        share = (min(moment + timedelta(hours=1), end) - max(moment, start)).total_seconds() / 3600
        hours[(there.weekday(), there.hour)] += share
        moment += timedelta(hours=1)
    counts = Counter((local(c.created_at).weekday(), local(c.created_at).hour) for c in calls)
    return {slot: counts[slot] / spent for slot, spent in hours.items() if spent > 0}


# --- reading the rows ----------------------------------------------------------------------------------


def _calls(desk: Desk, start: datetime, as_of: datetime) -> list[_Call]:
    with desk.db.reading() as session:
        rows = session.execute(
            select(Ticket.id, Ticket.reference, Ticket.created_at, Ticket.channel).where(
                Ticket.kind == "call", Ticket.created_at >= start, Ticket.created_at < as_of
            )
        ).all()
        calls = {row.id: _Call(row.reference or "", row.created_at, row.channel) for row in rows}
        if not calls:
            return []
        _add_clocks(desk, session, calls, as_of)
        _add_tasks(session, calls, start, as_of)
    return sorted(calls.values(), key=lambda call: call.created_at)


def _add_clocks(desk: Desk, session, calls: dict[int, _Call], as_of: datetime) -> None:
    segments: dict[int, list[Segment]] = defaultdict(list)
    owner: dict[int, tuple[int, str]] = {}
    query = (
        select(SlaClock.id, SlaClock.ticket_id, SlaClock.metric, SlaSegment)
        .join(SlaSegment, SlaSegment.clock_id == SlaClock.id)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(Ticket.kind == "call", Ticket.created_at >= min(c.created_at for c in calls.values()))
        .where(Ticket.created_at < as_of, SlaSegment.at <= as_of)
        .order_by(SlaClock.id, SlaSegment.seq)
    )
    for clock_id, ticket_id, metric, row in session.execute(query):
        if ticket_id in calls:
            owner[clock_id] = (ticket_id, metric)
            budget = timedelta(seconds=row.budget_seconds) if row.budget_seconds is not None else None
            segments[clock_id].append(Segment(row.kind, row.at, row.priority, budget))
    for clock_id, (ticket_id, metric) in owner.items():
        figures = compute(segments[clock_id], desk.calendar, as_of)
        calls[ticket_id].clocks[metric] = (figures, segments[clock_id])


def _add_tasks(session, calls: dict[int, _Call], start: datetime, as_of: datetime) -> None:
    opened: dict[str, tuple[int, str, datetime]] = {}
    completed: dict[str, datetime] = {}
    query = (
        select(HistoryEvent.ticket_id, HistoryEvent.kind, HistoryEvent.at, HistoryEvent.payload)
        .join(Ticket, HistoryEvent.ticket_id == Ticket.id)
        .where(Ticket.kind == "call", Ticket.created_at >= start, Ticket.created_at < as_of)
        .where(HistoryEvent.kind.in_(("task_opened", "task_completed")), HistoryEvent.at <= as_of)
    )
    for ticket_id, kind, at, payload in session.execute(query):
        data = json.loads(payload)
        task_id = data.get("task_id", "")
        if kind == "task_opened" and data.get("role") in TIERS:
            opened[task_id] = (ticket_id, data["role"], at)
        elif kind == "task_completed":
            completed[task_id] = at
    for task_id, (ticket_id, role, at) in opened.items():
        if ticket_id in calls:
            calls[ticket_id].tasks.append((role, at, completed.get(task_id)))
