"""The worker: fires BPMN timers when they fall due, then delivers the outbox.

It sleeps until the next due job or mail attempt, or until a command in this
process writes a nearer job (``desk.jobs_changed``), so a timer fires about
when it is due without a fixed long poll. Mail a command queues is picked up
at the next pass, within ``MAX_IDLE``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import func, select

from . import commands
from .clock import clock
from .desk import Desk
from .mail import delivery
from .models import Job

log = logging.getLogger(__name__)

# Longest nap without a wake-up: bounds how late a job written by another
# process (which cannot signal this one yet) can be picked up.
MAX_IDLE = timedelta(seconds=5)


class Worker:
    def __init__(self, desk: Desk):
        self.desk = desk
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Run every job that is due now, then send the mail that is due; returns how many jobs ran."""
        total = 0
        while ran := commands.fire_due_timers(self.desk):
            total += ran
        self.deliver_mail()
        return total

    def deliver_mail(self) -> delivery.Delivered:
        """The outbox's due mail (timers fired first: a handler may just have queued some)."""
        done = delivery.deliver_due_mail(self.desk)
        if done.handled:
            log.info("mail: %s sent, %s to retry, %s failed", done.sent, done.retrying, done.failed)
        return done

    def run_forever(self) -> None:
        log.info("worker started")
        if not delivery.delivery_enabled(self.desk.settings):
            log.warning("no SMTP host (SUPPORTDESK_SMTP_HOST): mail stays queued in the outbox")
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception:  # the store may be briefly unreachable: keep serving
                log.exception("worker pass failed")
            self._nap()
        log.info("worker stopped")

    def stop(self) -> None:
        self.stopping.set()
        self.desk.jobs_changed.set()

    def _nap(self) -> None:
        self.desk.jobs_changed.wait(self._seconds_until_next_job())
        self.desk.jobs_changed.clear()

    def _seconds_until_next_job(self) -> float:
        with self.desk.db.reading() as session:
            next_due = session.scalar(select(func.min(Job.due_at)))
        if delivery.delivery_enabled(self.desk.settings):
            next_due = min(filter(None, (next_due, delivery.next_attempt(self.desk))), default=None)
        if next_due is None:
            return MAX_IDLE.total_seconds()
        wait = (next_due - clock.now()).total_seconds()
        return max(0.01, min(wait + 0.001, MAX_IDLE.total_seconds()))

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="supportdesk-worker", daemon=True)
        thread.start()
        return thread
