"""Jobs: what the worker runs, shared by any number of workers on any number of machines.

A job row (``models.Job``) is written in the transaction of the command that made an
instance wait on a timer. A worker takes due jobs in small batches: it *leases* them
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait for each
other and never take the same job), then fires each in a transaction of its own
(``commands.fire_due_timers``). A worker that dies keeps its leases until they run
out; then another worker takes them over. Leases spread the work; exactly once comes
from the firing itself, which re-reads the job under its ticket's row lock.

A job that fails is tried again with backoff; after the last try it becomes an
*incident*: it stops, the ticket's history says why, and an admin retries it.

Wake-ups: a command that wrote a job sets ``desk.jobs_changed`` (workers in the same
process) and, on PostgreSQL, sends ``NOTIFY supportdesk_jobs``; each worker LISTENs on
a connection of its own (``Wakeups``) and looks again for its next due moment.

Outbox mail is not a job row: it has its own due time, attempts and lease in
``outbox_mail`` (``engine/mail/delivery.py``), and the worker delivers it after the jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, inspect, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotAllowed, NotFound
from supportdesk.engine.store.models import Job, Ticket
from supportdesk.engine.tickets import history
from supportdesk.engine.tickets.instances import find_ticket, lock_ticket
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger(__name__)

PENDING, INCIDENT = "pending", "incident"
# Long enough for a batch (a job takes milliseconds), short enough that a dead
# worker's jobs wait at most this long for another worker.
LEASE = timedelta(seconds=30)
# Small batches spread a burst of due jobs over all the workers.
BATCH = 10
CHANNEL = "supportdesk_jobs"
RECONNECT_AFTER = 2.0  # seconds, when the LISTEN connection is lost


def backoff(failures: int, first: timedelta, longest: timedelta) -> timedelta:
    """How long to wait after ``failures`` failed tries: ``first`` after the first, doubling each
    time, never more than ``longest``. Timer jobs and outbox mail both retry this way."""
    return min(first * 2 ** max(failures - 1, 0), longest)


def worker_name() -> str:
    """This process, as lease owner: the machine and the process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


# --- leasing -------------------------------------------------------------------------------------------


def _free(now: datetime):
    """Not leased, or its lease has run out (its worker died or gave up)."""
    return or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now)


def acquire(desk: Desk, owner: str, *, limit: int = BATCH, lease: timedelta = LEASE) -> list[int]:
    """Lease up to ``limit`` due jobs to ``owner``, earliest first; returns their ids.

    Timers fire strictly after their moment (as SpiffWorkflow fires them), hence ``<``.
    Rows another transaction holds are skipped, not waited for (SQLite has one writer anyway)."""
    now = clock.now()
    due = select(Job.id).where(Job.status == PENDING, Job.due_at < now, _free(now))
    with desk.db.reading() as session:  # most looks find nothing: no write transaction for them (SQLite)
        if session.scalar(due.limit(1)) is None:
            return []
    query = due.order_by(Job.due_at, Job.id).limit(limit).with_for_update(skip_locked=True)
    with desk.db.transaction() as session:
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(Job).where(Job.id.in_(ids)).values(lease_owner=owner, lease_expires_at=now + lease))
    return ids


def release(desk: Desk, owner: str, job_ids: list[int]) -> None:
    """Give back jobs this worker leased but will not run (it is stopping), for others to take now."""
    if not job_ids:
        return
    with desk.db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids), Job.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
    log.info("released %s leased job(s)", len(job_ids))
    wake_workers(desk)


def unlease(session: Session, job: Job) -> None:
    """In the job's own transaction, once the instance was saved: a job that stays (a cycle's
    next time) is free for any worker. Read from the session, not the store: no round trip."""
    if not (inspect(job).deleted or job in session.deleted):
        job.lease_owner = job.lease_expires_at = None


def held_for_failure(session: Session, job_id: int, owner: str | None) -> tuple[Job, Ticket] | None:
    """The job and its ticket, locked (ticket first, as every command locks), to record a failed try;
    None when the job is gone or another worker took it over (that worker records its own try)."""
    job = session.get(Job, job_id)
    if job is None:
        return None
    ticket = lock_ticket(session, job.ticket_id)
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.lease_owner not in (None, owner):
        return None
    return job, ticket


def flag_incident(session: Session, ticket: Ticket, job: Job) -> None:
    """No more tries: the ticket's history says why, and the job waits for an admin."""
    job.status = INCIDENT
    history.append(
        session,
        ticket,
        at=job.failed_at,
        kind="job_incident",
        actor="desk",
        payload={"job": job.id, "job_kind": job.kind, "attempts": job.attempts, "error": job.last_error},
    )
    log.error(
        "job %s of ticket %s is an incident after %s tries: %s", job.id, ticket.reference, job.attempts, job.last_error
    )


# --- when to look again --------------------------------------------------------------------------------


def next_due(desk: Desk) -> datetime | None:
    """When a job next needs a worker: the earliest free job's due moment, or the end of the
    earliest lease (a worker that died holding it). Both are index lookups."""
    now = clock.now()
    with desk.db.reading() as session:
        free = session.scalar(select(Job.due_at).where(Job.status == PENDING, _free(now)).order_by(Job.due_at).limit(1))
        lease_end = session.scalar(
            select(func.min(Job.lease_expires_at)).where(Job.lease_expires_at >= now, Job.status == PENDING)
        )
    return min(filter(None, (free, lease_end)), default=None)


# --- incidents -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """A job that failed its last try, for the admin page and the ticket page."""

    job_id: int
    reference: str | None
    ticket_kind: str  # call | escalation | training
    summary: str
    job_kind: str  # timer
    attempts: int
    error: str
    failed_at: datetime | None
    due_at: datetime  # when it was last due


def _incident_rows(session: Session, *conditions, limit: int | None = None) -> list[Incident]:
    query = (
        select(Job, Ticket)
        .join(Ticket, Ticket.id == Job.ticket_id)
        .where(Job.status == INCIDENT, *conditions)
        .order_by(Job.failed_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return [
        Incident(
            job.id,
            ticket.reference,
            ticket.kind,
            ticket.summary,
            job.kind,
            job.attempts,
            job.last_error or "",
            job.failed_at,
            job.due_at,
        )
        for job, ticket in session.execute(query)
    ]


def incidents(desk: Desk, limit: int = 200) -> list[Incident]:
    """Every ticket's incidents, the latest first."""
    with desk.db.reading() as session:
        return _incident_rows(session, limit=limit)


def incidents_of(desk: Desk, reference: str) -> list[Incident]:
    """One ticket's incidents (NotFound for an unknown reference)."""
    with desk.db.reading() as session:
        return _incident_rows(session, Job.ticket_id == find_ticket(session, reference).id)


def incident_count(desk: Desk) -> int:
    with desk.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Job).where(Job.status == INCIDENT))


def retry_incident(desk: Desk, job_id: int, actor: str) -> None:
    """An admin tries an incident again, now, with a fresh set of tries (the error stays until it succeeds)."""
    now = clock.now()
    with desk.db.transaction() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}: it ran, or its ticket moved on")
        ticket = lock_ticket(session, job.ticket_id)
        job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
        if job is None or job.status != INCIDENT:
            raise NotAllowed(f"job {job_id} is not an incident: it is tried by the worker already")
        job.status, job.attempts, job.due_at = PENDING, 0, now
        job.lease_owner = job.lease_expires_at = None
        history.append(
            session,
            ticket,
            at=now,
            kind="incident_retried",
            actor=actor,
            payload={"job": job.id, "job_kind": job.kind, "error": job.last_error},
        )
    wake_workers(desk)


# --- health --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    pending: int
    due: int  # pending and due now (a backlog when it stays high)
    leased: int  # held by a worker right now
    incidents: int
    next_due: datetime | None

    def describe(self) -> str:
        upcoming = self.next_due.isoformat(timespec="seconds") if self.next_due else "none"
        return (
            f"jobs: {self.pending} pending ({self.due} due, {self.leased} leased), "
            f"{self.incidents} incident(s); next due {upcoming}"
        )


def health(desk: Desk) -> Health:
    now = clock.now()
    with desk.db.reading() as session:
        rows = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        due = session.scalar(
            select(func.count()).select_from(Job).where(Job.status == PENDING, Job.due_at < now, _free(now))
        )
        leased = session.scalar(
            select(func.count()).select_from(Job).where(Job.status == PENDING, Job.lease_expires_at >= now)
        )
    return Health(rows.get(PENDING, 0), due, leased, rows.get(INCIDENT, 0), next_due(desk))


# --- wake-ups ------------------------------------------------------------------------------------------


def wake_workers(desk: Desk) -> None:
    """After a commit that wrote jobs (or mail): this process's worker, and on PostgreSQL every worker."""
    desk.jobs_changed.set()
    if desk.db.is_sqlite:
        return
    try:
        with desk.db.engine.connect() as connection:
            connection.exec_driver_sql(f"NOTIFY {CHANNEL}")
            connection.commit()
    except SQLAlchemyError as exc:  # the command committed: a lost wake-up only delays workers to their next look
        log.warning("could not wake the workers (NOTIFY %s): %s", CHANNEL, exc)


def _conninfo(url: str) -> str:
    """The store's SQLAlchemy URL as libpq reads it (postgresql+psycopg://… -> postgresql://…)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Wakeups:
    """LISTEN on a dedicated PostgreSQL connection, in a thread: any process's NOTIFY sets
    ``desk.jobs_changed``. Reconnects when the connection is lost; ``live`` says whether it
    listens now (when it does not, the worker looks again more often). Does nothing on SQLite."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.live = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Wakeups:
        if not self.desk.db.is_sqlite:
            self._thread = threading.Thread(target=self._run, name="supportdesk-listen", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001  (the server restarts, the network drops: listen again)
                log.warning("LISTEN %s lost (%s); again in %s s", CHANNEL, exc, RECONNECT_AFTER)
            self.live = False
            self._stopping.wait(RECONNECT_AFTER)

    def _listen(self) -> None:
        import psycopg  # only PostgreSQL stores need it

        with psycopg.connect(_conninfo(self.desk.db.url), autocommit=True, connect_timeout=10) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.live = True
            self.desk.jobs_changed.set()  # a job may have been written while nobody listened
            while not self._stopping.is_set():
                # The timeout only bounds how long stopping takes: no query runs while waiting.
                for _ in connection.notifies(timeout=1.0):
                    self.desk.jobs_changed.set()
