"""Step incidents: a step of a ticket's diagram that failed in the engine while a command ran.

The engine's steps run inside ``step_failure.running_steps``: a step that fails there (no condition of a
gateway held, a condition, timer or script raised) becomes ``StepFailed``, naming the element. The command's
unit of work rolls everything back, as for any refusal, and then ``record`` writes the incident in a
transaction of its own: the ticket, the element, the error in one line, what was being done and for
whom, the diagram version, when. So nothing of the command is written, the person is told what
happened, and the people who fix diagrams see it (Admin, Mail and jobs; the ticket's page).

Once a corrected version is deployed and the ticket migrated to it, the same command succeeds: its
unit of work then ``resolve``s the incident in the command's own transaction. The same command
failing again on the same step adds a failure to the open incident instead of another incident.

Incidents are not in the ticket's history: nothing happened to the ticket (its audit replay stays
exact). Timer jobs that fail are the worker's job incidents (``jobs``); a failed step there becomes
one at once (``commands``), with the same one-line account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import StepError
from supportdesk.engine.store.models import DiagramVersion, StepIncident, Ticket
from supportdesk.engine.tickets.instances import find_ticket

log = logging.getLogger(__name__)

# The admin list: the open incidents, then the latest resolved ones up to this many in all.
LISTED = 200


@dataclass(frozen=True)
class Attempt:
    """What a command was doing, for its incident: in words, and as a key (``complete:<element>``,
    ``message:<name>``) that the same command succeeding later matches, resolving the incident."""

    words: str
    key: str | None = None


@dataclass(frozen=True)
class FailedCommand:
    """What the unit of work knew of a failed command, read before its rollback."""

    ticket_id: int | None
    reference: str | None
    version: int | None
    attempt: Attempt
    actor: str
    at: datetime


def step_error_in(exc: BaseException | None) -> StepError | None:
    """The step failure that ended a command: ``exc`` itself, or what it was raised from (mail in files
    a mail without the message a failed step refused, raising its own exception from the failure)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, StepError):
            return exc
        exc, seen = exc.__cause__, seen + 1
    return None


def record(desk: Desk, failure: StepError, failed: FailedCommand) -> int | None:
    """Keep the incident of ``failure`` (in its own transaction: the command's was rolled back); returns
    its id, also set on ``failure``. A command failing again on the same step counts another failure.
    When the store cannot take it (it is down), the log keeps it and the person still hears of the step."""
    try:
        return _record(desk, failure, failed)
    except SQLAlchemyError:
        log.exception(
            "the incident of a failed step could not be stored: %s for %s", failed.attempt.words, failed.actor
        )
        return None


def _record(desk: Desk, failure: StepError, failed: FailedCommand) -> int | None:
    error = getattr(failure, "error", None) or str(failure)
    with desk.db.transaction() as session:
        incident = _open_same(session, failure, failed, error)
        if incident is None:
            incident = StepIncident(
                ticket_id=failed.ticket_id,
                diagram_version=failed.version,
                process_id=getattr(failure, "process_id", "")[:100],
                element_id=failure.element_id[:200],
                element_name=failure.element_name[:500],
                error=error,
                command=failed.attempt.words[:500],
                command_key=failed.attempt.key,
                actor=failed.actor[:320],
                first_failed_at=failed.at,
                last_failed_at=failed.at,
                failures=1,
            )
            session.add(incident)
        else:
            incident.failures += 1
            incident.last_failed_at = failed.at
        session.flush()
        failure.incident_id = incident.id
    log.error(
        "incident %s: %s failed for %s on %s (diagram version %s): %s",
        failure.incident_id,
        failed.attempt.words,
        failed.actor,
        failed.reference or "a new ticket",
        failed.version,
        error,
    )
    return failure.incident_id


def _open_same(session: Session, failure: StepError, failed: FailedCommand, error: str) -> StepIncident | None:
    if failed.ticket_id is None:
        return None  # nothing to say it is the same call: each logging is its own
    return session.scalar(
        select(StepIncident)
        .where(
            StepIncident.ticket_id == failed.ticket_id,
            StepIncident.resolved_at.is_(None),
            StepIncident.command_key == failed.attempt.key,
            StepIncident.element_id == failure.element_id,
            StepIncident.error == error,
        )
        .limit(1)
    )


def resolve(session: Session, ticket_id: int, key: str, at: datetime, actor: str, words: str) -> None:
    """In a command's transaction, as it succeeds: its ticket's open incidents of the same command are
    resolved (the step that failed went on, on the version the ticket runs on now). Sent on the session's
    connection, not through the ORM: no autoflush of the command's writes before it (they go in the one
    flush at the commit, and no incident is among them: one is kept in a transaction of its own)."""
    session.connection().execute(
        update(StepIncident)
        .where(
            StepIncident.ticket_id == ticket_id,
            StepIncident.resolved_at.is_(None),
            StepIncident.command_key == key,
        )
        .values(resolved_at=at, resolved_by=actor[:320], resolution=words[:500])
    )


# --- what the pages show --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepIncidentView:
    id: int
    reference: str | None  # None: the ticket was being started (its command was rolled back)
    diagram_version: int | None
    version_now: int | None  # the version the ticket runs on now (a migration moves it)
    process_id: str
    element_id: str
    element_name: str
    error: str
    command: str
    actor: str
    first_failed_at: datetime
    last_failed_at: datetime
    failures: int
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def step(self) -> str:
        named = f' "{self.element_name}"' if self.element_name else ""
        return f"{self.element_id or 'an unknown element'}{named}"

    @property
    def moved_since(self) -> bool:
        """The ticket runs on another version than the one the step failed on: doing it again may work."""
        return self.version_now is not None and self.version_now != self.diagram_version


def _views(session: Session, *conditions, limit: int | None = None) -> list[StepIncidentView]:
    query = (
        select(StepIncident, Ticket.reference, DiagramVersion.number)
        .outerjoin(Ticket, Ticket.id == StepIncident.ticket_id)
        .outerjoin(DiagramVersion, DiagramVersion.id == Ticket.version_id)
        .where(*conditions)
        .order_by(StepIncident.resolved_at.is_not(None), StepIncident.last_failed_at.desc(), StepIncident.id.desc())
        .limit(limit)
    )
    return [
        StepIncidentView(
            row.id,
            reference,
            row.diagram_version,
            version_now,
            row.process_id,
            row.element_id,
            row.element_name,
            row.error,
            row.command,
            row.actor,
            row.first_failed_at,
            row.last_failed_at,
            row.failures,
            row.resolved_at,
            row.resolved_by,
            row.resolution,
        )
        for row, reference, version_now in session.execute(query)
    ]


def of_ticket(desk: Desk, reference: str) -> list[StepIncidentView]:
    """A ticket's incidents, open ones first (NotFound for an unknown reference)."""
    with desk.db.reading() as session:
        return _views(session, StepIncident.ticket_id == find_ticket(session, reference).id)


def one(desk: Desk, incident_id: int) -> StepIncidentView | None:
    with desk.db.reading() as session:
        found = _views(session, StepIncident.id == incident_id)
    return found[0] if found else None


def listing(desk: Desk, limit: int = LISTED) -> list[StepIncidentView]:
    """For the admins: every open incident, then the latest resolved ones, ``limit`` in all."""
    with desk.db.reading() as session:
        return _views(session, limit=limit)


def open_count(desk: Desk) -> int:
    with desk.db.reading() as session:
        return session.scalar(select(func.count()).select_from(StepIncident).where(StepIncident.resolved_at.is_(None)))
