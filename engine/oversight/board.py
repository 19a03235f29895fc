"""The customer services manager's board: where the open calls are, what is breached or at risk now,
how the month is going against the charter's goals (C31), today's breaches, the calls waiting longest,
the escalations open (C28-C30) and what customers said (C27).

Every figure is a plain query over the tables the commands keep (``ticket``, ``work_task``,
``sla_clock``, ``feedback``): no workflow instance is read. What a breach is comes from the SLA code
(``sla_clocks.clock_outcomes``), what "at risk" is from the policy's share (``reports.clocks_at_risk``),
and the attainment and ratings from the C31 report (``reports.sla_report``, ``reports.satisfaction``),
so the board and the report never disagree.

The rules, as the board's page says them:

* an open call is a call being worked on: status open, or delayed (waiting on the customer, C21-C22);
* its tier is the role of its open task (first, second or third line, ...); a call with no open
  task (waiting on a timer) is under ``NO_TASK``;
* a breached call is an open call with a clock that missed its target; it counts once, under the
  priority in force when its resolution clock breached (C14: a later re-grade keeps it there), or
  under its priority when only its first response breached (that clock has no priority of its own);
* an at-risk call is an open call with a clock at risk now (it may have breached the other clock);
* attainment and satisfaction are month to date: the calls logged this month (as the report counts
  them) and the ratings given this month, London time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select

from supportdesk.engine.desk import Desk
from supportdesk.engine.oversight.reports import (
    ALL,
    BREACH_MOMENT,
    COUNTED_PRIORITY,
    MONTH,
    NOT_TRIAGED,
    Figures,
    Ratings,
    clocks_at_risk,
    london_midnight,
    satisfaction,
    sla_report,
)
from supportdesk.engine.store.models import SlaClock, Ticket, WorkTask
from supportdesk.engine.tickets.sla_clocks import clock_outcomes
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.engine.working_time.sla_policy import METRICS, PRIORITIES, RESOLUTION

OPEN_STATUSES = ("open", "delayed")
WAITING_ON_CUSTOMER = "delayed"
NO_TASK = ""  # the tier of an open call with no open task
# Tiers in the order of the charter's hand-overs (C15-C18), then the other lanes.
TIER_ORDER = ("first_line", "second_line", "third_line", "account_manager", "development_team")
# Priorities every board shows, with or without calls; Enhancement, Advice and "not triaged" when they have some.
ALWAYS_SHOWN = ("High", "Medium", "Low")
OLDEST_SHOWN = 10
TODAYS_BREACHES_SHOWN = 50


@dataclass(frozen=True)
class Attainment:
    """One SLA metric's figures for the month so far, all priorities together, against its goal."""

    metric: str
    goal: float
    figures: Figures

    @property
    def below_goal(self) -> bool:
        return self.figures.attainment is not None and self.figures.attainment < self.goal


@dataclass(frozen=True)
class TodaysBreach:
    reference: str
    metric: str
    priority: str | None  # as the report counts it: the priority in force at the breach, else the call's
    due_at: datetime  # the moment it breached
    stopped_at: datetime | None  # None: the clock is still running (or paused) past its due moment


@dataclass(frozen=True)
class WaitingCall:
    """An open call at a step of the desk (not waiting on the customer), and how long it waits there."""

    reference: str
    summary: str
    account: str
    priority: str | None
    logged_at: datetime
    task: str
    tier: str
    waiting_since: datetime  # when its current task opened
    claimed_by: str | None


@dataclass(frozen=True)
class Board:
    at: datetime
    today: date  # London
    month_start: date
    tiers: tuple[str, ...]  # the rows: tiers holding open calls, in TIER_ORDER (NO_TASK last)
    priorities: tuple[str, ...]  # the columns: PRIORITIES shown, NOT_TRIAGED last
    open_calls: dict[tuple[str, str], int]  # (tier, priority) -> calls
    open_by_tier: dict[str, int]
    open_by_priority: dict[str, int]
    open_total: int
    waiting_on_customer: int
    breached: dict[str, int]  # priority breached under -> open calls
    at_risk: dict[str, int]  # priority -> open calls with a clock at risk
    attainment: tuple[Attainment, ...]
    todays_breaches: tuple[TodaysBreach, ...]  # the first TODAYS_BREACHES_SHOWN, by breach moment
    todays_breach_count: int
    oldest_waiting: tuple[WaitingCall, ...]
    escalations_open: int
    satisfaction: Ratings  # given this month

    @property
    def breached_total(self) -> int:
        return sum(self.breached.values())

    @property
    def at_risk_total(self) -> int:
        return sum(self.at_risk.values())


def manager_board(desk: Desk) -> Board:
    """The board as it stands at the clock's now."""
    now = clock.now()
    today = local(now).date()
    month_start = today.replace(day=1)
    open_call = and_(Ticket.kind == "call", Ticket.status.in_(OPEN_STATUSES))
    with desk.db.reading() as session:
        by_tier_and_priority = _open_calls(session, open_call)
        open_by_tier = _open_by_tier(session, open_call)
        open_by_priority = _open_by_priority(session, open_call)
        waiting_on_customer = _count(session, Ticket.kind == "call", Ticket.status == WAITING_ON_CUSTOMER)
        breached = _breached_by_priority(session, open_call, now)
        at_risk = Counter(_priority(c.priority) for c in _one_per_ticket(clocks_at_risk(desk, session, open_call, now)))
        todays, todays_count = _todays_breaches(session, today, now)
        oldest = _oldest_waiting(session)
        escalations_open = _count(session, Ticket.kind == "escalation", Ticket.status.in_(OPEN_STATUSES))
    return Board(
        at=now,
        today=today,
        month_start=month_start,
        tiers=_tiers(open_by_tier),
        priorities=_priorities(open_by_priority, breached, at_risk),
        open_calls=by_tier_and_priority,
        open_by_tier=open_by_tier,
        open_by_priority=open_by_priority,
        open_total=sum(open_by_priority.values()),
        waiting_on_customer=waiting_on_customer,
        breached=dict(breached),
        at_risk=dict(at_risk),
        attainment=_attainment(desk, month_start, today),
        todays_breaches=todays,
        todays_breach_count=todays_count,
        oldest_waiting=oldest,
        escalations_open=escalations_open,
        satisfaction=satisfaction(desk, period=MONTH, start=month_start, end=today).total,
    )


def _priority(priority: str | None) -> str:
    return priority or NOT_TRIAGED


def _open_calls(session, open_call) -> dict[tuple[str, str], int]:
    """(tier, priority) -> open calls; a call with tasks in two lanes counts in each."""
    tier = func.coalesce(WorkTask.role, NO_TASK)
    query = (
        select(tier, Ticket.priority, func.count(Ticket.id.distinct()))
        .select_from(Ticket)
        .outerjoin(WorkTask, WorkTask.ticket_id == Ticket.id)
        .where(open_call)
        .group_by(tier, Ticket.priority)
    )
    return {(role, _priority(priority)): calls for role, priority, calls in session.execute(query)}


def _open_by_tier(session, open_call) -> dict[str, int]:
    """Open calls per tier, each call once per tier it has a task in."""
    tier = func.coalesce(WorkTask.role, NO_TASK)
    query = (
        select(tier, func.count(Ticket.id.distinct()))
        .select_from(Ticket)
        .outerjoin(WorkTask, WorkTask.ticket_id == Ticket.id)
        .where(open_call)
        .group_by(tier)
    )
    return dict(session.execute(query).all())


def _open_by_priority(session, open_call) -> dict[str, int]:
    query = select(Ticket.priority, func.count()).where(open_call).group_by(Ticket.priority)
    return {_priority(priority): calls for priority, calls in session.execute(query)}


def _count(session, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0


def _breached_by_priority(session, open_call, now: datetime) -> Counter[str]:
    """Open calls with a breached clock, each once, under the priority its resolution clock breached
    under, else (only its first response breached) under its own."""
    _, breached = clock_outcomes(now)
    rows = session.execute(
        select(Ticket.id, Ticket.priority, SlaClock.metric, COUNTED_PRIORITY)
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(open_call, breached)
    )
    under: dict[int, str] = {}
    for ticket_id, ticket_priority, metric, counted in rows:
        if metric == RESOLUTION:
            under[ticket_id] = _priority(counted or ticket_priority)
        else:
            under.setdefault(ticket_id, _priority(ticket_priority))
    return Counter(under.values())


def _one_per_ticket(clocks: list) -> list:
    seen: dict[int, object] = {}
    for found in clocks:
        seen.setdefault(found.ticket_id, found)
    return list(seen.values())


def _todays_breaches(session, today: date, now: datetime) -> tuple[tuple[TodaysBreach, ...], int]:
    """The clocks of calls that breached today (London), by the moment they breached."""
    _, breached = clock_outcomes(now)
    breached_at = BREACH_MOMENT
    today_only = and_(
        Ticket.kind == "call",
        breached,
        breached_at >= london_midnight(today),
        breached_at < london_midnight(today + timedelta(days=1)),
    )
    query = (
        select(
            Ticket.reference,
            SlaClock.metric,
            func.coalesce(COUNTED_PRIORITY, Ticket.priority),
            BREACH_MOMENT,
            SlaClock.stopped_at,
        )
        .join(Ticket, SlaClock.ticket_id == Ticket.id)
        .where(today_only)
        .order_by(BREACH_MOMENT, Ticket.reference, SlaClock.metric)
    )
    rows = tuple(TodaysBreach(*row) for row in session.execute(query.limit(TODAYS_BREACHES_SHOWN)))
    count = len(rows)
    if count == TODAYS_BREACHES_SHOWN:
        count = session.scalar(
            select(func.count()).select_from(SlaClock).join(Ticket, SlaClock.ticket_id == Ticket.id).where(today_only)
        )
    return rows, count


def _oldest_waiting(session) -> tuple[WaitingCall, ...]:
    """The open calls (not waiting on the customer) whose current task has waited longest."""
    query = (
        select(
            Ticket.reference,
            Ticket.summary,
            Ticket.account,
            Ticket.priority,
            Ticket.created_at,
            WorkTask.title,
            WorkTask.role,
            WorkTask.created_at,
            WorkTask.claimed_by,
        )
        .join(Ticket, WorkTask.ticket_id == Ticket.id)
        .where(Ticket.kind == "call", Ticket.status == "open")
        .order_by(WorkTask.created_at, WorkTask.id)
        .limit(OLDEST_SHOWN)
    )
    return tuple(WaitingCall(*row) for row in session.execute(query))


def _attainment(desk: Desk, month_start: date, today: date) -> tuple[Attainment, ...]:
    report = sla_report(desk, period=MONTH, start=month_start, end=today, breach_limit=0)
    return tuple(
        Attainment(metric, report.goals.get(metric, 0.0), report.line(metric, ALL).total) for metric in METRICS
    )


def _tiers(open_by_tier: dict[str, int]) -> tuple[str, ...]:
    known = [tier for tier in TIER_ORDER if tier in open_by_tier]
    others = sorted(tier for tier in open_by_tier if tier not in TIER_ORDER and tier != NO_TASK)
    return (*known, *others, *([NO_TASK] if NO_TASK in open_by_tier else []))


def _priorities(*counts: dict[str, int]) -> tuple[str, ...]:
    present = {priority for found in counts for priority, n in found.items() if n}
    shown = [p for p in PRIORITIES if p in ALWAYS_SHOWN or p in present]
    others = sorted(p for p in present if p not in PRIORITIES and p != NOT_TRIAGED)
    return (*shown, *others, *([NOT_TRIAGED] if NOT_TRIAGED in present else []))
