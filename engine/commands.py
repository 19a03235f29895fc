"""Commands: every change of state goes through one of these functions.

Each runs in one transaction: load the ticket's instance (pinned to its
diagram version), run SpiffWorkflow at the clock's now, save the state, the
ready tasks, the waiting timers and the history, commit. All or nothing.
A command against a stale ticket raises ``ConflictError`` and writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import forms
from .clock import clock, local
from .deployment import DeployResult, active_version, deploy_files, read_diagram_files
from .desk import Desk
from .errors import ConflictError, InvalidInput, NotAllowed, NotFound
from .history import completion_of
from .instances import UnitOfWork, advance, find_ticket, lock_ticket, timer_due
from .models import Job, Ticket, WorkTask
from .roles import ROLES

CHANNELS = ("phone", "email")
# The lengths the ticket table's columns allow.
FIELD_LIMITS = {"contact_name": 200, "contact_email": 320, "account": 200, "summary": 500}
JOB_RETRY_BASE = timedelta(seconds=10)
JOB_RETRY_MAX = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallDetails:
    """What the first-line advisor (or an inbound email) tells us (C01, C02)."""

    contact_name: str
    contact_email: str
    account: str
    summary: str
    channel: str = "phone"

    def validated(self) -> CallDetails:
        errors: dict[str, str] = {}
        for name, limit in FIELD_LIMITS.items():
            label = name.replace("_", " ").capitalize()
            if not getattr(self, name).strip():
                errors[name] = f"{label} is required"
            elif len(getattr(self, name).strip()) > limit:
                errors[name] = f"{label} allows at most {limit} characters"
        try:
            email = validate_email(self.contact_email.strip(), check_deliverability=False).normalized
        except EmailNotValidError as exc:
            errors["contact_email"], email = str(exc), self.contact_email
        if self.channel not in CHANNELS:
            errors["channel"] = f"channel must be one of {', '.join(CHANNELS)}"
        if errors:
            raise InvalidInput("the call cannot be logged", errors)
        return CallDetails(self.contact_name.strip(), email, self.account.strip(), self.summary.strip(),
                           self.channel)


@contextlib.contextmanager
def _command(desk: Desk) -> Iterator[Session]:
    """One transaction; a lost optimistic-concurrency race becomes a ConflictError."""
    try:
        with desk.db.transaction() as session:
            yield session
    except StaleDataError as exc:
        raise ConflictError("someone else changed this ticket at the same moment; nothing was saved, "
                            "reload and try again") from exc


def _after_commit(desk: Desk, uow: UnitOfWork) -> None:
    if uow.jobs_written:
        desk.jobs_changed.set()


def deploy(desk: Desk, directory=None, actor: str = "cli") -> DeployResult:
    files = read_diagram_files(directory or desk.settings.workflows_dir)
    with desk.db.transaction() as session:
        return deploy_files(session, files, desk.handler_topics, actor)


def log_call(desk: Desk, details: CallDetails, actor: str) -> str:
    """Start a ticket on the active diagram version; returns its Call Reference."""
    details = details.validated()
    with _command(desk) as session:
        now = clock.now()
        version = active_version(session)
        spec, subprocess_specs = desk.specs_for(version)
        workflow = desk.process_engine.start(spec, subprocess_specs)
        workflow.get_tasks(state=TaskState.READY)[0].data.update({"channel": details.channel})
        ticket = Ticket(version_id=version.id, process_id=spec.name, status="open", channel=details.channel,
                        contact_name=details.contact_name, contact_email=details.contact_email,
                        account=details.account, summary=details.summary, state="", created_at=now,
                        updated_at=now)
        session.add(ticket)
        session.flush()
        uow = UnitOfWork(session, ticket, now, actor, desk)
        uow.record("call_logged", {"channel": details.channel, "contact_name": details.contact_name,
                                   "contact_email": details.contact_email, "account": details.account,
                                   "summary": details.summary, "diagram_version": version.number})
        advance(uow, workflow)
        reference = ticket.reference
    _after_commit(desk, uow)
    return reference


def complete_task(desk: Desk, task_id: str, data: dict, actor: str, *, expected_revision: int | None = None,
                  roles: Collection[str] | None = None) -> str:
    """Complete a ready user task with its form data; returns the Call Reference.

    ``roles``: the roles of the person completing it (None: any role, e.g. an
    admin or a trusted script); the task's lane must be one of them.
    """
    with _command(desk) as session:
        row = session.get(WorkTask, task_id)
        if row is None:
            raise _gone_task_error(session, task_id)
        if roles is not None and row.role not in roles:
            raise NotAllowed(f"{row.title} is a task for {ROLES.get(row.role, row.role)}; "
                             f"{actor} does not have that role")
        ticket = lock_ticket(session, row.ticket_id)
        if expected_revision is not None and ticket.revision != expected_revision:
            raise ConflictError(f"ticket {ticket.reference} changed since you opened it; "
                                "reload and try again")
        workflow = desk.process_engine.loads(ticket.state)
        task = workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY:  # completed while we waited for the lock
            raise _gone_task_error(session, task_id)
        values = forms.clean(forms.fields_of(task.task_spec), data)
        uow = UnitOfWork(session, ticket, clock.now(), actor, desk)
        task.data.update(values)
        task.run()
        uow.record("task_completed", {"task": row.title, "element": row.element_id, "task_id": task_id,
                                      "data": values})
        advance(uow, workflow)
        reference = ticket.reference
    _after_commit(desk, uow)
    return reference


def _gone_task_error(session: Session, task_id: str) -> Exception:
    """A task that is not open: completed already (a conflict) or never existed."""
    completion = completion_of(session, task_id)
    if completion is not None:
        return ConflictError(f"this task was already completed by {completion.actor} "
                             f"at {local(completion.at):%d %b %Y %H:%M %Z}; nothing was changed")
    return NotFound(f"no open task {task_id}")


def deliver_message(desk: Desk, reference: str, message: str, payload: dict | None, actor: str) -> None:
    """Deliver a BPMN message (e.g. information received) to the ticket's instance."""
    with _command(desk) as session:
        ticket = find_ticket(session, reference, lock=True)
        workflow = desk.process_engine.loads(ticket.state)
        uow = UnitOfWork(session, ticket, clock.now(), actor, desk)
        event = BpmnEvent(MessageEventDefinition(message), payload={"payload": payload or {},
                                                                    "result_var": message})
        try:
            workflow.send_event(event)
        except WorkflowException as exc:
            raise NotAllowed(f"ticket {reference} is not waiting for the message {message!r}") from exc
        uow.record("message_received", {"message": message, "payload": payload or {}})
        advance(uow, workflow)
    _after_commit(desk, uow)


def fire_due_timers(desk: Desk, limit: int = 100) -> int:
    """Fire the timers that are due by the clock's now; returns how many jobs ran.

    A job that fails is kept, with its error, and retried later with backoff;
    the transaction of the failed attempt wrote nothing else.
    """
    now = clock.now()
    with desk.db.reading() as session:
        due = list(session.scalars(select(Job.id).where(Job.due_at < now).order_by(Job.due_at).limit(limit)))
    fired = 0
    for job_id in due:
        try:
            fired += _fire_timer_job(desk, job_id)
        except Exception as exc:  # noqa: BLE001  (any failure must be kept on the job, not lost)
            _record_job_failure(desk, job_id, exc)
    return fired


def _record_job_failure(desk: Desk, job_id: int, exc: Exception) -> None:
    log.warning("job %s failed: %s", job_id, exc)
    with desk.db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.attempts += 1
        job.last_error = f"{exc.__class__.__name__}: {exc}"
        delay = min(JOB_RETRY_BASE * 2 ** (job.attempts - 1), JOB_RETRY_MAX)
        job.due_at = clock.now() + delay


def _fire_timer_job(desk: Desk, job_id: int) -> bool:
    """True when the job's timer fired (a job fired meanwhile by another command is skipped)."""
    with _command(desk) as session:
        job = session.get(Job, job_id)
        if job is None:
            return False
        ticket = lock_ticket(session, job.ticket_id)
        # Another command on this ticket may have fired or replaced the timer while we waited.
        job = session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
        if job is None:
            return False
        workflow = desk.process_engine.loads(ticket.state)
        uow = UnitOfWork(session, ticket, clock.now(), "timer", desk)
        task = workflow.get_task_from_id(UUID(job.task_id))
        due = timer_due(task) if task is not None else None
        if due is not None and due >= uow.now:  # SpiffWorkflow fires strictly after the due moment
            return False
        if task is not None:
            uow.record("timer_fired", {"element": task.task_spec.bpmn_id, "task": task.task_spec.bpmn_name,
                                       "due_at": job.due_at.isoformat()}, actor="desk")
        advance(uow, workflow)
    _after_commit(desk, uow)
    return True
