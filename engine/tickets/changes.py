"""What pages ask to stay current: has anything changed since they were drawn?

Every change to a ticket (a step, a claim, a reply, a timer) appends to its history, so the newest
history event is a change marker that costs one index lookup: the inbox and the calls list watch
the whole store's, a ticket page and a task form their ticket's. A page polls the marker and
redraws itself when it moves, so no server process is held open per page, on SQLite as on
PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.store.models import HistoryEvent, Ticket, WorkTask
from supportdesk.engine.tickets.history import completion_of


def latest_change(desk: Desk, reference: str | None = None) -> int:
    """A number that grows with every change: of the whole store, or of the ticket ``reference``
    (0 before the first; NotFound for an unknown reference)."""
    with desk.db.reading() as session:
        if reference is None:
            return session.scalar(select(func.max(HistoryEvent.id))) or 0
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == reference))
        if ticket_id is None:
            raise NotFound(f"no call {reference}")
        return session.scalar(select(func.max(HistoryEvent.seq)).where(HistoryEvent.ticket_id == ticket_id)) or 0


@dataclass(frozen=True)
class TaskNow:
    """Where an open task's form stands now: still open (who has claimed it, and the revision its
    call is at: the form was drawn at one), or done by whom."""

    open: bool
    claimed_by: str | None = None
    revision: int | None = None
    done_by: str | None = None
    done_at: datetime | None = None


def task_now(desk: Desk, task_id: str) -> TaskNow:
    """The task ``task_id`` as it is now (NotFound if there never was one)."""
    with desk.db.reading() as session:
        row = session.get(WorkTask, task_id)
        if row is not None:
            return TaskNow(open=True, claimed_by=row.claimed_by, revision=row.ticket.revision)
        completion = completion_of(session, task_id)
        if completion is None:
            raise NotFound(f"no task {task_id}")
        return TaskNow(open=False, done_by=completion.actor, done_at=completion.at)
