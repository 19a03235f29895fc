"""The worker: fires BPMN timers when they fall due, then delivers the outbox; and takes mail in from the
team's IMAP mailboxes (``engine/mail/imap.py``, a thread per mailbox).

Any number of workers may share one PostgreSQL store: each leases small batches
of due jobs (``engine/tickets/jobs.py``), fires each in a transaction of its own, and
sleeps until the next due job, the end of a lease a dead worker left behind, the
next mail attempt, or a wake-up: a command in this process (``desk.jobs_changed``)
or, on PostgreSQL, in any process (``LISTEN``/``NOTIFY``) wrote a job. So a timer
fires within about a second of its moment without a fixed long poll.

On SQLite there is one worker: ``serve`` runs it in a thread of its own process.

``stop()`` (SIGTERM) lets the job under way finish and gives the rest of the
batch back at once, for the other workers.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from supportdesk.engine.desk import Desk
from supportdesk.engine.mail import delivery, imap
from supportdesk.engine.tickets import commands, jobs
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger(__name__)

# The longest nap. Without LISTEN (SQLite, or the connection is lost) it bounds how late a
# job another process wrote is seen; with it, it is only a safety net.
MAX_IDLE = timedelta(seconds=5)
MAX_IDLE_LISTENING = timedelta(seconds=30)
# A due job was there but could not be taken (another transaction holds its row): look again soon.
MIN_NAP = timedelta(milliseconds=20)
AFTER_ERROR = timedelta(seconds=2)  # the store unreachable: do not spin


class Worker:
    def __init__(self, desk: Desk, *, name: str | None = None, lease: timedelta = jobs.LEASE, batch: int = jobs.BATCH):
        self.desk = desk
        self.name = name or jobs.worker_name()
        self.lease, self.batch = lease, batch
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Run every job that is due now, then send the mail that is due; returns how many timers fired."""
        fired = self.run_due_jobs()
        if not self.stopping.is_set():
            self.deliver_mail()
        return fired

    def run_due_jobs(self) -> int:
        """Lease batches of due jobs and fire them until none is left (or we are stopping)."""
        fired = 0
        while not self.stopping.is_set():
            batch = jobs.acquire(self.desk, self.name, limit=self.batch, lease=self.lease)
            if not batch:
                break
            fired += commands.fire_due_timers(self.desk, owner=self.name, job_ids=batch, stop=self.stopping)
        if fired:
            log.info("fired %s timer(s)", fired)
        return fired

    def deliver_mail(self) -> delivery.Delivered:
        """The outbox's due mail (timers fired first: a handler may just have queued some)."""
        done = delivery.deliver_due_mail(self.desk)
        if done.handled:
            log.info("mail: %s sent, %s to retry, %s failed", done.sent, done.retrying, done.failed)
        return done

    def run_forever(self) -> None:
        log.info("worker %s started", self.name)
        if not delivery.delivery_enabled(self.desk.settings):
            log.warning("no SMTP host (SUPPORTDESK_SMTP_HOST): mail stays queued in the outbox")
        # The team's mailboxes (SUPPORTDESK_IMAP_MAILBOXES): a thread each, waiting on IDLE; they end with the worker.
        watchers = imap.start_watching(self.desk, self.stopping)
        with jobs.Wakeups(self.desk) as wakeups:
            while not self.stopping.is_set():
                # Cleared before looking: a job written from here on wakes the nap below.
                self.desk.jobs_changed.clear()
                self.desk.jobs_changed.wait(self._pass(wakeups.live))
        for watcher in watchers:  # let a message being filed finish (its move is redone next time if not)
            watcher.join(timeout=self.desk.settings.imap_timeout)
        log.info("worker %s stopped", self.name)

    def _pass(self, listening: bool) -> float:
        """One pass; returns how long to nap, in seconds."""
        try:
            self.run_once()
            return self._seconds_until_next_job(listening)
        except Exception:  # the store may be briefly unreachable: keep serving
            log.exception("worker pass failed")
            return AFTER_ERROR.total_seconds()

    def stop(self) -> None:
        """Finish the job under way, give back the rest of the batch, and leave ``run_forever``."""
        self.stopping.set()
        self.desk.jobs_changed.set()

    def on_signal(self, _signum=None, _frame=None) -> None:
        """A signal handler (SIGTERM, SIGINT) calling ``stop`` from a thread of its own: the handler
        runs in the interrupted thread, which may hold the wake-up event's lock at that moment."""
        threading.Thread(target=self.stop, name="supportdesk-stop").start()

    def _seconds_until_next_job(self, listening: bool = False) -> float:
        longest = (MAX_IDLE_LISTENING if listening else MAX_IDLE).total_seconds()
        next_due = jobs.next_due(self.desk)
        if delivery.delivery_enabled(self.desk.settings):
            next_due = min(filter(None, (next_due, delivery.next_attempt(self.desk))), default=None)
        if next_due is None:
            return longest
        # Jobs fire strictly after their moment: wake just after it.
        wait = (next_due - clock.now()).total_seconds() + 0.001
        return max(MIN_NAP.total_seconds(), min(wait, longest))

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="supportdesk-worker", daemon=True)
        thread.start()
        return thread
