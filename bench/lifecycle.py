"""A typical High call, the same inputs two ways: through the desk (SQLite, history, SLA
clocks) and through SpiffWorkflow alone, in memory (the baseline of item 1)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.process import forms
from supportdesk.engine.process.deployment import read_diagram_files
from supportdesk.engine.process.spiff import HandlerRegistry, ProcessEngine, running
from supportdesk.engine.process.validation import parse_specs
from supportdesk.engine.settings import PACKAGED_WORKFLOWS, Settings
from supportdesk.engine.store.models import Ticket, WorkTask
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.clock import clock
from supportdesk.handlers import HANDLERS, REGISTRY

# A Monday, 10:00 in London (GMT): inside working hours, as the tests use.
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FAR_FUTURE = "2999-01-01T00:00:00+00:00"

HIGH_CALL = commands.CallDetails(
    contact_name="Ann Example",
    contact_email="ann@example.com",
    account="Acme Ltd",
    summary="Unable to load data for tomorrow's campaign",
    channel="phone",
    symptom="cannot_load_data",
    campaign_at=MONDAY_10AM + timedelta(hours=20),
)


@dataclass(frozen=True)
class Step:
    kind: str  # task | message
    name: str  # the user task's element id, or the message name
    data: dict
    actor: str
    after: timedelta  # the clock moves on this much before the step


# log -> triage -> first response (passed to second line) -> resolved by second line -> feedback
STEPS = (
    Step("task", "Task_triage", {"priority": "High"}, "alice", timedelta(minutes=4)),
    Step(
        "task",
        "Task_first_level_response",
        {
            "response_method": "phone",
            "response": "Called back; looking into it",
            "next_step": "second_line",
            "handover_reason": "Needs the import logs",
        },
        "alice",
        timedelta(minutes=20),
    ),
    Step(
        "task",
        "Task_second_line",
        {"next_step": "resolved", "resolution": "Import file had a stray BOM; fixed and reloaded"},
        "sam",
        timedelta(hours=2),
    ),
    Step("message", "feedback", {"rating": 5, "comment": "Quick and helpful, thanks"}, "portal", timedelta(hours=1)),
)
COMMANDS_PER_LIFECYCLE = 1 + len(STEPS)


def open_desk(url: str, workflows: Path = PACKAGED_WORKFLOWS) -> Desk:
    desk = Desk(Settings(database_url=url, workflows_dir=workflows, secret_key="bench"), REGISTRY)
    desk.upgrade_schema()
    with clock.at(MONDAY_10AM):
        commands.deploy(desk, workflows, actor="bench")
    return desk


def sqlite_desk(folder: Path | None = None, name: str = "desk.sqlite", workflows: Path = PACKAGED_WORKFLOWS) -> Desk:
    folder = folder or Path(tempfile.mkdtemp(prefix="supportdesk-bench-"))
    return open_desk(f"sqlite:///{folder / name}", workflows)


def task_id(desk: Desk, reference: str, element: str) -> str:
    """The open task at ``element`` on the ticket: one indexed query, no instance loaded."""
    with desk.db.reading() as session:
        found = session.scalar(
            select(WorkTask.id)
            .join(Ticket, Ticket.id == WorkTask.ticket_id)
            .where(Ticket.reference == reference, WorkTask.element_id == element)
        )
    if found is None:
        raise LookupError(f"{reference} has no open task at {element}")
    return found


def log_high_call(desk: Desk) -> str:
    return commands.log_call(desk, HIGH_CALL, "alice")


def run_step(desk: Desk, reference: str, step: Step) -> None:
    clock.advance(step.after)
    if step.kind == "task":
        commands.complete_task(desk, commands.CompleteTask(task_id(desk, reference, step.name), step.data), step.actor)
    else:
        commands.deliver_message(desk, commands.DeliverMessage(reference, step.name, step.data), step.actor)


def persisted_lifecycle(desk: Desk, start: datetime = MONDAY_10AM, steps=STEPS) -> str:
    """The whole call through the desk's public commands, on the frozen clock; its reference."""
    clock.set(start)
    reference = log_high_call(desk)
    for step in steps:
        run_step(desk, reference, step)
    return reference


class InMemory:
    """The same diagrams, parsed once, run by SpiffWorkflow with no store: service tasks call
    no-op handlers, the desk's expression functions return fixed values."""

    def __init__(self, workflows: Path = PACKAGED_WORKFLOWS):
        parser = parse_specs(read_diagram_files(workflows))
        self.spec = parser.get_spec("support_call")
        self.subprocess_specs = parser.get_subprocess_specs("support_call")
        self.engine = ProcessEngine(
            HandlerRegistry(
                {topic: _no_op for topic in HANDLERS},
                {
                    "sla_due": lambda metric: FAR_FUTURE,
                    "call_is_open": lambda: True,
                    "next_working_day": lambda: FAR_FUTURE,
                    "working_days_from_now": lambda days: FAR_FUTURE,
                },
            )
        )
        details = HIGH_CALL.validated()
        self.start_data = details.decision_inputs(MONDAY_10AM)
        self.cleaned: dict[str, dict] = {}  # the form data as the desk cleans it, per task

    def lifecycle(self) -> None:
        with running(_NoCommand()):
            workflow = self.engine.start(self.spec, self.subprocess_specs)
            workflow.get_tasks(state=TaskState.READY)[0].data.update(self.start_data)
            _run_on(workflow)
            for step in STEPS:
                if step.kind == "task":
                    task = next(
                        t
                        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                        if t.task_spec.bpmn_id == step.name
                    )
                    if step.name not in self.cleaned:
                        self.cleaned[step.name] = forms.clean(forms.fields_of(task.task_spec), step.data)
                    task.data.update(self.cleaned[step.name])
                    task.run()
                else:
                    workflow.send_event(
                        BpmnEvent(
                            MessageEventDefinition(step.name), payload={"payload": step.data, "result_var": step.name}
                        )
                    )
                _run_on(workflow)
            if not workflow.is_completed():
                raise AssertionError("the in-memory lifecycle did not complete")


class _NoCommand:
    ticket = None


def _no_op(uow, task) -> None:
    return None


def _run_on(workflow) -> None:
    workflow.refresh_timers()
    workflow.do_engine_steps()
