"""The auditor's desk's long runs (C32): verify every hash chain, replay every ticket, or ask what if under
an uploaded calendar or SLA policy, in the background, with progress a page can show.

How a run runs: it is a row of ``audit_run`` (``request_run``, in the request's transaction), and a worker
does it. Every ``supportdesk worker`` (and the worker ``serve`` runs) keeps an ``AuditRunner`` in a thread of
its own beside its timer loop, so a run of minutes never holds up a timer. A runner leases a queued run
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, as timer jobs are leased), goes through the tickets
with the audit's own functions (``audit.verify_each``, ``audit.replay_all``, which shares a large store out
among processes), writes its progress about once a second (which renews the lease), and its findings when
done. So any web process shows any run, and the run goes on when the page that asked is closed. A run whose
worker died is taken over once its lease runs out, and started again from the first ticket (a replay
changes nothing, so doing it twice is harmless). A worker that is stopped gives its run back at once. An
auditor may cancel a run; the runner sees it at its next progress write and stops.

Not a thread of the web process: with several web processes (gunicorn) nothing would know which one runs
what, a web process restarted for a deploy would lose its run, and the web's threads are for requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.oversight import audit
from supportdesk.engine.store.models import AuditRun
from supportdesk.engine.tickets.jobs import worker_name
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock
from supportdesk.engine.working_time.sla_policy import SlaPolicy

log = logging.getLogger(__name__)

VERIFY, REPLAY, WHAT_IF = "verify", "replay", "what_if"
KINDS = {
    VERIFY: "Verify every hash chain",
    REPLAY: "Replay every ticket",
    WHAT_IF: "What if",
}
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
CALENDAR, POLICY = "calendar", "policy"
WHAT_IF_FILES = {CALENDAR: "working calendar", POLICY: "SLA policy"}
WHAT_IF_CHOICES = {CALENDAR: "a working calendar", POLICY: "an SLA policy"}  # as a sentence names them
# A calendar or policy file is a few kilobytes (workflows/calendar.toml is under 3 KiB).
MAX_WHAT_IF_BYTES = 64 * 1024
# Held by a runner, renewed at each progress write: a dead worker's run waits this long for another.
LEASE = timedelta(minutes=2)
PROGRESS_EVERY = 1.0  # seconds between progress writes
POLL = 2.0  # seconds between looks for a queued run, when there is none
# Tickets listed with their findings; past these the counts go on, the list stops (a page shows them all).
LISTED = 500


# --- what if: the uploaded file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfFile:
    """A calendar or SLA policy to replay under, as uploaded (checked by ``read_what_if``)."""

    kind: str  # calendar | policy
    name: str
    text: str


def read_what_if(kind: str, name: str, data: bytes) -> WhatIfFile:
    """An uploaded what-if file, checked: a calendar or a policy, at most ``MAX_WHAT_IF_BYTES``, UTF-8
    TOML that makes a calendar or policy the desk could run. InvalidInput names ``what_if_kind`` or ``file``."""
    if kind not in WHAT_IF_FILES:
        raise InvalidInput("choose what the file is", {"what_if_kind": "Choose a working calendar or an SLA policy"})
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1][:255] or "uploaded.toml"
    if not data:
        raise InvalidInput("no file", {"file": f"Choose {WHAT_IF_CHOICES[kind]} file (TOML) to upload"})
    if len(data) > MAX_WHAT_IF_BYTES:
        raise InvalidInput(
            "the file is too large",
            {"file": f"{name} is {len(data):,} bytes: {WHAT_IF_CHOICES[kind]} file is at most {MAX_WHAT_IF_BYTES:,}"},
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("not text", {"file": f"{name} is not a text file (UTF-8 TOML)"}) from None
    what_if = WhatIfFile(kind, name, text)
    try:
        configuration(what_if)
    except ValueError as exc:  # TOML errors, CalendarConfigError and PolicyError are ValueErrors, with the key
        raise InvalidInput(
            "the file makes no sense", {"file": f"{name} is not {WHAT_IF_CHOICES[kind]} the desk can use: {exc}"}
        ) from None
    return what_if


def configuration(what_if: WhatIfFile) -> tuple[WorkingCalendar | None, SlaPolicy | None]:
    """(calendar, policy) to replay under: the uploaded one, None for the desk's own."""
    settings = tomllib.loads(what_if.text)
    if what_if.kind == CALENDAR:
        return WorkingCalendar.from_config(settings, source=what_if.name), None
    try:
        return None, SlaPolicy.from_config(settings)
    except (KeyError, TypeError, AttributeError) as exc:  # a table where a value belongs, and the like
        raise ValueError(f"unexpected shape: {exc}") from None


# --- asking for a run, cancelling it --------------------------------------------------------------------


@dataclass(frozen=True)
class RequestAuditRun:
    kind: str  # verify | replay | what_if
    what_if: WhatIfFile | None = None


def request_run(desk: Desk, command: RequestAuditRun, actor: str) -> int:
    """Queue a run for a worker; returns its id."""
    if command.kind not in KINDS:
        raise InvalidInput("unknown audit run", {"kind": f"An audit run is one of: {', '.join(KINDS)}"})
    if (command.kind == WHAT_IF) != (command.what_if is not None):
        raise InvalidInput("what if needs a file", {"file": "A what-if run needs a calendar or policy file; no other"})
    what_if = command.what_if
    with desk.db.transaction() as session:
        run = AuditRun(
            kind=command.kind,
            status=QUEUED,
            requested_by=actor,
            requested_at=clock.now(),
            what_if_kind=what_if.kind if what_if else None,
            what_if_name=what_if.name if what_if else None,
            what_if_text=what_if.text if what_if else None,
            done=0,
        )
        session.add(run)
        session.flush()
        return run.id


def cancel_run(desk: Desk, run_id: int, actor: str) -> None:
    """Stop a run: a queued one is never started, a running one stops at its next progress write."""
    with desk.db.transaction() as session:
        run = session.get(AuditRun, run_id, with_for_update=True)
        if run is None:
            raise NotFound(f"there is no audit run {run_id}")
        if run.status in FINISHED:
            raise NotAllowed(f"audit run {run_id} is {run.status} already")
        run.status, run.finished_at = CANCELLED, clock.now()
        run.error = f"cancelled by {actor}"
        run.lease_owner = run.lease_expires_at = None


# --- reading runs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunView:
    id: int
    kind: str
    status: str
    requested_by: str
    requested_at: datetime
    what_if_kind: str | None
    what_if_name: str | None
    total: int | None
    done: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    findings: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        return min(int(100 * self.done / self.total), 99) if self.total else 0  # 100 only once done

    @property
    def title(self) -> str:
        if self.kind == WHAT_IF:
            return f"What if: {WHAT_IF_FILES.get(self.what_if_kind or '', 'file')} {self.what_if_name}"
        return KINDS.get(self.kind, self.kind)

    @property
    def progress(self) -> str:
        """Where the run is, in words."""
        if self.status == QUEUED:
            return "Waiting for a worker to start it."
        if self.status == RUNNING:
            counted = f"{self.done:,} of {self.total:,}" if self.total is not None else f"{self.done:,}"
            return f"{counted} tickets done."
        if self.status == DONE:
            return f"Done: {self.total or 0:,} tickets."
        if self.status == CANCELLED:
            return f"Cancelled after {self.done:,} tickets ({self.error or 'cancelled'})."
        return f"Failed: {self.error}"


def _view(run: AuditRun, *, with_findings: bool) -> RunView:
    findings = json.loads(run.findings) if with_findings and run.findings else None
    return RunView(
        run.id,
        run.kind,
        run.status,
        run.requested_by,
        run.requested_at,
        run.what_if_kind,
        run.what_if_name,
        run.total,
        run.done,
        run.started_at,
        run.finished_at,
        run.error,
        findings,
    )


def run_view(desk: Desk, run_id: int, *, with_findings: bool = True) -> RunView:
    with desk.db.reading() as session:
        run = session.get(AuditRun, run_id)
        if run is None:
            raise NotFound(f"there is no audit run {run_id}")
        return _view(run, with_findings=with_findings)


def recent_runs(desk: Desk, limit: int = 20) -> list[RunView]:
    """The latest runs, newest first (without their findings)."""
    with desk.db.reading() as session:
        runs = session.scalars(select(AuditRun).order_by(AuditRun.id.desc()).limit(limit))
        return [_view(run, with_findings=False) for run in runs]


# --- doing a run --------------------------------------------------------------------------------------------


class _Stopped(Exception):
    """The run was cancelled, or another worker holds it now: write nothing more."""


class _GiveBack(Exception):
    """This worker is stopping: the run goes back to the queue for another."""


class AuditRunner:
    """A worker's audit runs: one at a time, in a thread of its own (``start_in_thread``; ``supportdesk
    worker`` and ``serve`` start one), or one pass (``run_once``, as the tests do)."""

    def __init__(self, desk: Desk, *, name: str | None = None, lease: timedelta = LEASE):
        self.desk = desk
        self.name = name or worker_name()
        self.lease = lease
        self.stopping = threading.Event()

    def run_once(self) -> int | None:
        """Do the next queued run (or one a dead worker left), if any; returns its id."""
        run_id = self._lease()
        if run_id is not None:
            self._execute(run_id)
        return run_id

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the store may be briefly unreachable: keep serving
                log.exception("audit runner pass failed")
                ran = None
            if ran is None:
                self.stopping.wait(POLL)

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="supportdesk-audit", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()

    # --- leasing and writing ---

    def _lease(self) -> int | None:
        now = clock.now()
        claimable = or_(AuditRun.status == QUEUED, and_(AuditRun.status == RUNNING, AuditRun.lease_expires_at < now))
        first = select(AuditRun.id).where(claimable).order_by(AuditRun.id).limit(1)
        with self.desk.db.reading() as session:  # most looks find nothing: no write transaction for them
            if session.scalar(first) is None:
                return None
        with self.desk.db.transaction() as session:
            run_id = session.scalar(first.with_for_update(skip_locked=True))  # another worker's is skipped
            run = session.get(AuditRun, run_id) if run_id is not None else None
            if run is None:
                return None
            run.status, run.lease_owner, run.lease_expires_at = RUNNING, self.name, now + self.lease
            run.started_at, run.done, run.total = now, 0, None
            return run.id

    def _held(self, session, run_id: int) -> AuditRun:
        run = session.get(AuditRun, run_id, with_for_update=True, populate_existing=True)
        if run is None or run.status != RUNNING or run.lease_owner != self.name:
            raise _Stopped
        return run

    def _write_progress(self, run_id: int, done: int, total: int | None = None) -> None:
        if self.stopping.is_set():
            raise _GiveBack
        with self.desk.db.transaction() as session:
            run = self._held(session, run_id)
            run.done, run.lease_expires_at = done, clock.now() + self.lease
            if total is not None:
                run.total = total

    def _finish(self, run_id: int, status: str, *, findings: dict | None = None, error: str | None = None) -> None:
        with self.desk.db.transaction() as session:
            run = self._held(session, run_id)
            run.status, run.finished_at, run.error = status, clock.now(), error
            run.findings = json.dumps(findings) if findings is not None else None
            run.done = run.total if status == DONE and run.total is not None else run.done
            run.lease_owner = run.lease_expires_at = None

    def _give_back(self, run_id: int) -> None:
        with self.desk.db.transaction() as session:
            session.execute(
                update(AuditRun)
                .where(AuditRun.id == run_id, AuditRun.status == RUNNING, AuditRun.lease_owner == self.name)
                .values(status=QUEUED, lease_owner=None, lease_expires_at=None, done=0, total=None)
            )

    # --- the runs ---

    def _execute(self, run_id: int) -> None:
        with self.desk.db.reading() as session:
            run = session.get(AuditRun, run_id)
            kind = run.kind
            what_if = WhatIfFile(run.what_if_kind, run.what_if_name, run.what_if_text) if run.what_if_kind else None
        try:
            findings = self._findings(run_id, kind, what_if)
            self._finish(run_id, DONE, findings=findings)
        except _Stopped:
            log.info("audit run %s was cancelled or taken over; stopped", run_id)
        except _GiveBack:
            self._give_back(run_id)
            log.info("audit run %s given back: this worker is stopping", run_id)
        except Exception as exc:  # any failure is the run's outcome, shown to the auditor (log.exception: BLE)
            log.exception("audit run %s failed", run_id)
            with contextlib.suppress(_Stopped):  # cancelled meanwhile: that stays its outcome
                self._finish(run_id, FAILED, error=f"{exc.__class__.__name__}: {exc}"[:2000])

    def _findings(self, run_id: int, kind: str, what_if: WhatIfFile | None) -> dict:
        if kind == VERIFY:
            return self._verify(run_id)
        references = audit.references(self.desk)
        self._write_progress(run_id, 0, len(references))
        calendar, policy = configuration(what_if) if what_if else (None, None)
        replays = audit.replay_all(
            self.desk, references, calendar=calendar, policy=policy, jobs=audit.default_jobs(len(references))
        )
        counted = self._counting(run_id, replays)
        return _what_if_findings(counted, what_if) if kind == WHAT_IF else _replay_findings(counted)

    def _verify(self, run_id: int) -> dict:
        total = audit.ticket_count(self.desk)
        self._write_progress(run_id, 0, total)
        broken = [found for _, found in self._counting(run_id, audit.verify_each(self.desk)) if found is not None]
        return {
            "checked": total,
            "broken_count": len(broken),
            "broken": [{"reference": b.reference, "seq": b.seq, "kind": b.kind} for b in broken[:LISTED]],
        }

    def _counting(self, run_id: int, items: Iterable) -> list:
        """``items``, all of them, writing how many are done about once a second. A generator left early
        (cancelled, stopping) is closed, so the replays it shared out stop too."""
        done, last_write, found = 0, time.monotonic(), []
        iterator = iter(items)
        try:
            for item in iterator:
                found.append(item)
                done += 1
                if time.monotonic() - last_write >= PROGRESS_EVERY:
                    self._write_progress(run_id, done)
                    last_write = time.monotonic()
        finally:
            close: Callable[[], None] | None = getattr(iterator, "close", None)
            if close is not None:
                close()
        self._write_progress(run_id, done)
        return found


def _replay_findings(replays: list[audit.Replay]) -> dict:
    different = [r for r in replays if not r.same]
    return {
        "checked": len(replays),
        "same": len(replays) - len(different),
        "different_count": len(different),
        "different": [
            {
                "reference": r.reference,
                "differences": [{"where": d.where, "fields": [list(f) for f in d.fields]} for d in r.details],
            }
            for r in different[:LISTED]
        ],
    }


def _what_if_findings(replays: list[audit.Replay], what_if: WhatIfFile | None) -> dict:
    changed = [r for r in replays if r.clock_changes]
    outcome_changed = [r for r in changed if any(c.outcome_changes for c in r.clock_changes)]
    due_only = [r for r in changed if r not in outcome_changed]
    stopped = [r for r in replays if r.differences]  # a replay that could not go on under the other configuration
    return {
        "checked": len(replays),
        "file": {"kind": what_if.kind, "name": what_if.name} if what_if else None,
        "outcome_changed_count": len(outcome_changed),
        "due_only_count": len(due_only),
        "outcome_changed": [_changes(r) for r in outcome_changed[:LISTED]],
        "due_only": [_changes(r) for r in due_only[:LISTED]],
        "stopped": [{"reference": r.reference, "why": r.differences[0]} for r in stopped[:LISTED]],
    }


def _changes(replay: audit.Replay) -> dict:
    return {
        "reference": replay.reference,
        "clocks": [
            {
                "metric": c.metric,
                "due_before": c.due_before.isoformat() if c.due_before else None,
                "due_after": c.due_after.isoformat() if c.due_after else None,
                "breached_before": c.breached_before,
                "breached_after": c.breached_after,
            }
            for c in replay.clock_changes
        ],
    }
