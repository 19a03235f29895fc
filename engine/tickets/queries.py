"""Read models: what pages, the CLI and reports show. Plain indexed queries;
none of them loads a workflow instance except the one task form being shown."""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from math import isqrt
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import (
    ARRAY,
    Integer,
    and_,
    any_,
    case,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotFound
from supportdesk.engine.process import forms
from supportdesk.engine.process.drawing import wiring
from supportdesk.engine.process.roles import TASK_ROLES
from supportdesk.engine.store import search_index
from supportdesk.engine.store.models import (
    Account,
    DiagramVersion,
    InboundMail,
    Message,
    SlaClock,
    Ticket,
    TicketSeen,
    User,
    UtcDateTime,
    WorkTask,
)
from supportdesk.engine.tickets.history import completion_of, events_of
from supportdesk.engine.tickets.instances import find_ticket, load_workflow
from supportdesk.engine.tickets.references import PREFIXES, format_reference
from supportdesk.engine.tickets.sla_clocks import SlaClocks, clock_outcomes
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, clock, local
from supportdesk.engine.working_time.sla import at_risk
from supportdesk.engine.working_time.sla_policy import PRIORITIES, RESOLUTION


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


# Where a ticket is now: a task to do, an event waiting, a call activity or watch running.
REACHED_NOW = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass(frozen=True)
class TicketDiagram:
    """Where a ticket stands, for drawing: its diagram file, where it is, and the path it took."""

    file_name: str
    bpmn_xml: str
    current: frozenset[str]  # tasks ready to do, and call activities running
    waiting: frozenset[str]  # events waiting for their timer or message (the SLA watches' starts too)
    done: frozenset[str]  # elements already passed
    taken: frozenset[str]  # the sequence flows it went along

    @property
    def active(self) -> frozenset[str]:
        return self.current | self.waiting


def ticket_diagram(desk: Desk, reference: str) -> TicketDiagram:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        version = session.get(DiagramVersion, ticket.version_id)
        workflow = load_workflow(session, desk, ticket.state)
        name, xml = next((f.name, f.content) for f in version.files if f'id="{ticket.process_id}"' in f.content)
    drawn = wiring(xml)
    tasks = [task for task in workflow.get_tasks() if _element(task)]
    # An event subprocess runs as long as the ticket does: it watches, and its start event shows what for.
    started = {_element(t) for t in tasks if t.state == TaskState.STARTED} - drawn.event_subprocesses
    current = {_element(t) for t in tasks if t.state == TaskState.READY} | started
    waiting = {_element(t) for t in tasks if t.state == TaskState.WAITING} - current
    reached = [t for t in tasks if t.has_state(TaskState.COMPLETED | REACHED_NOW)]
    done = {_element(t) for t in reached if t.state == TaskState.COMPLETED} - current - waiting
    steps = {(_element(before), _element(t)) for t in reached if (before := _came_from(t)) is not None}
    return TicketDiagram(name, xml, frozenset(current), frozenset(waiting), frozenset(done), drawn.flows_between(steps))


def _element(task) -> str:
    return getattr(task.task_spec, "bpmn_id", None) or ""


def _came_from(task):
    """The diagram element the task was reached from: its nearest ancestor that is one (SpiffWorkflow
    puts joins and boundary-event splits of its own in between)."""
    parent = task.parent
    while parent is not None and not _element(parent):
        parent = parent.parent
    return parent


# --- the ticket list: search, filters, sort and keyset pages (the calls list, the API's GET /tickets) --------

STATUSES = ("open", "delayed", "resolved", "closed")
KINDS = ("call", "escalation", "training")
# As a priority: not triaged yet; as a role: no open task (the call waits on a timer or a message).
NONE = "none"
SORTS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "deadline": "Most urgent deadline first",
    "updated": "Last updated first",
    "changes": "Least recently updated first",
    "waiting": "Waiting longest at their step",
}
# In "claimed by" and "account manager": the person asking, so that one saved view serves each of them.
ME = "me"
SEARCH_CHARS = 200
NAME_CHARS = 200  # an account's name, a username
MAX_PAGE = 200
CURSOR_HELP = "Pass next_cursor from the previous page, unchanged"
# A Call Reference typed into the search finds that ticket exactly (its number with or without zeros).
REFERENCE = re.compile(rf"^({'|'.join(PREFIXES.values())})-(\d{{4}})-(\d{{1,9}})$", re.IGNORECASE)
# The customer's entries in a conversation; the mail that opened a call is the call, not a reply on it.
CUSTOMER_KINDS = ("customer_mail", "portal_message")
OPENING_MAIL = "new_call"
_LAST_YEAR = 2199  # a cursor's moment lies in the desk's range (engine.bounds), as every stored moment does
_LARGEST_ID = 2**31 - 1  # what the id columns hold (engine.bounds.MAX_ID)


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows, and in what order (``SORTS``). Every filter given must hold.

    ``search``: words, each the start of a word of the ticket's reference, contact, account, summary or
    conversation (``search_index``), and Call References, each that ticket exactly. ``status``: one, or a
    tuple of any of several. ``priority``: or ``NONE``, not triaged. ``role``: the ticket has an open task
    of that role (its tier: first, second, third line...), or ``NONE``, none. ``claimed_by`` and
    ``account_manager``: usernames, or ``ME``. SLA (C14, as the report and the manager's board count it):
    ``breached`` True, a clock missed its target, False, none did; ``breached_on``, a clock breached on that
    London day; ``breached_priority``, a clock breached under that priority (the resolution clock's in
    force then; else, only the first response breached, the call's own); ``at_risk``, a clock at risk now.
    ``waiting_on_customer``: Delayed. ``customer_replied``: the customer wrote since the person asking last
    opened the call. Moments: from (included) and before (excluded) of when it was logged and last changed."""

    search: str = ""
    status: str | tuple[str, ...] | None = None
    priority: str | None = None
    kind: str | None = None
    role: str | None = None
    account: str | None = None
    account_manager: str | None = None
    claimed_by: str | None = None
    breached: bool | None = None
    breached_on: date | None = None
    breached_priority: str | None = None
    at_risk: bool = False
    waiting_on_customer: bool = False
    customer_replied: bool = False
    logged_from: datetime | None = None
    logged_before: datetime | None = None
    updated_from: datetime | None = None
    updated_before: datetime | None = None
    sort: str = "newest"

    @property
    def statuses(self) -> tuple[str, ...]:
        return (self.status,) if isinstance(self.status, str) else tuple(self.status or ())

    def validated(self) -> TicketFilter:
        """The filter with its text trimmed (empty is no filter), or InvalidInput naming each bad field."""
        errors: dict[str, str] = {}
        texts: dict[str, Any] = {name: _trimmed(getattr(self, name)) for name in _TEXT_FILTERS}
        search = texts.pop("search") or ""
        if len(search) > SEARCH_CHARS:
            errors["search"] = f"A search holds at most {SEARCH_CHARS} characters"
        elif search and _search_terms(search) == ((), ()):
            errors["search"] = "Search for a word, a name or a Call Reference"
        statuses = tuple(dict.fromkeys(status for status in map(_trimmed, self.statuses) if status))
        if any(status not in STATUSES for status in statuses):
            errors["status"] = _choose(STATUSES)
        for name, vocabulary in _VOCABULARIES.items():
            if texts[name] is not None and texts[name] not in vocabulary:
                errors[name] = _choose(vocabulary)
        for name in ("account", "account_manager", "claimed_by"):
            if len(texts[name] or "") > NAME_CHARS:
                errors[name] = f"At most {NAME_CHARS} characters"
        for start, end in (("logged_from", "logged_before"), ("updated_from", "updated_before")):
            first, last = getattr(self, start), getattr(self, end)
            if first is not None and last is not None and last <= first:
                errors[end] = "The end comes before the start"
        if self.sort not in SORTS:
            errors["sort"] = _choose(tuple(SORTS))
        if errors:
            raise InvalidInput("the tickets cannot be listed so", errors)
        status = statuses[0] if len(statuses) == 1 else statuses or None
        return replace(self, search=search, status=status, **texts)


_TEXT_FILTERS = ("search", "priority", "kind", "role", "account", "account_manager", "claimed_by", "breached_priority")
_VOCABULARIES: dict[str, Sequence[str]] = {
    "priority": (*PRIORITIES, NONE),
    "kind": KINDS,
    "role": (*TASK_ROLES, NONE),
    "breached_priority": (*PRIORITIES, NONE),
}


def _trimmed(value: str | None) -> str | None:
    return (value or "").strip() or None


def _choose(vocabulary: Sequence[str]) -> str:
    return f"Choose one of: {', '.join(vocabulary)}"


@dataclass(frozen=True)
class TicketListRow:
    reference: str
    kind: str
    status: str
    priority: str | None
    account: str
    contact_name: str
    summary: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    next_due_at: datetime | None  # the nearest due moment of its running SLA clocks
    breached: bool  # an SLA clock missed its target (C14)
    ticket_id: int
    sort_key: datetime | None = None  # what the order sorts it by (for the next page's cursor)


@dataclass(frozen=True)
class TicketPage:
    rows: list[TicketListRow]
    next_cursor: str | None  # where the next page starts; None on the last page


# Columns, not the Ticket: its serialized instance (``state``) is large and not shown in a list.
_LIST_COLUMNS = (
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
# When the ticket's oldest open task opened: how long it has waited at its step (None: no open task).
_WAITING_SINCE = select(func.min(WorkTask.created_at)).where(WorkTask.ticket_id == Ticket.id).scalar_subquery()
# Each order: its key and whether it runs backwards; ties go by id, the same way (keyset pages). Keys that
# may be empty (no deadline, no open task) are two runs: those with one, then those without, by id.
_ORDERS: dict[str, tuple[Any, bool]] = {
    "newest": (Ticket.created_at, True),
    "oldest": (Ticket.created_at, False),
    "deadline": (Ticket.next_due_at, False),
    "updated": (Ticket.updated_at, True),
    "changes": (Ticket.updated_at, False),
    "waiting": (_WAITING_SINCE, False),  # not on an index: the tickets that pass are sorted
}
_MAY_BE_EMPTY = ("deadline", "waiting")


def find_tickets(
    desk: Desk, filters: TicketFilter, *, viewer: str | None = None, cursor: str | None = None, limit: int = 50
) -> TicketPage:
    """A page of the tickets ``filters`` lets through, in its order, after ``cursor`` (a page's
    ``next_cursor``; None: the first page). ``viewer`` is the person asking (``ME``, "customer replied").

    Keyset pages: each page goes on from the last row's sort key and id, read off an index on them, so
    a page costs about the same at any depth, and every ticket is on exactly one page (ties included)."""
    filters = filters.validated()
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("the page size is out of range", {"limit": f"From 1 to {MAX_PAGE}"})
    after = _read_cursor(filters.sort, cursor) if cursor else None
    now = clock.now()
    with desk.db.reading() as session:
        plan = _Plan(session, limit)
        key = _ORDERS[filters.sort][0]
        statement = select(*_LIST_COLUMNS, Ticket.id.label("ticket_id"), key.label("sort_key")).where(
            *_conditions(desk, plan, filters, viewer, now)
        )
        found = _page_rows(session, statement, filters.sort, after, limit + 1)
        breached = _breached_among(session, [row.ticket_id for row in found], now)
    rows = [TicketListRow(**row._mapping, breached=row.ticket_id in breached) for row in found[:limit]]
    return TicketPage(rows, _cursor(filters.sort, rows[-1]) if len(found) > limit else None)


def _page_rows(session, statement, sort: str, after: tuple[datetime | None, int] | None, wanted: int) -> list:
    key, backwards = _ORDERS[sort]
    if sort not in _MAY_BE_EMPTY:
        return list(session.execute(_after(statement, key, backwards, after).limit(wanted)))
    # Two runs, each in its order: the tickets with a key, then those without one (by id).
    rows = []
    if after is None or after[0] is not None:
        keyed = statement.where(key.is_not(None))
        rows = list(session.execute(_after(keyed, key, backwards, after).limit(wanted)))
    if len(rows) < wanted:
        unkeyed = statement.where(key.is_(None))
        if after is not None and after[0] is None:
            unkeyed = unkeyed.where(Ticket.id > after[1])
        rows += session.execute(unkeyed.order_by(Ticket.id).limit(wanted - len(rows)))
    return rows


def _after(statement, key, backwards: bool, after: tuple[datetime | None, int] | None):
    if after is not None:  # (key, id) past the cursor's: a row value, which both stores seek on their index
        position, cursor = tuple_(key, Ticket.id), tuple_(*after)
        statement = statement.where(position < cursor if backwards else position > cursor)
    order = (key.desc(), Ticket.id.desc()) if backwards else (key.asc(), Ticket.id.asc())
    return statement.order_by(*order)


def _breached_among(session, ticket_ids: list[int], now: datetime) -> set[int]:
    """Which of a page's tickets have an SLA clock that missed its target (C14), asked once per page."""
    if not ticket_ids:
        return set()
    breached = clock_outcomes(now)[1]
    return set(session.scalars(select(SlaClock.ticket_id).where(SlaClock.ticket_id.in_(ticket_ids), breached)))


class _Plan:
    """How a list is best read on this store, filter by filter. Two ways: walk the sort order's index and
    keep the tickets that pass, stopping once a page is full (best when many pass), or read the few that
    pass by id and sort them (best when few do).

    Left to itself, SQLite's planner (no statistics unless ANALYZE ran) takes any equality on an indexed
    column for one that leaves a few rows, and would read every open ticket and sort them all for one page;
    and no planner knows how many tickets a word matches before looking it up. So: filters most tickets
    pass are said to be so (``broad``: SQLite's likelihood(); PostgreSQL has its statistics), and the
    matches of a filter that may be few or many (a search, a claimant, an SLA state) are counted first, up
    to where reading them stops being the safer way (``narrowing``, ``few``)."""

    def __init__(self, session, limit: int):
        self.session, self.limit = session, limit
        self.dialect = session.get_bind().dialect.name
        self._few: int | None = None

    def broad(self, condition, share: float):
        return func.likelihood(condition, literal_column(f"{share:.2f}")) if self.dialect == "sqlite" else condition

    def narrowing(self, ticket_ids):
        """SQL: the ticket is one of ``ticket_ids`` (a select of ticket ids). Up to ``few`` of them: their ids,
        read now and given back as one value (an array, or JSON on SQLite), which both planners look up
        one by one (the list then reads those tickets and sorts them). More: the same select, read once
        and looked up as each ticket of the sort order is walked ("ticket.id + 0" is no column the planner
        could start from, so it walks the order's index and stops once a page is full)."""
        found = self.session.connection().scalars(ticket_ids.limit(self.few + 1)).all()  # no ORM: plain ids
        if len(found) > self.few:
            return (Ticket.id + literal_column("0")).in_(ticket_ids)
        if self.dialect == "postgresql":
            return Ticket.id == any_(literal(found, ARRAY(Integer)))
        listed = select(literal_column("value")).select_from(func.json_each(json.dumps(found)))
        return Ticket.id.in_(listed)

    @property
    def few(self) -> int:
        """Up to how many matches are read by id: about sqrt(page x tickets), where the two ways cost the
        same if the matches were spread evenly along the order (n tickets read and sorted against page x
        tickets / n steps of the index walked). They seldom are: a day's breaches sit together in the
        deadline order, a name's calls in time, and a walk that meets them late reads most of the store
        (breached today on 100 000 tickets walked 41 000 to fill a page). Reading n by id costs n and no
        more; with the instance kept at the end of the row (migration 0019) a ticket's list columns are
        one page read on SQLite too, as on PostgreSQL (its instance is kept apart: TOAST)."""
        if self._few is None:
            tickets = self.session.scalar(select(func.max(Ticket.id))) or 0
            self._few = max(isqrt(self.limit * tickets), self.limit)
        return self._few


# Of all tickets, about how many pass each filter: broad ones (``_Plan.broad``).
_SHARE = {"statuses": 0.5, "priority": 0.3, "kind": 0.5}


def _conditions(desk: Desk, plan: _Plan, filters: TicketFilter, viewer: str | None, now: datetime) -> list:
    found: list = _search_conditions(plan, filters.search) if filters.search else []
    found += _ticket_conditions(plan, filters)
    found += _task_conditions(plan, filters, viewer)
    found += _sla_conditions(desk, plan, filters, now)
    if filters.account_manager:
        manager = _person(filters.account_manager, viewer, "account_manager")
        managed = Ticket.account.in_(select(Account.name).where(Account.account_manager == manager))
        found.append(plan.narrowing(select(Ticket.id).where(managed)))
    if filters.customer_replied:
        found.append(customer_wrote_since_seen(Ticket.id, _person(ME, viewer, "customer_replied")))
    return found


def _ticket_conditions(plan: _Plan, filters: TicketFilter) -> list:
    """The filters on the ticket's own columns."""
    found = []
    statuses = (*filters.statuses, *(["delayed"] if filters.waiting_on_customer else []))
    if len(set(statuses)) == 1:  # read off the indexes of each order within a status
        found.append(Ticket.status == statuses[0])
    elif statuses:
        found.append(plan.broad(Ticket.status.in_(filters.statuses), _SHARE["statuses"]))
        found += [Ticket.status == "delayed"] if filters.waiting_on_customer else []
    if filters.priority == NONE:
        found.append(Ticket.priority.is_(None))
    elif filters.priority:
        found.append(plan.broad(Ticket.priority == filters.priority, _SHARE["priority"]))
    if filters.kind:
        found.append(plan.broad(Ticket.kind == filters.kind, _SHARE["kind"]))
    if filters.account:
        found.append(Ticket.account == filters.account)
    for column, start, end in (
        (Ticket.created_at, filters.logged_from, filters.logged_before),
        (Ticket.updated_at, filters.updated_from, filters.updated_before),
    ):
        found += [column >= start] if start else []
        found += [column < end] if end else []
    return found


def _task_conditions(plan: _Plan, filters: TicketFilter, viewer: str | None) -> list:
    """The filters on the ticket's open tasks."""
    found = []
    if filters.role == NONE:
        found.append(not_(_has(WorkTask, true())))
    elif filters.role:  # a tier holds a good share of the open tickets: asked of each ticket walked
        found.append(_has(WorkTask, WorkTask.role == filters.role))
    if filters.claimed_by:
        claimed = WorkTask.claimed_by == _person(filters.claimed_by, viewer, "claimed_by")
        found.append(plan.narrowing(select(WorkTask.ticket_id).where(claimed)))
    return found


def _has(model, condition):
    """SQL: the ticket has a row of ``model`` (an open task, an SLA clock) for which ``condition`` holds."""
    return select(model.id).where(model.ticket_id == Ticket.id, condition).exists()


def _person(username: str, viewer: str | None, field: str) -> str:
    if username != ME:
        return username
    if viewer is None:
        raise InvalidInput("who is asking?", {field: "Only a signed-in person has their own"})
    return viewer


def _search_terms(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the Call References in ``text``, as stored; the words of the rest, as the index has them)."""
    references, rest = [], []
    for token in text.split():
        match = REFERENCE.match(token)
        if match:
            references.append(format_reference(match[1].upper(), int(match[2]), int(match[3])))
        else:
            rest.append(token)
    return tuple(dict.fromkeys(references)), tuple(dict.fromkeys(search_index.words(" ".join(rest))))


def _search_conditions(plan: _Plan, text: str) -> list:
    references, words = _search_terms(text)
    found = [Ticket.reference.in_(references)] if references else []
    if words:
        found.append(plan.narrowing(search_index.matching_ids(plan.dialect, words)))
    return found


# Every state a clock can be in: naming them lets the planner read (state, due_at) off its index.
_CLOCK_STATES = ("running", "paused", "stopped")
# As the C31 report and the manager's board count a breach (engine.oversight.reports): under the priority in
# force when it happened, else the clock's own, else the call's.
_counted_priority = func.coalesce(SlaClock.breached_priority, SlaClock.priority, Ticket.priority)


def _sla_conditions(desk: Desk, plan: _Plan, filters: TicketFilter, now: datetime) -> list:
    """The filters on the ticket's SLA clocks (C14). Breached ever is asked of each ticket walked (many have
    been); breached on a day and at risk now are few, read off sla_clock's indexes."""
    found = []
    breached = clock_outcomes(now)[1]
    if filters.breached is not None:
        found.append(_has(SlaClock, breached) if filters.breached else not_(_has(SlaClock, breached)))
    if filters.breached_on:
        wanted = _breached_between(_london_midnight(filters.breached_on), now, days=1)
        found.append(plan.narrowing(select(SlaClock.ticket_id).where(wanted)))
    if filters.breached_priority:
        found.append(_breached_under(filters.breached_priority, breached))
    if filters.at_risk:
        found.append(plan.narrowing(select(SlaClock.ticket_id).where(_at_risk_now(desk, plan.session, now))))
    return found


def _london_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=DISPLAY_ZONE).astimezone(UTC)


def _breached_between(start: datetime, now: datetime, *, days: int):
    """SQL: the clock breached (``clock_outcomes``) at a moment from ``start`` on, for ``days`` London days:
    a recorded breach then, or an open one (or a clock stopped late) whose due moment was then."""
    end = _london_midnight(local(start).date() + timedelta(days=days))
    not_recorded = and_(
        SlaClock.breached_at.is_(None),
        SlaClock.state.in_(_CLOCK_STATES),
        SlaClock.due_at >= start,
        SlaClock.due_at < end,
        SlaClock.due_at < now,
        or_(SlaClock.state != "stopped", SlaClock.stopped_at > SlaClock.due_at),
    )
    return or_(and_(SlaClock.breached_at >= start, SlaClock.breached_at < end), not_recorded)


def _breached_under(priority: str, breached):
    """SQL: the ticket breached under ``priority`` (``NONE``: not triaged), as the manager's board counts
    each breached call once: under the priority its resolution clock breached under, else (only its first
    response breached) under the call's own."""
    resolution_breached = and_(SlaClock.metric == RESOLUTION, breached)
    under = _counted_priority.is_(None) if priority == NONE else _counted_priority == priority
    own = Ticket.priority.is_(None) if priority == NONE else Ticket.priority == priority
    first_response_only = and_(not_(_has(SlaClock, resolution_breached)), _has(SlaClock, breached), own)
    return or_(_has(SlaClock, and_(resolution_breached, under)), first_response_only)


def _at_risk_now(desk: Desk, session, now: datetime):
    """SQL: the clock is at risk now (C14), as the inbox and the ticket page say: running, not breached,
    and the policy's share or less of its target's working time left. A clock with budget b is at risk
    once its due moment is within ``share * b`` of working time from now: a moment per budget, and the
    budgets are few (one per target, give or take a holiday). Only clocks due before the last of those
    moments can be at risk: read off the (state, due_at) index."""
    share = desk.sla_policy.at_risk_share
    limits = {
        seconds: desk.calendar.add(now, timedelta(seconds=seconds) * share).astimezone(UTC)
        for seconds in session.scalars(_budgets())
    }
    if not limits:
        return false()
    at_its_limit = case(
        {seconds: literal(moment, UtcDateTime) for seconds, moment in limits.items()}, value=SlaClock.budget_seconds
    )
    return and_(
        SlaClock.state == "running",
        SlaClock.due_at > now,
        SlaClock.due_at <= max(limits.values()),
        SlaClock.breached_at.is_(None),
        SlaClock.due_at <= at_its_limit,
    )


def _budgets():
    """SQL: the distinct budgets of all clocks, one index look-up each (a recursive walk up the index on
    budget_seconds: SQLite and PostgreSQL would otherwise read every clock for a handful of values)."""
    budgets = select(func.min(SlaClock.budget_seconds).label("seconds")).cte("budgets", recursive=True)
    following = select(func.min(SlaClock.budget_seconds)).where(SlaClock.budget_seconds > budgets.c.seconds)
    budgets = budgets.union_all(select(following.scalar_subquery()).where(budgets.c.seconds.is_not(None)))
    return select(budgets.c.seconds).where(budgets.c.seconds.is_not(None))


def customer_wrote_since_seen(ticket_id, username: str):
    """SQL: the ticket ``ticket_id`` (a column) has a customer's mail or portal message newer than
    ``username``'s last visit to its page; on a ticket they never opened, any after the mail that opened it."""
    user_id = select(User.id).where(User.username == username).scalar_subquery()
    return (
        select(Message.id)
        .outerjoin(TicketSeen, (TicketSeen.ticket_id == Message.ticket_id) & (TicketSeen.user_id == user_id))
        .outerjoin(InboundMail, InboundMail.id == Message.inbound_mail_id)
        .where(
            Message.ticket_id == ticket_id,
            Message.kind.in_(CUSTOMER_KINDS),
            or_(TicketSeen.seen_at.is_(None), Message.created_at > TicketSeen.seen_at),
            or_(InboundMail.outcome.is_(None), InboundMail.outcome != OPENING_MAIL),
        )
        .exists()
    )


def _cursor(sort: str, row: TicketListRow) -> str:
    """Opaque to clients: the order and where the page ended, as (the sort key, the ticket id)."""
    value = row.sort_key
    raw = json.dumps([sort, value.isoformat() if value else None, row.ticket_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(sort: str, cursor: str) -> tuple[datetime | None, int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(decoded, list) and len(decoded) == 2:  # the API's cursors before the sort orders
            decoded = ["changes", *decoded]
        cursor_sort, moment, ticket_id = decoded
        value = _cursor_moment(moment, cursor_sort)
        if isinstance(ticket_id, bool) or not isinstance(ticket_id, int) or not 0 <= ticket_id <= _LARGEST_ID:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError, OverflowError):
        raise InvalidInput("the cursor is not one this list gave", {"cursor": CURSOR_HELP}) from None
    if cursor_sort != sort:
        raise InvalidInput("the cursor is of another order", {"cursor": f"{CURSOR_HELP}, in the same order"})
    return value, ticket_id


def _cursor_moment(moment, sort: str) -> datetime | None:
    if moment is None and sort in _MAY_BE_EMPTY:  # among the tickets with no key
        return None
    value = datetime.fromisoformat(moment)
    if value.tzinfo is None or not 1970 <= value.astimezone(UTC).year <= _LAST_YEAR or sort not in SORTS:
        raise ValueError(moment)
    return value
