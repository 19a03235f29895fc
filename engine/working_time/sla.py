"""SLA clocks (C12-C14, C21-C24): one per ticket and metric, kept as dated segments.

A clock starts when the call is logged, counts working time only (a call
logged out of hours starts counting at the next opening), pauses while the
call is Delayed, takes the target of the call's current priority, and stops
at the first level response or the resolution. Every start, pause, resume,
re-grade, stop and breach is a row in ``sla_segment``: any figure at any
moment is computed from those rows and the calendar (``compute``), so it can
be explained and recomputed. This module is the arithmetic, pure (no
database); ``sla_clocks`` keeps a ticket's clocks in the store.

The deadline is a moment, not a duration: the clock is breached when it is
still running after its due moment (C14: recorded, never hidden; the call
goes on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.sla_policy import Target

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
    overdue = due_at is not None and end is not None and end > due_at
    breached_at, breached_priority = (breach.at, breach.priority) if breach else (None, None)
    return ClockFigures(
        state,
        priority,
        budget,
        elapsed,
        budget - elapsed,
        due_at,
        breached=breach is not None or overdue,
        stopped_at=stopped_at,
        overdue=overdue,
        breached_at=breached_at,
        breached_priority=breached_priority,
    )


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
