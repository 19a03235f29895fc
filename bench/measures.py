"""The measurements of bench/run.py, each against its baseline in the same run."""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from clone import Cloner, drop_jobs, read_seeds
from lifecycle import (
    COMMANDS_PER_LIFECYCLE,
    HIGH_CALL,
    MONDAY_10AM,
    STEPS,
    InMemory,
    log_high_call,
    open_desk,
    persisted_lifecycle,
    run_step,
    sqlite_desk,
    task_id,
)
from sqlalchemy import delete, func, select
from wording import Wording
from workers import Workers, busy_share, create_database, drop_database, machine_cpu, postgres_available

from supportdesk.engine.desk import Desk
from supportdesk.engine.mail import inbound
from supportdesk.engine.oversight import audit, reports
from supportdesk.engine.store.models import HistoryEvent, Job, Ticket, WorkTask
from supportdesk.engine.tickets import commands, history, jobs, queries
from supportdesk.engine.tickets.queries import TicketFilter
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger("bench")
REPO = Path(__file__).resolve().parents[1]
TIMER_DIAGRAMS = REPO / "tests" / "diagrams" / "timer"  # one first-line task, a timer one hour after it opens


@dataclass
class Result:
    key: str
    title: str
    value: float
    baseline: float
    ratio: float
    target: str
    met: bool
    unit: str
    details: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "value": _round(self.value),
            "baseline": _round(self.baseline),
            "ratio": _round(self.ratio),
            "target": self.target,
            "met": bool(self.met),
            "unit": self.unit,
            "title": self.title,
            "details": {k: _round(v) for k, v in self.details.items()},
        }


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


@dataclass(frozen=True)
class Sizes:
    rounds: int  # item 1: interleaved rounds of in-memory and persisted lifecycles
    memory_batch: int
    persisted_batch: int
    history_pairs: int  # item 2: tickets of each kind
    seeds: int  # item 3: tickets made through the engine, then cloned
    small_store: int
    large_store: int
    query_repeats: int
    timers: int  # item 4
    timer_window: float  # seconds over which the timers fall due
    scale_out_jobs: int  # item 5, per run
    memory_jobs: int  # item 7
    replay_tickets: int  # item 6: item 1's store is topped up with more of its lifecycles to this many
    memory_first: int = 100


FULL = Sizes(
    rounds=9,
    memory_batch=40,
    persisted_batch=8,
    history_pairs=40,
    seeds=60,
    small_store=1_000,
    large_store=100_000,
    query_repeats=30,
    timers=1_000,
    timer_window=100.0,
    scale_out_jobs=3_000,
    memory_jobs=10_000,
    replay_tickets=400,
)
QUICK = Sizes(
    rounds=5,
    memory_batch=30,
    persisted_batch=6,
    history_pairs=12,
    seeds=40,
    small_store=1_000,
    large_store=20_000,
    query_repeats=15,
    timers=1_000,
    timer_window=60.0,
    scale_out_jobs=1_000,
    memory_jobs=3_000,
    replay_tickets=200,
)


def _timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _median_time(function: Callable[[], object], repeats: int, warm_up: int = 2) -> float:
    for _ in range(warm_up):
        function()
    return statistics.median(_timed(function) for _ in range(repeats))


# --- 1. lifecycle throughput ------------------------------------------------------------------------------


def lifecycle_throughput(sizes: Sizes, folder: Path) -> tuple[Result, Desk]:
    desk = sqlite_desk(folder, "lifecycle.sqlite")
    memory = InMemory()
    memory.lifecycle()
    first = persisted_lifecycle(desk)  # warm: the version's specs parsed, caches filled
    view = queries.ticket_view(desk, first)
    if view.status != "closed" or view.priority != "High":
        raise AssertionError(f"the persisted lifecycle ended {view.status}, {view.priority}")
    memory_rates, persisted_rates = [], []
    for _ in range(sizes.rounds):  # interleaved: a noisy neighbour slows both sides alike
        memory_rates.append(
            sizes.memory_batch / _timed(lambda: [memory.lifecycle() for _ in range(sizes.memory_batch)])
        )
        persisted_rates.append(
            sizes.persisted_batch / _timed(lambda: [persisted_lifecycle(desk) for _ in range(sizes.persisted_batch)])
        )
    value, baseline = statistics.median(persisted_rates), statistics.median(memory_rates)
    ratio = value / baseline
    serializer = _serializer_time(desk, sizes.persisted_batch)
    return Result(
        "lifecycle_throughput",
        "1. Lifecycle throughput (persisted / in memory)",
        value,
        baseline,
        ratio,
        ">= 0.5",
        ratio >= 0.5,
        "lifecycles/s",
        {
            "commands_per_lifecycle": COMMANDS_PER_LIFECYCLE,
            "persisted_ms_per_command": 1000 / value / COMMANDS_PER_LIFECYCLE,
            "in_memory_ms_per_lifecycle": 1000 / baseline,
            "rounds": sizes.rounds,
            "round_ratios": [round(p / m, 4) for p, m in zip(persisted_rates, memory_rates, strict=True)],
            # SpiffWorkflow's serializer alone, per lifecycle: writing the state after each command
            # and reading it before each but the first. With a store that cost nothing else, the
            # ratio could be at most in_memory / (in_memory + serializer).
            "serialize_ms_per_lifecycle": serializer["dumps"] * 1000,
            "deserialize_ms_per_lifecycle": serializer["loads"] * 1000,
            "ceiling_with_a_free_store": (1 / baseline) / (1 / baseline + serializer["dumps"] + serializer["loads"]),
        },
    ), desk


def _serializer_time(desk: Desk, lifecycles: int) -> dict[str, float]:
    """Seconds per lifecycle in ``ProcessEngine.dumps`` and ``loads``, over a batch of its own."""
    engine, spent = desk.process_engine, {"dumps": 0.0, "loads": 0.0}

    def timing(name: str, function: Callable) -> Callable:
        def timed(*args):
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                spent[name] += time.perf_counter() - start

        return timed

    engine.dumps, engine.loads = timing("dumps", engine.dumps), timing("loads", engine.loads)
    try:
        for _ in range(lifecycles):
            persisted_lifecycle(desk)
    finally:
        del engine.dumps, engine.loads  # the methods again
    return {name: seconds / lifecycles for name, seconds in spent.items()}


# --- 2. cost with history -----------------------------------------------------------------------------------

LONG_HISTORY = 200


def _event_count(desk: Desk, reference: str) -> int:
    with desk.db.reading() as session:
        return session.scalar(
            select(func.count()).select_from(HistoryEvent).join(Ticket).where(Ticket.reference == reference)
        )


def _pad_history(desk: Desk, reference: str, events: int) -> None:
    """Claims and releases of the open task (events only: the instance is not touched)."""
    task = task_id(desk, reference, "Task_triage")
    count = _event_count(desk, reference)
    while count < events:
        commands.claim_task(desk, commands.ClaimTask(task), "alice")
        count += 1
        if count < events:
            commands.release_task(desk, commands.ReleaseTask(task), "alice")
            count += 1


def _state_size(desk: Desk, reference: str) -> int:
    with desk.db.reading() as session:
        return len(session.scalar(select(Ticket.state).where(Ticket.reference == reference)))


def history_cost(sizes: Sizes, folder: Path) -> Result:
    desk = sqlite_desk(folder, "history.sqlite")
    clock.set(MONDAY_10AM)
    short, long = [], []
    for _ in range(sizes.history_pairs + 2):
        short.append(log_high_call(desk))
        long.append(log_high_call(desk))
        _pad_history(desk, long[-1], LONG_HISTORY)
    short_events, long_events = _event_count(desk, short[0]), _event_count(desk, long[0])
    short_state, long_state = _state_size(desk, short[0]), _state_size(desk, long[0])
    triage = STEPS[0]
    clock.advance(triage.after)
    short_times, long_times = [], []
    for n, (a, b) in enumerate(zip(short, long, strict=True)):
        pair = [(short_times, a), (long_times, b)]
        for times, reference in pair if n % 2 else pair[::-1]:  # alternate which goes first
            task = task_id(desk, reference, triage.name)
            triage_task = commands.CompleteTask(task, triage.data)
            times.append(_timed(lambda: commands.complete_task(desk, triage_task, triage.actor)))  # noqa: B023
    short_times, long_times = short_times[2:], long_times[2:]  # the first two of each warm up
    value, baseline = statistics.median(long_times), statistics.median(short_times)
    ratio = value / baseline
    return Result(
        "history_cost",
        f"2. Task completion, {long_events} vs {short_events} history events",
        value * 1000,
        baseline * 1000,
        ratio,
        "<= 1.5",
        ratio <= 1.5,
        "ms",
        {
            "long_history_events": long_events,
            "short_history_events": short_events,
            "state_chars_long": long_state,
            "state_chars_short": short_state,
            "completions_each": len(long_times),
        },
    )


# --- 3. scale of the store ----------------------------------------------------------------------------------

SEED_STAGES = (
    "logged",
    "logged",
    "logged",
    "triaged",
    "triaged",
    "triaged",
    "second_line",
    "second_line",
    "second_line",
    "resolved",
    "resolved",
    "resolved",
    "closed",
    "closed",
    "closed",
    "closed",
    "closed",
    "closed",
    "closed",
    "closed",
)  # of 20: 15 % at each open stage, 40 % closed
SEED_SPAN = timedelta(days=28)


def _seed_population(desk: Desk, count: int) -> list[int]:
    """``count`` calls through the engine over four weeks, stopped at each stage of the charter."""
    start = MONDAY_10AM - SEED_SPAN
    ids = []
    for n in range(count):
        clock.set(start + SEED_SPAN * n / count)
        reference = log_high_call(desk)
        stage = SEED_STAGES[n % len(SEED_STAGES)]
        priority = ("High", "Medium", "Low")[n % 3]
        steps = {"logged": 0, "triaged": 1, "second_line": 2, "resolved": 3, "closed": 4}[stage]
        for number, step in enumerate(STEPS[:steps]):
            if number == 0:  # the suggestion depends on when the campaign is: say why, whatever it was
                step = type(step)(
                    step.kind, step.name, {"priority": priority, "override_reason": "bench mix"}, step.actor, step.after
                )
            run_step(desk, reference, step)
        with desk.db.reading() as session:
            ids.append(session.scalar(select(Ticket.id).where(Ticket.reference == reference)))
    return ids


def _store_queries(desk: Desk, repeats: int) -> dict[str, float]:
    report_start = (MONDAY_10AM - SEED_SPAN - timedelta(days=1)).date()
    report_end = MONDAY_10AM.date()

    def due_jobs() -> tuple[float, float]:
        """The worker's two questions each pass: lease the due jobs, and when is the next one due."""
        start = time.perf_counter()
        leased = jobs.acquire(desk, "bench", limit=jobs.BATCH)
        leased_at = time.perf_counter()
        jobs.next_due(desk)
        elapsed = (leased_at - start, time.perf_counter() - leased_at)
        if not leased:
            raise AssertionError("no due job in the store to lease")
        jobs.release(desk, "bench", leased)
        return elapsed

    def report() -> None:
        made = reports.sla_report(desk, period="week", start=report_start, end=report_end)
        if not sum(line.total.with_outcome for line in made.lines):
            raise AssertionError("the report found no clock with an outcome")

    for _ in range(2):
        due_jobs()
    passes = [due_jobs() for _ in range(repeats)]
    return {
        "inbox": _median_time(lambda: queries.open_tasks(desk, ["first_line"], limit=25), repeats),
        "inbox_count": _median_time(lambda: queries.count_open_tasks(desk, ["first_line"]), repeats),
        "acquire": statistics.median(lease for lease, _ in passes),
        "next_due": statistics.median(nap for _, nap in passes),
        "report": _median_time(report, repeats, warm_up=1),  # as many as the others: the small side is noisy
    }


def _working_clone(desk: Desk, last_seed: int) -> bool:
    """A clone is a ticket like any other: complete its open first-line task, check its hash chain."""
    with desk.db.reading() as session:
        row = session.execute(
            select(WorkTask.id, Ticket.reference, Ticket.id)
            .join(Ticket)
            .where(WorkTask.element_id == "Task_first_level_response", Ticket.id > last_seed)
            .order_by(Ticket.id.desc())
            .limit(1)
        ).first()
    task, reference, ticket_id = row
    commands.complete_task(desk, commands.CompleteTask(task, STEPS[1].data), "alice")
    with desk.db.reading() as session:
        broken = history.first_broken_link(history.events_of(session, ticket_id))
    return broken is None and queries.ticket_view(desk, reference).status == "open"


def _every_tenth() -> Callable[[int, int], None]:
    said = [0]

    def progress(done: int, total: int) -> None:
        if done * 10 // total > said[0]:
            said[0] = done * 10 // total
            log.info("cloned %s of %s tickets", f"{done:,}", f"{total:,}")

    return progress


def store_scale(sizes: Sizes, folder: Path) -> list[Result]:
    desk = sqlite_desk(folder, "store.sqlite")
    seed_ids: list[int] = []
    seeded_in = _timed(lambda: seed_ids.extend(_seed_population(desk, sizes.seeds)))
    with desk.db.engine.connect() as connection:
        seeds = read_seeds(connection, seed_ids)
    cloner = Cloner(desk.db.write_engine, seeds)
    cloner.clone(sizes.small_store - sizes.seeds)
    clock.set(MONDAY_10AM)
    small = _store_queries(desk, sizes.query_repeats)
    cloned_in = _timed(lambda: cloner.clone(sizes.large_store - sizes.small_store, progress=_every_tenth()))
    clock.set(MONDAY_10AM)
    large = _store_queries(desk, sizes.query_repeats)
    with desk.db.reading() as session:
        counts = {
            "tickets": session.scalar(select(func.count()).select_from(Ticket)),
            "open_tasks": session.scalar(select(func.count()).select_from(WorkTask)),
            "pending_jobs": session.scalar(select(func.count()).select_from(Job)),
            "history_events": session.scalar(select(func.count()).select_from(HistoryEvent)),
        }
    clones_work = _working_clone(desk, max(seed_ids))
    store_bytes = sum(path.stat().st_size for path in folder.glob("store.sqlite*"))
    growth = sizes.large_store / sizes.small_store
    common = {
        "small_store": sizes.small_store,
        "large_store": sizes.large_store,
        **counts,
        "store_mb": store_bytes / 1e6,
        "seeds_through_engine": sizes.seeds,
        "seeding_s": seeded_in,
        "cloning_s": cloned_in,
        "clones_per_s": (sizes.large_store - sizes.small_store) / cloned_in,
        "a_clone_completes_a_task_and_its_chain_holds": clones_work,
    }
    desk.close()
    n_large, n_small = f"{sizes.large_store:,}", f"{sizes.small_store:,}"
    inbox_ratio = large["inbox"] / small["inbox"]
    for figures in (small, large):
        figures["due_jobs"] = figures["acquire"] + figures["next_due"]
    due_ratio = large["due_jobs"] / small["due_jobs"]
    report_ratio = large["report"] / small["report"]
    return [
        Result(
            "store_scale_inbox",
            f"3a. Inbox query, {n_large} vs {n_small} tickets",
            large["inbox"] * 1000,
            small["inbox"] * 1000,
            inbox_ratio,
            "<= 2",
            inbox_ratio <= 2,
            "ms",
            {
                **common,
                "count_open_tasks_ms_large": large["inbox_count"] * 1000,
                "count_open_tasks_ms_small": small["inbox_count"] * 1000,
            },
        ),
        Result(
            "store_scale_due_jobs",
            f"3b. Due-job query, {n_large} vs {n_small} tickets",
            large["due_jobs"] * 1000,
            small["due_jobs"] * 1000,
            due_ratio,
            "<= 2",
            due_ratio <= 2,
            "ms",
            {
                "what": "jobs.acquire (lease 10 due jobs) + jobs.next_due, as each pass of the worker does",
                "acquire_ms_large": large["acquire"] * 1000,
                "acquire_ms_small": small["acquire"] * 1000,
                "next_due_ms_large": large["next_due"] * 1000,
                "next_due_ms_small": small["next_due"] * 1000,
            },
        ),
        Result(
            "store_scale_report",
            f"3c. SLA report, {n_large} vs {n_small} tickets",
            large["report"] * 1000,
            small["report"] * 1000,
            report_ratio,
            f"<= {growth:g} (linear)",
            report_ratio <= growth,
            "ms",
            {"period": "week", "weeks": 5},
        ),
    ]


# --- 4. timer punctuality -------------------------------------------------------------------------------


def _fired(desk: Desk, after: int = 0) -> list[tuple[datetime, datetime]]:
    """(due, fired) of every timer_fired event of a ticket with an id above ``after``."""
    with desk.db.reading() as session:
        rows = session.execute(
            select(HistoryEvent.at, HistoryEvent.payload).where(
                HistoryEvent.kind == "timer_fired", HistoryEvent.ticket_id > after
            )
        ).all()
    return [(datetime.fromisoformat(json.loads(payload)["due_at"]), at) for at, payload in rows]


def _pending_due(desk: Desk) -> int:
    now = datetime.now(UTC)
    with desk.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Job).where(Job.status == jobs.PENDING, Job.due_at < now))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timer_punctuality(sizes: Sizes, folder: Path) -> Result:
    desk = sqlite_desk(folder, "timers.sqlite", TIMER_DIAGRAMS)
    # How long logging a call takes here, to put the first due moment after the last call is logged.
    clock.set(datetime.now(UTC) - timedelta(days=1))
    per_call = _timed(lambda: [log_high_call(desk) for _ in range(20)]) / 20
    with desk.db.transaction() as session:  # their timers are long due: not part of the measure
        session.execute(delete(Job))
    first_due = datetime.now(UTC) + timedelta(seconds=per_call * sizes.timers * 1.2 + 10)
    spacing = timedelta(seconds=sizes.timer_window / sizes.timers)
    with desk.db.reading() as session:
        after = session.scalar(select(func.max(Ticket.id)))
    for n in range(sizes.timers):  # the test diagram's timer is one hour after the call is logged
        clock.set(first_due + spacing * n - timedelta(hours=1))
        log_high_call(desk)
    clock.use_system_time()
    logged_by = datetime.now(UTC)
    with Workers(desk.db.url, folder, 1, "timer-worker") as workers:
        workers.wait_until_started(settle=0.5)
        started_by = datetime.now(UTC)
        deadline = time.monotonic() + (first_due - datetime.now(UTC)).total_seconds() + sizes.timer_window + 120
        while len(_fired(desk, after)) < sizes.timers and time.monotonic() < deadline:
            time.sleep(0.5)
    fired = _fired(desk, after)
    delays = [(at - due).total_seconds() for due, at in fired]
    if len(delays) < sizes.timers:
        raise AssertionError(f"only {len(delays)} of {sizes.timers} timers fired")
    p99, median = _percentile(delays, 0.99), statistics.median(delays)
    return Result(
        "timer_punctuality",
        f"4. Timer delay, p99 of {sizes.timers:,} (s)",
        p99,
        1.0,
        p99,
        "< 1 (p99 under 1 s)",
        p99 < 1.0,
        "s",
        {
            "median_s": median,
            "p99_s": p99,
            "max_s": max(delays),
            "min_s": min(delays),
            "timers": len(delays),
            "window_s": sizes.timer_window,
            "idle_before_first_due_s": (first_due - max(logged_by, started_by)).total_seconds(),
            "store": "SQLite",
            "worker": "python -m supportdesk.cli worker (one process, system clock)",
        },
    )


# --- 5. scale-out on PostgreSQL ------------------------------------------------------------------------------


def _timer_seed(desk: Desk) -> list:
    """One call on the timer diagram whose timer is due now, read as a seed (its own job taken away)."""
    clock.set(datetime.now(UTC) - timedelta(hours=2))
    reference = log_high_call(desk)
    clock.use_system_time()
    with desk.db.write_engine.begin() as connection:
        ticket_id = connection.scalar(select(Ticket.id).where(Ticket.reference == reference))
        seeds = read_seeds(connection, [ticket_id])
        drop_jobs(connection, [ticket_id])
    return seeds


def _fire_clones(desk: Desk, seeds: list, count: int, workers: Workers, timeout: float) -> list[datetime]:
    """Write ``count`` due clones at once while the workers idle, wake them, wait; the firing moments."""
    with desk.db.reading() as session:
        after = session.scalar(select(func.max(Ticket.id)))
    Cloner(desk.db.write_engine, seeds, chunk=count).clone(count)
    jobs.wake_workers(desk)
    deadline = time.monotonic() + timeout
    while _pending_due(desk) and time.monotonic() < deadline:
        for process, worker_log in zip(workers.processes, workers.logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited: {worker_log.read_text()[-2000:]}")
        time.sleep(0.2)
    fired = sorted(at for _, at in _fired(desk, after))
    if len(fired) != count:
        raise AssertionError(f"{len(fired)} of {count} jobs fired")
    return fired


def _rate(moments: list[datetime]) -> float:
    return (len(moments) - 1) / (moments[-1] - moments[0]).total_seconds()


def scale_out(sizes: Sizes, folder: Path) -> Result:
    problem = postgres_available()
    if problem:
        raise RuntimeError(f"no PostgreSQL server: {problem}")
    load = round(os.getloadavg()[0], 2)  # other work on the machine competes with the workers
    url = create_database()
    desk = None
    try:
        desk = open_desk(url, TIMER_DIAGRAMS)
        seeds = _timer_seed(desk)
        rates, busy, machine = {}, {}, {}
        for count in (1, 2):
            with Workers(url, folder, count, f"pg-worker-x{count}") as workers:
                workers.wait_until_started()
                cpu, whole = [workers.cpu_seconds(n) for n in range(count)], machine_cpu()
                fired = _fire_clones(desk, seeds, sizes.scale_out_jobs, workers, timeout=1800)
                wall = (fired[-1] - fired[0]).total_seconds()
                busy[count] = [round((workers.cpu_seconds(n) - cpu[n]) / wall, 2) for n in range(count)]
                machine[count] = round(busy_share(whole, machine_cpu()), 2)
                rates[count] = _rate(fired)
    finally:
        if desk is not None:
            desk.close()
        drop_database(url)
    ratio = rates[2] / rates[1]
    return Result(
        "scale_out",
        "5. PostgreSQL, due jobs/s with 2 workers vs 1",
        rates[2],
        rates[1],
        ratio,
        ">= 1.6",
        ratio >= 1.6,
        "jobs/s",
        {
            "jobs_per_run": sizes.scale_out_jobs,
            "cpus": os.cpu_count(),
            "worker_cpu_share_1": busy[1],
            "worker_cpu_share_2": busy[2],
            "machine_cpu_busy_1": machine[1],
            "machine_cpu_busy_2": machine[2],
            "load_average_before": load,
            "server": "PostgreSQL on this machine",
        },
    )


# --- 6. replay -----------------------------------------------------------------------------------------------


def replay_rate(lifecycle: Result, desk: Desk, sizes: Sizes) -> Result:
    """``audit replay --all`` over item 1's store, topped up with more of its lifecycles to the
    size of a small desk's store, as the CLI runs it (processes by ``audit.default_jobs``),
    every ticket replayed and compared; and in one process too."""
    for _ in range(sizes.replay_tickets - len(audit.references(desk))):
        persisted_lifecycle(desk)
    references = audit.references(desk)
    jobs = audit.default_jobs(len(references))
    rates = {}
    for processes in sorted({jobs, 1}, reverse=True):
        results: list = []
        elapsed = _timed(lambda n=processes, out=results: out.extend(audit.replay_all(desk, references, jobs=n)))
        different = [r.reference for r in results if not r.same]
        if different:
            raise AssertionError(f"replays differ: {different[:5]}")
        rates[processes] = len(references) / elapsed
    value = rates[jobs]
    ratio = value / lifecycle.value
    return Result(
        "replay",
        "6. Replay, tickets verified/s vs lifecycles/s",
        value,
        lifecycle.value,
        ratio,
        ">= 1",
        ratio >= 1,
        "tickets/s",
        {
            "tickets": len(references),
            "processes": jobs,
            "ms_per_ticket": 1000 / value,
            "one_process_tickets_per_s": rates[1],
            "one_process_ratio": rates[1] / lifecycle.value,
            "one_process": "a replay runs the ticket's commands again on a scratch store, then reads "
            "and compares both histories: about the lifecycle's own rate",
        },
    )


# --- 7. memory -----------------------------------------------------------------------------------------------


def memory(sizes: Sizes, folder: Path) -> Result:
    desk = sqlite_desk(folder, "memory.sqlite", TIMER_DIAGRAMS)
    seeds = _timer_seed(desk)
    with desk.db.reading() as session:
        after = session.scalar(select(func.max(Ticket.id)))
    with Workers(desk.db.url, folder, 1, "memory-worker") as workers:
        workers.wait_until_started()
        Cloner(desk.db.write_engine, seeds, chunk=sizes.memory_jobs).clone(sizes.memory_jobs)
        early = None
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            done = sizes.memory_jobs - _pending_due(desk)
            if early is None and done >= sizes.memory_first:
                early, early_done = workers.peak_rss_mb(), done
            if done >= sizes.memory_jobs:
                break
            time.sleep(0.02 if early is None else 0.5)  # look often only until the first reading
        late = workers.peak_rss_mb()
    fired = len(_fired(desk, after))
    if fired != sizes.memory_jobs:
        raise AssertionError(f"{fired} of {sizes.memory_jobs} jobs fired")
    growth = late - early
    return Result(
        "memory",
        f"7. Worker peak RSS after {sizes.memory_jobs:,} jobs vs {sizes.memory_first}",
        late,
        early,
        late / early,
        "value - baseline <= 20 MB",
        growth <= 20,
        "MB",
        {"growth_mb": growth, "jobs_when_first_read": early_done, "store": "SQLite"},
    )


# --- 8. search and the filtered calls list ----------------------------------------------------------------

REPLY_WORD = "flibbertigibbet"  # in one customer's reply, and nowhere else
ROSSI = replace(HIGH_CALL, contact_name="Mario Rossi", contact_email="mario.rossi@globex.example", account="Globex")
# Triaged High (the campaign is days away: the suggestion differs, so a reason) and passed to second line.
_TRIAGED_AND_ANSWERED = (replace(STEPS[0], data={"priority": "High", "override_reason": "bench mix"}), STEPS[1])


def _search_seeds(desk: Desk, count: int) -> tuple[list[int], str]:
    """Item 3's seeds, and beside them calls the lists look for: Delayed ones (waiting on the customer),
    three claimed by sam (his open work), and Mario Rossi's, whose reply by mail holds ``REPLY_WORD``."""
    ids = _seed_population(desk, count)
    start = MONDAY_10AM - timedelta(days=3)
    for n in range(max(count // 10, 5)):
        clock.set(start + timedelta(minutes=37 * n))
        reference = log_high_call(desk)
        for step in _TRIAGED_AND_ANSWERED:
            run_step(desk, reference, step)
        if n < 3:
            commands.claim_task(desk, commands.ClaimTask(task_id(desk, reference, "Task_second_line")), "sam")
        else:
            commands.deliver_message(
                desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "customer_absent"}), "sam"
            )
        ids.append(_ticket_id(desk, reference))
    clock.set(start + timedelta(days=1))
    rossi = commands.log_call(desk, ROSSI, "alice")
    for step in _TRIAGED_AND_ANSWERED:
        run_step(desk, rossi, step)
    receipt = inbound.receive(desk, _reply(rossi), source="bench", envelope_from=ROSSI.contact_email)
    if receipt.reference != rossi:
        raise AssertionError(f"the reply was not added to {rossi}: {receipt}")
    return [*ids, _ticket_id(desk, rossi)], rossi


def _ticket_id(desk: Desk, reference: str) -> int:
    with desk.db.reading() as session:
        return session.scalar(select(Ticket.id).where(Ticket.reference == reference))


def _reply(reference: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = f"Mario Rossi <{ROSSI.contact_email}>", "support@supportdesk.local"
    message["Subject"], message["Message-ID"] = f"Re: [{reference}] Your call", make_msgid(domain="globex.example")
    message.set_content(f"The {REPLY_WORD} setting was off; the import runs now.\n")
    return message.as_bytes()


def _search_probes(desk: Desk, rossi: str, wording: Wording, first_dressed: int) -> dict[str, Callable[[], int]]:
    """The requests timed: each lists a page (50) and returns how many it found on it."""

    def listing(filters: TicketFilter, *, pages: int = 1) -> Callable[[], int]:
        def run() -> int:
            """The rows of the last page reached (fewer pages when the list ends sooner)."""
            page = queries.find_tickets(desk, filters, viewer="sam", limit=50)
            for _ in range(pages - 1):
                if page.next_cursor is None:
                    break
                page = queries.find_tickets(desk, filters, viewer="sam", cursor=page.next_cursor, limit=50)
            return len(page.rows)

        return run

    surname = wording.contact(first_dressed)[0].split()[1]
    return {
        "search_reply_word": listing(TicketFilter(search=REPLY_WORD)),
        "search_contact_name": listing(TicketFilter(search="Mario Rossi")),
        "search_surname": listing(TicketFilter(search=surname)),
        "search_reference": listing(TicketFilter(search=rossi)),
        "list_all_newest": listing(TicketFilter()),
        "list_open_high_by_deadline": listing(TicketFilter(status="open", priority="High", sort="deadline")),
        "list_open_high_by_deadline_page_3": listing(
            TicketFilter(status="open", priority="High", sort="deadline"), pages=3
        ),
        "list_my_open_work": listing(TicketFilter(claimed_by="me", sort="deadline")),
        "list_waiting_on_customer": listing(TicketFilter(waiting_on_customer=True, sort="changes")),
        "list_breached_today": listing(TicketFilter(breached_on=MONDAY_10AM.date(), sort="deadline")),
        "list_at_risk": listing(TicketFilter(at_risk=True, sort="deadline")),
        "list_one_account": listing(TicketFilter(account=wording.account(first_dressed + 100))),  # a whole block
        # Reported, not in the target: a word in about one ticket in twelve.
        "common_word": listing(TicketFilter(search=wording.words[0])),
    }


SEARCHES = ("search_reply_word", "search_contact_name", "search_surname", "search_reference")
LISTS = (
    "list_all_newest",
    "list_open_high_by_deadline",
    "list_open_high_by_deadline_page_3",
    "list_my_open_work",
    "list_waiting_on_customer",
    "list_breached_today",
    "list_at_risk",
    "list_one_account",
)


def _time_probes(probes: dict[str, Callable[[], int]], repeats: int) -> tuple[dict[str, float], dict[str, int]]:
    clock.set(MONDAY_10AM)
    found = {name: probe() for name, probe in probes.items()}
    return {name: _median_time(probe, repeats) for name, probe in probes.items()}, found


def search_scale(sizes: Sizes, folder: Path) -> list[Result]:
    desk = sqlite_desk(folder, "search.sqlite")
    started = time.perf_counter()
    seed_ids, rossi = _search_seeds(desk, sizes.seeds)
    seeded_in = time.perf_counter() - started
    with desk.db.engine.connect() as connection:
        seeds = read_seeds(connection, seed_ids[:-1])  # Mario Rossi's call is the only one of its kind
    wording = Wording(reserved=(REPLY_WORD, "mario", "rossi", "globex"))
    cloner = Cloner(desk.db.write_engine, seeds)
    first_dressed = max(seed_ids) + 1

    def grow(count: int) -> float:
        with desk.db.reading() as session:
            after = session.scalar(select(func.max(Ticket.id)))
        cloner.clone(count, progress=_every_tenth() if count > 10_000 else None)
        with desk.db.reading() as session:
            new = session.scalars(select(Ticket.id).where(Ticket.id > after).order_by(Ticket.id)).all()
        return _timed(lambda: wording.dress(desk.db.write_engine, new))

    dressed_small = grow(sizes.small_store - len(seed_ids))
    probes = _search_probes(desk, rossi, wording, first_dressed)
    small, found_small = _time_probes(probes, sizes.query_repeats)
    dressed_large = grow(sizes.large_store - sizes.small_store)
    large, found_large = _time_probes(probes, sizes.query_repeats)
    if (found_large["search_reply_word"], found_large["search_contact_name"]) != (1, 1):
        raise AssertionError(f"the reply's word and Mario Rossi should find one call each: {found_large}")
    store_bytes = sum(path.stat().st_size for path in folder.glob("search.sqlite*"))
    desk.close()
    n_large, n_small = f"{sizes.large_store:,}", f"{sizes.small_store:,}"
    details = {
        "small_store": sizes.small_store,
        "large_store": sizes.large_store,
        "store_mb": store_bytes / 1e6,
        "seeding_s": seeded_in,
        "indexed_per_s_while_dressing": (sizes.large_store - sizes.small_store) / dressed_large,
        "dressing_small_s": dressed_small,
        **{f"{name}_ms_small": ms * 1000 for name, ms in small.items()},
        **{f"{name}_ms_large": ms * 1000 for name, ms in large.items()},
        **{f"{name}_found_small": count for name, count in found_small.items()},
        **{f"{name}_found_large": count for name, count in found_large.items()},
    }
    results = []
    for key, title, names in (
        ("search_scale_search", f"8a. Search, {n_large} vs {n_small} tickets", SEARCHES),
        ("search_scale_list", f"8b. Filtered calls list, {n_large} vs {n_small} tickets", LISTS),
    ):
        value, baseline = sum(large[name] for name in names), sum(small[name] for name in names)
        ratio = value / baseline
        what = {"what": f"the sum of the medians of: {', '.join(names)} (a page of 50 each)"}
        results.append(
            Result(key, title, value * 1000, baseline * 1000, ratio, "<= 2", ratio <= 2, "ms", {**what, **details})
        )
    return results
