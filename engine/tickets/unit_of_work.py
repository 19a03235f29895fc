"""One command's unit of work: its transaction, the ticket it works on, and what its handlers write.

``with UnitOfWork(desk, actor) as uow:`` opens the transaction. Inside, the command finds or starts
its ticket (``uow.ticket``) and runs it; the handlers write through the unit of work (history, SLA
clocks, mail to the outbox, feedback). Leaving the block commits all of it or none of it: a lost
race on a ticket becomes ``ConflictError``, and after a commit that wrote jobs or mail the workers
are woken. Just before the commit, the full-text search documents of the tickets whose words the
command changed (a call logged, its details, a conversation entry or file) are written again in the
same transaction (``search_index.kept_current``). A step of the diagram that failed in the engine
(``StepFailed``, a handler's ``HandlerError``) is rolled back like any refusal, then kept as an incident
on the ticket in a transaction of its own (``incidents``); the same command succeeding later resolves
it. Once committed, the instance the command ran and saved is kept live for the next command on the
ticket in this process (``LiveInstances``; never before the commit, so a rollback leaves nothing of it).
Nothing else opens a command's transaction or remembers to do what follows it.

A caller can join the transaction (``joining``): the API records an idempotency key in the same
commit as the call it creates, without reaching into the command.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from supportdesk.engine.errors import ConflictError, StepError, StepFailed
from supportdesk.engine.store import search_index
from supportdesk.engine.store.models import Feedback, Ticket
from supportdesk.engine.tickets import history, incidents, jobs, outbox
from supportdesk.engine.tickets.sla_clocks import SlaClocks
from supportdesk.engine.working_time.clock import clock, local

if TYPE_CHECKING:
    from supportdesk.engine.desk import Desk

# What joins a transaction: given its session, a context entered when the transaction opens and
# left just before it commits (an exception inside the command skips the rest, and rolls back).
Joiner = Callable[[Session], AbstractContextManager[Any]]
_joined: contextvars.ContextVar[tuple[Joiner, ...]] = contextvars.ContextVar("joined", default=())


@contextlib.contextmanager
def joining(joiner: Joiner) -> Iterator[None]:
    """Every unit of work opened in this block (in this thread or task) is joined by ``joiner``."""
    token = _joined.set((*_joined.get(), joiner))
    try:
        yield
    finally:
        _joined.reset(token)


class UnitOfWork:
    def __init__(self, desk: Desk, actor: str):
        self.desk, self.actor = desk, actor
        self.session: Session = None  # type: ignore[assignment]  # set when the block opens
        self.ticket: Ticket = None  # set by the command (the models are Any to mypy)
        self.jobs_written = False  # a job or a mail was written: wake the workers after the commit
        # The timer job this command runs (its task id), if it is the worker firing a timer.
        self.firing_timer: str | None = None
        # What the command does, for an incident should a step fail (``attempting``).
        self.attempt = incidents.Attempt(f"a command by {actor}")
        self.starting_ticket = False  # the ticket is new in this command: a rollback takes it away
        # The instance the command runs, when it may be kept live for the next command (``take_workflow``),
        # and what ``save`` wrote of it: kept live once the commit has succeeded, never before.
        self.live_workflow: Any = None
        self._saved_live: tuple[Ticket, str, Any] | None = None
        self._now: datetime | None = None
        self._sla: SlaClocks | None = None
        self._stack: contextlib.ExitStack | None = None

    @classmethod
    def dry_run(cls, desk: Desk, session: Session, ticket: Ticket, actor: str) -> UnitOfWork:
        """A unit of work on a session the caller holds and rolls back: a dry run writes nothing."""
        uow = cls(desk, actor)
        uow.session, uow.ticket = session, ticket
        return uow

    def __enter__(self) -> UnitOfWork:
        stack = contextlib.ExitStack()
        self.session = stack.enter_context(self.desk.db.transaction())
        # Left last before the commit (after the joiners): the search documents of the tickets the
        # command changed are written again in its transaction, with whatever the joiners wrote.
        stack.enter_context(search_index.kept_current(self.session))
        for joiner in _joined.get():
            stack.enter_context(joiner(self.session))
        self._stack = stack
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, self._stack = self._stack, None
        if stack is None:
            raise RuntimeError("a unit of work left that was never entered")
        failure = incidents.step_error_in(exc)
        failed = self._failed_command(failure) if failure is not None else None  # before the rollback expires it
        if exc_type is None:
            self._resolve_incidents()
        try:
            suppressed = stack.__exit__(exc_type, exc, traceback)  # the joiners, then commit or roll back
        except StaleDataError as error:
            raise ConflictError(
                "someone else changed this ticket at the same moment; nothing was saved, reload and try again"
            ) from error
        if failure is not None and failed is not None and self.firing_timer is None:  # a job's: the worker's
            incidents.record(self.desk, failure, failed)  # after the rollback: nothing else of the command stays
        if exc_type is None:
            self._keep_live()
        if exc_type is None and self.jobs_written:
            # After the commit, not in it: a worker woken earlier would not see the new job yet.
            jobs.wake_workers(self.desk)
        return bool(suppressed)

    def keep_live_after_commit(self, workflow: Any, state: str) -> None:
        """``save`` wrote ``workflow`` as ``state``: once committed, the next command on the ticket in
        this process may take it live instead of reading the state."""
        self._saved_live = (self.ticket, state, workflow)

    def _keep_live(self) -> None:
        if self._saved_live is None:
            return
        ticket, state, workflow = self._saved_live
        if ticket.state == state:  # nothing wrote the ticket's state again after save
            self.desk.process_engine.live.keep(ticket.id, ticket.revision, state, workflow)

    def attempting(self, words: str, key: str | None = None) -> None:
        """Say what the command does (``words``) and what doing it again is (``key``): a step failing
        on the way gives the ticket an incident saying so, and the same key succeeding resolves it."""
        self.attempt = incidents.Attempt(words, key)

    def _failed_command(self, failure: StepError) -> incidents.FailedCommand | None:
        if self.ticket is None:
            return None  # it failed before it held a ticket: no step of a diagram ran
        try:
            version = self.ticket.version.number if self.ticket.version_id is not None else None
        except SQLAlchemyError:  # the failure left the transaction unusable (a handler's write failed)
            version = None
        kept = None if self.starting_ticket else self.ticket
        reference = kept.reference if kept is not None else None
        if isinstance(failure, StepFailed):
            failure.reference, failure.version = reference, version
        ticket_id = kept.id if kept is not None else None
        return incidents.FailedCommand(ticket_id, reference, version, self.attempt, self.actor, self.now)

    def _resolve_incidents(self) -> None:
        key = self.attempt.key
        if key is not None and self.ticket is not None and not self.starting_ticket:
            incidents.resolve(self.session, self.ticket.id, key, self.now, self.actor, f"{self.attempt.words}: done")

    @property
    def now(self) -> datetime:
        """The clock's now for this command, read once, when first asked: after the command holds
        its ticket's lock, so a command that waited for another one comes after it."""
        if self._now is None:
            self._now = clock.now()
        return self._now

    @property
    def sla(self) -> SlaClocks:
        """The ticket's SLA clocks, one object per command (it keeps their segments as they grow)."""
        if self._sla is None:
            self._sla = SlaClocks(self.session, self.ticket, self.desk.calendar, self.desk.sla_policy)
        return self._sla

    def record(self, kind: str, payload: dict[str, Any] | None = None, *, actor: str | None = None) -> None:
        history.append(self.session, self.ticket, at=self.now, kind=kind, actor=actor or self.actor, payload=payload)

    def queue_mail(self, template: str, to: str, **context) -> None:
        """Write a mail to the outbox in this transaction, and say so in the history."""
        settings = self.desk.settings
        mail = outbox.queue_mail(
            self.session,
            self.ticket,
            template,
            to,
            {"portal_url": settings.portal_url, **context},
            now=self.now,
            mail_domain=settings.mail_domain,
        )
        self.record(
            "mail_queued",
            {"template": template, "to": to, "subject": mail.subject, "message_id": mail.message_id},
            actor="desk",
        )
        self.jobs_written = True  # wake an in-process worker: the mail goes out now, not at its next pass

    def record_breach(self, metric: str) -> bool:
        """C14: the clock's breach, once, dated at its due moment, with its history event."""
        if not self.sla.record_breach(metric, self.now):
            return False
        sla_clock = self.sla.clock(metric)
        self.record(
            "sla_breached",
            {
                "clock": metric,
                "priority": sla_clock.breached_priority,
                "target": sla_clock.target,
                "due": local(sla_clock.breached_at).isoformat(),
            },
            actor="desk",
        )
        return True

    def keep_feedback(self, rating: int | None, comment: str) -> None:
        """C27: the customer's comment on their experience, kept with the call."""
        self.session.add(Feedback(ticket_id=self.ticket.id, rating=rating, comment=comment, received_at=self.now))

    def close_for_customer(self, outcome: str) -> None:
        """The call is over for the customer (resolved, passed to development, advised)."""
        if self.ticket.status != "closed":
            self.ticket.status, self.ticket.outcome, self.ticket.closed_at = "closed", outcome, self.now
            self.record("call_closed", {"outcome": outcome}, actor="desk")
