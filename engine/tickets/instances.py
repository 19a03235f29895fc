"""Running one ticket's instance inside one command's unit of work (``unit_of_work``):
``advance`` runs the engine at the command's now and saves the instance, its ready tasks and its
waiting timers, all in the command's transaction; ``find_ticket`` and ``lock_ticket`` read it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, defer

from supportdesk.engine.errors import NotFound
from supportdesk.engine.process.roles import role_for_lane
from supportdesk.engine.process.spiff import StoredSpec, running
from supportdesk.engine.process.step_failure import running_steps
from supportdesk.engine.store.models import Job, ProcessSpec, Ticket, WorkTask

if TYPE_CHECKING:
    from supportdesk.engine.desk import Desk
    from supportdesk.engine.tickets.unit_of_work import UnitOfWork


def find_ticket(session: Session, reference: str, *, lock: bool = False) -> Ticket:
    """The ticket; locked (with its instance state) for a command, or else without its state,
    which is read only if asked for (most readers want the ticket's fields, not its instance)."""
    query = select(Ticket).where(Ticket.reference == reference)
    query = _locking(query) if lock else query.options(defer(Ticket.state))
    ticket = session.scalar(query)
    if ticket is None:
        raise NotFound(f"no ticket with Call Reference {reference!r}")
    return ticket


def lock_ticket(session: Session, ticket_id: int) -> Ticket:
    """The ticket, locked for this transaction: one command advances an instance at
    a time, and it sees the state the previous one committed."""
    return session.scalar(_locking(select(Ticket).where(Ticket.id == ticket_id)))


def _locking(query):
    # FOR UPDATE on PostgreSQL; SQLite ignores it (BEGIN IMMEDIATE already locks).
    return query.with_for_update().execution_options(populate_existing=True)


def advance(uow: UnitOfWork, workflow: BpmnWorkflow) -> None:
    """Run engine steps (service tasks call handlers through ``uow``), then save."""
    _run(uow, workflow, steps=True)
    save(uow, workflow)


def catch_up(uow: UnitOfWork, workflow: BpmnWorkflow) -> None:
    """What fell due before a command's input, first: the timers due by now fire (and the steps
    they lead to run), and every SLA breach whose moment has come is recorded (C14). So a breach
    a late timer would have recorded is not lost when the input stops the clock, and no progress
    mail follows the resolution mail."""
    _run(uow, workflow, steps=False)


def _run(uow: UnitOfWork, workflow: BpmnWorkflow, *, steps: bool) -> None:
    """Fire the timers due by the clock's now, run the engine's steps (always with ``steps``, else
    only when a timer fired), and record every SLA breach whose moment has come. A step that fails
    raises ``StepFailed`` (the command is refused and rolled back; its unit of work keeps the incident)."""
    with running(uow), running_steps(workflow):
        rearm_live_deadlines(workflow)
        due = [(task, moment) for task, moment in waiting_timers(workflow) if moment < uow.now]
        if due or steps:
            workflow.refresh_timers()
            _record_fired(uow, workflow, due)
            workflow.do_engine_steps()
        # Whatever path the diagram took: a clock past its due moment is breached (e.g. a
        # resolution clock that started late, when the priority was set after its target).
        for clock in uow.sla.clocks():
            uow.record_breach(clock.metric)
        rearm_live_deadlines(workflow)  # the steps may have paused, resumed or re-graded a clock


FIRED_BY_JOB = "timer job"
FIRED_WITH_COMMAND = "due when the command ran"


def _record_fired(uow: UnitOfWork, workflow: BpmnWorkflow, due: list) -> None:
    """One ``timer_fired`` event for every waiting timer that fired in this step: the one a
    timer job fires, and any other that had fallen due by the time a command ran (the audit
    replay gives the first as an input; the others come again with the input they came with)."""
    for task, moment in due:
        waiting_still = task.id in workflow.event_manager.tasks and timer_due(task) == moment  # a cycle moves on
        if waiting_still or task.state == TaskState.CANCELLED:  # cancelled: by another timer that fired first
            continue
        cause = FIRED_BY_JOB if str(task.id) == uow.firing_timer else FIRED_WITH_COMMAND
        uow.record(
            "timer_fired",
            {
                "element": task.task_spec.bpmn_id,
                "task": task.task_spec.bpmn_name,
                "due_at": moment.isoformat(),
                "cause": cause,
            },
            actor="desk",
        )


# A timer whose timeDate calls this follows its SLA clock: SpiffWorkflow
# evaluates a timer expression once, when the event is reached, but a clock
# that is paused, resumed or re-graded moves its deadline.
LIVE_DEADLINE = "sla_due("


def rearm_live_deadlines(workflow: BpmnWorkflow) -> None:
    """Re-evaluate the timers that follow an SLA clock, so each waits for the clock's current due moment."""
    for task in list(workflow.event_manager.tasks.values()):
        definition = timer_of(task)
        if definition is not None and LIVE_DEADLINE in (definition.expression or ""):
            task.internal_data["event_value"] = workflow.script_engine.evaluate(task, definition.expression)


def timer_of(task) -> TimerEventDefinition | None:
    """The timer a waiting task waits for: its own, or the one among an event-based
    gateway's events (SpiffWorkflow keeps a gateway's events on the gateway)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, TimerEventDefinition):
        return definition
    if isinstance(definition, MultipleEventDefinition):
        return next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
    return None


def take_workflow(uow: UnitOfWork) -> BpmnWorkflow:
    """The locked ticket's instance, for a command that will run it and save it: the one this process
    saved last, live, when the ticket is still at that revision and state (no deserialising: see
    ``LiveInstances``), else read from its state. Either way the command alone holds it; once the
    command commits, ``save`` has it kept live again."""
    ticket = uow.ticket
    workflow = uow.desk.process_engine.live.take(ticket.id, ticket.revision, ticket.state)
    if workflow is None:
        workflow = load_workflow(uow.session, uow.desk, ticket.state)
    uow.live_workflow = workflow
    return workflow


def load_workflow(session: Session, desk: Desk, state: str) -> BpmnWorkflow:
    """The instance stored as ``state`` (its spec read from ``process_spec`` the first time this process meets it)."""
    return desk.process_engine.loads(state, lambda digest: _spec_row(session, digest))


def _spec_row(session: Session, digest: str) -> StoredSpec | None:
    row = session.get(ProcessSpec, digest)
    return StoredSpec(row.digest, row.spec, row.subprocess_specs) if row is not None else None


def _store_spec(session: Session, desk: Desk, stored: StoredSpec, now: datetime) -> None:
    if stored.digest in desk.stored_specs:
        return
    if session.scalar(select(ProcessSpec.digest).where(ProcessSpec.digest == stored.digest)) is not None:
        desk.stored_specs.add(stored.digest)  # committed before this transaction, and never deleted
        return
    # Two commands on a new diagram version may store its spec at once: the second does nothing.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(ProcessSpec)
        .values(
            digest=stored.digest, spec=stored.spec_json, subprocess_specs=stored.subprocess_specs_json, stored_at=now
        )
        .on_conflict_do_nothing(index_elements=["digest"])
    )


def save(uow: UnitOfWork, workflow: BpmnWorkflow) -> None:
    ticket = uow.ticket
    # The instance names its spec by digest: the spec goes into process_spec unless it is there.
    _store_spec(uow.session, uow.desk, uow.desk.process_engine.stored_spec(workflow), uow.now)
    ticket.state = uow.desk.process_engine.dumps(workflow)
    if workflow is uow.live_workflow and uow.desk.process_engine.round_trips():
        uow.keep_live_after_commit(workflow, ticket.state)
    ticket.updated_at = uow.now
    ticket.next_due_at = _nearest_due(uow)
    _project_tasks(uow, workflow)
    _schedule_timers(uow, workflow)
    if workflow.is_completed():
        uow.close_for_customer(ticket.outcome or "completed")


def _unflushed(session: Session, model: type) -> AbstractContextManager:
    """Reading ``model``'s rows of the ticket without the autoflush, which would write everything the
    command did so far (the ticket's row among it) and leave the commit a second flush: the command's
    writes go in one flush, at the commit. Only when no row of ``model`` waits to be inserted or deleted
    (a save earlier in the transaction): the store would not show those yet."""
    pending = any(isinstance(row, model) for row in (*session.new, *session.deleted))
    return nullcontext() if pending else session.no_autoflush


def _nearest_due(uow: UnitOfWork) -> datetime | None:
    """The earliest due moment among the ticket's running SLA clocks (the inbox's urgency), from the
    command's own SLA clocks object (it has read them and keeps their figures current): no query, so no
    flush here of what the command wrote so far."""
    due = [clock.due_at for clock in uow.sla.clocks() if clock.state == "running" and clock.due_at is not None]
    return min(due, default=None)


def ready_user_tasks(workflow: BpmnWorkflow):
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def _project_tasks(uow: UnitOfWork, workflow: BpmnWorkflow) -> None:
    """Keep the work_task rows equal to the instance's ready user tasks."""
    ready = {str(task.id): task for task in ready_user_tasks(workflow)}
    with _unflushed(uow.session, WorkTask):
        stored = {
            row.id: row for row in uow.session.scalars(select(WorkTask).where(WorkTask.ticket_id == uow.ticket.id))
        }
    for task_id, row in stored.items():
        if task_id not in ready:
            uow.session.delete(row)
        else:
            row.due_at = uow.ticket.next_due_at
    for task_id, task in ready.items():
        if task_id not in stored:
            spec = task.task_spec
            uow.session.add(
                WorkTask(
                    id=task_id,
                    ticket_id=uow.ticket.id,
                    element_id=spec.bpmn_id,
                    title=spec.bpmn_name or spec.bpmn_id,
                    role=role_for_lane(spec.lane) or "unassigned",
                    created_at=uow.now,
                    due_at=uow.ticket.next_due_at,
                )
            )
            uow.record(
                "task_opened",
                {
                    "task": spec.bpmn_name or spec.bpmn_id,
                    "element": spec.bpmn_id,
                    "task_id": task_id,
                    "role": role_for_lane(spec.lane),
                },
                actor="desk",
            )


# A timer waiting for a clock that is not running waits for this moment: never, so no job.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def _schedule_timers(uow: UnitOfWork, workflow: BpmnWorkflow) -> None:
    """One job per waiting timer, due when the timer is, for the worker to fire (none for one that
    waits for ``NEVER``: it gets its job when its clock runs and it is re-armed)."""
    wanted = {str(task.id): due for task, due in waiting_timers(workflow) if due < NEVER}
    with _unflushed(uow.session, Job):
        jobs = {
            job.task_id: job
            for job in uow.session.scalars(select(Job).where(Job.ticket_id == uow.ticket.id, Job.kind == "timer"))
        }
    for task_id, job in jobs.items():
        if task_id not in wanted:
            uow.session.delete(job)
    for task_id, due in wanted.items():
        job = jobs.get(task_id)
        if job is None:
            uow.session.add(Job(kind="timer", ticket_id=uow.ticket.id, task_id=task_id, due_at=due, attempts=0))
            uow.jobs_written = True
        elif job.due_at != due:
            job.due_at, uow.jobs_written = due, True


def waiting_timers(workflow: BpmnWorkflow):
    """(task, due moment) for each timer event the instance waits on."""
    for task in list(workflow.event_manager.tasks.values()):
        if timer_of(task) is not None:
            due = timer_due(task)
            if due is not None:
                yield task, due


def timer_due(task) -> datetime | None:
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(value, dict):  # a cycle: its next occurrence
        value = value.get("next")
    return TimerEventDefinition.get_datetime(value) if isinstance(value, str) else None
