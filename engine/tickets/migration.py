"""Moving open tickets to another diagram version, SLA deadlines kept.

When a process owner fixes or improves a diagram, the tickets already running
can follow the new version instead of finishing on the old one. For each
ticket the difference between its instance and the target version is computed
with SpiffWorkflow's diff utilities (``SpecDiff``, ``WorkflowDiff``), and the
migration is *safe* when no element the ticket has done or is in was removed
or changed (see ``_differences`` for exactly what counts as a change).

A migration is a command like the others, in one transaction per ticket: the
ticket is locked, its instance moved to the target version's spec
(``migrate_workflow``), saved through the normal path (``instances.save``
re-projects the open tasks and re-schedules the timer jobs), the ticket pinned
to the target version, and ``ticket_migrated`` recorded in its history.

What is kept:
- the SLA clocks: they are segments in their own tables, which a migration never
  touches, so every clock keeps its segments, due moment and breach state;
- the waiting timers' absolute due moments (their ``event_value``): SpiffWorkflow
  would reset a waiting task and so restart its timer, so waiting tasks are only
  re-predicted here (their children follow the new version) and keep their state
  and internal data. A waiting timer whose definition the new version changed is
  evaluated again, at the migration moment; the dry run says so;
- the ids of the ready tasks (the inbox rows and their claims stay valid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NoActiveVersion, NotAllowed, NotFound
from supportdesk.engine.process.deployment import active_version
from supportdesk.engine.process.spiff import running
from supportdesk.engine.process.validation import parse_specs
from supportdesk.engine.store.models import DiagramVersion, Job, Ticket, WorkTask
from supportdesk.engine.tickets.instances import (
    NEVER,
    find_ticket,
    load_workflow,
    lock_ticket,
    rearm_live_deadlines,
    save,
    timer_due,
    timer_of,
)
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock

DONE = TaskState.COMPLETED
RUNNING = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# How an element is wired to the others: its flows, with their conditions (a gateway's) and which is the
# default. The new path is the point of a migration, so a changed flow is not a change of the element
# (but see ``_differences`` for the exceptions).
CONNECTIONS = frozenset({"inputs", "outputs", "default_task_spec", "cond_task_specs"})
# Text for people that changes nothing the engine does.
COSMETIC = frozenset({"documentation"})
TIMER_TYPES = frozenset({"TimeDateEventDefinition", "DurationTimerEventDefinition", "CycleTimerEventDefinition"})
# What a person reads for a changed attribute of SpiffWorkflow's serialized spec.
ATTRIBUTE_WORDS = {
    "typename": "the kind of element",
    "bpmn_name": "its name",
    "bpmn_id": "its id",
    "name": "its id",
    "lane": "its lane",
    "form": "its form",
    "event_definition": "its event",
    "topic": "its handler",
    "inputs": "its incoming flows",
    "boundary": "its boundary events",
    "script": "its script",
    "prescript": "its script",
    "postscript": "its script",
    "decision_ref": "its decision table",
}
STATE_VERBS = {
    TaskState.COMPLETED: "has done",
    TaskState.READY: "is at",
    TaskState.WAITING: "is waiting at",
    TaskState.STARTED: "is in",
    TaskState.ERROR: "failed at",
    TaskState.CANCELLED: "passed",
}
# A resolved call awaiting feedback, or an enhancement with the development team, is closed
# for the customer but its instance still runs: it can be migrated too.
CLOSED = "closed"


@dataclass(frozen=True)
class TimerMove:
    """A timer the ticket waits on, before and after the migration."""

    element: str
    name: str
    was: datetime | None
    due: datetime | None
    re_evaluated: bool  # the target version changed this timer: evaluated again at the migration moment

    def as_record(self) -> dict:
        return {
            "element": self.element,
            "was": _iso(self.was),
            "due": _iso(self.due),
            "re_evaluated": self.re_evaluated,
        }


@dataclass(frozen=True)
class DiagramChanges:
    """How the ticket's process differs between the two versions (element ids)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # the element itself (name, form, kind, lane, event, timer, ...)
    rewired: tuple[str, ...] = ()  # only its flows (where they lead, their conditions)

    KINDS: ClassVar[tuple[str, ...]] = ("added", "removed", "changed", "rewired")

    def as_record(self) -> dict:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "rewired": list(self.rewired),
        }

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(ids)}"
            for label, ids in (
                ("added", self.added),
                ("removed", self.removed),
                ("changed", self.changed),
                ("rewired", self.rewired),
            )
            if ids
        ]
        return "; ".join(parts) or "no difference"


# What became of one ticket: a dry run says "safe" or "unsafe"; a migration "migrated" or "unsafe"
# (left untouched); "already" on the target version; "finished" (its instance has ended).
SAFE, UNSAFE, MIGRATED, ALREADY, FINISHED = "safe", "unsafe", "migrated", "already", "finished"


@dataclass(frozen=True)
class TicketMigration:
    reference: str
    process_id: str
    from_version: int
    to_version: int
    outcome: str
    reasons: tuple[str, ...] = ()
    at: tuple[str, ...] = ()  # the elements the ticket is in
    timers: tuple[TimerMove, ...] = ()
    changes: DiagramChanges = field(default_factory=DiagramChanges)

    @property
    def safe(self) -> bool:
        return self.outcome in (SAFE, MIGRATED)

    def describe(self) -> str:
        head = f"{self.reference} ({self.process_id}) version {self.from_version} -> {self.to_version}"
        if self.outcome == ALREADY:
            return f"{self.reference}: already on version {self.to_version}"
        if self.outcome == FINISHED:
            return f"{self.reference}: its process has ended; nothing to migrate"
        if self.outcome == UNSAFE:
            return f"{head}: UNSAFE, left untouched: " + "; ".join(self.reasons)
        return f"{head}: {'migrated' if self.outcome == MIGRATED else 'safe'}"


# --- the commands -----------------------------------------------------------------------------------


def plan(desk: Desk, to_version: int, *, reference: str | None = None, actor: str = "dry-run") -> list[TicketMigration]:
    """The dry run: what migrating ``reference`` (or every open ticket) to ``to_version`` would do.
    Nothing is written; re-evaluated timers are shown as they would be at the clock's now."""
    with desk.db.reading() as session:
        target = _version(session, to_version)
        results = []
        for ticket_id in _candidates(session, target, reference):
            ticket = session.get(Ticket, ticket_id)
            outcome, _workflow = _analyse(UnitOfWork.dry_run(desk, session, ticket, actor), target)
            results.append(outcome)
        session.rollback()  # the evaluations may have touched the session's objects: write nothing
    return results


def migrate(desk: Desk, to_version: int, *, reference: str | None = None, actor: str) -> list[TicketMigration]:
    """Migrate ``reference`` (or every open ticket) to ``to_version``: each safe ticket in a
    transaction of its own; an unsafe one is left untouched and reported with the reasons."""
    with desk.db.reading() as session:
        target = _version(session, to_version)
        ticket_ids = _candidates(session, target, reference)
    return [_migrate_one(desk, ticket_id, to_version, actor) for ticket_id in ticket_ids]


def migrate_ticket(desk: Desk, reference: str, to_version: int, actor: str) -> TicketMigration:
    """Migrate one ticket; NotAllowed (nothing written) when that is not safe."""
    with desk.db.reading() as session:
        ticket_id = find_ticket(session, reference).id
    result = _migrate_one(desk, ticket_id, to_version, actor)
    if result.outcome == UNSAFE:
        raise NotAllowed(f"{reference} cannot be migrated to version {to_version}: " + "; ".join(result.reasons))
    return result


def _migrate_one(desk: Desk, ticket_id: int, to_version: int, actor: str) -> TicketMigration:
    with UnitOfWork(desk, actor) as uow:
        ticket = uow.ticket = lock_ticket(uow.session, ticket_id)
        target = _version(uow.session, to_version)
        result, workflow = _analyse(uow, target)
        if result.outcome != SAFE:
            return result  # nothing was changed: the transaction writes nothing
        ticket.version_id = target.id
        uow.record(
            "ticket_migrated",
            {
                "from": result.from_version,
                "to": result.to_version,
                "process": ticket.process_id,
                "by": actor,
                "changed": result.changes.as_record(),
                "timers": [t.as_record() for t in result.timers],
            },
        )
        save(uow, workflow)
    return replace(result, outcome=MIGRATED)


# --- which tickets ----------------------------------------------------------------------------------


def _version(session: Session, number: int) -> DiagramVersion:
    version = session.scalar(
        select(DiagramVersion).where(DiagramVersion.number == number).options(selectinload(DiagramVersion.files))
    )
    if version is None:
        raise NotFound(f"no diagram version {number} is deployed")
    return version


def _still_running():
    """Tickets whose instance may still run: not closed, or closed for the customer with work
    or a timer left (a resolved call awaiting feedback, an enhancement with development)."""
    return or_(
        Ticket.status != CLOSED,
        exists().where(WorkTask.ticket_id == Ticket.id),
        exists().where(Job.ticket_id == Ticket.id),
    )


def _candidates(session: Session, target: DiagramVersion, reference: str | None) -> list[int]:
    if reference is not None:
        return [find_ticket(session, reference).id]
    return list(
        session.scalars(select(Ticket.id).where(Ticket.version_id != target.id, _still_running()).order_by(Ticket.id))
    )


# --- one ticket, in memory --------------------------------------------------------------------------


def _analyse(uow: UnitOfWork, target: DiagramVersion) -> tuple[TicketMigration, BpmnWorkflow | None]:
    """Decide whether the ticket can move to ``target`` and, when it can, move its instance in
    memory (nothing is saved here). Returns the report and the migrated instance."""
    ticket, desk = uow.ticket, uow.desk
    source = uow.session.get(DiagramVersion, ticket.version_id)
    base = {
        "reference": ticket.reference or f"#{ticket.id}",
        "process_id": ticket.process_id,
        "from_version": source.number,
        "to_version": target.number,
    }
    if ticket.version_id == target.id:
        return TicketMigration(**base, outcome=ALREADY), None
    workflow = load_workflow(uow.session, desk, ticket.state)
    if workflow.is_completed():
        return TicketMigration(**base, outcome=FINISHED), None
    at = tuple(
        sorted({_name(t.task_spec) for t in workflow.get_tasks(state=RUNNING) if getattr(t.task_spec, "bpmn_id", None)})
    )
    waits = {task.id: task for task in _waiting_timers(workflow)}
    try:
        spec, subprocess_specs = desk.specs_for(target, ticket.process_id)
    except KeyError:
        return TicketMigration(
            **base, outcome=UNSAFE, at=at, reasons=(f"version {target.number} has no process {ticket.process_id!r}",)
        ), None
    registry = desk.process_engine.serializer.registry  # converting has no mode to switch: threads share it
    spec_diff = SpecDiff(registry, workflow.spec, spec)
    changes = _diagram_changes(registry, spec_diff)
    try:
        with running(uow):
            reasons, timers = _move(workflow, spec, subprocess_specs, spec_diff, registry, target.number)
            if not reasons:
                reasons = _after_checks(desk, workflow, target.number)
    except Exception as exc:  # noqa: BLE001  (whatever SpiffWorkflow raises, the finding is: not safe)
        reasons, timers = [f"the instance could not be moved: {exc.__class__.__name__}: {exc}"], []
    outcome = UNSAFE if reasons else SAFE
    if outcome == UNSAFE:  # what it waits for, as it stays
        timers = sorted(
            (TimerMove(t.task_spec.bpmn_id, _timer_name(t), _due(t), _due(t), False) for t in waits.values()),
            key=lambda t: t.element,
        )
    report = TicketMigration(
        **base, outcome=outcome, reasons=tuple(reasons), at=at, timers=tuple(timers), changes=changes
    )
    return report, (workflow if outcome == SAFE else None)


def _move(
    workflow: BpmnWorkflow, spec, subprocess_specs: dict, spec_diff: SpecDiff, registry, number: int
) -> tuple[list[str], list[TimerMove]]:
    """Check every element the ticket has done or is in, then migrate the instance to ``spec``."""
    diffs = [(workflow, spec, spec_diff)]
    reasons: list[str] = []
    for sub in workflow.subprocesses.values():
        new = subprocess_specs.get(sub.spec.name)
        if new is None:
            reasons.append(f"the ticket is in the sub-process {sub.spec.name}, which version {number} no longer has")
            continue
        diffs.append((sub, new, SpecDiff(registry, sub.spec, new)))
    re_evaluate: set = set()
    for instance, new, diff in diffs:
        _align_unreached(instance, new, diff)
        reasons += _unsafe_elements(instance, diff, registry, number, re_evaluate)
    if reasons:
        return reasons, []
    timers_before = {task.id: _due(task) for task in _waiting_timers(workflow)}

    for instance, new, diff in diffs:
        migrate_workflow(WorkflowDiff(instance, diff), instance, new, reset_mask=TaskState.READY)
    workflow.subprocess_specs = subprocess_specs
    for task in workflow.get_tasks(state=TaskState.WAITING | TaskState.STARTED):
        if task.id in task.workflow.tasks:
            _predict_again(task)
            if task.id in re_evaluate:
                _evaluate_timer_again(task)
    rearm_live_deadlines(workflow)  # a step like any other: timers that follow an SLA clock take its due moment

    timers = []
    for task_id, was in timers_before.items():
        task = workflow.get_task_from_id(task_id)
        if task is None or task.state != TaskState.WAITING:
            reasons.append(
                f"the timer the ticket waits on at {_label(task.task_spec) if task else task_id} would be lost"
            )
            continue
        timers.append(TimerMove(task.task_spec.bpmn_id, _timer_name(task), was, _due(task), task_id in re_evaluate))
    return reasons, sorted(timers, key=lambda t: t.element)


def _predict_again(task: Task) -> None:
    """Predict the path on from a waiting (or started) task by the new version's flows, keeping
    the task itself as it is: what it waits for, its timer's due moment, its sub-process.

    SpiffWorkflow's migration would reset such a task instead, which evaluates its timer again
    from now (a five-day wait would start over). Its predicted branch still names the old
    version's elements, so it is replaced by one likely child per outgoing flow; SpiffWorkflow
    predicts further from those when the task completes, as it does after any gateway."""
    for child in task.children:
        _forget_branch(child)
    task.children = []
    for output in task.task_spec.outputs:
        child = Task(task.workflow, output, task, state=TaskState.LIKELY)
        child.thread_id = task.thread_id


def _forget_branch(task: Task) -> None:
    for child in task.children:
        _forget_branch(child)
    del task.workflow.tasks[task.id]


def _align_unreached(instance, new_spec, spec_diff: SpecDiff) -> None:
    """SpecDiff aligns the elements it reaches by following the flows from the start; one of the
    instance's elements it did not reach is aligned by its id (or counts as removed)."""
    for task in instance.get_tasks(skip_subprocesses=True):
        if task.task_spec not in spec_diff.alignment:
            spec_diff.alignment[task.task_spec] = new_spec.task_specs.get(task.task_spec.name)


def _unsafe_elements(instance, spec_diff: SpecDiff, registry, number: int, re_evaluate: set) -> list[str]:
    """Why the ticket cannot move: an element it has done or is in is gone, or changed."""
    reasons = []
    for task in instance.get_tasks(skip_subprocesses=True):
        if not task.has_state(DONE | RUNNING | TaskState.CANCELLED):
            continue  # predicted: re-predicted from the new version
        old = task.task_spec
        new = spec_diff.alignment.get(old)
        where = f"the ticket {STATE_VERBS.get(task.state, 'has')} {_label(old)}"
        if new is None:
            reasons.append(f"{where}, which version {number} no longer has")
            continue
        if task.state == TaskState.CANCELLED:
            continue  # never ran: what it would have done does not matter
        differences = _differences(registry, old, new, running=task.has_state(RUNNING))
        if differences == {"timer"} and task.state == TaskState.WAITING and timer_of(task) is not None:
            re_evaluate.add(task.id)  # the timer itself changed: evaluated again, at the migration moment
            continue
        if differences:
            words = sorted({ATTRIBUTE_WORDS.get(d, d.replace("_", " ")) for d in differences})
            reasons.append(f"{where}, which version {number} changes ({', '.join(words)})")
    return reasons


def _differences(registry, old, new, *, running: bool) -> set[str]:
    """The attributes in which the element ``new`` differs from ``old``, compared on
    SpiffWorkflow's serialized form of each.

    Not counted: its flows (incoming, outgoing, a gateway's conditions and default flow; the new
    path is what a migration is for) and its documentation. Counted all the same, for an element the ticket
    is in: the incoming flows of a join it waits at (it would wait for other branches), and the
    boundary events of a task it is at (they were armed when it got there). A change of a
    timer's expression alone is reported as "timer"."""
    a, b = registry.convert(old), registry.convert(new)
    if a.get("typename") != b.get("typename"):
        return {"typename"}
    ignored = CONNECTIONS | COSMETIC
    if running and _is_join(old):
        ignored = ignored - {"inputs"}
    found = {key for key in a.keys() | b.keys() if key not in ignored and a.get(key) != b.get(key)}
    if "event_definition" in found and _without_timers(a["event_definition"]) == _without_timers(b["event_definition"]):
        found = (found - {"event_definition"}) | {"timer"}
    if running and _boundary_events(old) != _boundary_events(new):
        found.add("boundary")
    return found


def _without_timers(value: Any) -> Any:
    """An event definition with every timer reduced to its name: equal when only timers differ."""
    if isinstance(value, dict):
        if value.get("typename") in TIMER_TYPES:
            return {"timer": value.get("name")}
        return {k: _without_timers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_timers(v) for v in value]
    return value


def _is_join(spec) -> bool:
    """A join drawn on the diagram, which waits for its incoming branches (the engine's own end,
    boundary-event and start-event joins have no element id)."""
    return isinstance(spec, Join) and spec.bpmn_id is not None


def _boundary_events(spec) -> tuple[str, ...]:
    for parent in spec.inputs:
        if isinstance(parent, BoundaryEventSplit):
            return tuple(sorted(o.name for o in parent.outputs if o is not spec))
    return ()


def _waiting_timers(workflow: BpmnWorkflow) -> list:
    return [
        task
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if hasattr(task.task_spec, "event_definition") and timer_of(task) is not None
    ]


def _evaluate_timer_again(task) -> None:
    """The new version changed this timer: its due moment is evaluated again, now (as when reached)."""
    definition = timer_of(task)
    task.internal_data.pop("event_value", None)
    task.internal_data.pop("event_fired", None)
    value = task.workflow.script_engine.evaluate(task, definition.expression)
    if isinstance(definition, CycleTimerEventDefinition):
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(value)
        value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
    elif isinstance(definition, DurationTimerEventDefinition):
        delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))
        value = (clock.now() + delta).isoformat()
    task.internal_data["event_value"] = value


def _after_checks(desk: Desk, workflow: BpmnWorkflow, number: int) -> list[str]:
    """The migrated instance must be whole: every task on an element of the new version, no
    automatic step left to run at once, and it must store and load again."""
    reasons = []
    for task in workflow.get_tasks():
        if task.workflow.spec.task_specs.get(task.task_spec.name) is not task.task_spec:
            reasons.append(
                f"{_label(task.task_spec)} ({TaskState.get_name(task.state).lower()}) has no "
                f"counterpart in version {number}"
            )
    for task in workflow.get_tasks(state=TaskState.READY):
        if not task.task_spec.manual:
            reasons.append(f"{_label(task.task_spec)} would run at once on migration")
    if not reasons:
        desk.process_engine.loads(desk.process_engine.dumps(workflow))
    return sorted(set(reasons))


def _diagram_changes(registry, spec_diff: SpecDiff) -> DiagramChanges:
    def ids(specs) -> tuple[str, ...]:
        return tuple(sorted({s.bpmn_id for s in specs if getattr(s, "bpmn_id", None)}))

    changed, rewired = [], []
    for old, new in spec_diff.alignment.items():
        if new is None or not getattr(old, "bpmn_id", None):
            continue
        if _differences(registry, old, new, running=False):
            changed.append(old)
        else:
            a, b = registry.convert(old), registry.convert(new)
            if any(a.get(key) != b.get(key) for key in CONNECTIONS):
                rewired.append(old)
    return DiagramChanges(ids(spec_diff.added), ids(spec_diff.removed), ids(changed), ids(rewired))


def changes_between(desk: Desk, before: Mapping[str, str], after: Mapping[str, str]) -> DiagramChanges:
    """Every element that differs between two sets of diagram files that passed the gate, in every
    process and sub-process: SpiffWorkflow's SpecDiff, judged as for a ticket's migration (above)."""
    old, new = _specs_by_name(before), _specs_by_name(after)
    registry = desk.process_engine.serializer.registry
    parts = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            parts.append(DiagramChanges(removed=_element_ids(old[name])))
        elif name not in old:
            parts.append(DiagramChanges(added=_element_ids(new[name])))
        else:
            spec_diff = SpecDiff(registry, old[name], new[name])
            for spec in old[name].task_specs.values():  # what the flows from the start do not reach
                spec_diff.alignment.setdefault(spec, new[name].task_specs.get(spec.name))
            parts.append(_diagram_changes(registry, spec_diff))
    return DiagramChanges(
        *(tuple(sorted({i for part in parts for i in getattr(part, kind)})) for kind in DiagramChanges.KINDS)
    )


def version_changes(desk: Desk, from_version: int, to_version: int) -> DiagramChanges:
    """``changes_between`` two deployed versions."""
    with desk.db.reading() as session:
        before, after = (
            {f.name: f.content for f in _version(session, number).files} for number in (from_version, to_version)
        )
    return changes_between(desk, before, after)


def _specs_by_name(files: Mapping[str, str]) -> dict:
    parser = parse_specs(files)
    specs = {}
    for process_id in parser.get_process_ids():
        specs[process_id] = parser.get_spec(process_id)
        specs.update(parser.get_subprocess_specs(process_id))
    return specs


def _element_ids(spec) -> tuple[str, ...]:
    return tuple(sorted({s.bpmn_id for s in spec.task_specs.values() if getattr(s, "bpmn_id", None)}))


# --- for the admin page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionLoad:
    number: int
    active: bool
    deployed_at: datetime
    deployed_by: str
    running: dict[str, int]  # process id -> tickets still running on this version

    @property
    def total(self) -> int:
        return sum(self.running.values())


def running_by_version(session: Session) -> dict[int, dict[str, int]]:
    """Version id -> process id -> how many tickets still run on it. The one count of "open" tickets
    per version, for every page that shows one (the versions page counted the calls not closed, so a
    call closed for the customer while the development team considers its enhancement was left out):
    a ticket is open while its instance runs (``_still_running``)."""
    counts: dict[int, dict[str, int]] = {}
    for version_id, process_id, count in session.execute(
        select(Ticket.version_id, Ticket.process_id, func.count())
        .where(_still_running())
        .group_by(Ticket.version_id, Ticket.process_id)
    ):
        counts.setdefault(version_id, {})[process_id] = count
    return counts


def versions(desk: Desk) -> list[VersionLoad]:
    """Every deployed version, newest first, with how many tickets still run on it, by process."""
    with desk.db.reading() as session:
        rows = list(session.scalars(select(DiagramVersion).order_by(DiagramVersion.number.desc())))
        counts = running_by_version(session)
        try:
            active_id = active_version(session).id
        except NoActiveVersion:
            active_id = None
    return [
        VersionLoad(
            v.number, v.id == active_id, v.deployed_at, v.deployed_by, dict(sorted(counts.get(v.id, {}).items()))
        )
        for v in rows
    ]


# --- small things -----------------------------------------------------------------------------------


def _name(spec) -> str:
    if not getattr(spec, "bpmn_name", None) and isinstance(spec, EventBasedGateway):
        return " or ".join(_name(output) for output in spec.outputs)  # what it waits for
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name


def _timer_name(task) -> str:
    return getattr(task.task_spec, "bpmn_name", None) or timer_of(task).name or task.task_spec.bpmn_id


def _due(task) -> datetime | None:
    """A waiting timer's absolute due moment; None for one that waits for no moment (it follows
    an SLA clock that is paused or stopped)."""
    due = timer_due(task)
    return None if due is not None and due >= NEVER else due


def _label(spec) -> str:
    bpmn_id = getattr(spec, "bpmn_id", None)
    name = getattr(spec, "bpmn_name", None)
    if bpmn_id and name:
        return f"\u201c{name}\u201d ({bpmn_id})"
    return bpmn_id or spec.name


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
