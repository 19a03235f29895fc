"""Scale-out on PostgreSQL, with real worker processes (``python -m supportdesk.cli worker``)
on the system clock: thousands of timers due together, a worker killed mid-run, and how
punctually timers fire. The figures are printed (``pytest -s`` shows them) and asserted
generously, so the tests say what was measured without being flaky.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_worker import WORKER_COMMAND, duration, moment, timer_desk

from supportdesk.engine.store.models import HistoryEvent, Job, Ticket, WorkTask
from supportdesk.engine.working_time.clock import clock

from helpers import log_call

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TIMERS = 2_000
WORKERS = 3
LEASE_SECONDS = 5  # short, so the killed worker's jobs are taken over soon
CREATING_THREADS = 4


class Workers:
    """Worker processes on one store, each logging to a file of its own."""

    def __init__(self, url: str, folder: Path, count: int, lease: int = LEASE_SECONDS):
        env = {**os.environ, "SUPPORTDESK_DATABASE_URL": url}
        self.logs = [folder / f"worker-{n}.log" for n in range(count)]
        self.processes = [
            subprocess.Popen(
                [*WORKER_COMMAND, "--lease", str(lease)],
                env=env,
                cwd=folder,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            for log in self.logs
        ]

    def owner(self, n: int) -> str:
        return f"{os.uname().nodename}:{self.processes[n].pid}"

    def stop(self) -> list[int]:
        """SIGTERM to those still running; their exit codes."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=30) for process in self.processes]

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def output(self, n: int) -> str:
        return self.logs[n].read_text()


def create_calls(desk, count: int, threads: int = CREATING_THREADS) -> list[str]:
    """``count`` calls logged through the engine, by several advisors at once."""
    references: list[str] = []
    lock = threading.Lock()

    def advisor(share: int) -> None:
        mine = [log_call(desk) for _ in range(share)]
        with lock:
            references.extend(mine)

    shares = [count // threads + (n < count % threads) for n in range(threads)]
    running = [threading.Thread(target=advisor, args=(share,)) for share in shares]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert len(references) == count
    return references


def fired_count(desk, ticket_ids: list[int] | None = None) -> int:
    query = select(func.count()).select_from(HistoryEvent).where(HistoryEvent.kind == "timer_fired")
    if ticket_ids is not None:
        query = query.where(HistoryEvent.ticket_id.in_(ticket_ids))
    with desk.db.reading() as session:
        return session.scalar(query)


def firings(desk, ticket_ids: list[int]) -> dict[int, list[HistoryEvent]]:
    """Each ticket's timer_fired events."""
    found: dict[int, list[HistoryEvent]] = {ticket_id: [] for ticket_id in ticket_ids}
    with desk.db.reading() as session:
        for event in session.scalars(select(HistoryEvent).where(HistoryEvent.kind == "timer_fired")):
            found.setdefault(event.ticket_id, []).append(event)
    return found


def ticket_ids(desk, references: list[str]) -> list[int]:
    with desk.db.reading() as session:
        return list(session.scalars(select(Ticket.id).where(Ticket.reference.in_(references))))


def lateness(events: list[HistoryEvent]) -> list[float]:
    """Seconds between each timer's moment and its firing."""
    return [(e.at - datetime.fromisoformat(json.loads(e.payload)["due_at"])).total_seconds() for e in events]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_until(condition, timeout: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout} s")
        time.sleep(poll)


def leases_of(desk, owner: str) -> list[tuple[int, datetime]]:
    """(ticket id, lease end) of the jobs ``owner`` holds."""
    with desk.db.reading() as session:
        return list(session.execute(select(Job.ticket_id, Job.lease_expires_at).where(Job.lease_owner == owner)))


def kill_holding_leases(desk, workers: Workers, n: int) -> list[tuple[int, datetime]]:
    """SIGKILL worker ``n`` at a moment it holds leases: frozen (SIGSTOP) while we look, so what
    we see is what it leaves behind. Returns its orphaned leases."""
    process = workers.processes[n]
    for _ in range(200):
        process.send_signal(signal.SIGSTOP)
        held = leases_of(desk, workers.owner(n))
        if held:
            process.kill()
            process.wait()
            return held
        process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker never held a lease")


@pytest.fixture
def real_time():
    clock.use_system_time()
    return


def test_2000_timers_three_workers_one_killed_every_timer_fires_exactly_once(postgres_url, tmp_path, real_time):
    folder = tmp_path / "diagrams"
    # How fast calls are logged here, on calls whose timer is a day away (they play no further part).
    desk = timer_desk(postgres_url, folder, moment(datetime.now(UTC) + timedelta(days=1)))
    started = time.monotonic()
    create_calls(desk, 40)
    per_call = (time.monotonic() - started) / 40
    # All the test's timers are due at one moment, a little after they will all have been logged.
    due = datetime.now(UTC) + timedelta(seconds=TIMERS * per_call * 1.25 + 5)
    desk.close()
    desk = timer_desk(postgres_url, folder, moment(due))
    started = time.monotonic()
    references = create_calls(desk, TIMERS)
    created_in = time.monotonic() - started
    ids = ticket_ids(desk, references)
    workers = Workers(postgres_url, tmp_path, WORKERS)
    try:
        wait_until(lambda: datetime.now(UTC) > due and fired_count(desk, ids) >= TIMERS // 4, timeout=300)
        orphans = kill_holding_leases(desk, workers, 0)
        killed_at = fired_count(desk, ids)
        wait_until(lambda: fired_count(desk, ids) == TIMERS, timeout=300, poll=0.5)
        done_at = datetime.now(UTC)
        exits = workers.stop()
    finally:
        workers.kill_all()

    fired = firings(desk, ids)
    assert {ticket_id: len(events) for ticket_id, events in fired.items() if len(events) != 1} == {}
    with desk.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Job).where(Job.ticket_id.in_(ids))) == 0
        chased = session.scalar(
            select(func.count())
            .select_from(WorkTask)
            .where(WorkTask.ticket_id.in_(ids), WorkTask.title == "Chase the response")
        )
    assert chased == TIMERS  # nothing lost: every call went on past its timer
    # The killed worker's leases were taken over by the others once they ran out.
    assert orphans
    for ticket_id, lease_end in orphans:
        [event] = fired[ticket_id]
        assert event.at >= lease_end
    outputs = [workers.output(n) for n in (1, 2)]
    assert exits[0] == -signal.SIGKILL, outputs
    assert exits[1:] == [0] * (WORKERS - 1), outputs

    all_events = [events[0] for events in fired.values()]
    delays = lateness(all_events)
    first, last = min(e.at for e in all_events), max(e.at for e in all_events)
    print(
        f"\n{TIMERS} timers due at one moment; logged in {created_in:.1f} s ({CREATING_THREADS} threads); "
        f"{WORKERS} workers, one SIGKILLed after {killed_at} fired holding {len(orphans)} lease(s); "
        f"all fired {(last - first).total_seconds():.1f} s after the first "
        f"({TIMERS / max((last - first).total_seconds(), 0.001):.0f} timers/s); "
        f"delay median {statistics.median(delays):.2f} s, max {max(delays):.2f} s; "
        f"done {(done_at - due).total_seconds():.1f} s after the due moment"
    )


PUNCTUAL_TIMERS = 300
PUNCTUAL_RATE = 15  # calls logged per second, each with its timer 3 s later


def test_timers_fire_within_about_a_second_of_their_moment(postgres_url, tmp_path, real_time):
    """A steady load: calls logged at a steady pace while two workers run, each call's timer due
    three seconds after it was logged. Measured from the history: the firing's moment against the
    timer's own moment recorded with it."""
    desk = timer_desk(postgres_url, tmp_path / "diagrams", duration("PT3S"))
    workers = Workers(postgres_url, tmp_path, 2)
    try:
        time.sleep(2)  # the workers are up, and napping: nothing is due
        started = time.monotonic()
        references = []
        for n in range(PUNCTUAL_TIMERS):
            time.sleep(max(0.0, started + n / PUNCTUAL_RATE - time.monotonic()))
            references.append(log_call(desk))
        ids = ticket_ids(desk, references)
        wait_until(lambda: fired_count(desk, ids) == PUNCTUAL_TIMERS, timeout=120)
        exits = workers.stop()
    finally:
        workers.kill_all()
    assert exits == [0, 0]
    fired = firings(desk, ids)
    assert all(len(events) == 1 for events in fired.values())
    delays = lateness([events[0] for events in fired.values()])
    median, p99 = statistics.median(delays), percentile(delays, 0.99)
    print(
        f"\npunctuality over {PUNCTUAL_TIMERS} timers ({PUNCTUAL_RATE} calls/s, 2 workers): "
        f"median {median * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms"
    )
    assert min(delays) > 0  # never early: strictly after the moment, as SpiffWorkflow fires
    assert p99 < 5.0
    desk.close()
