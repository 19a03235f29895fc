"""SLA clocks (C12-C14, C21-C24): one per ticket and metric, kept as dated segments.

A clock starts when the call is logged, counts working time only (a call
logged out of hours starts counting at the next opening), pauses while the
call is Delayed, takes the target of the call's current priority, and stops
at the first level response or the resolution. Every start, pause, resume,
re-grade, stop and breach is a row in ``sla_segment``: any figure at any
moment is computed from those rows and the calendar (``compute``), so it can
be explained and recomputed. ``sla_clock`` caches the figures for queries.

The deadline is a moment, not a duration: the clock is breached when it is
still running after its due moment (C14: recorded, never hidden; the call
goes on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .calendar import WorkingCalendar
from .models import SlaClock, SlaSegment, Ticket
from .sla_policy import RESOLUTION, SlaPolicy, Target

START, PAUSE, RESUME, REGRADE, STOP, BREACH = "start", "pause", "resume", "regrade", "stop", "breach"


@dataclass(frozen=True)
class Segment:
    kind: str
    at: datetime
    priority: str | None = None
    budget: timedelta | None = None  # the working time allowed, on START and REGRADE


@dataclass(frozen=True)
class ClockFigures:
    state: str  # running | paused | stopped
    priority: str | None
    budget: timedelta
    elapsed: timedelta
    remaining: timedelta  # negative when overdue
    due_at: datetime | None  # None while paused with time left
    breached: bool  # a breach is recorded, or the clock ran past its due moment (not yet recorded)
    stopped_at: datetime | None
    overdue: bool = False  # the clock ran past its due moment under its current target
    breached_at: datetime | None = None  # the recorded breach: its moment (the due moment then) ...
    breached_priority: str | None = None  # ... and the priority in force then (C14)

    def at_risk(self, share: float) -> bool:
        """C14: running, not breached, and a ``share`` or less of the target's working time left."""
        return self.state == "running" and not self.breached and at_risk(self.remaining, self.budget, share)


def at_risk(left: timedelta, budget: timedelta, share: float) -> bool:
    """C14: a clock with ``left`` of its ``budget`` of working time is at risk at ``share`` or less."""
    return left <= budget * share


def budget_for(target: Target, started_at: datetime, calendar: WorkingCalendar) -> timedelta:
    """The working time a target allows a clock started at ``started_at``.

    Working days are "the same working moment n working days later" (C13), so
    their length depends on the calendar from the clock's start.
    """
    if target.days:
        return calendar.between(started_at, calendar.add_days(started_at, target.days))
    return target.working


def compute(segments: list[Segment], calendar: WorkingCalendar, now: datetime) -> ClockFigures:
    """The clock's figures at ``now``, from its segments alone."""
    closed: list[tuple[datetime, datetime]] = []  # running intervals that ended
    running_since: datetime | None = None
    budget, priority, state, stopped_at = timedelta(0), None, "running", None
    breach: Segment | None = None
    for segment in (s for s in segments if s.at <= now):
        if segment.kind == BREACH and breach is None:
            breach = segment
        if segment.kind in (START, RESUME) and running_since is None and state != "stopped":
            running_since, state = segment.at, "running"
        elif segment.kind in (PAUSE, STOP) and running_since is not None:
            closed.append((running_since, segment.at))
            running_since = None
            state = "paused" if segment.kind == PAUSE else "stopped"
        if segment.budget is not None:
            budget, priority = segment.budget, segment.priority
        if segment.kind == STOP:
            state, stopped_at = "stopped", segment.at
    elapsed = sum((calendar.between(a, b) for a, b in closed), timedelta(0))
    if running_since is not None:
        elapsed += calendar.between(running_since, now)
    due_at = _moment_budget_runs_out(closed, running_since, budget, calendar)
    end = stopped_at if state == "stopped" else (closed[-1][1] if state == "paused" else now)
    overdue = due_at is not None and end > due_at
    breached_at, breached_priority = (breach.at, breach.priority) if breach else (None, None)
    return ClockFigures(state, priority, budget, elapsed, budget - elapsed, due_at,
                        breached=breach is not None or overdue, stopped_at=stopped_at, overdue=overdue,
                        breached_at=breached_at, breached_priority=breached_priority)


def _moment_budget_runs_out(closed, running_since, budget, calendar) -> datetime | None:
    counted = timedelta(0)
    for start, end in closed:
        span = calendar.between(start, end)
        if counted + span >= budget:
            return calendar.add(start, budget - counted)
        counted += span
    if running_since is None:
        return None
    return calendar.add(running_since, budget - counted)


class SlaClocks:
    """Starts, pauses, resumes, re-grades, stops and breaches the clocks of one ticket."""

    def __init__(self, session: Session, ticket: Ticket, calendar: WorkingCalendar, policy: SlaPolicy):
        self.session, self.ticket, self.calendar, self.policy = session, ticket, calendar, policy
        self._segments: dict[int, list[Segment]] = {}  # per clock, read once, then kept as they grow
        # The ticket's clocks by metric, read once: a command asks for them a dozen times, and
        # only this object makes clocks (the caller holds the ticket's lock).
        self._clocks: dict[str, SlaClock] | None = None

    def clock(self, metric: str) -> SlaClock | None:
        return self._by_metric().get(metric)

    def clocks(self) -> list[SlaClock]:
        return [clock for _, clock in sorted(self._by_metric().items())]

    def _by_metric(self) -> dict[str, SlaClock]:
        if self._clocks is None:
            # No autoflush here or below: unflushed clocks and segments of this ticket can only be
            # this object's own (it keeps them), so what else is pending waits for one flush.
            with self.session.no_autoflush:
                self._clocks = {clock.metric: clock for clock in self.session.scalars(
                    select(SlaClock).where(SlaClock.ticket_id == self.ticket.id))}
        return self._clocks

    def start(self, metric: str, priority: str | None, at: datetime) -> SlaClock | None:
        """Start ``metric``'s clock, unless it exists or the priority has no target (C09, C10)."""
        target = self.policy.target(metric, priority)
        if target is None or self.clock(metric) is not None:
            return None
        clock = SlaClock(ticket_id=self.ticket.id, metric=metric, started_at=at, state="running",
                         priority=priority, target=str(target))
        self.session.add(clock)
        self.session.flush()
        self._by_metric()[metric] = clock
        self._segments[clock.id] = []  # a new clock: nothing to read
        self._append(clock, Segment(START, at, priority, budget_for(target, at, self.calendar)))
        return clock

    def pause(self, at: datetime, reason: str = "") -> list[SlaClock]:
        return [self._append(c, Segment(PAUSE, at), reason) for c in self.clocks() if c.state == "running"]

    def resume(self, at: datetime, reason: str = "") -> list[SlaClock]:
        return [self._append(c, Segment(RESUME, at), reason) for c in self.clocks() if c.state == "paused"]

    def regrade(self, priority: str, at: datetime, reason: str = "") -> SlaClock | None:
        """The resolution clock takes the new priority's target, counted from its start (C21, C22, C24)."""
        clock = self.clock(RESOLUTION)
        target = self.policy.target(RESOLUTION, priority)
        if clock is None:
            return self.start(RESOLUTION, priority, at)
        if clock.state == "stopped" or target is None:
            return None
        clock.target = str(target)
        return self._append(clock, Segment(REGRADE, at, priority, budget_for(target, clock.started_at,
                                                                               self.calendar)), reason)

    def stop(self, metric: str, at: datetime) -> SlaClock | None:
        clock = self.clock(metric)
        if clock is None or clock.state == "stopped":
            return None
        return self._append(clock, Segment(STOP, at))

    def record_breach(self, metric: str, now: datetime) -> bool:
        """Record the clock's breach once, when it ran past its due moment by ``now`` (C14).

        The breach is dated at the due moment, whenever it is noticed (a timer fires a few
        milliseconds late; a clock started late, e.g. a resolution clock given its priority
        after its target had passed, was already overdue), and keeps the priority in force
        then. It is never removed: a later re-grade, pause or re-open leaves it as it is."""
        clock = self.clock(metric)
        if clock is None:
            return False
        segments = self.segments(clock)
        if any(segment.kind == BREACH for segment in segments):
            return False
        figures = compute(segments, self.calendar, now)
        if not figures.overdue:
            return False
        in_force = compute(segments, self.calendar, figures.due_at).priority
        self._append(clock, Segment(BREACH, max(figures.due_at, segments[-1].at), in_force))
        return True

    def record_due_breaches(self, now: datetime) -> list[SlaClock]:
        """Every clock that ran past its due moment by ``now`` and has no breach yet gets it."""
        return [clock for clock in self.clocks() if self.record_breach(clock.metric, now)]

    def segments(self, clock: SlaClock) -> list[Segment]:
        if clock.id not in self._segments:
            with self.session.no_autoflush:
                rows = self.session.scalars(select(SlaSegment).where(SlaSegment.clock_id == clock.id)
                                            .order_by(SlaSegment.seq))
                self._segments[clock.id] = [_segment(row) for row in rows]
        return list(self._segments[clock.id])

    def figures(self, metric: str, now: datetime) -> ClockFigures | None:
        clock = self.clock(metric)
        return compute(self.segments(clock), self.calendar, now) if clock else None

    def _append(self, clock: SlaClock, segment: Segment, reason: str = "") -> SlaClock:
        earlier = self.segments(clock)
        if earlier and segment.at < earlier[-1].at:
            raise ValueError(f"SLA clock {clock.metric}: a {segment.kind} at {segment.at.isoformat()} would come "
                             f"before the clock's last change at {earlier[-1].at.isoformat()}")
        seq = len(earlier) + 1
        self.session.add(SlaSegment(
            clock_id=clock.id, seq=seq, kind=segment.kind, at=segment.at, priority=segment.priority,
            budget_seconds=int(segment.budget.total_seconds()) if segment.budget is not None else None,
            reason=reason))
        self._segments[clock.id] = [*earlier, _stored_form(segment)]
        self._cache_figures(clock, segment.at)
        return clock

    def _cache_figures(self, clock: SlaClock, at: datetime) -> None:
        figures = compute(self.segments(clock), self.calendar, at)
        clock.state, clock.priority, clock.due_at = figures.state, figures.priority, figures.due_at
        clock.stopped_at, clock.budget_seconds = figures.stopped_at, int(figures.budget.total_seconds())
        clock.breached_at, clock.breached_priority = figures.breached_at, figures.breached_priority


def _stored_form(segment: Segment) -> Segment:
    """A segment as it reads back from the table (budgets are whole seconds there)."""
    if segment.budget is None:
        return segment
    return Segment(segment.kind, segment.at, segment.priority, timedelta(seconds=int(segment.budget.total_seconds())))


def _segment(row: SlaSegment) -> Segment:
    budget = timedelta(seconds=row.budget_seconds) if row.budget_seconds is not None else None
    return Segment(row.kind, row.at, row.priority, budget)
