"""Commands: every change of state goes through one of these functions.

Each takes its input as a frozen dataclass (``CallDetails``, ``CompleteTask``, ...),
validated once here, whichever door it came through: the web desk, the API, the
CLI, inbound mail, the worker or the audit's replay. Each is one unit of work
(``with UnitOfWork(desk, actor) as uow:``): load the ticket's instance (pinned to
its diagram version), run SpiffWorkflow at the clock's now, save the state, the
ready tasks, the waiting timers and the history, commit. All or nothing. A command
against a stale ticket raises ``ConflictError`` and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, Forbidden, InvalidInput, NotAllowed, NotFound, StepFailed
from supportdesk.engine.process import forms
from supportdesk.engine.process.deployment import DeployResult, active_version, deploy_files, read_diagram_files
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.process.step_failure import not_waiting, running_steps
from supportdesk.engine.store.models import Job, Ticket, WorkTask
from supportdesk.engine.tickets import history, jobs
from supportdesk.engine.tickets.calls import CHANNELS, CallDetails  # noqa: F401  (CallDetails is part of this module's API)
from supportdesk.engine.tickets.history import completion_of
from supportdesk.engine.tickets.instances import (
    advance,
    catch_up,
    find_ticket,
    lock_ticket,
    take_workflow,
    timer_due,
)
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock, shown

JOB_RETRY_BASE = timedelta(seconds=10)
JOB_RETRY_MAX = timedelta(hours=1)
# Tries before a failing job becomes an incident (10 s doubling: about 21 minutes of tries).
JOB_RETRY_ATTEMPTS = 8
log = logging.getLogger(__name__)


def deploy(desk: Desk, directory=None, actor: str = "cli") -> DeployResult:
    files = read_diagram_files(directory or desk.settings.workflows_dir)
    with desk.db.transaction() as session:
        return deploy_files(session, files, desk.handler_topics, actor, desk.registry.expression_functions)


def log_call(desk: Desk, details: CallDetails, actor: str) -> str:
    """Start a ticket on the active diagram version; returns its Call Reference."""
    details = details.validated()
    with UnitOfWork(desk, actor) as uow:
        ticket = start_call(uow, details)
    return ticket.reference


def start_call(uow: UnitOfWork, details: CallDetails) -> Ticket:
    """Within a command: the call of validated ``details``, started on the active version (C01, C02)."""
    ticket = Ticket(
        kind="call",
        channel=details.channel,
        contact_name=details.contact_name,
        contact_email=details.contact_email,
        account=details.account,
        summary=details.summary,
        licence_type=details.licence_type,
    )
    start(uow, ticket, "support_call", details.decision_inputs(uow.now), "call_logged", details.as_record())
    return ticket


@dataclass(frozen=True)
class StartEscalation:
    """C28: a dissatisfied customer's concern, about their call if there is one (its contact and
    account are then the call's), or with the customer's own contact details."""

    concern: str
    call_reference: str | None = None
    contact_name: str = ""
    contact_email: str = ""
    account: str = ""

    def validated(self) -> StartEscalation:
        concern = self.concern.strip()
        if not concern:
            raise InvalidInput("say what the customer is unhappy about", {"concern": "The concern is required"})
        return replace(self, concern=concern, call_reference=self.call_reference or None)


def start_escalation(desk: Desk, command: StartEscalation, actor: str) -> str:
    """C28: the concern becomes an escalation, linked to its call; returns the ESC- reference."""
    command = command.validated()
    concern, call_reference = command.concern, command.call_reference
    with UnitOfWork(desk, actor) as uow:
        parent = find_ticket(uow.session, call_reference, lock=True) if call_reference else None
        contact = _contact_of(parent, command.contact_name, command.contact_email, command.account)
        ticket = Ticket(
            kind="escalation",
            parent_id=parent.id if parent else None,
            channel="phone",
            summary=concern[:500],
            **contact,
        )
        start(
            uow,
            ticket,
            "escalation",
            {"call_reference": call_reference},
            "escalation_raised",
            {"concern": concern, "call": call_reference},
        )
        if parent is not None:
            _note_on_parent(uow, parent, "escalation_started", {"escalation": ticket.reference})
    return ticket.reference


TRAINING_NEEDS = {
    "more_training": "the customer needs more training (C19)",
    "new_user": "a new or replacement user should attend the training course (C20)",
}


@dataclass(frozen=True)
class RecordTrainingNeed:
    """C19, C20: a training need an advisor sees on a call (one of ``TRAINING_NEEDS``)."""

    call_reference: str
    need: str
    notes: str = ""

    def validated(self) -> RecordTrainingNeed:
        if self.need not in TRAINING_NEEDS:
            raise InvalidInput("unknown training need", {"need": f"Need must be one of: {', '.join(TRAINING_NEEDS)}"})
        return self


def record_training_need(desk: Desk, command: RecordTrainingNeed, actor: str) -> str:
    """C19, C20: any advisor records a training need; the Account Manager gets a task."""
    command = command.validated()
    call_reference, need, notes = command.call_reference, command.need, command.notes
    with UnitOfWork(desk, actor) as uow:
        parent = find_ticket(uow.session, call_reference, lock=True)
        ticket = Ticket(
            kind="training",
            parent_id=parent.id,
            channel=parent.channel,
            summary=f"Training: {TRAINING_NEEDS[need]}"[:500],
            **_contact_of(parent, "", "", ""),
        )
        start(
            uow,
            ticket,
            "training",
            {"need": need},
            "training_need_recorded",
            {"need": need, "why": TRAINING_NEEDS[need], "notes": notes, "call": call_reference},
        )
        _note_on_parent(uow, parent, "training_requested", {"training": ticket.reference, "need": need})
    return ticket.reference


def _contact_of(parent: Ticket | None, name: str, email: str, account: str) -> dict:
    if parent is not None:
        return {
            "contact_name": parent.contact_name,
            "contact_email": parent.contact_email,
            "account": parent.account,
            "licence_type": parent.licence_type,
        }
    details = CallDetails(name, email, account, "escalation").validated()
    return {"contact_name": details.contact_name, "contact_email": details.contact_email, "account": details.account}


def start(uow: UnitOfWork, ticket: Ticket, process_id: str, data: dict, first_event: str, first_payload: dict) -> None:
    """Within a command: start ``ticket``'s instance of ``process_id`` on the active version."""
    session, desk = uow.session, uow.desk
    version = active_version(session)
    try:
        spec, subprocess_specs = desk.specs_for(version, process_id)
    except KeyError:
        raise NotAllowed(f"diagram version {version.number} has no process {process_id!r}") from None
    workflow = uow.live_workflow = desk.process_engine.start(spec, subprocess_specs)
    workflow.get_tasks(state=TaskState.READY)[0].data.update(data)
    ticket.version_id, ticket.process_id, ticket.status = version.id, process_id, "open"
    ticket.state, ticket.created_at, ticket.updated_at = "", uow.now, uow.now
    session.add(ticket)
    session.flush()
    uow.ticket, uow.starting_ticket = ticket, True
    uow.attempting(_starting_words(first_event, ticket, first_payload))
    uow.record(first_event, {**first_payload, "diagram_version": version.number})
    advance(uow, workflow)


# What starting each kind of ticket is, in words, for an incident of a step that failed on the way.
STARTING = {
    "call_logged": "log a call",
    "escalation_raised": "raise an escalation",
    "training_need_recorded": "record a training need",
}


def _starting_words(first_event: str, ticket: Ticket, first_payload: dict) -> str:
    about = f" about {first_payload['call']}" if first_payload.get("call") else ""
    what = STARTING.get(first_event, first_event.replace("_", " "))
    return f'{what}{about} for {ticket.contact_name} <{ticket.contact_email}> ({ticket.account}): "{ticket.summary}"'


def _note_on_parent(uow: UnitOfWork, parent: Ticket, kind: str, payload: dict) -> None:
    """Linked work shows in the call's own history too (C32)."""
    history.append(uow.session, parent, at=uow.now, kind=kind, actor=uow.actor, payload=payload)


def _roles(roles: Collection[str] | None) -> frozenset[str] | None:
    return None if roles is None else frozenset(roles)


@dataclass(frozen=True)
class CompleteTask:
    """A ready user task's form, filled in. ``roles``: the roles of the person completing it
    (None: any role, e.g. an admin or a trusted script); the task's lane must be one of them.
    ``expected_revision``: the ticket's revision the form was opened at (a stale form is refused)."""

    task_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    expected_revision: int | None = None
    roles: Collection[str] | None = None

    def validated(self) -> CompleteTask:
        return replace(self, task_id=str(self.task_id), roles=_roles(self.roles))


@dataclass(frozen=True)
class ClaimTask:
    """Take an open task, so others see who is on it. ``roles`` as for ``CompleteTask``."""

    task_id: str
    roles: Collection[str] | None = None

    def validated(self) -> ClaimTask:
        return replace(self, task_id=str(self.task_id), roles=_roles(self.roles))


@dataclass(frozen=True)
class ReleaseTask:
    """Give a claimed task back: by its claimant, or by anyone with ``roles=None`` (an admin)."""

    task_id: str
    roles: Collection[str] | None = None

    def validated(self) -> ReleaseTask:
        return replace(self, task_id=str(self.task_id), roles=_roles(self.roles))


def complete_task(desk: Desk, command: CompleteTask, actor: str) -> str:
    """Complete a ready user task with its form data; returns the Call Reference."""
    command = command.validated()
    task_id, roles = command.task_id, command.roles
    with UnitOfWork(desk, actor) as uow:
        session = uow.session
        row, ticket = _open_task_for(session, task_id, actor, roles)
        if roles is not None and row.claimed_by not in (None, actor):
            raise ConflictError(f"{row.title} is claimed by {row.claimed_by}; ask them, or have it released")
        uow.ticket = ticket
        if command.expected_revision is not None and ticket.revision != command.expected_revision:
            raise ConflictError(f"ticket {ticket.reference} changed since you opened it; reload and try again")
        uow.attempting(f'complete "{row.title}" ({row.element_id})', f"complete:{row.element_id}")
        workflow = take_workflow(uow)
        catch_up(uow, workflow)  # what fell due before this completion happens first
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:  # completed while we waited for the lock
            raise _gone_task_error(session, task_id)
        values = forms.clean(forms.fields_of(task.task_spec), dict(command.data))
        task.data.update(values)
        with running_steps(workflow):
            task.run()
        uow.record("task_completed", {"task": row.title, "element": row.element_id, "task_id": task_id, "data": values})
        advance(uow, workflow)
    return ticket.reference


def claim_task(desk: Desk, command: ClaimTask, actor: str) -> None:
    """Take an open task, so others see who is on it (it can still be released)."""
    command = command.validated()
    task_id, roles = command.task_id, command.roles
    with UnitOfWork(desk, actor) as uow:
        row, ticket = _open_task_for(uow.session, task_id, actor, roles)
        if row.claimed_by not in (None, actor):
            raise ConflictError(f"{row.title} on {ticket.reference} is already claimed by {row.claimed_by}")
        if row.claimed_by == actor:
            return
        row.claimed_by = actor
        uow.ticket = ticket
        uow.record("task_claimed", {"task": row.title, "task_id": task_id})


def release_task(desk: Desk, command: ReleaseTask, actor: str) -> None:
    """Give a claimed task back to the queue (the claimant, or anyone with ``roles=None``: an admin)."""
    command = command.validated()
    task_id, roles = command.task_id, command.roles
    with UnitOfWork(desk, actor) as uow:
        row, ticket = _open_task_for(uow.session, task_id, actor, roles)
        if row.claimed_by is None:
            return
        if roles is not None and row.claimed_by != actor:
            raise Forbidden(f"{row.title} is claimed by {row.claimed_by}; only they or an admin can release it")
        uow.ticket = ticket
        uow.record("task_released", {"task": row.title, "task_id": task_id, "was_claimed_by": row.claimed_by})
        row.claimed_by = None


def _open_task_for(
    session: Session, task_id: str, actor: str, roles: Collection[str] | None
) -> tuple[WorkTask, Ticket]:
    """The open task and its ticket, locked. The ticket is the one the lock read: ``row.ticket`` would
    read it a second time."""
    row = session.get(WorkTask, task_id)
    if row is None:
        raise _gone_task_error(session, task_id)
    ticket = lock_ticket(session, row.ticket_id)
    if roles is not None and row.role not in roles:
        raise Forbidden(f"{row.title} is a task for {ROLES.get(row.role, row.role)}; {actor} does not have that role")
    return row, ticket


def _gone_task_error(session: Session, task_id: str) -> Exception:
    """A task that is not open: completed already (a conflict) or never existed."""
    completion = completion_of(session, task_id)
    if completion is not None:
        return ConflictError(
            f"this task was already completed by {completion.actor} at {shown(completion.at)}; nothing was changed"
        )
    return NotFound(f"no open task {task_id}")


@dataclass(frozen=True)
class DeliverMessage:
    """A BPMN message for a ticket's instance (e.g. ``information_received``), with its payload."""

    reference: str
    message: str
    payload: Mapping[str, Any] | None = None

    def validated(self) -> DeliverMessage:
        if not self.message:
            raise InvalidInput("which message?", {"message": "The message is required"})
        return replace(self, reference=self.reference.strip(), payload=dict(self.payload or {}))


def deliver_message(desk: Desk, command: DeliverMessage, actor: str) -> None:
    """Deliver a BPMN message (e.g. information received) to the ticket's instance."""
    command = command.validated()
    with UnitOfWork(desk, actor) as uow:
        uow.ticket = find_ticket(uow.session, command.reference, lock=True)
        if not deliver(uow, command.message, dict(command.payload or {})):
            raise NotAllowed(f"ticket {command.reference} is not waiting for the message {command.message!r}")


def deliver(uow: UnitOfWork, message: str, payload: dict | None) -> bool:
    """Within a command: hand ``message`` to the ticket's instance and run it on; False
    (and nothing done) when the instance is not waiting for that message."""
    uow.attempting(f"deliver the message {message}", f"message:{message}")
    workflow = take_workflow(uow)
    catch_up(uow, workflow)  # what fell due before the message happens first
    event = BpmnEvent(MessageEventDefinition(message), payload={"payload": payload or {}, "result_var": message})
    if not _sent(workflow, event):
        advance(uow, workflow)  # keeps what caught up (a caller may go on without the message)
        return False
    uow.record("message_received", {"message": message, "payload": payload or {}})
    advance(uow, workflow)
    return True


def _sent(workflow, event: BpmnEvent) -> bool:
    """Whether the instance took the message (False: nothing in it waits for it); a step the message
    set off that failed raises StepFailed."""
    with running_steps(workflow):
        try:
            workflow.send_event(event)
        except WorkflowException as exc:
            if not_waiting(exc):
                return False
            raise
    return True


def fire_due_timers(
    desk: Desk,
    limit: int = 100,
    *,
    owner: str | None = None,
    job_ids: list[int] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Fire the timers that are due by the clock's now; returns how many fired.

    The jobs are leased to ``owner`` (this process by default), or ``job_ids`` were leased
    already (the worker's batch); each fires in a transaction of its own. A job that fails
    is kept with its error and tried again with backoff, then becomes an incident; the
    failed try wrote nothing else. Once ``stop`` is set, the jobs not started are released.
    """
    owner = owner or jobs.worker_name()
    if job_ids is None:
        job_ids = jobs.acquire(desk, owner, limit=limit)
    fired = 0
    for index, job_id in enumerate(job_ids):
        if stop is not None and stop.is_set():
            jobs.release(desk, owner, job_ids[index:])
            break
        try:
            fired += _fire_timer_job(desk, job_id)
        except Exception as exc:  # noqa: BLE001  (any failure must be kept on the job, not lost)
            _record_job_failure(desk, job_id, exc, owner)
    return fired


def _record_job_failure(desk: Desk, job_id: int, exc: Exception, owner: str | None = None) -> None:
    """Try again later with backoff or, after the last try, flag the ticket's job as an incident. A step of
    the diagram that failed fails again on every try until the ticket runs on a corrected version: that
    job is an incident at once, its error the step's account in one line."""
    log.warning("job %s failed: %s", job_id, exc)
    with desk.db.transaction() as session:
        held = jobs.held_for_failure(session, job_id, owner)
        if held is None:
            return
        job, ticket = held
        job.attempts += 1
        error = str(exc) if isinstance(exc, StepFailed) else f"{exc.__class__.__name__}: {exc}"
        job.last_error, job.failed_at = error[:4000], clock.now()
        job.lease_owner = job.lease_expires_at = None
        if job.attempts >= JOB_RETRY_ATTEMPTS or isinstance(exc, StepFailed):
            jobs.flag_incident(session, ticket, job)
        else:
            job.due_at = job.failed_at + jobs.backoff(job.attempts, JOB_RETRY_BASE, JOB_RETRY_MAX)


def fire_timer(desk: Desk, job_id: int) -> bool:
    """Fire one timer job now, in a transaction of its own, raising whatever fails (no retry, no incident):
    for the dry run of a new version, which reports the failure with its path."""
    return _fire_timer_job(desk, job_id)


def _fire_timer_job(desk: Desk, job_id: int) -> bool:
    """True when the job's timer fired (a job fired meanwhile by another command is skipped).

    Exactly once even if two workers hold the job (a lease ran out): the job is read
    again under the ticket's row lock, and a fired timer's job is gone by then."""
    with UnitOfWork(desk, "timer") as uow:
        session = uow.session
        job = session.get(Job, job_id)
        if job is None:
            return False
        uow.ticket = lock_ticket(session, job.ticket_id)
        # Another command on this ticket may have fired or replaced the timer while we waited.
        job = session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
        if job is None or job.status != jobs.PENDING:
            return False
        workflow = take_workflow(uow)
        task = workflow.get_task_from_id(UUID(job.task_id))
        due = timer_due(task) if task is not None else None
        if due is not None and due >= uow.now:  # SpiffWorkflow fires strictly after the due moment
            job.due_at, job.lease_owner, job.lease_expires_at = due, None, None
            return False
        uow.firing_timer = job.task_id  # advance records its timer_fired, with the timer's own due moment
        advance(uow, workflow)
        jobs.unlease(session, job)
    return True
