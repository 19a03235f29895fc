"""Read models: what pages, the CLI and reports show. Plain indexed queries;
none of them loads a workflow instance except the one task form being shown."""

from __future__ import annotations

import heapq
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, func, not_, or_, select

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.process import forms
from supportdesk.engine.store.models import DiagramVersion, SlaClock, Ticket, WorkTask
from supportdesk.engine.tickets.history import completion_of, events_of
from supportdesk.engine.tickets.instances import find_ticket, load_workflow
from supportdesk.engine.tickets.sla_clocks import SlaClocks, clock_outcomes
from supportdesk.engine.working_time.clock import clock
from supportdesk.engine.working_time.sla import at_risk


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    reference: str
    title: str
    role: str
    created_at: datetime
    claimed_by: str | None
    summary: str
    account: str
    priority: str | None = None
    due_at: datetime | None = None  # the ticket's nearest SLA deadline


@dataclass(frozen=True)
class HistoryRow:
    seq: int
    at: datetime
    kind: str
    actor: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ClockView:
    """An SLA clock as people read it, computed at the moment asked."""

    metric: str
    priority: str | None
    target: str
    state: str
    due_at: datetime | None
    elapsed: timedelta
    remaining: timedelta
    breached: bool
    started_at: datetime
    segments: list[tuple[str, datetime]]  # (start|pause|resume|regrade|stop|breach, moment), in order
    at_risk: bool = False  # C14: running, and its last share of working time (the policy's) has begun
    breached_at: datetime | None = None  # the breach recorded: its moment, and the priority then (C14)
    breached_priority: str | None = None


@dataclass(frozen=True)
class TicketView:
    reference: str
    kind: str  # call | escalation | training
    parent_reference: str | None  # the call an escalation or training request belongs to
    priority: str | None
    outcome: str | None
    status: str
    channel: str
    contact_name: str
    contact_email: str
    account: str
    summary: str
    created_at: datetime
    closed_at: datetime | None
    diagram_version: int
    revision: int
    open_tasks: list[TaskRow]
    history: list[HistoryRow]
    clocks: list[ClockView]


# Workflow data a task form shows beside its fields, e.g. the priority the
# table suggests on triage (C05) and the rule that chose it.
FORM_CONTEXT = (
    "suggested_priority",
    "priority_reason",
    "priority",
    "handover_reason",
    "advice",
    "concern",
    "findings",
    "information_found",
)


@dataclass(frozen=True)
class TaskForm:
    task: TaskRow
    fields: list[forms.FormField]
    revision: int
    context: dict[str, Any]


def _task_row(task: WorkTask, ticket: Ticket) -> TaskRow:
    return TaskRow(
        task.id,
        ticket.reference or "",
        task.title,
        task.role,
        task.created_at,
        task.claimed_by,
        ticket.summary,
        ticket.account,
        ticket.priority,
        task.due_at,
    )


def open_tasks(desk: Desk, roles: list[str] | None = None, *, limit: int = 50, offset: int = 0) -> list[TaskRow]:
    """The task inbox for the given roles (all when None): the most urgent SLA deadline first,
    tasks without one after, oldest first among equals. Sorted on an index (role, due_at).

    Only the columns a row shows are read (a ticket row also holds its instance, tens of
    kilobytes). Several roles are one indexed query each, merged here: a single query
    over ``role IN (...)`` would sort every open task of those roles for one page."""
    if roles is not None and len(set(roles)) > 1:
        wanted = offset + limit
        with desk.db.reading() as session:
            rows = heapq.merge(
                *(session.execute(_inbox_query([role]).limit(wanted)).all() for role in set(roles)), key=_inbox_order
            )
            return [TaskRow(*row) for row in itertools.islice(rows, offset, wanted)]
    with desk.db.reading() as session:
        return [TaskRow(*row) for row in session.execute(_inbox_query(roles).limit(limit).offset(offset))]


_INBOX_COLUMNS = (
    WorkTask.id,
    func.coalesce(Ticket.reference, ""),
    WorkTask.title,
    WorkTask.role,
    WorkTask.created_at,
    WorkTask.claimed_by,
    Ticket.summary,
    Ticket.account,
    Ticket.priority,
    WorkTask.due_at,
)


def _inbox_query(roles: list[str] | None):
    query = select(*_INBOX_COLUMNS).join(Ticket, WorkTask.ticket_id == Ticket.id)
    if roles is not None:
        query = query.where(WorkTask.role.in_(roles))
    return query.order_by(WorkTask.due_at.asc().nulls_last(), WorkTask.created_at, WorkTask.id)


def _inbox_order(row) -> tuple:
    """The inbox's ORDER BY, in Python, for merging the roles' pages."""
    task_id, created_at, due_at = row[0], row[4], row[9]
    return (due_at is None, due_at or created_at, created_at, task_id)


def count_open_tasks(desk: Desk, roles: list[str] | None = None) -> int:
    query = select(func.count()).select_from(WorkTask)
    if roles is not None:
        query = query.where(WorkTask.role.in_(roles))
    with desk.db.reading() as session:
        return session.scalar(query) or 0


def ticket_view(desk: Desk, reference: str) -> TicketView:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        tasks = session.scalars(select(WorkTask).where(WorkTask.ticket_id == ticket.id).order_by(WorkTask.created_at))
        version = session.get(DiagramVersion, ticket.version_id)
        parent = session.get(Ticket, ticket.parent_id) if ticket.parent_id else None
        return TicketView(
            reference=ticket.reference or "",
            kind=ticket.kind,
            parent_reference=parent.reference if parent else None,
            priority=ticket.priority,
            outcome=ticket.outcome,
            status=ticket.status,
            channel=ticket.channel,
            contact_name=ticket.contact_name,
            contact_email=ticket.contact_email,
            account=ticket.account,
            summary=ticket.summary,
            created_at=ticket.created_at,
            closed_at=ticket.closed_at,
            diagram_version=version.number,
            revision=ticket.revision,
            open_tasks=[_task_row(task, ticket) for task in tasks],
            history=[
                HistoryRow(e.seq, e.at, e.kind, e.actor, json.loads(e.payload)) for e in events_of(session, ticket.id)
            ],
            clocks=_clock_views(desk, session, ticket),
        )


def _clock_views(desk: Desk, session, ticket: Ticket) -> list[ClockView]:
    clocks = SlaClocks(session, ticket, desk.calendar, desk.sla_policy)
    now = clock.now()
    views = []
    for row in clocks.clocks():
        figures = clocks.figures(row.metric, now)
        segments = [(segment.kind, segment.at) for segment in clocks.segments(row)]
        views.append(
            ClockView(
                row.metric,
                figures.priority,
                row.target,
                figures.state,
                figures.due_at,
                figures.elapsed,
                figures.remaining,
                figures.breached,
                row.started_at,
                segments,
                figures.at_risk(desk.sla_policy.at_risk_share),
                figures.breached_at,
                figures.breached_priority,
            )
        )
    return views


@dataclass(frozen=True)
class Urgency:
    """A task's SLA urgency in the inbox: working time left to its ticket's nearest deadline
    (negative once past it) and "breached", "at-risk" or ""."""

    left: timedelta | None
    state: str


def urgency(desk: Desk, rows: list[TaskRow]) -> dict[str, Urgency]:
    """The urgency of each task in ``rows``, from its ticket's running clocks (one query for the page).
    At risk by the SLA policy's share of each clock's own target (C14), as on the ticket page."""
    now, calendar, share = clock.now(), desk.calendar, desk.sla_policy.at_risk_share
    with desk.db.reading() as session:
        running = session.execute(
            select(Ticket.reference, SlaClock.due_at, SlaClock.budget_seconds, SlaClock.breached_at)
            .join(Ticket, SlaClock.ticket_id == Ticket.id)
            .where(
                Ticket.reference.in_({row.reference for row in rows}),
                SlaClock.state == "running",
                SlaClock.due_at.is_not(None),
            )
        ).all()
    nearest: dict[str, tuple] = {}
    for reference, due_at, budget_seconds, breached_at in running:
        if reference not in nearest or due_at < nearest[reference][0]:
            nearest[reference] = (due_at, budget_seconds, breached_at)
    found = {}
    for row in rows:
        if row.reference not in nearest:
            found[row.task_id] = Urgency(None, "")
            continue
        due_at, budget_seconds, breached_at = nearest[row.reference]
        if due_at < now:
            found[row.task_id] = Urgency(-calendar.between(due_at, now), "breached")
            continue
        left = calendar.between(now, due_at)
        risky = budget_seconds is not None and at_risk(left, timedelta(seconds=budget_seconds), share)
        found[row.task_id] = Urgency(left, "breached" if breached_at else "at-risk" if risky else "")
    return found


def task_form(desk: Desk, task_id: str) -> TaskForm:
    """The fields of an open task's form, as its diagram version declares them."""
    with desk.db.reading() as session:
        task = session.get(WorkTask, task_id)
        if task is None:
            raise NotFound("this task is no longer open")
        ticket = task.ticket
        workflow = load_workflow(session, desk, ticket.state)
        spiff_task = workflow.get_task_from_id(UUID(task_id))
        context = {key: spiff_task.data[key] for key in FORM_CONTEXT if spiff_task.data.get(key) not in (None, "")}
        if ticket.priority:  # the task's data is a copy from when it opened: a re-grade since is on the ticket
            context["priority"] = ticket.priority
        return TaskForm(_task_row(task, ticket), forms.fields_of(spiff_task.task_spec), ticket.revision, context)


@dataclass(frozen=True)
class TicketSummary:
    reference: str
    status: str
    summary: str
    account: str
    contact_name: str
    created_at: datetime


# What a list of tickets shows (not a ticket's instance state, tens of kilobytes each).
_SUMMARY_COLUMNS = (
    func.coalesce(Ticket.reference, ""),
    Ticket.status,
    Ticket.summary,
    Ticket.account,
    Ticket.contact_name,
    Ticket.created_at,
)


def recent_tickets(desk: Desk, *, limit: int = 50) -> list[TicketSummary]:
    query = select(*_SUMMARY_COLUMNS).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
    with desk.db.reading() as session:
        return [TicketSummary(*row) for row in session.execute(query)]


def customer_calls(desk: Desk, contact_email: str, *, limit: int = 100) -> list[TicketSummary]:
    """C25: the calls of one customer contact, newest first, and nobody else's."""
    query = (
        select(*_SUMMARY_COLUMNS)
        .where(Ticket.contact_email == contact_email.strip().lower(), Ticket.kind == "call")
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    with desk.db.reading() as session:
        return [TicketSummary(*row) for row in session.execute(query)]


def completion_of_task(desk: Desk, task_id: str) -> HistoryRow | None:
    """Who completed a task that is no longer open, and when; None if it never was."""
    with desk.db.reading() as session:
        event = completion_of(session, task_id)
        return HistoryRow(event.seq, event.at, event.kind, event.actor, json.loads(event.payload)) if event else None


@dataclass(frozen=True)
class TicketDiagram:
    """Where a ticket stands, for drawing: its diagram file and the elements it is at."""

    file_name: str
    bpmn_xml: str
    active: frozenset[str]  # tasks ready and events waiting
    done: frozenset[str]  # elements already passed


def ticket_diagram(desk: Desk, reference: str) -> TicketDiagram:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        version = session.get(DiagramVersion, ticket.version_id)
        workflow = load_workflow(session, desk, ticket.state)
        name, xml = next((f.name, f.content) for f in version.files if f'id="{ticket.process_id}"' in f.content)
    tasks = [task for task in workflow.get_tasks() if getattr(task.task_spec, "bpmn_id", None)]
    active = {t.task_spec.bpmn_id for t in tasks if t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED)}
    done = {t.task_spec.bpmn_id for t in tasks if t.state == TaskState.COMPLETED} - active
    return TicketDiagram(name, xml, frozenset(active), frozenset(done))


# --- the ticket list (the API's GET /tickets) ----------------------------------------------------------------

TICKET_FILTERS = ("status", "priority", "kind", "account", "breached", "updated_since")
# Columns, not the Ticket: its serialized instance (``state``) is large and not shown in a list.
_LIST_COLUMNS = (
    Ticket.id,
    Ticket.reference,
    Ticket.kind,
    Ticket.status,
    Ticket.priority,
    Ticket.account,
    Ticket.contact_name,
    Ticket.summary,
    Ticket.created_at,
    Ticket.updated_at,
    Ticket.closed_at,
    Ticket.next_due_at,
)


def ticket_list(
    desk: Desk, filters: dict[str, Any], *, after: tuple[datetime, int] | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], bool]:
    """Tickets matching ``filters`` (``TICKET_FILTERS``: equal values, ``breached`` True or False,
    changed at or after ``updated_since``) in the order they were last changed, a page of ``limit``
    after the (updated_at, id) ``after``; and whether more follow. Sorted and paged on an index
    (updated_at, id), so a page costs the same at any depth."""
    breached = _has_breached_clock(clock.now())
    statement = select(*_LIST_COLUMNS, breached.label("breached"))
    for name in ("status", "priority", "kind", "account"):
        if name in filters:
            statement = statement.where(getattr(Ticket, name) == filters[name])
    if "breached" in filters:
        statement = statement.where(breached if filters["breached"] else not_(breached))
    if "updated_since" in filters:
        statement = statement.where(Ticket.updated_at >= filters["updated_since"])
    if after is not None:
        updated_at, ticket_id = after
        statement = statement.where(
            or_(Ticket.updated_at > updated_at, and_(Ticket.updated_at == updated_at, Ticket.id > ticket_id))
        )
    statement = statement.order_by(Ticket.updated_at, Ticket.id).limit(limit + 1)
    with desk.db.reading() as session:
        rows = [dict(row._mapping) for row in session.execute(statement)]
    return rows[:limit], len(rows) > limit


def _has_breached_clock(now: datetime):
    """SQL: the ticket has an SLA clock that missed its target (``clock_outcomes``, as in the report)."""
    _, breached = clock_outcomes(now)
    return select(SlaClock.id).where(SlaClock.ticket_id == Ticket.id, breached).exists()
