"""The worker and its jobs: leases, retries and incidents, stopping, wake-ups, and one
instance advanced by one worker at a time while different tickets run in parallel.

The scale-out runs (thousands of timers, several worker processes, one killed) and the
punctuality figures are in ``test_worker_scale.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import NotAllowed, NotFound
from supportdesk.engine.store.models import HistoryEvent, Job, Ticket
from supportdesk.engine.tickets import commands, jobs
from supportdesk.engine.working_time.clock import clock
from supportdesk.handlers import HANDLERS

from conftest import open_test_desk
from helpers import events, history_kinds, log_call, open_titles

S = timedelta(seconds=1)
HOUR = timedelta(hours=1)
WORKER_COMMAND = [sys.executable, "-m", "supportdesk.cli", "worker"]

# A call whose first-line task is guarded by a non-interrupting timer; when it fires, an optional
# service task runs (its handler named by topic), then a "Chase the response" task opens.
TIMER_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="Definitions_worker" targetNamespace="https://supportdesk.example/test">
  <bpmn:process id="support_call" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_first_line" name="First line">
        <bpmn:flowNodeRef>Begin</bpmn:flowNodeRef><bpmn:flowNodeRef>Reference</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Respond</bpmn:flowNodeRef><bpmn:flowNodeRef>Overdue</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>AfterTimer</bpmn:flowNodeRef><bpmn:flowNodeRef>Chase</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Done</bpmn:flowNodeRef><bpmn:flowNodeRef>Chased</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Reference" name="Assign Call Reference" camunda:type="external"
                      camunda:topic="assign_call_reference">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="Respond" name="First level response">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Overdue" name="Overdue" cancelActivity="false" attachedToRef="Respond">
      <bpmn:outgoing>F4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Overdue_timer">{timer}</bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    {after_timer}
    <bpmn:userTask id="Chase" name="Chase the response">
      <bpmn:incoming>F5</bpmn:incoming><bpmn:outgoing>F6</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Chased"><bpmn:incoming>F6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Reference" />
    <bpmn:sequenceFlow id="F2" sourceRef="Reference" targetRef="Respond" />
    <bpmn:sequenceFlow id="F3" sourceRef="Respond" targetRef="Done" />
    <bpmn:sequenceFlow id="F4" sourceRef="Overdue" targetRef="AfterTimer" />
    <bpmn:sequenceFlow id="F5" sourceRef="AfterTimer" targetRef="Chase" />
    <bpmn:sequenceFlow id="F6" sourceRef="Chase" targetRef="Chased" />
  </bpmn:process>
</bpmn:definitions>
"""
SERVICE_AFTER_TIMER = """<bpmn:serviceTask id="AfterTimer" name="After the timer" camunda:type="external"
      camunda:topic="{topic}"><bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing></bpmn:serviceTask>"""
NOTHING_AFTER_TIMER = """<bpmn:intermediateThrowEvent id="AfterTimer" name="Noted">
      <bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing></bpmn:intermediateThrowEvent>"""


def duration(iso: str) -> str:
    return f'<bpmn:timeDuration>"{iso}"</bpmn:timeDuration>'


def moment(at: datetime) -> str:
    return f'<bpmn:timeDate>"{at.astimezone(UTC).isoformat()}"</bpmn:timeDate>'


def write_timer_diagram(folder: Path, timer: str, topic: str | None = None) -> Path:
    """``support_call.bpmn`` in ``folder`` (made if need be), with ``timer`` and, after it, the handler ``topic``."""
    folder.mkdir(parents=True, exist_ok=True)
    after = SERVICE_AFTER_TIMER.format(topic=topic) if topic else NOTHING_AFTER_TIMER
    (folder / "support_call.bpmn").write_text(TIMER_DIAGRAM.format(timer=timer, after_timer=after))
    return folder


def timer_desk(url: str, folder: Path, timer: str, topic: str | None = None):
    desk = open_test_desk(url, write_timer_diagram(folder, timer, topic))
    commands.deploy(desk, actor="test")
    return desk


def job_rows(desk) -> list[Job]:
    with desk.db.reading() as session:
        return list(session.query(Job).order_by(Job.id))


@pytest.fixture
def one_hour_desk(sqlite_url, tmp_path, frozen_clock):
    desk = timer_desk(sqlite_url, tmp_path / "diagrams", duration("PT1H"))
    yield desk
    desk.close()


# --- leases --------------------------------------------------------------------------------------------


def test_a_leased_job_is_left_to_its_worker_until_the_lease_runs_out(one_hour_desk, frozen_clock):
    desk = one_hour_desk
    reference = log_call(desk)
    frozen_clock.advance(HOUR + S)
    [job_id] = jobs.acquire(desk, "machine-a:101", lease=30 * S)
    assert jobs.acquire(desk, "machine-b:202") == []
    [job] = job_rows(desk)
    assert job.lease_owner == "machine-a:101"
    assert job.lease_expires_at == frozen_clock.now() + 30 * S
    assert jobs.next_due(desk) == job.lease_expires_at  # when the others look again
    health = jobs.health(desk)
    assert (health.pending, health.due, health.leased) == (1, 0, 1)

    frozen_clock.advance(31 * S)  # machine A died holding it
    assert jobs.acquire(desk, "machine-b:202") == [job_id]
    assert commands.fire_due_timers(desk, owner="machine-b:202", job_ids=[job_id]) == 1
    # Machine A was only slow: running the job it had leased fires nothing a second time.
    assert commands.fire_due_timers(desk, owner="machine-a:101", job_ids=[job_id]) == 0
    assert history_kinds(desk, reference).count("timer_fired") == 1
    assert job_rows(desk) == []
    assert "Chase the response" in open_titles(desk, reference)


def test_the_timer_fired_event_records_the_timers_own_moment(one_hour_desk, frozen_clock):
    reference = log_call(one_hour_desk)
    logged_at = frozen_clock.now()
    frozen_clock.advance(HOUR + 5 * S)
    assert Worker(one_hour_desk).run_once() == 1
    [fired] = events(one_hour_desk, reference, "timer_fired")
    assert fired.payload["due_at"] == (logged_at + HOUR).isoformat()
    assert fired.at == logged_at + HOUR + 5 * S


def test_a_job_not_due_by_its_timer_goes_back_to_wait_for_it(one_hour_desk, frozen_clock):
    """A job whose row says due, but whose timer (the instance's truth) is later: it waits again, unleased."""
    reference = log_call(one_hour_desk)
    with one_hour_desk.db.transaction() as session:
        session.query(Job).update({Job.due_at: frozen_clock.now() - S})
    [job_id] = jobs.acquire(one_hour_desk, "machine-a:101")
    assert commands.fire_due_timers(one_hour_desk, owner="machine-a:101", job_ids=[job_id]) == 0
    [job] = job_rows(one_hour_desk)
    assert job.due_at == frozen_clock.now() + HOUR
    assert job.lease_owner is None
    assert job.lease_expires_at is None
    assert "timer_fired" not in history_kinds(one_hour_desk, reference)


# --- failures, retries and incidents ------------------------------------------------------------------


@pytest.fixture
def flaky(monkeypatch):
    """The handler ``flaky``, which fails while ``state['failing']``."""
    state = {"failing": True, "calls": 0}

    def handler(uow, task):
        state["calls"] += 1
        if state["failing"]:
            raise ConnectionError("CRM unreachable")

    monkeypatch.setitem(HANDLERS, "flaky", handler)
    return state


@pytest.fixture
def flaky_desk(sqlite_url, tmp_path, frozen_clock, flaky):
    desk = timer_desk(sqlite_url, tmp_path / "diagrams", duration("PT1H"), topic="flaky")
    yield desk
    desk.close()


def test_a_failing_job_is_retried_with_backoff_then_becomes_an_incident(flaky_desk, flaky, frozen_clock):
    desk, worker = flaky_desk, Worker(flaky_desk)
    reference = log_call(desk)
    frozen_clock.advance(HOUR + S)
    waits = []
    for attempt in range(1, commands.JOB_RETRY_ATTEMPTS + 1):
        assert worker.run_once() == 0
        [job] = job_rows(desk)
        assert job.attempts == attempt
        assert (
            job.last_error
            == "HandlerError: ticket "
            + reference
            + ", task AfterTimer: handler 'flaky' failed: ConnectionError: CRM unreachable"
        )
        assert job.lease_owner is None
        assert job.failed_at == frozen_clock.now()
        if job.status == jobs.PENDING:
            waits.append(job.due_at - frozen_clock.now())
            assert worker.run_once() == 0
            assert job_rows(desk)[0].attempts == attempt
            frozen_clock.advance(waits[-1] + S)
    assert waits == [timedelta(seconds=10 * 2**n) for n in range(commands.JOB_RETRY_ATTEMPTS - 1)]
    assert job.status == jobs.INCIDENT
    assert flaky["calls"] == commands.JOB_RETRY_ATTEMPTS

    frozen_clock.advance(timedelta(days=1))  # an incident is not tried again by itself
    assert worker.run_once() == 0
    assert flaky["calls"] == commands.JOB_RETRY_ATTEMPTS
    [incident] = events(desk, reference, "job_incident")
    assert incident.payload["attempts"] == 8
    assert "CRM unreachable" in incident.payload["error"]
    assert "timer_fired" not in history_kinds(desk, reference)  # every failed try wrote nothing else


def test_an_incident_is_listed_for_admin_and_the_ticket_and_an_admin_retries_it(flaky_desk, flaky, frozen_clock):
    desk = flaky_desk
    reference, other = log_call(desk), log_call(desk)
    frozen_clock.advance(HOUR + S)
    for _ in range(commands.JOB_RETRY_ATTEMPTS):
        Worker(desk).run_once()
        frozen_clock.advance(HOUR)
    assert [i.reference for i in jobs.incidents(desk)] == [other, reference]  # the latest first
    [incident] = jobs.incidents_of(desk, reference)
    assert (incident.job_kind, incident.attempts, incident.ticket_kind) == ("timer", 8, "call")
    assert "ConnectionError: CRM unreachable" in incident.error
    assert jobs.health(desk).incidents == 2
    assert jobs.incident_count(desk) == 2
    with pytest.raises(NotFound):
        jobs.incidents_of(desk, "SUP-2026-999999")

    flaky["failing"] = False  # the CRM is back
    jobs.retry_incident(desk, incident.job_id, "admin:root")
    frozen_clock.advance(S)  # due again now, and jobs run strictly after their moment
    with pytest.raises(NotAllowed, match="not an incident"):
        jobs.retry_incident(desk, incident.job_id, "admin:root")
    with pytest.raises(NotFound):
        jobs.retry_incident(desk, 999_999, "admin:root")
    assert jobs.incidents_of(desk, reference) == []
    assert Worker(desk).run_once() == 1
    [retried] = events(desk, reference, "incident_retried")
    assert retried.actor == "admin:root"
    assert "CRM unreachable" in retried.payload["error"]
    assert history_kinds(desk, reference)[-3:] == ["incident_retried", "timer_fired", "task_opened"]
    assert [i.reference for i in jobs.incidents(desk)] == [other]


# --- stopping -------------------------------------------------------------------------------------------


def test_a_stopping_worker_finishes_the_job_under_way_and_gives_back_the_rest(
    sqlite_url, tmp_path, frozen_clock, monkeypatch
):
    worker: Worker | None = None

    def stop_now(uow, task):  # SIGTERM arrives while the first job runs
        worker.stop()

    monkeypatch.setitem(HANDLERS, "stop_now", stop_now)
    desk = timer_desk(sqlite_url, tmp_path / "diagrams", duration("PT1H"), topic="stop_now")
    worker = Worker(desk, name="machine-a:101")
    references = [log_call(desk) for _ in range(3)]
    frozen_clock.advance(HOUR + S)
    assert worker.run_once() == 1
    fired = [r for r in references if "timer_fired" in history_kinds(desk, r)]
    assert len(fired) == 1
    left = job_rows(desk)
    assert len(left) == 2
    assert all(job.lease_owner is None and job.lease_expires_at is None for job in left)
    monkeypatch.setitem(HANDLERS, "stop_now", lambda uow, task: None)
    assert Worker(desk, name="machine-b:202").run_once() == 2  # at once, not after a lease
    desk.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_sigterm_stops_an_idle_worker_at_once(postgres_url, tmp_path):
    open_test_desk(postgres_url).close()
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [*WORKER_COMMAND],
        env={**os.environ, "SUPPORTDESK_DATABASE_URL": postgres_url},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until(lambda: "worker " in log.read_text() or worker.poll() is not None, timeout=60)
        time.sleep(1)  # listening, napping
        worker.send_signal(signal.SIGTERM)
        started = time.monotonic()
        worker.wait(timeout=15)
    finally:
        worker.kill()
    output = log.read_text()
    assert worker.returncode == 0, output
    assert time.monotonic() - started < 5
    assert postgres_url.rsplit("/", 1)[-1] in output.splitlines()[0]


# --- the command line -----------------------------------------------------------------------------------


def test_worker_once_runs_the_due_jobs_prints_their_health_and_exits(sqlite_url, tmp_path):
    clock.set(datetime.now(UTC) - 2 * HOUR)  # logged two hours ago (the worker runs on the system clock)
    try:
        desk = timer_desk(sqlite_url, tmp_path / "diagrams", duration("PT1H"))
        reference, later = log_call(desk), log_call(desk)
        with desk.db.transaction() as session:  # the second call's timer is not due for a day yet
            ticket = session.query(Ticket).filter_by(reference=later).one()
            tomorrow = datetime.now(UTC) + timedelta(days=1)
            session.query(Job).filter_by(ticket_id=ticket.id).update({Job.due_at: tomorrow})
    finally:
        clock.use_system_time()
    done = subprocess.run(
        [*WORKER_COMMAND, "--once"],
        env={**os.environ, "SUPPORTDESK_DATABASE_URL": sqlite_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "fired 1 timer(s)"
    assert lines[1].startswith("jobs: 1 pending (0 due, 0 leased), 0 incident(s); next due ")
    assert "Chase the response" in open_titles(desk, reference)
    desk.close()


# --- wake-ups and parallel workers (PostgreSQL) ---------------------------------------------------------


@pytest.mark.postgres
def test_a_napping_worker_is_woken_by_a_job_another_process_writes(postgres_url, tmp_path):
    """The worker has nothing due, so it naps long; a call logged by another desk (another
    process: a separate connection pool and wake-up event) wakes it through NOTIFY, and the
    timer fires about when it is due rather than at the worker's next look."""
    clock.use_system_time()
    web = timer_desk(postgres_url, tmp_path / "diagrams", duration("PT2S"))
    worker = Worker(open_test_desk(postgres_url))
    thread = worker.start_in_thread()
    try:
        time.sleep(1.5)  # the worker has looked, found nothing, and naps (up to 30 s while it listens)
        reference = log_call(web)
        fired = _wait_for_event(web, reference, "timer_fired", timeout=15)
    finally:
        worker.stop()
        thread.join(timeout=10)
        worker.desk.close()
    lateness = fired.at - datetime.fromisoformat(fired.payload["due_at"])
    assert timedelta(0) < lateness < timedelta(seconds=1.5)
    web.close()


def _wait_for_event(desk, reference: str, kind: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(desk, reference, kind)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} on {reference} within {timeout} s")


# Two timers due at the same moment on each call (parallel branches), each followed by the
# ``probe`` handler, which notes which worker is inside which instance, and when.
PARALLEL_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="Definitions_parallel" targetNamespace="https://supportdesk.example/test">
  <bpmn:process id="support_call" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_first_line" name="First line">
        <bpmn:flowNodeRef>Begin</bpmn:flowNodeRef><bpmn:flowNodeRef>Reference</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Split</bpmn:flowNodeRef><bpmn:flowNodeRef>WaitA</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>WaitB</bpmn:flowNodeRef><bpmn:flowNodeRef>ProbeA</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>ProbeB</bpmn:flowNodeRef><bpmn:flowNodeRef>Join</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Review</bpmn:flowNodeRef><bpmn:flowNodeRef>Finish</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Reference" name="Assign Call Reference" camunda:type="external"
                      camunda:topic="assign_call_reference">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:parallelGateway id="Split"><bpmn:incoming>F2</bpmn:incoming>
      <bpmn:outgoing>FA1</bpmn:outgoing><bpmn:outgoing>FB1</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:intermediateCatchEvent id="WaitA" name="Wait A"><bpmn:incoming>FA1</bpmn:incoming>
      <bpmn:outgoing>FA2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="WaitA_timer">{timer}</bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="WaitB" name="Wait B"><bpmn:incoming>FB1</bpmn:incoming>
      <bpmn:outgoing>FB2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="WaitB_timer">{timer}</bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="ProbeA" name="Probe A" camunda:type="external" camunda:topic="probe">
      <bpmn:incoming>FA2</bpmn:incoming><bpmn:outgoing>FA3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:serviceTask id="ProbeB" name="Probe B" camunda:type="external" camunda:topic="probe">
      <bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>FB3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA3</bpmn:incoming><bpmn:incoming>FB3</bpmn:incoming>
      <bpmn:outgoing>F3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Review" name="Review"><bpmn:incoming>F3</bpmn:incoming>
      <bpmn:outgoing>F4</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Reference" />
    <bpmn:sequenceFlow id="F2" sourceRef="Reference" targetRef="Split" />
    <bpmn:sequenceFlow id="FA1" sourceRef="Split" targetRef="WaitA" />
    <bpmn:sequenceFlow id="FB1" sourceRef="Split" targetRef="WaitB" />
    <bpmn:sequenceFlow id="FA2" sourceRef="WaitA" targetRef="ProbeA" />
    <bpmn:sequenceFlow id="FB2" sourceRef="WaitB" targetRef="ProbeB" />
    <bpmn:sequenceFlow id="FA3" sourceRef="ProbeA" targetRef="Join" />
    <bpmn:sequenceFlow id="FB3" sourceRef="ProbeB" targetRef="Join" />
    <bpmn:sequenceFlow id="F3" sourceRef="Join" targetRef="Review" />
    <bpmn:sequenceFlow id="F4" sourceRef="Review" targetRef="Finish" />
  </bpmn:process>
</bpmn:definitions>
"""


class Probe:
    """The ``probe`` handler: who is inside which instance; two at once in one instance is the bug."""

    def __init__(self, pause: float):
        self.pause = pause
        self.inside: dict[int, str] = {}
        self.overlaps: list[tuple[int, str, str]] = []
        self.visits: list[tuple[int, str, float, float]] = []  # (ticket id, worker, entered, left)
        self._lock = threading.Lock()

    def __call__(self, uow, task) -> None:
        me, ticket = threading.current_thread().name, uow.ticket.id
        with self._lock:
            if ticket in self.inside and self.inside[ticket] != me:
                self.overlaps.append((ticket, self.inside[ticket], me))
            self.inside[ticket] = me
        entered = time.monotonic()
        time.sleep(self.pause)  # long enough for another worker to try the same instance
        with self._lock:
            self.inside.pop(ticket, None)
            self.visits.append((ticket, me, entered, time.monotonic()))

    def parallel_tickets(self) -> int:
        """How many visits overlapped a visit to another ticket by another worker."""
        return sum(
            1 for a in self.visits for b in self.visits if a[0] < b[0] and a[1] != b[1] and a[2] < b[3] and b[2] < a[3]
        )


@pytest.mark.postgres
def test_two_workers_never_advance_the_same_instance_at_once(postgres_url, tmp_path, monkeypatch):
    """Three workers, one job each at a time; every call has two timers due at the same moment,
    so two workers regularly hold jobs of one instance together. The ticket's row lock lets one
    advance it; the other waits, then finds its timer fired (in one step, as SpiffWorkflow fires
    every due timer of an instance) and does nothing. Different tickets still run in parallel."""
    clock.use_system_time()
    probe = Probe(pause=0.05)
    monkeypatch.setitem(HANDLERS, "probe", probe)
    folder = tmp_path / "parallel"
    folder.mkdir()
    (folder / "support_call.bpmn").write_text(PARALLEL_DIAGRAM.format(timer=duration("PT2S")))
    web = open_test_desk(postgres_url, folder)
    commands.deploy(web, actor="test")
    workers = [Worker(open_test_desk(postgres_url, folder), name=f"machine-{n}:1", batch=1) for n in range(3)]
    threads = [threading.Thread(target=w.run_forever, name=w.name, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        references = [log_call(web) for _ in range(30)]
        _wait_until(lambda: _count(web, "task_opened") == 30, timeout=60)
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)
    assert probe.overlaps == []
    assert len(probe.visits) == 60  # both probes of every call ran, once each
    assert probe.parallel_tickets() > 0
    for reference in references:
        assert open_titles(web, reference) == ["Review"]
    with web.db.reading() as session:
        assert session.query(Job).count() == 0
    for desk in [web, *(w.desk for w in workers)]:
        desk.close()


def _count(desk, kind: str) -> int:
    with desk.db.reading() as session:
        return session.query(HistoryEvent).filter_by(kind=kind).count()


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not done within {timeout} s")
        time.sleep(0.1)


def test_a_cycle_timers_job_stays_for_its_next_time_unleased(sqlite_url, tmp_path, frozen_clock):
    desk = timer_desk(sqlite_url, tmp_path / "diagrams", '<bpmn:timeCycle>"R3/PT1H"</bpmn:timeCycle>')
    reference = log_call(desk)
    frozen_clock.advance(HOUR + S)
    assert Worker(desk, name="machine-a:101").run_once() == 1
    [job] = job_rows(desk)
    assert job.lease_owner is None
    assert job.lease_expires_at is None
    assert job.due_at > frozen_clock.now()
    frozen_clock.advance(HOUR)
    assert Worker(desk, name="machine-b:202").run_once() == 1
    assert history_kinds(desk, reference).count("timer_fired") == 2
    desk.close()


def test_an_incident_shows_on_the_ticket_page_and_in_admin_where_it_is_retried(flaky_desk, flaky, frozen_clock):
    from web_client import desk_app, sign_in, text, token

    desk = flaky_desk
    reference = log_call(desk)
    frozen_clock.advance(HOUR + S)
    for _ in range(commands.JOB_RETRY_ATTEMPTS):
        Worker(desk).run_once()
        frozen_clock.advance(HOUR)
    browser = desk_app(desk).test_client()
    sign_in(browser, "admin")
    assert "Incident:" in text(browser.get(f"/calls/{reference}"))
    page = browser.get("/admin/mail")
    assert reference in text(page)
    assert "CRM unreachable" in text(page)
    [incident] = jobs.incidents_of(desk, reference)
    retried = browser.post(f"/admin/incidents/{incident.job_id}/retry", data={"csrf_token": token(page)})
    assert retried.status_code == 302
    assert jobs.incidents_of(desk, reference) == []


def two_timer_desk(url: str, folder: Path):
    """The timer diagram with a second non-interrupting timer on the same task: a reminder after 30 minutes."""
    reminder = (
        '<bpmn:boundaryEvent id="Reminder" name="Reminder" cancelActivity="false" attachedToRef="Respond">'
        '<bpmn:outgoing>F7</bpmn:outgoing><bpmn:timerEventDefinition id="Reminder_timer">'
        f"{duration('PT30M')}</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:endEvent id="Reminded"><bpmn:incoming>F7</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="F7" sourceRef="Reminder" targetRef="Reminded" />'
    )
    text = TIMER_DIAGRAM.format(timer=duration("PT1H"), after_timer=NOTHING_AFTER_TIMER + reminder)
    text = text.replace(
        "<bpmn:flowNodeRef>Done</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Done</bpmn:flowNodeRef><bpmn:flowNodeRef>Reminder</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>Reminded</bpmn:flowNodeRef>",
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "support_call.bpmn").write_text(text)
    desk = open_test_desk(url, folder)
    commands.deploy(desk, actor="test")
    return desk


def test_C32_every_timer_that_fires_has_its_event_and_the_ticket_replays(sqlite_url, tmp_path, frozen_clock):
    """Two timers fall due while no worker runs; the job run first fires both. Each gets its own
    timer_fired with its own due moment, and the audit replay (C32) gives back the same ticket."""
    from supportdesk.engine.oversight import audit

    desk = two_timer_desk(sqlite_url, tmp_path / "diagrams")
    reference = log_call(desk)
    logged = frozen_clock.now()
    frozen_clock.advance(HOUR + S)
    [first, _] = job_rows(desk)
    assert commands.fire_due_timers(desk, job_ids=[first.id]) == 1
    fired = {e.payload["element"]: e.payload for e in events(desk, reference, "timer_fired")}
    assert {element: p["due_at"] for element, p in fired.items()} == {
        "Reminder": (logged + HOUR / 2).isoformat(),
        "Overdue": (logged + HOUR).isoformat(),
    }
    assert sorted(p["cause"] for p in fired.values()) == ["due when the command ran", "timer job"]
    assert job_rows(desk) == []  # the other job went with its timer
    assert open_titles(desk, reference) == ["Chase the response", "First level response"]
    assert audit.replay(desk, reference).differences == []
    desk.close()


def test_incidents_are_listed_and_retried_at_the_command_line(flaky_desk, flaky, frozen_clock, monkeypatch):
    from click.testing import CliRunner

    from supportdesk.cli import main

    desk = flaky_desk
    reference, other = log_call(desk), log_call(desk)
    frozen_clock.advance(HOUR + S)
    for _ in range(commands.JOB_RETRY_ATTEMPTS):
        Worker(desk).run_once()
        frozen_clock.advance(HOUR)
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(desk.settings.workflows_dir))
    cli = CliRunner()
    listed = cli.invoke(main, ["incidents", "list"])
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [row[1] for row in rows] == [other, reference]
    assert all("CRM unreachable" in row[4] for row in rows)
    assert "2 incident(s)" in listed.stderr

    flaky["failing"] = False
    retried = cli.invoke(main, ["incidents", "retry", rows[1][0], "--as", "ops:jo"])
    assert retried.exit_code == 0
    assert f"job {rows[1][0]} will be tried again now" in retried.stdout
    assert events(desk, reference, "incident_retried")[0].actor == "ops:jo"
    again = cli.invoke(main, ["incidents", "retry", rows[1][0]])
    assert again.exit_code == 1
    assert "is not an incident" in again.stderr
    assert [row.split("\t")[1] for row in cli.invoke(main, ["incidents", "list"]).stdout.splitlines()] == [other]
