"""One command's unit of work: its transaction, the ticket it works on, and what its handlers write.

``with UnitOfWork(desk, actor) as uow:`` opens the transaction. Inside, the command finds or starts
its ticket (``uow.ticket``) and runs it; the handlers write through the unit of work (history, SLA
clocks, mail to the outbox, feedback). Leaving the block commits all of it or none of it: a lost
race on a ticket becomes ``ConflictError``, and after a commit that wrote jobs or mail the workers
are woken. Nothing else opens a command's transaction or remembers to do what follows it.

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

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from supportdesk.engine.errors import ConflictError
from supportdesk.engine.store.models import Feedback, Ticket
from supportdesk.engine.tickets import history, jobs, outbox
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
        for joiner in _joined.get():
            stack.enter_context(joiner(self.session))
        self._stack = stack
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, self._stack = self._stack, None
        if stack is None:
            raise RuntimeError("a unit of work left that was never entered")
        try:
            suppressed = stack.__exit__(exc_type, exc, traceback)  # the joiners, then commit or roll back
        except StaleDataError as error:
            raise ConflictError(
                "someone else changed this ticket at the same moment; nothing was saved, reload and try again"
            ) from error
        if exc_type is None and self.jobs_written:
            # After the commit, not in it: a worker woken earlier would not see the new job yet.
            jobs.wake_workers(self.desk)
        return bool(suppressed)

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
