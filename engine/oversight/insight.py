"""Process insight (issue 21): for process owners, per element of one diagram of a version, over a
period of London dates: the tickets there now, the tickets that passed it, the median working time
they spent there (the desk's calendar: nights, weekends and holidays do not count) and the SLA breaches
whose moment came while they were there.

What the store records, and so what is counted:

* **User tasks**: each ``task_opened`` event (its ``task_id``, element, moment) is an arrival and the
  ``task_completed`` of the same task id the departure: a pass, with its working time. A task the
  engine took away without its being completed (the ticket migrated, an event cancelled it) has no
  recorded departure: it is counted as *left uncompleted*, never timed. Tickets there now: the open
  ``work_task`` rows.
* **Timer and message events**: a pass is a ``timer_fired`` event naming the element, or a
  ``message_received`` whose message only that element of the diagram catches. The moment a ticket
  began to wait there is not recorded, so no time is given, and no breach is put there. Tickets
  there now: the tickets whose instance waits on the event (read from their stored state), as a BPMN
  token waits: a ticket at a task may wait beside it for an event too, and is counted at both. The start
  events of event subprocesses (the SLA watches) watch every running call: they are not a place a
  ticket stands, so their "now" is not given.
* **Breaches** (C14), as the SLA report counts them (``clock_outcomes``: recorded, or past the due
  moment and not recorded by the worker yet): a breach whose moment (the clock's due moment) is in the
  period goes to every user task the ticket was at then (arrived at or before it, left after it or not
  yet); one at no user task (the ticket waited for a timer or a message, or was between steps) is
  counted apart.
* **Event-based gateways**: a ticket waits there for the first of the gateway's events (SpiffWorkflow
  keeps the wait on the gateway): tickets there now only; the passes are counted at its events.
  **Call activities** (none in the shipped diagrams): the tickets whose instance runs one now only.
* Service tasks, other gateways, start and end events run within a step: no working time is spent there
  and their passes are not recorded one by one, so they are not listed.

The tickets counted are those on the chosen version whose process is one of the file's; a ticket
migrated onto it brings the passes it made before (under their element ids, which a migration keeps
for the elements it maps). "There now" reads the stored instance of every running ticket, which is
most of the cost: 0.6 s for the figures of 500 simulated calls, 90 of them running (SQLite).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.oversight import reports
from supportdesk.engine.process.deployment import active_version
from supportdesk.engine.process.diagram_set import NS, local_name, parse_xml
from supportdesk.engine.store.models import DiagramVersion, HistoryEvent, Job, SlaClock, Ticket, WorkTask
from supportdesk.engine.tickets.instances import load_workflow
from supportdesk.engine.tickets.sla_clocks import clock_outcomes
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock, local

USER_TASK, CALL_ACTIVITY, TIMER, MESSAGE = "user task", "call activity", "timer event", "message event"
EVENT_GATEWAY = "event-based gateway"
_TASK_TAGS = {
    "userTask": USER_TASK,
    "manualTask": USER_TASK,
    "callActivity": CALL_ACTIVITY,
    "eventBasedGateway": EVENT_GATEWAY,
}
_EVENT_TAGS = ("intermediateCatchEvent", "boundaryEvent", "startEvent")
_HISTORY_KINDS = ("task_opened", "task_completed", "timer_fired", "message_received")
HEAT_LEVELS = 4  # the colour scale: 0 (no time spent) to 4 (the element where most working time went)
DEFAULT_FILE = "support_call.bpmn"
SORTS = ("element", "now", "passed", "median", "breaches", "time")


@dataclass(frozen=True)
class DiagramElement:
    id: str
    name: str
    kind: str
    watch: bool = False  # the start event of an event subprocess: it watches, no ticket stands there
    message: str = ""  # the message a message event catches


@dataclass(frozen=True)
class ElementFigures:
    element: DiagramElement
    there_now: int | None  # None: not given for this element (an SLA watch)
    passed: int | None  # None: not recorded for this element (an event-based gateway: see its events)
    working_times: tuple[timedelta, ...] = ()  # of the timed passes (user tasks)
    breaches: int | None = None  # None: not attributed to this kind of element
    left_uncompleted: int = 0  # user tasks taken away without completion (moment not recorded)

    @property
    def timed(self) -> bool:
        return self.element.kind == USER_TASK

    @property
    def median_working(self) -> timedelta | None:
        if not self.working_times:
            return None
        ordered = sorted(self.working_times)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    @property
    def total_working(self) -> timedelta:
        return sum(self.working_times, timedelta(0))


@dataclass(frozen=True)
class Insight:
    version: int
    active_version: int
    versions: tuple[int, ...]  # every deployed version, newest first
    file_name: str
    files: tuple[str, ...]  # the version's process files
    start: date  # London dates, inclusive
    end: date
    now: datetime
    tickets: int  # of the version, in the file's processes
    elements: tuple[ElementFigures, ...]
    breaches_elsewhere: int  # breaches in the period at no user task

    @property
    def heat(self) -> dict[str, int]:
        """Where the working time went in the period: per element, 0 (none) to ``HEAT_LEVELS`` (the most)."""
        most = max((f.total_working for f in self.elements), default=timedelta(0))
        if most <= timedelta(0):
            return {}
        return {
            f.element.id: max(1, math.ceil(HEAT_LEVELS * (f.total_working / most)))
            for f in self.elements
            if f.total_working > timedelta(0)
        }

    def sorted_by(self, key: str) -> list[ElementFigures]:
        """The rows by ``key`` (SORTS): by element name A-Z, else largest first (a figure not recorded
        last), equal ones by name."""
        if key not in SORTS or key == "element":
            return sorted(self.elements, key=lambda f: (f.element.name.lower(), f.element.id))
        return sorted(self.elements, key=lambda f: (-_sort_value(f, key), f.element.name.lower(), f.element.id))


def _sort_value(figures: ElementFigures, key: str) -> float:
    value = {
        "now": figures.there_now,
        "passed": figures.passed,
        "median": figures.median_working,
        "breaches": figures.breaches,
        "time": figures.total_working if figures.timed else None,
    }[key]
    if value is None:
        return -1.0
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass(frozen=True)
class Asked:
    """What a page asked for, checked (``requested``)."""

    version: int | None
    file_name: str | None
    start: date
    end: date


def requested(desk: Desk, version: str | None, file_name: str | None, start: str | None, end: str | None) -> Asked:
    """The version, file and London dates asked for as text; empty ones take the defaults (the active
    version, ``support_call.bpmn``, the last eight weeks that hold calls). InvalidInput names the field."""
    number = None
    if (version or "").strip():
        text = (version or "").strip()
        if not text.isdigit() or len(text) > 9:
            raise InvalidInput("no such version", {"version": f"A version is a number like 3, not {text!r}"})
        number = int(text)
    _, first, last = reports.requested_range(reports.WEEK, start, end, desk)
    if not (end or "").strip():  # up to today: a task completed after the newest call was logged counts
        last = max(last, local(clock.now()).date())
    return Asked(number, (file_name or "").strip() or None, first, last)


def insight(desk: Desk, asked: Asked) -> Insight:
    """The figures of the diagram ``asked`` for, as the store holds them at the clock's now."""
    now = clock.now()
    window = (reports.london_midnight(asked.start), reports.london_midnight(asked.end + timedelta(days=1)))
    with desk.db.reading() as session:
        version, active, versions = _version(session, asked.version)
        files = {f.name: f.content for f in version.files if f.name.endswith(".bpmn")}
        file_name = _file(files, asked.file_name)
        tree = parse_xml(file_name, files[file_name])
        processes = [p.get("id") or "" for p in tree.iterfind(".//bpmn:process", NS)]
        ticket_ids = select(Ticket.id).where(Ticket.version_id == version.id, Ticket.process_id.in_(processes))
        count = session.scalar(select(func.count()).select_from(ticket_ids.subquery())) or 0
        recorded = _recorded(session, desk, ticket_ids, window, now)
    figures, elsewhere = _figures(_elements(tree), recorded, window, now, desk.calendar)
    return Insight(
        version=version.number,
        active_version=active,
        versions=versions,
        file_name=file_name,
        files=tuple(sorted(files)),
        start=asked.start,
        end=asked.end,
        now=now,
        tickets=count,
        elements=figures,
        breaches_elsewhere=elsewhere,
    )


@dataclass(frozen=True)
class _Recorded:
    """What the store holds on the tickets counted."""

    events: Sequence  # (ticket id, at, kind, payload) of the kinds that say where a ticket went
    open_tasks: Sequence  # (task id, element id) of the open tasks
    breaches: Sequence  # (ticket id, breach moment) of the breaches in the period
    waiting: dict[str, int]  # element id -> tickets whose instance waits there now


def _recorded(session: Session, desk: Desk, ticket_ids, window: tuple[datetime, datetime], now: datetime) -> _Recorded:
    events = session.execute(
        select(HistoryEvent.ticket_id, HistoryEvent.at, HistoryEvent.kind, HistoryEvent.payload)
        .where(HistoryEvent.ticket_id.in_(ticket_ids), HistoryEvent.kind.in_(_HISTORY_KINDS))
        .order_by(HistoryEvent.ticket_id, HistoryEvent.seq)
    ).all()
    open_tasks = session.execute(
        select(WorkTask.id, WorkTask.element_id).where(WorkTask.ticket_id.in_(ticket_ids))
    ).all()
    _, breached = clock_outcomes(now)  # the SLA report's one definition of a breach
    moment = reports.BREACH_MOMENT
    breaches = session.execute(
        select(SlaClock.ticket_id, moment).where(
            SlaClock.ticket_id.in_(ticket_ids), breached, moment >= window[0], moment < window[1]
        )
    ).all()
    return _Recorded(events, open_tasks, breaches, _waiting_now(session, desk, ticket_ids))


def _version(session: Session, number: int | None) -> tuple[DiagramVersion, int, tuple[int, ...]]:
    active = active_version(session)
    versions = tuple(session.scalars(select(DiagramVersion.number).order_by(DiagramVersion.number.desc())))
    if number is None:
        return active, active.number, versions
    version = session.scalars(select(DiagramVersion).where(DiagramVersion.number == number)).first()
    if version is None:
        shown = ", ".join(str(n) for n in versions)
        raise InvalidInput("no such version", {"version": f"There is no version {number}; the versions are {shown}"})
    return version, active.number, versions


def _file(files: dict[str, str], wanted: str | None) -> str:
    if not files:
        raise InvalidInput("no process file", {"file": "This version has no .bpmn file"})
    if wanted is None:
        return DEFAULT_FILE if DEFAULT_FILE in files else min(files)
    if wanted not in files:
        raise InvalidInput("no such file", {"file": f"The version's process files are {', '.join(sorted(files))}"})
    return wanted


# --- the diagram's elements ------------------------------------------------------------------------------


def _elements(tree) -> list[DiagramElement]:
    """The elements figures are given for, in the order of the file."""
    messages = {m.get("id"): m.get("name") or m.get("id") or "" for m in tree.iterfind(".//bpmn:message", NS)}
    found = []
    for node in tree.iter():
        tag = local_name(node)
        name = " ".join((node.get("name") or node.get("id") or "").split())
        if tag in _TASK_TAGS:
            if tag == "eventBasedGateway" and not node.get("name"):
                name = _waits_for(tree, node)
            found.append(DiagramElement(node.get("id") or "", name, _TASK_TAGS[tag]))
        elif tag in _EVENT_TAGS:
            kind, message = _event_kind(node, messages)
            watch = tag == "startEvent" and _in_event_subprocess(node)
            if kind and (tag != "startEvent" or watch):
                found.append(DiagramElement(node.get("id") or "", name, kind, watch, message))
    return found


def _waits_for(tree, gateway) -> str:
    """An unnamed event-based gateway in words: what it waits for, its events' names."""
    targets = {
        f.get("targetRef") for f in tree.iterfind(".//bpmn:sequenceFlow", NS) if f.get("sourceRef") == gateway.get("id")
    }
    names = [" ".join((n.get("name") or n.get("id") or "").split()) for n in tree.iter() if n.get("id") in targets]
    return f"Waits for: {', '.join(names)}" if names else gateway.get("id") or ""


def _event_kind(node, messages: dict) -> tuple[str, str]:
    if node.find("bpmn:timerEventDefinition", NS) is not None:
        return TIMER, ""
    definition = node.find("bpmn:messageEventDefinition", NS)
    if definition is not None:
        return MESSAGE, messages.get(definition.get("messageRef"), "")
    return "", ""


def _in_event_subprocess(node) -> bool:
    parent = node.getparent()
    return parent is not None and local_name(parent) == "subProcess" and parent.get("triggeredByEvent") == "true"


# --- where tickets were, and are ---------------------------------------------------------------------------


@dataclass
class _Stay:
    """One ticket at one user task: arrived when the task opened, left when it was completed (or not yet)."""

    ticket_id: int
    element: str
    arrived: datetime
    left: datetime | None = None
    open_now: bool = False

    @property
    def taken_away(self) -> bool:
        return self.left is None and not self.open_now


def _stays(events: Sequence, open_task_ids: set[str]) -> list[_Stay]:
    stays: dict[str, _Stay] = {}
    for ticket_id, at, kind, payload in events:
        if kind not in ("task_opened", "task_completed"):
            continue
        data = json.loads(payload)
        task_id = str(data.get("task_id", ""))
        if kind == "task_opened":
            stays[task_id] = _Stay(ticket_id, str(data.get("element", "")), at, open_now=task_id in open_task_ids)
        elif task_id in stays:
            stays[task_id].left = at
    return list(stays.values())


def _waiting_now(session: Session, desk: Desk, ticket_ids) -> dict[str, int]:
    """Per element, the tickets whose instance waits there now (timer and message events, event-based
    gateways) or runs it (call activities), as a token waits in BPMN: a ticket at a task may wait
    beside it too (to be set Delayed). Only the instances still running are read: a ticket not
    closed, or with an open task or a timer job."""
    running = session.execute(
        select(Ticket.id, Ticket.state).where(
            Ticket.id.in_(ticket_ids),
            or_(
                Ticket.status != "closed",
                exists().where(WorkTask.ticket_id == Ticket.id),
                exists().where(Job.ticket_id == Ticket.id, Job.kind == "timer"),
            ),
        )
    ).all()
    counts: dict[str, int] = defaultdict(int)
    for _, state in running:
        workflow = load_workflow(session, desk, state)
        for element in {_bpmn_id(t) for t in workflow.get_tasks(state=TaskState.WAITING | TaskState.STARTED)} - {""}:
            counts[element] += 1
    return counts


def _bpmn_id(task) -> str:
    return getattr(task.task_spec, "bpmn_id", None) or ""


# --- the figures -----------------------------------------------------------------------------------------


def _figures(
    elements: list[DiagramElement],
    recorded: _Recorded,
    window: tuple[datetime, datetime],
    now: datetime,
    calendar: WorkingCalendar,
) -> tuple[tuple[ElementFigures, ...], int]:
    def in_window(moment: datetime) -> bool:
        return window[0] <= moment < window[1]

    stays = _stays(recorded.events, {task_id for task_id, _ in recorded.open_tasks})
    at_tasks, elsewhere = _breaches_at(stays, recorded.breaches, now)
    open_at: dict[str, int] = defaultdict(int)
    for _, element in recorded.open_tasks:
        open_at[element] += 1
    passes = _event_passes(elements, recorded.events, in_window)
    figures = []
    for element in elements:
        if element.kind == USER_TASK:
            mine = [s for s in stays if s.element == element.id]
            figures.append(_task_figures(element, mine, open_at.get(element.id, 0), in_window, calendar))
        else:
            there_now = None if element.watch else recorded.waiting.get(element.id, 0)
            passed = None if element.kind in (EVENT_GATEWAY, CALL_ACTIVITY) else passes.get(element.id, 0)
            figures.append(ElementFigures(element, there_now=there_now, passed=passed))
    figures = [replace(f, breaches=at_tasks.get(f.element.id, 0)) if f.timed else f for f in figures]
    return tuple(figures), elsewhere


def _task_figures(
    element: DiagramElement, stays: list[_Stay], there_now: int, in_window, calendar: WorkingCalendar
) -> ElementFigures:
    """A user task's figures (its breaches aside): the stays that left it in the period, timed."""
    done = [s for s in stays if s.left is not None and in_window(s.left)]
    return ElementFigures(
        element,
        there_now=there_now,
        passed=len(done),
        working_times=tuple(calendar.between(s.arrived, s.left) for s in done if s.left is not None),
        left_uncompleted=sum(1 for s in stays if s.taken_away and in_window(s.arrived)),
    )


def _breaches_at(stays: list[_Stay], breaches: Sequence, now: datetime) -> tuple[dict[str, int], int]:
    """Per user task, the breaches whose moment came while the ticket was there; and the others' count."""
    by_ticket: dict[int, list[_Stay]] = defaultdict(list)
    for stay in stays:
        by_ticket[stay.ticket_id].append(stay)
    at: dict[str, int] = defaultdict(int)
    elsewhere = 0
    for ticket_id, moment in breaches:
        places = {
            s.element
            for s in by_ticket.get(ticket_id, ())
            if s.arrived <= moment and not s.taken_away and moment < (s.left or now)
        }
        for element in places:
            at[element] += 1
        elsewhere += not places
    return at, elsewhere


def _event_passes(elements: Iterable[DiagramElement], events: Sequence, in_window) -> dict[str, int]:
    """Per timer or message event, the tickets that passed it in the period: its ``timer_fired``
    events, and the ``message_received`` of a message only it catches in the file."""
    catchers: dict[str, list[str]] = defaultdict(list)
    for element in elements:
        if element.kind == MESSAGE and element.message:
            catchers[element.message].append(element.id)
    passes: dict[str, int] = defaultdict(int)
    for _, at, kind, payload in events:
        if kind not in ("timer_fired", "message_received") or not in_window(at):
            continue
        data = json.loads(payload)
        if kind == "timer_fired":
            passes[str(data.get("element", ""))] += 1
        elif len(catchers.get(str(data.get("message", "")), ())) == 1:
            passes[catchers[str(data["message"])][0]] += 1
    return passes


# --- the same as a file ------------------------------------------------------------------------------------


CSV_COLUMNS = (
    "element_id",
    "element",
    "kind",
    "there_now",
    "passed",
    "median_working_minutes",
    "total_working_minutes",
    "breaches_while_there",
    "left_uncompleted",
)


def insight_csv(found: Insight, sort: str = "element") -> str:
    """The table as CSV: one row per element; an empty cell is a figure the store does not record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in found.sorted_by(sort):
        writer.writerow(
            (
                f.element.id,
                f.element.name,
                f.element.kind,
                "" if f.there_now is None else f.there_now,
                "" if f.passed is None else f.passed,
                _minutes(f.median_working) if f.timed else "",
                _minutes(f.total_working) if f.timed else "",
                "" if f.breaches is None else f.breaches,
                f.left_uncompleted if f.timed else "",
            )
        )
    return out.getvalue()


def _minutes(amount: timedelta | None) -> str:
    if amount is None:
        return ""
    return f"{amount.total_seconds() / 60:.1f}".removesuffix(".0")
