"""The dry run of a new diagram version (#21): before it is stored, tickets are driven down every
reachable path of the new diagrams on a scratch store, and any engine error refuses the version with
the path that failed, in the deploy gate's problem format (file, line, element, what to do).

What the static gate cannot see shows here: a script that raises, a condition that divides by zero
on one path, a handler that fails on data a changed form gives it. The run is the desk's own: the
real commands (``commands.log_call``, ``complete_task``, ``deliver_message``, timer jobs) with the
desk's handlers, calendar and SLA policy, on a SQLite store in a temporary folder, each ticket on a
clock of its own (``clock.at``, this thread only: a web server beside it keeps the real time).

How the paths are chosen (as the simulation plays calls, ``simulation.plausible_value`` filling text):
each *choice* is a move at an element: a value of each enum or boolean field of a user task's form
(the others at their first value, a field not required also left blank), each message the instance
waits for (each reason of a call Delayed), each timer it waits on (the clock moved to it), and each
value of each field of a new call. Every choice is tried at least once: a ticket takes a choice not
tried yet where it finds one, else the first; a choice first offered at a point no ticket took it
from is tried by a ticket that replays the moves that led there. A ticket ends with its instance, at a
point it has seen before with nothing new to try (the same elements, the same data the diagrams'
expressions read), or after ``MAX_MOVES``. Trying every *combination* would be exponential; this
takes every branch of every choice, which is what a diagram's mistakes hide in.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import DeskError, StepError
from supportdesk.engine.process import python_names, timers
from supportdesk.engine.process.deployment import DeployResult, check_files, content_hash, deploy_files
from supportdesk.engine.process.diagram_set import DiagramSet, parse_xml
from supportdesk.engine.process.forms import FormField, fields_of
from supportdesk.engine.process.problems import WARNING, DiagramRefused, Problem
from supportdesk.engine.process.spiff import HandlerRegistry
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import DiagramVersion, Job, Ticket
from supportdesk.engine.tickets import commands
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS, CallDetails
from supportdesk.engine.tickets.instances import NEVER, find_ticket, load_workflow, ready_user_tasks, waiting_timers
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock
from supportdesk.engine.working_time.sla_policy import SlaPolicy

from .simulation import DELAY_NOTES, plausible_value

log = logging.getLogger(__name__)

# At most this many tickets: the shipped diagrams take 23 (84 moves, about 3 s here); three times as many
# choices still end in seconds, where a loop the pruning misses would otherwise run on. Choices left untried
# when it is reached are a warning, not a refusal.
MAX_TICKETS = 80
# A ticket's moves: a loop in a diagram (a progress mail each working day, Delayed again and again) ends here.
MAX_MOVES = 40
# Between one person's move and the next, on the ticket's clock (timers move it to their own moment).
STEP = timedelta(minutes=10)
TIMER_LAG = timedelta(seconds=1)  # SpiffWorkflow fires a timer strictly after its due moment
ACTOR = "dry run"
LONDON = ZoneInfo("Europe/London")
# Campaign moments a call may give, from the moment it is logged (C06: within a day, within three days, later).
CAMPAIGNS = {"no campaign": None, "campaign in 12 hours": 12, "campaign in 48 hours": 48, "campaign in 10 days": 240}
# The base call: every path open (an on-premise call may also wait for access to the customer's environment).
BASE_CALL = CallDetails(
    contact_name="Dry Run",
    contact_email="dry.run@example.com",
    account="Dry Run Ltd",
    summary="A call the dry run logs",
    licence_type="on_premise",
)
# Messages the desk's entry points send, with what they carry; any other gets a note.
MESSAGE_PAYLOADS: dict[str, dict[str, dict[str, Any]]] = {
    "call_delayed": {f"reason={reason}": {"reason": reason, "note": note} for reason, note in DELAY_NOTES.items()},
    "feedback": {
        "rating=5": {"rating": 5, "comment": "Quick and helpful"},
        "rating=1": {"rating": 1, "comment": "Slow"},
    },
    "public_reply": {"": {"entry": None, "kind": "reply"}},
}
OTHER_PAYLOAD = {"": {"note": "The dry run sends it"}}


# --- what a dry run found ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rehearsal:
    """What the dry run found: errors (a path failed) refuse the version; a warning says the bound was hit."""

    problems: tuple[Problem, ...]
    tickets: int
    moves: int
    seconds: float
    tried: frozenset[tuple[str, str, str]]  # each choice tried: (kind, element id, the value chosen)

    @property
    def choices(self) -> int:
        return len(self.tried)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)

    def describe(self) -> str:
        return (
            f"dry run: {self.tickets} tickets, {self.moves} moves, {self.choices} choices tried "
            f"in {self.seconds:.1f} s; {len(self.errors)} path(s) failed"
        )


def rehearse_for(desk: Desk, files: Mapping[str, str]) -> Rehearsal:
    """The dry run of ``files`` with ``desk``'s handlers, calendar and SLA policy (nothing of ``desk``'s
    store is read or written)."""
    return rehearse(desk.settings, desk.registry, files, calendar=desk.calendar, policy=desk.sla_policy)


def rehearse(
    settings: Settings,
    registry: HandlerRegistry,
    files: Mapping[str, str],
    *,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
) -> Rehearsal:
    """The dry run of ``files`` (which passed the static gate) on a scratch store thrown away after."""
    started = time.monotonic()
    with _scratch_desk(settings, registry, calendar, policy) as scratch:
        with scratch.db.transaction() as session:
            deploy_files(session, dict(files), scratch.handler_topics, ACTOR)
        run = _Run(scratch, DiagramSet({name: parse_xml(name, text) for name, text in files.items()}))
        run.explore()
    seconds = time.monotonic() - started
    rehearsal = Rehearsal(tuple(run.problems()), run.tickets, run.moves, seconds, frozenset(run.tried))
    log.info("%s", rehearsal.describe())
    return rehearsal


def deploy_checked(desk: Desk, files: Mapping[str, str], actor: str) -> DeployResult:
    """Deploy ``files`` as a new version after the static gate and the dry run (``check_new``); DiagramRefused
    with every problem, nothing stored."""
    files = dict(files)
    check_new(desk, files)
    with desk.db.transaction() as session:
        return deploy_files(session, files, desk.handler_topics, actor, desk.registry.expression_functions)


def check_new(desk: Desk, files: Mapping[str, str]) -> Rehearsal | None:
    """The static gate and the dry run of ``files``, outside any transaction of the store (the dry run takes
    seconds); raises DiagramRefused with every error. Files already deployed as a version are not run again
    (they ran before; deploying them re-activates that version): None."""
    files = dict(files)
    if _deployed_before(desk, files):
        return None
    inspection = check_files(files, desk.handler_topics, desk.registry.expression_functions)
    if inspection.errors:
        raise DiagramRefused(inspection.errors)
    rehearsal = rehearse_for(desk, files)
    if rehearsal.errors:
        raise DiagramRefused(rehearsal.errors)
    return rehearsal


def _deployed_before(desk: Desk, files: dict[str, str]) -> bool:
    with desk.db.reading() as session:
        digest = content_hash(files)
        return session.scalar(select(DiagramVersion.id).where(DiagramVersion.content_hash == digest)) is not None


@contextlib.contextmanager
def _scratch_desk(
    settings: Settings, registry: HandlerRegistry, calendar: WorkingCalendar | None, policy: SlaPolicy | None
) -> Iterator[Desk]:
    with tempfile.TemporaryDirectory(prefix="supportdesk-dry-run-") as folder:
        scratch_settings = replace(
            settings,
            database_url=f"sqlite:///{Path(folder) / 'dry-run.sqlite'}",
            smtp_host="",  # nothing leaves the scratch store
            sqlite_synchronous="off",  # thrown away after: no need to survive a power cut
        )
        scratch = Desk(scratch_settings, registry)
        scratch.calendar = calendar or scratch.calendar
        scratch.sla_policy = policy or scratch.sla_policy
        try:
            scratch.upgrade_schema()
            yield scratch
        finally:
            scratch.close()


# --- moves ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A choice at an element: its id (a process id for a new ticket), its name, and the value chosen."""

    kind: str  # start | task | message | timer
    element: str
    name: str
    choice: str  # "" for the first (the base) choice

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.element, self.choice)

    def __str__(self) -> str:
        named = f' "{self.name}"' if self.name and self.name != self.element else ""
        chose = f" ({self.choice})" if self.choice else ""
        return f"{_VERBS[self.kind]} {self.element}{named}{chose}"


_VERBS = {"start": "start", "task": "complete", "message": "message at", "timer": "timer"}
_ORDER = {"start": 0, "task": 1, "message": 2, "timer": 3}  # a person's work first, then the world's


@dataclass(frozen=True)
class Option:
    """A move the ticket can make now, and how to make it."""

    move: Move
    act: Callable[[], Any]


@dataclass(frozen=True)
class _Point:
    options: list[Option]
    signature: tuple  # where it is, and the data that steers its way on: ``_Run._signature``
    status: str = ""  # the ticket's (open, delayed, resolved...): what the desk's refusals depend on


@dataclass
class _Ticket:
    now: datetime
    reference: str = ""
    moves: list[Move] = field(default_factory=list)
    workflow: BpmnWorkflow | None = None  # its instance as last read (between two moves)


@dataclass(frozen=True)
class _Failure:
    element_id: str
    error: str
    path: tuple[Move, ...]
    passed: tuple[str, ...]


class _Run:
    """The exploration: which choices were offered where, which were tried, and what failed."""

    def __init__(self, desk: Desk, diagrams: DiagramSet):
        self.desk, self.diagrams = desk, diagrams
        self.start = _first_working_morning(clock.now())
        self.read = _variables_read(diagrams)
        self.process_ids = set(diagrams.process_ids())
        self.tried: set[tuple[str, str, str]] = set()
        self.given_up: set[tuple[str, str, str]] = set()  # offered once, but no ticket got there again
        self.untried: dict[tuple[str, str, str], tuple[Move, ...]] = {}  # choice -> the moves that reach it
        self.seen: set[tuple] = set()
        self.refused: set[tuple[tuple[str, str, str], str]] = set()  # (choice, the ticket's status it was refused in)
        self.failures: dict[tuple[str, str], _Failure] = {}
        self.tickets = self.moves = 0
        self.first_call = ""

    # -- the loop

    def explore(self) -> None:
        self._point(_Ticket(self.start))  # the new tickets to try
        while self.tickets < MAX_TICKETS:
            target = self._next_target()
            if target is None:
                return
            self._play(*target)

    def _next_target(self) -> tuple[tuple[Move, ...], tuple[str, str, str]] | None:
        """The untried choice with the shortest way to it (a new ticket's first)."""
        waiting = [(len(prefix), key, prefix) for key, prefix in self.untried.items() if not self._settled(key)]
        if not waiting:
            return None
        _, key, prefix = min(waiting, key=lambda item: (item[0], _ORDER[item[1][0]]))
        return prefix, key

    def _play(self, prefix: tuple[Move, ...], target: tuple[str, str, str]) -> None:
        """One ticket: the moves of ``prefix`` again, then ``target``, then new choices where there are any."""
        self.tickets += 1
        ticket = _Ticket(self.start)
        for move in prefix:
            if not self._replay(ticket, move):
                self.given_up.add(target)  # the point cannot be reached again
                return
        point = self._point(ticket)
        chosen = next((o for o in point.options if o.move.key == target), None)
        if chosen is None:
            self.given_up.add(target)
            return
        while chosen is not None and len(ticket.moves) < MAX_MOVES:
            if not self._make(ticket, chosen, point):
                return
            point = self._point(ticket)
            chosen = self._choose(point)

    def _replay(self, ticket: _Ticket, move: Move) -> bool:
        point = self._point(ticket)
        option = next((o for o in point.options if o.move.key == move.key), None)
        return option is not None and self._make(ticket, option, point, again=True)

    def _choose(self, point: _Point) -> Option | None:
        """A choice not tried yet, else the first; None when the ticket is done or at a point seen before."""
        fresh = [o for o in point.options if self._untried_here(o.move, point)]
        if fresh:
            return fresh[0]
        if not point.options or point.signature in self.seen:
            return None  # done, or the way on from here was taken already
        self.seen.add(point.signature)
        return point.options[0]

    def _untried_here(self, move: Move, point: _Point) -> bool:
        return not self._settled(move.key) and (move.key, point.status) not in self.refused

    def _settled(self, key: tuple[str, str, str]) -> bool:
        return key in self.tried or key in self.given_up

    def _make(self, ticket: _Ticket, option: Option, point: _Point, *, again: bool = False) -> bool:
        """Make the move; False when the ticket cannot go on (a failure, or a move refused on replay)."""
        move = option.move
        log.debug("dry run: ticket %s %s %s", self.tickets, "replays" if again else "makes", move)
        self.moves += 1
        before = ticket.now
        ticket.now = _after(ticket.now, move)
        try:
            with clock.at(ticket.now):
                result = option.act()
        except StepError as exc:
            self.tried.add(move.key)
            self._failed(ticket, move, exc.element_id, _error_of(exc))
            return False
        except DeskError as exc:  # refused for the person (the value, the call's state): not the diagram's fault
            log.debug("dry run: %s refused: %s", move, exc)
            ticket.now = before
            self._refused(move, point)
            return not again
        except Exception as exc:  # noqa: BLE001  (whatever else the engine raises on this path refuses the version)
            self.tried.add(move.key)
            self._failed(ticket, move, "", f"{exc.__class__.__name__}: {exc}")
            return False
        self.tried.add(move.key)
        ticket.moves.append(move)
        if move.kind == "start":
            ticket.reference = result
            self.first_call = self.first_call or (result if move.element == "support_call" else "")
        return True

    def _refused(self, move: Move, point: _Point) -> None:
        """A choice the desk refuses in the ticket's status (a resolved call cannot be Delayed): it stays to
        try in another status, reached by the moves to the next point that offers it."""
        self.refused.add((move.key, point.status))
        self.untried.pop(move.key, None)

    # -- what a ticket can do now

    def _point(self, ticket: _Ticket) -> _Point:
        """Where the ticket is: the moves it can make, and its signature. Choices offered here for the first
        time are noted with the moves that led here."""
        if not ticket.reference:
            point = _Point(self._start_options(), ("new ticket",))
        else:
            options, status = self._ticket_options(ticket)
            point = _Point(options, self._signature(ticket, options), status)
        for option in point.options:
            if self._untried_here(option.move, point):
                self.untried.setdefault(option.move.key, tuple(ticket.moves))
        return point

    def _start_options(self) -> list[Option]:
        options = [self._call_option(choice, details) for choice, details in _call_variants(self.start)]
        if "escalation" in self.process_ids:
            options.append(Option(Move("start", "escalation", "escalation", ""), self._start_escalation))
        if "training" in self.process_ids:
            for need in commands.TRAINING_NEEDS:
                options.append(Option(Move("start", "training", "training", f"need={need}"), self._training(need)))
        return options

    def _call_option(self, choice: str, details: CallDetails) -> Option:
        return Option(
            Move("start", "support_call", "call", choice), lambda: commands.log_call(self.desk, details, ACTOR)
        )

    def _start_escalation(self) -> str:
        concern = commands.StartEscalation(
            "The dry run is unhappy",
            contact_name=BASE_CALL.contact_name,
            contact_email=BASE_CALL.contact_email,
            account=BASE_CALL.account,
        )
        return commands.start_escalation(self.desk, concern, ACTOR)

    def _training(self, need: str) -> Callable[[], str]:
        def record() -> str:
            if not self.first_call:
                raise _NoCallYet()
            return commands.record_training_need(self.desk, commands.RecordTrainingNeed(self.first_call, need), ACTOR)

        return record

    def _ticket_options(self, ticket: _Ticket) -> tuple[list[Option], str]:
        """The moves the ticket can make now, and its status."""
        with self.desk.db.reading() as session:
            row = find_ticket(session, ticket.reference)
            status, workflow = row.status, load_workflow(session, self.desk, row.state)
        ticket.workflow = None if workflow.is_completed() else workflow
        if ticket.workflow is None:
            return [], status
        options = [*self._task_options(workflow), *self._message_options(ticket, workflow)]
        options += self._timer_options(ticket, workflow)
        return sorted(options, key=lambda o: _ORDER[o.move.kind]), status

    def _task_options(self, workflow: BpmnWorkflow) -> Iterator[Option]:
        for task in ready_user_tasks(workflow):
            spec, task_id = task.task_spec, str(task.id)
            for choice, values in _form_variants(fields_of(spec)):
                move = Move("task", spec.bpmn_id, spec.bpmn_name or "", choice)
                yield Option(move, self._completing(task_id, values))

    def _completing(self, task_id: str, values: dict) -> Callable[[], str]:
        return lambda: commands.complete_task(self.desk, commands.CompleteTask(task_id, values), ACTOR)

    def _message_options(self, ticket: _Ticket, workflow: BpmnWorkflow) -> Iterator[Option]:
        for task in list(workflow.event_manager.tasks.values()):
            for message in _messages_of(task):
                for choice, payload in MESSAGE_PAYLOADS.get(message, OTHER_PAYLOAD).items():
                    move = Move(
                        "message", task.task_spec.bpmn_id, task.task_spec.bpmn_name or "", f"{message} {choice}".strip()
                    )
                    yield Option(move, self._delivering(ticket, message, payload))

    def _delivering(self, ticket: _Ticket, message: str, payload: dict) -> Callable[[], None]:
        command = commands.DeliverMessage(ticket.reference, message, payload)
        return lambda: commands.deliver_message(self.desk, command, ACTOR)

    def _timer_options(self, ticket: _Ticket, workflow: BpmnWorkflow) -> Iterator[Option]:
        for task, due in sorted(waiting_timers(workflow), key=lambda pair: pair[1]):
            if due < NEVER:
                move = Move("timer", task.task_spec.bpmn_id, task.task_spec.bpmn_name or "", "fires")
                yield Option(move, self._firing(ticket, due))

    def _firing(self, ticket: _Ticket, due: datetime) -> Callable[[], None]:
        """The clock moved past ``due`` and the ticket's due timer jobs fired, as the worker fires them
        (but a failure raises: no retry, no incident)."""

        def fire() -> None:
            ticket.now = max(ticket.now, due + TIMER_LAG)
            with clock.at(ticket.now):
                for job_id in self._due_jobs(ticket):
                    commands.fire_timer(self.desk, job_id)

        return fire

    def _due_jobs(self, ticket: _Ticket) -> list[int]:
        with self.desk.db.reading() as session:
            ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == ticket.reference))
            due = select(Job.id).where(Job.ticket_id == ticket_id, Job.due_at < ticket.now).order_by(Job.due_at)
            return list(session.scalars(due))

    # -- points seen, and failures

    def _signature(self, ticket: _Ticket, options: list[Option]) -> tuple:
        """Where the ticket is (the elements it can move at) and the data that steers its way on."""
        if ticket.workflow is None:  # its instance ended
            return ("ended",)
        data: dict[str, Any] = {}
        for task in ticket.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
            data.update({k: v for k, v in task.data.items() if k in self.read})
        shown = tuple(sorted((k, repr(v)) for k, v in data.items()))
        return (tuple(sorted({(o.move.kind, o.move.element) for o in options})), shown)

    def _failed(self, ticket: _Ticket, move: Move, element_id: str, error: str) -> None:
        key = (element_id or move.element, error)
        if key not in self.failures:
            self.failures[key] = _Failure(element_id, error, (*ticket.moves, move), self._passed(ticket))
        log.info("dry run: %s failed at %s: %s", move, element_id or "?", error)

    def _passed(self, ticket: _Ticket) -> tuple[str, ...]:
        """The elements the ticket's instance had passed before the move that failed (it was rolled back)."""
        if ticket.workflow is None:
            return ()
        done = [
            t for t in ticket.workflow.get_tasks(state=TaskState.COMPLETED) if getattr(t.task_spec, "bpmn_id", None)
        ]
        return tuple(t.task_spec.bpmn_id for t in sorted(done, key=lambda t: t.last_state_change))

    def problems(self) -> list[Problem]:
        found = [self._problem(failure) for failure in self.failures.values()]
        left = [key for key in self.untried if key not in self.tried]
        if left:
            shown = ", ".join(f"{element} ({choice or kind})" for kind, element, choice in sorted(left)[:10])
            stopped = f"stopped after {self.tickets} tickets" if self.tickets >= MAX_TICKETS else "ended"
            message = (
                f"the dry run {stopped} with {len(left)} choices not tried ({shown}"
                f"{', ...' if len(left) > 10 else ''}): those paths were not run before deploying"
            )
            found.append(Problem("", None, "", message, severity=WARNING))
        return found

    def _problem(self, failure: _Failure) -> Problem:
        path = " > ".join(str(move) for move in failure.path)
        passed = ", ".join(failure.passed) or "none"
        message = (
            f"the dry run failed on this path: {failure.error}. Path: {path}. Elements passed before the last "
            f"move: {passed}. Correct the diagram so that this path goes on, then deploy again"
        )
        if not failure.element_id:
            return Problem("", None, "", message)
        return self.diagrams.problem_at(failure.element_id, message)


class _NoCallYet(DeskError):
    """A training need is recorded on a call: none was logged yet (the next ticket tries again)."""


# --- the choices -------------------------------------------------------------------------------------------


def _call_variants(start: datetime) -> list[tuple[str, CallDetails]]:
    """The base call, then each other value of each of its fields (C01-C11: what the priority comes from)."""
    variants: list[tuple[str, CallDetails]] = [("", BASE_CALL)]
    for name, values in (
        ("request_kind", REQUEST_KINDS),
        ("symptom", SYMPTOMS),
        ("licence_type", LICENCE_TYPES),
        ("channel", CHANNELS),
    ):
        variants += [(f"{name}={v}", replace(BASE_CALL, **{name: v})) for v in values if v != getattr(BASE_CALL, name)]
    for words, hours in CAMPAIGNS.items():
        if hours is not None:
            variants.append((words, replace(BASE_CALL, campaign_at=start + STEP + timedelta(hours=hours))))
    variants.append(("preparing_campaign=True", replace(BASE_CALL, preparing_campaign=True)))
    return variants


def _form_variants(fields: list[FormField]) -> list[tuple[str, dict]]:
    """The base answers (each choice at its first value, blank when not required), then each other value
    of each enum and boolean field with the others at the base; text plausible, as the simulation fills it."""
    rng = Random(0)  # noqa: S311  (plausible text, not secrets)
    base = {f.id: _base_value(f) if f.type in ("enum", "boolean") else plausible_value(f, rng) for f in fields}
    variants = [("", base)]
    for form_field in fields:
        for value in _values(form_field):
            if value != base[form_field.id]:
                variants.append((f"{form_field.id}={_shown(value)}", {**base, form_field.id: value}))
    return variants


def _values(form_field: FormField) -> list[Any]:
    if form_field.type == "boolean":
        return [False, True]
    if form_field.type == "enum":
        chosen: list[Any] = [value for value, _ in form_field.options]
        return chosen if form_field.required else [None, *chosen]
    return []


def _base_value(form_field: FormField) -> Any:
    if form_field.default not in (None, ""):
        return form_field.default
    return _values(form_field)[0] if _values(form_field) else None


def _shown(value: Any) -> str:
    return "blank" if value is None else str(value)


def _messages_of(task) -> list[str]:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MessageEventDefinition):
        return [definition.name]
    if isinstance(definition, MultipleEventDefinition):
        return [d.name for d in definition.event_definitions if isinstance(d, MessageEventDefinition)]
    return []


def _after(now: datetime, move: Move) -> datetime:
    return now if move.kind == "timer" else now + STEP


def _error_of(exc: StepError) -> str:
    return getattr(exc, "error", None) or str(exc)


def _first_working_morning(now: datetime) -> datetime:
    """The next Monday, 10:00 in London: calls arrive while the desk is open."""
    local = now.astimezone(LONDON)
    days = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
    return monday.astimezone(UTC)


def _variables_read(diagrams: DiagramSet) -> frozenset[str]:
    """The names the diagrams' conditions, scripts and timers read: the data that steers a ticket's way on.
    A decision's inputs are not among them: what it decides (a priority) is, when a condition reads it."""
    texts: list[tuple[str, str]] = []
    for diagram in diagrams.processes():
        texts += [(e.text or "", "eval") for e in diagram.xpath("//bpmn:conditionExpression")]
        texts += [(e.text or "", "exec") for e in diagram.xpath("//bpmn:scriptTask/bpmn:script")]
        texts += [
            (e.text or "", "eval")
            for e in diagram.xpath("//bpmn:timerEventDefinition/*")
            if timers.iso_literal(e.text or "") is None
        ]
    return frozenset(name for text, mode in texts for name in _names(text, mode))


def _names(text: str, mode: str) -> Iterable[str]:
    try:
        return python_names.variables_read(text, mode)
    except SyntaxError:
        return ()
