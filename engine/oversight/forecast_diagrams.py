"""The forecast's runs on the real diagrams: the rest of the period played by the simulator on scratch stores.

``PeriodPlay`` makes one scratch SQLite store (``template``) holding the period's open calls as they stood at
``as_of``: each call's recorded inputs dated up to then given again through the engine's commands
(``audit.carry_into``), so its tasks, timers and SLA clocks are where they were. Each run then:

1. makes the run's own store the template again (SQLite's backup: the runs never see each other); the
   runs are shared out among processes when there are many (each process with its own store), and run
   ``n`` draws from ``Random(f"{seed}/{n}")`` wherever it is played;
2. draws its people from the history (``forecast_learning.Learned.behaviour``: a bootstrap of the working
   time each task stays open and of each path's chance), and its new calls, Poisson in each half hour at
   the history's rate for that weekday and hour (the volume itself drawn from its Gamma posterior), each a
   call of the window drawn at random;
3. lets the simulator play the open calls on and the new calls through the real diagrams to the period's
   end, on its own thread's clock (``simulation.play``), firing timers as a worker would;
4. reads which clocks were decided by the end, met or breached, as the C31 report counts them.

A call the diagrams cannot carry (migrated between versions, or an input the scratch store refuses) is
not lost: its open clocks are played by the learned model (``forecast_model.play_open``) and the forecast
says how many were. Levers change the run's people (``behaviour_with``, below). Every draw of a
run comes from ``Random(f"{seed}/{run}")``, so a lever is compared with the forecast on the same draws.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from random import Random

from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.oversight import audit, forecast_model, simulation
from supportdesk.engine.oversight.forecast_history import History, decided_clocks
from supportdesk.engine.oversight.forecast_learning import Learned, PastCall
from supportdesk.engine.process.spiff import HandlerRegistry, LiveInstances
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import HistoryEvent, ReferenceCounter, Ticket
from supportdesk.engine.tickets.calls import CallDetails
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock, local

log = logging.getLogger(__name__)
MIN_RUNS = 5  # a time budget never cuts the runs below this
SATURDAY, SUNDAY = 5, 6


@dataclass(frozen=True)
class Carried:
    reference: str
    passed_on: bool  # passed to second line already
    advised: bool  # third line has answered second line
    delayed_since: datetime | None  # Delayed at as_of, since then
    delay_reason: str | None


@dataclass(frozen=True)
class Setup:
    """What every run of one forecast starts from (sent to each process that plays runs)."""

    history: History
    learned: Learned
    carried: tuple[Carried, ...]
    not_carried: tuple[str, ...]
    period_start: datetime
    end: datetime
    template_path: Path


class PeriodPlay:
    """The scratch stores of one forecast: the template of the open calls, and the stores the runs play on
    (one in this process, or one in each of ``jobs`` processes)."""

    def __init__(
        self,
        desk: Desk,
        history: History,
        learned: Learned,
        *,
        period_start: datetime,
        end: datetime,
        jobs: int = 1,
    ) -> None:
        self.desk, self.history, self.jobs = desk, history, jobs
        self.as_of = history.as_of
        self.span = forecast_model.horizon(desk.calendar, self.as_of, end)
        self._folder = tempfile.TemporaryDirectory(prefix="supportdesk-forecast-")
        self.template_path = Path(self._folder.name) / "template.sqlite"
        self.carried: list[Carried] = []
        self.not_carried: list[str] = []
        self._make_template()
        self.setup = Setup(
            history, learned, tuple(self.carried), tuple(self.not_carried), period_start, end, self.template_path
        )
        self._player: _Player | None = None
        self._pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._player is not None:
            self._player.close()
        self._folder.cleanup()

    def __enter__(self) -> PeriodPlay:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def open_template(self) -> Desk:
        """The open calls as carried, on a desk of their own (to look at; close it after)."""
        return scratch_desk(self.desk, self.template_path)

    # -- the template

    def _make_template(self) -> None:
        """Carry every open call; a call that cannot be carried whole is left to the model, and the template
        made again without it (a half-carried call would play wrongly): rare, so simple."""
        references = sorted({c.reference for c in self.history.open_clocks}, key=self._version_of)
        while True:
            self.template_path.unlink(missing_ok=True)
            template = scratch_desk(self.desk, self.template_path)
            try:
                template.upgrade_schema()
                failed = self._carry(template, [r for r in references if r not in self.not_carried])
                if failed is None:
                    audit.deploy_active_version(self.desk, template, self.as_of)
                    _counters_as_in(self.desk, template)
                    return
                self.not_carried.append(failed)
            finally:
                template.close()

    def _carry(self, template: Desk, references: list[str]) -> str | None:
        """Carry ``references`` in order; the first that fails, if one does."""
        self.carried = []
        for reference in references:
            try:
                audit.carry_into(self.desk, template, reference, self.as_of)
            except Exception:  # the model plays what the diagrams cannot carry
                log.info("forecast: %s could not be carried to the scratch store", reference, exc_info=True)
                return reference
            self.carried.append(_where_it_stands(template, reference))
        return None

    def _version_of(self, reference: str) -> int:
        with self.desk.db.reading() as session:
            return session.scalar(select(Ticket.version_id).where(Ticket.reference == reference)) or 0

    # -- the runs

    def play(
        self,
        *,
        runs: int,
        seed: int,
        lever: forecast_model.Lever | None = None,
        deadline: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[forecast_model.Tally]:
        """Up to ``runs`` runs (fewer when ``deadline``, a ``time.monotonic()`` moment, passes; never fewer than
        ``MIN_RUNS``); per run, in the order of the runs, the period's clocks as they end. ``progress(done,
        runs)`` after each. Run ``n`` draws from ``Random(f"{seed}/{n}")`` wherever it is played, so the same
        seed gives the same forecast in one process or several."""
        if self.jobs > 1 and runs > 1:
            return self._play_in_processes(runs, seed, lever, deadline, progress)
        if self._player is None:
            self._player = _Player(self.desk, self.setup, Path(self._folder.name) / "run.sqlite")
        tallies = []
        for run in range(runs):
            if deadline is not None and run >= MIN_RUNS and time.monotonic() > deadline:
                break
            tallies.append(self._player.one_run(seed, run, lever))
            if progress:
                progress(run + 1, runs)
        return tallies

    def _play_in_processes(self, runs, seed, lever, deadline, progress) -> list[forecast_model.Tally]:
        if self._pool is None:
            # Spawned, not forked: a child must not inherit the parent's open store connections or threads.
            self._pool = ProcessPoolExecutor(
                self.jobs,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_player,
                initargs=(self.desk.settings, self.desk.registry, self.desk.calendar, self.desk.sla_policy, self.setup),
            )
        futures = {self._pool.submit(_run_here, seed, run, lever): run for run in range(runs)}
        done: dict[int, forecast_model.Tally] = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if progress:
                progress(len(done), runs)
            if deadline is not None and len(done) >= MIN_RUNS and time.monotonic() > deadline:
                for waiting in futures:
                    waiting.cancel()
                break
        return [done[run] for run in sorted(done)]


def scratch_desk(desk: Desk, path: Path) -> Desk:
    """A desk on a scratch SQLite store at ``path``, with ``desk``'s handlers, calendar and policy."""
    settings = replace(
        desk.settings, database_url=f"sqlite:///{path}", smtp_host="", sqlite_synchronous="off"
    )  # thrown away after: no fsync
    scratch = Desk(settings, desk.registry)
    scratch.calendar, scratch.sla_policy = desk.calendar, desk.sla_policy
    return scratch


class _Player:
    """Plays runs on a store of its own, made the template again before each run."""

    def __init__(self, desk: Desk, setup: Setup, run_path: Path):
        self.setup, self.run_path = setup, run_path
        self.history, self.learned = setup.history, setup.learned
        self.as_of, self.end = setup.history.as_of, setup.end
        self.scratch = scratch_desk(desk, run_path)
        self.span = forecast_model.horizon(desk.calendar, self.as_of, setup.end)
        self.pools = forecast_model.Pools(setup.history)

    def close(self) -> None:
        self.scratch.close()

    def one_run(self, seed: int, run: int, lever: forecast_model.Lever | None) -> forecast_model.Tally:
        rng = Random(f"{seed}/{run}")  # noqa: S311  (a seeded simulation)
        self._restore()
        behaviour = self.learned.behaviour(rng)
        if lever is not None:
            behaviour = behaviour_with(lever, behaviour, self.span.hours_a_day)
        new_calls = self._arrivals(rng, behaviour)
        adopted = [
            (c.reference, self._story_of(c, rng, behaviour, number)) for number, c in enumerate(self.setup.carried)
        ]
        with clock.at(self.as_of):
            simulation.play(self.scratch, behaviour, self.end, new_calls, adopted=adopted)
        return self._tally(rng)

    def _restore(self) -> None:
        """The run's store made the template again: by SQLite's backup, which knows the write-ahead log
        (a file copy of a store in WAL mode can miss pages or meet a stale log)."""
        self.scratch.db.dispose()
        with (
            contextlib.closing(sqlite3.connect(self.setup.template_path)) as source,
            contextlib.closing(sqlite3.connect(self.run_path)) as target,
        ):
            source.backup(target)
        self.scratch.process_engine.live = LiveInstances()  # the instances it kept are of the run before
        self.scratch.stored_specs.clear()

    def _arrivals(self, rng: Random, behaviour: simulation.Behaviour) -> list[simulation.Story]:
        """New calls, Poisson in each half hour at the history's rate, each a call of the window drawn again."""
        history, calls = self.history, self.learned.calls
        if not calls:
            return []
        volume = rng.gammavariate(history.window_calls + 0.5, 1 / (history.window_calls + 0.5))
        stories: list[simulation.Story] = []
        for slot, moment in zip(self.span.slots, _slot_starts(self.as_of, len(self.span.slots)), strict=True):
            weekday = arrival_weekday(self.scratch.calendar, moment)
            rate = history.rates.get((weekday, slot.hour), 0.0) * slot.hours * volume
            for _ in range(forecast_model.poisson(rng, rate)):
                arrives = moment + timedelta(seconds=round(rng.random() * slot.hours * 3600))
                stories.append(self._new_story(rng.choice(calls), arrives, len(stories), rng, behaviour))
        return sorted(stories, key=lambda story: story.arrives)

    def _new_story(self, past: PastCall, arrives: datetime, number: int, rng: Random, behaviour) -> simulation.Story:
        closed = not self.scratch.calendar.is_open(arrives)
        story = simulation.draw_story(rng.randrange(2**32), number, arrives, closed, behaviour)
        story.details, story.override = _copied(past, arrives, closed), past.override
        story.path = _weighted_path(story.rng, self.learned.path_shares(past.priority))
        return story

    def _story_of(self, carried: Carried, rng: Random, behaviour, number: int) -> simulation.Story:
        story = simulation.draw_story(rng.randrange(2**32), 10**6 + number, self.as_of, False, behaviour)
        if carried.passed_on and story.path == "first_line":
            story.path = "second_line"  # it is past the first line already
        story.advised, story.delayed_until = carried.advised, None
        if carried.delayed_since is not None and carried.delay_reason in simulation.RESUME_MESSAGES:
            story.delay, story.delayed_until = carried.delay_reason, carried.delayed_since
        elif carried.passed_on:
            story.delay = None  # its chance to go Delayed came after its first response, which is past
        return story

    def _tally(self, rng: Random) -> forecast_model.Tally:
        tally = forecast_model.Tally(self.history)
        open_now = {(c.reference, c.metric): c for c in self.history.open_clocks}
        carried = {c.reference for c in self.setup.carried}
        for clock_ in decided_clocks(self.scratch, self.setup.period_start, self.end + timedelta(seconds=1)):
            if clock_.reference in carried:
                was = open_now.get((clock_.reference, clock_.metric))
                if was is not None:
                    tally.add(clock_.metric, clock_.line, clock_.met, was.tier)
            else:
                tally.add(clock_.metric, clock_.line, clock_.met, None)
        left = set(self.setup.not_carried)
        for open_clock in (c for c in self.history.open_clocks if c.reference in left):
            forecast_model.play_open(open_clock, self.pools, self.span, rng, tally)
        return tally


# --- the processes that play runs ----------------------------------------------------------------------

_process_player: _Player | None = None  # the one player of a run process (see PeriodPlay); None elsewhere


def _start_player(settings: Settings, registry: HandlerRegistry, calendar, policy, setup: Setup) -> None:
    global _process_player
    desk = Desk(settings, registry)
    desk.calendar, desk.sla_policy = calendar, policy  # the parent's, even if not from its files
    run_path = setup.template_path.with_name(f"run-{os.getpid()}.sqlite")
    _process_player = _Player(desk, setup, run_path)


def _run_here(seed: int, run: int, lever: forecast_model.Lever | None) -> forecast_model.Tally:
    if _process_player is None:
        raise RuntimeError("the forecast's run process was not initialised")
    return _process_player.one_run(seed, run, lever)


# --- helpers -------------------------------------------------------------------------------------------


def arrival_weekday(calendar: WorkingCalendar, moment: datetime) -> int:
    """The weekday whose arrival rates ``moment``'s day has (London): its own, but a bank holiday on a
    weekday comes in like a Sunday (the line is closed; only mail arrives)."""
    day = local(moment)
    if day.weekday() < SATURDAY and not calendar.is_working_day(day.date()):
        return SUNDAY
    return day.weekday()


def _slot_starts(as_of: datetime, count: int) -> list[datetime]:
    starts, moment = [], as_of
    for _ in range(count):
        starts.append(moment)
        moment = forecast_model.next_half_hour(moment)
    return starts


def _copied(past: PastCall, arrives: datetime, closed: bool) -> CallDetails:
    channel = "email" if closed else past.details.channel  # out of hours only mail comes in
    campaign = arrives + past.campaign_ahead if past.campaign_ahead is not None else None
    return replace(past.details, channel=channel, campaign_at=campaign)


def _weighted_path(rng: Random, shares: dict[str, float]) -> str:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def _where_it_stands(template: Desk, reference: str) -> Carried:
    with template.db.reading() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == reference))
        events = session.execute(
            select(HistoryEvent.kind, HistoryEvent.at, HistoryEvent.payload)
            .where(HistoryEvent.ticket_id == ticket_id)
            .order_by(HistoryEvent.seq)
        ).all()
    titles = {json.loads(e.payload).get("task") for e in events if e.kind == "task_opened"}
    delayed_since, reason = None, None
    for kind, at, payload in events:
        if kind == "call_delayed":
            delayed_since, reason = at, json.loads(payload).get("reason")
        elif kind == "sla_resumed":
            delayed_since, reason = None, None
    return Carried(
        reference,
        passed_on="Resolve call (second line)" in titles or "Resolve call (third line)" in titles,
        advised=any(e.kind == "task_completed" and '"Advise second line"' in e.payload for e in events),
        delayed_since=delayed_since,
        delay_reason=reason,
    )


def _counters_as_in(desk: Desk, template: Desk) -> None:
    """New calls of a run get references after every reference the real store has handed out."""
    with desk.db.reading() as session:
        counters = {(c.prefix, c.year): c.last_number for c in session.scalars(select(ReferenceCounter))}
    with template.db.transaction() as session:
        for (prefix, year), last in counters.items():
            row = session.get(ReferenceCounter, (prefix, year))
            if row is None:
                session.add(ReferenceCounter(prefix=prefix, year=year, last_number=last))
            else:
                row.last_number = max(row.last_number, last)


# --- a lever, as the simulated people would carry it out -------------------------------------------------

# The simulator's tasks by the tier that does them (the lanes of support_call.bpmn).
TIER_TASKS = {
    "first_line": ("Confirm priority", "First level response"),
    "second_line": ("Resolve call (second line)",),
    "third_line": ("Advise second line", "Resolve call (third line)"),
}


def behaviour_with(
    lever: forecast_model.Lever, behaviour: simulation.Behaviour, hours_a_day: float
) -> simulation.Behaviour:
    """``behaviour`` changed as the lever says: a tier's pick-up delays shortened as its extra hours would
    (capacity up by extra/hours), first responses picked up sooner, or fewer calls set Delayed."""
    if lever.kind == forecast_model.FEWER_DELAYED:
        return replace(behaviour, delayed=behaviour.delayed * (1 - lever.amount))
    if lever.kind == forecast_model.FASTER_FIRST_RESPONSE:  # the first response clock runs through both tasks
        titles, factor = TIER_TASKS["first_line"], 1 - lever.amount
    else:
        titles, factor = TIER_TASKS.get(lever.tier or "", ()), hours_a_day / (hours_a_day + lever.amount)
    pick_up = {title: _scaled(d, factor) if title in titles else d for title, d in behaviour.pick_up.items()}
    by_priority = {
        key: _scaled(d, factor) if key[0] in titles else d for key, d in behaviour.pick_up_by_priority.items()
    }
    return replace(behaviour, pick_up=pick_up, pick_up_by_priority=by_priority)


def _scaled(delay: simulation.Delay | simulation.Sampled, factor: float) -> simulation.Delay | simulation.Sampled:
    if isinstance(delay, simulation.Sampled):
        return simulation.Sampled(tuple(minutes * factor for minutes in delay.minutes))
    return simulation.Delay(
        delay.low * factor,
        delay.mode * factor,
        delay.high * factor,
        delay.late_share,
        (delay.late[0] * factor, delay.late[1] * factor),
    )
