"""A ticket's SLA clocks in the store (C12-C14, C21-C24): starts, pauses, resumes, re-grades, stops and
breaches them as dated ``sla_segment`` rows, and caches their figures (from ``sla.compute``) on
``sla_clock`` for the queries. Within a command: the caller holds the ticket's lock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from supportdesk.engine.store.models import SlaClock, SlaSegment, Ticket
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.sla import (
    BREACH,
    PAUSE,
    REGRADE,
    RESUME,
    START,
    STOP,
    ClockFigures,
    Segment,
    budget_for,
    compute,
)
from supportdesk.engine.working_time.sla_policy import RESOLUTION, SlaPolicy


class SlaClocks:
    """Starts, pauses, resumes, re-grades, stops and breaches the clocks of one ticket."""

    def __init__(self, session: Session, ticket: Ticket, calendar: WorkingCalendar, policy: SlaPolicy):
        self.session, self.ticket, self.calendar, self.policy = session, ticket, calendar, policy
        self._segments: dict[str, list[Segment]] = {}  # per clock's metric, read once, then kept as they grow
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
                self._clocks = {
                    clock.metric: clock
                    for clock in self.session.scalars(select(SlaClock).where(SlaClock.ticket_id == self.ticket.id))
                }
        return self._clocks

    def start(self, metric: str, priority: str | None, at: datetime) -> SlaClock | None:
        """Start ``metric``'s clock, unless it exists or the priority has no target (C09, C10)."""
        target = self.policy.target(metric, priority)
        if target is None or self.clock(metric) is not None:
            return None
        clock = SlaClock(
            ticket_id=self.ticket.id,
            metric=metric,
            started_at=at,
            state="running",
            priority=priority,
            target=str(target),
        )
        # Not flushed here: the command's one flush writes it, with the rest (its segments name it).
        self.session.add(clock)
        self._by_metric()[metric] = clock
        self._segments[metric] = []  # a new clock: nothing to read
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
        return self._append(
            clock, Segment(REGRADE, at, priority, budget_for(target, clock.started_at, self.calendar)), reason
        )

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
        # The cached figures tell most commands at once (a due moment moves only when a segment is
        # added, and that refreshes them): breached already, or not past its due moment.
        if clock is None or clock.breached_at is not None or clock.due_at is None or clock.due_at >= now:
            return False
        segments = self.segments(clock)
        figures = compute(segments, self.calendar, now)
        if not figures.overdue:
            return False
        in_force = compute(segments, self.calendar, figures.due_at).priority
        self._append(clock, Segment(BREACH, max(figures.due_at, segments[-1].at), in_force))
        return True

    def segments(self, clock: SlaClock) -> list[Segment]:
        if clock.metric not in self._segments:  # a clock read from the store (a new one has its list)
            with self.session.no_autoflush:
                rows = self.session.scalars(
                    select(SlaSegment).where(SlaSegment.clock_id == clock.id).order_by(SlaSegment.seq)
                )
                self._segments[clock.metric] = [_segment(row) for row in rows]
        return list(self._segments[clock.metric])

    def figures(self, metric: str, now: datetime) -> ClockFigures | None:
        clock = self.clock(metric)
        return compute(self.segments(clock), self.calendar, now) if clock else None

    def _append(self, clock: SlaClock, segment: Segment, reason: str = "") -> SlaClock:
        earlier = self.segments(clock)
        if earlier and segment.at < earlier[-1].at:
            raise ValueError(
                f"SLA clock {clock.metric}: a {segment.kind} at {segment.at.isoformat()} would come "
                f"before the clock's last change at {earlier[-1].at.isoformat()}"
            )
        seq = len(earlier) + 1
        self.session.add(
            SlaSegment(
                clock=clock,
                seq=seq,
                kind=segment.kind,
                at=segment.at,
                priority=segment.priority,
                budget_seconds=int(segment.budget.total_seconds()) if segment.budget is not None else None,
                reason=reason,
            )
        )
        self._segments[clock.metric] = [*earlier, _stored_form(segment)]
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


def clock_outcomes(now: datetime):
    """SQL over ``sla_clock`` for met and breached (C14, C31); the two never hold together. The one
    definition of a breach, for the report and the ticket list: a breach was recorded (whatever a
    later re-grade did), or the clock stopped after its due moment, or runs past it (an open breach
    the worker has yet to record). A paused clock keeps a due moment only when its budget ran out
    while it ran, so past it, it is an open breach too."""
    stopped, has_due = SlaClock.state == "stopped", SlaClock.due_at.is_not(None)  # never NULL: NOT would keep it
    breached = or_(
        SlaClock.breached_at.is_not(None),
        and_(stopped, has_due, SlaClock.stopped_at > SlaClock.due_at),
        and_(not_(stopped), has_due, SlaClock.due_at < now),
    )
    return and_(stopped, not_(breached)), breached
