"""A fast model of the rest of a period, learned from decided clocks: the forecast's lever finder and fallback.

The forecast itself runs on the real diagrams (``forecast_diagrams``), a few seconds a run. This model
plays a run in milliseconds, so it serves where hundreds of runs are needed: climbing every lever's ladder
to find the step worth playing on the diagrams (``forecast._levers``), and playing the open clocks of a
call the diagrams could not carry onto the scratch store (``play_open``).

One run:

* the history is resampled (a bootstrap of the decided clocks, and the call volume drawn from its
  Gamma posterior), so a short history gives a wider spread: what the model does not know shows;
* each open clock of the period's calls draws a decided clock of the history with the same metric and
  priority that had run at least as long (its working time so far against its budget), and ends as it did;
* new calls arrive in each half hour up to the period's end, Poisson at the rate of that weekday and
  hour, each of a kind (channel, priority) drawn from the history's mix, and each clock of theirs draws
  a decided clock of that kind;
* a clock counts in the period's figures when it is decided by the period's end (met: stopped in time;
  breached: its budget ran out), as the C31 report would count it then.

Its simplifications, which the diagram runs do not make (why the forecast's figures come from them): a call's path
(second line, third line, Delayed, re-graded) is not drawn step by step but comes with the decided clock
it draws, which carries it; a clock paused now (Delayed) is taken to count on from now; the channel sets
the mix of arrivals, but the decided clocks a call draws are matched on its priority only.

Levers (``Lever``) change the drawn clocks: a tier working more hours a day takes proportionally less
working time for the part of a call its tasks were open; first responses sooner shorten the first
response (and the resolution by as much); fewer calls Delayed redraws a Delayed clock from those that
were not. All draws come from ``Random(f"{seed}/{run}")``: a lever is compared on the same draws.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random

from supportdesk.engine.oversight.forecast_history import ALL, TIERS, ClockStory, History, OpenClock
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, PRIORITIES, RESOLUTION

SLOT = timedelta(minutes=30)
LOW, HIGH = 0.1, 0.9  # the 80 % interval
# Below these the history is "short": the forecast says so (the bootstrap widens the interval by itself).
SHORT_WINDOW_DAYS = 21
SHORT_POOL = 30

FASTER_FIRST_RESPONSE, TIER_HOURS, FEWER_DELAYED = "faster_first_response", "tier_hours", "fewer_delayed"


@dataclass(frozen=True)
class Lever:
    kind: str
    amount: float  # a share (0-1) sooner or fewer; or working hours more a day
    tier: str | None = None

    def describe(self) -> str:
        if self.kind == FASTER_FIRST_RESPONSE:
            return f"first responses {self.amount:.0%} sooner"
        if self.kind == FEWER_DELAYED:
            return f"{self.amount:.0%} fewer calls set Delayed"
        tier = (self.tier or "").replace("_", " ")
        return f"{tier} working {self.amount:g} more hour{'s' if self.amount != 1 else ''} a day"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "amount": self.amount, "tier": self.tier, "text": self.describe()}


# The few levers tried, each from its smallest step up; the first step of each that brings the line's
# median back to its goal is that lever's answer, and the smallest of those (by its step's rank) is shown.
LADDERS: tuple[tuple[Lever, ...], ...] = (
    tuple(Lever(FASTER_FIRST_RESPONSE, share / 10) for share in range(1, 9)),
    *(tuple(Lever(TIER_HOURS, hours, tier) for hours in (1, 2, 3, 4, 6, 8)) for tier in TIERS),
    tuple(Lever(FEWER_DELAYED, share / 4) for share in range(1, 5)),
)


@dataclass(frozen=True)
class Slot:
    weekday: int
    hour: int
    hours: float  # its length in hours
    working_at: float  # working seconds from as_of to its start
    open_seconds: float


@dataclass(frozen=True)
class Horizon:
    """The rest of the period in working time, from ``as_of``."""

    slots: tuple[Slot, ...]
    working_left: float  # working seconds from as_of to the period's end
    hours_a_day: float  # the calendar's working hours on a working day (the tier lever's unit)


def horizon(calendar: WorkingCalendar, as_of: datetime, end: datetime) -> Horizon:
    slots, moment = [], as_of.astimezone(UTC)
    while moment < end:
        following = min(next_half_hour(moment), end)
        there = local(moment)
        slots.append(
            Slot(
                there.weekday(),
                there.hour,
                (following - moment).total_seconds() / 3600,
                calendar.between(as_of, moment).total_seconds(),
                calendar.between(moment, following).total_seconds(),
            )
        )
        moment = following
    return Horizon(tuple(slots), calendar.between(as_of, end).total_seconds(), _hours_a_day(calendar, as_of))


def next_half_hour(moment: datetime) -> datetime:
    base = moment.replace(second=0, microsecond=0, minute=0 if moment.minute < 30 else 30)
    return base + SLOT


def _hours_a_day(calendar: WorkingCalendar, around: datetime) -> float:
    days = [around.date() + timedelta(days=i) for i in range(-14, 14)]
    hours = [
        sum(p.duration.total_seconds() for p in calendar.opening_periods(d)) / 3600
        for d in days
        if calendar.is_working_day(d)
    ]
    return statistics.mean(hours) if hours else 8.0


@dataclass(frozen=True)
class LineRuns:
    """One line's attainment in each run (None: no clock decided in that run) and breaches."""

    metric: str
    line: str
    goal: float
    attainments: tuple[float | None, ...]
    open_breaches: tuple[int, ...]  # per run: of the calls open at as_of
    new_breaches: tuple[int, ...]  # per run: of calls still to come
    breaches_by_tier: dict[str, float]  # mean per run, of the open calls, by the tier working them

    @property
    def known(self) -> list[float]:
        return sorted(a for a in self.attainments if a is not None)

    @property
    def median(self) -> float | None:
        return statistics.median(self.known) if self.known else None

    @property
    def interval(self) -> tuple[float | None, float | None]:
        known = self.known
        return (_quantile(known, LOW), _quantile(known, HIGH)) if known else (None, None)

    @property
    def chance_of_miss(self) -> float | None:
        known = self.known
        return sum(a < self.goal for a in known) / len(known) if known else None

    @property
    def likely_breaches(self) -> float:
        return statistics.median(o + n for o, n in zip(self.open_breaches, self.new_breaches, strict=True))


def _quantile(values: Sequence[float], share: float) -> float:
    """Linear interpolation between order statistics (values sorted)."""
    position = share * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def lines_of(history: History, goals: dict[str, float], targets: Sequence[str]) -> list[tuple[str, str]]:
    """The lines forecast: the first response, each priority with a resolution target, and all of them."""
    wanted = [(FIRST_RESPONSE, ALL)] + [(RESOLUTION, p) for p in PRIORITIES if p in targets]
    wanted += sorted({key for key in history.decided if key not in wanted and key[1] != ALL})
    return [*wanted, (RESOLUTION, ALL)]


def play(
    history: History,
    span: Horizon,
    goals: dict[str, float],
    lines: list[tuple[str, str]],
    *,
    runs: int,
    seed: int,
    lever: Lever | None = None,
) -> dict[tuple[str, str], LineRuns]:
    """``runs`` runs of the rest of the period; per line, what each run ended with."""
    pools = Pools(history)
    per_run: list[Tally] = [_one_run(history, span, pools, Random(f"{seed}/{run}"), lever) for run in range(runs)]  # noqa: S311
    return line_runs(per_run, goals, lines)


def line_runs(
    per_run: list[Tally], goals: dict[str, float], lines: list[tuple[str, str]]
) -> dict[tuple[str, str], LineRuns]:
    """Per line, what each run ended with."""
    runs = len(per_run)
    found = {}
    for metric, line in lines:
        goal = goals[metric]
        attainments, open_breaches, new_breaches = [], [], []
        by_tier: Counter[str] = Counter()
        for tally in per_run:
            met, breached = tally.figures(metric, line)
            attainments.append(met / (met + breached) if met + breached else None)
            open_breaches.append(tally.open_breaches(metric, line))
            new_breaches.append(tally.new_breaches(metric, line))
            by_tier.update(tally.tier_breaches(metric, line))
        found[(metric, line)] = LineRuns(
            metric,
            line,
            goal,
            tuple(attainments),
            tuple(open_breaches),
            tuple(new_breaches),
            {tier: count / max(runs, 1) for tier, count in by_tier.items()},
        )
    return found


class Pools:
    """The history's decided clocks by metric and starting priority."""

    def __init__(self, history: History):
        self.first_response = history.pool(FIRST_RESPONSE)
        self.resolution = {p: history.pool(RESOLUTION, p) for p in PRIORITIES}
        # An open clock is matched on the priority it runs under now (a Delayed High call runs as Medium).
        self.by_line = {p: [s for s in history.stories if s.metric == RESOLUTION and s.line == p] for p in PRIORITIES}


class Tally:
    def __init__(self, history: History):
        self.decided: Counter[tuple[str, str, bool]] = Counter()
        for (metric, line), (met, breached) in history.decided.items():
            self.decided[(metric, line, True)] += met
            self.decided[(metric, line, False)] += breached
        self.breaches_open: Counter[tuple[str, str, str]] = Counter()  # (metric, line, tier)
        self.breaches_new: Counter[tuple[str, str]] = Counter()

    def add(self, metric: str, line: str, met: bool, tier: str | None) -> None:
        self.decided[(metric, line, met)] += 1
        if not met and tier is not None:
            self.breaches_open[(metric, line, tier)] += 1
        elif not met:
            self.breaches_new[(metric, line)] += 1

    def figures(self, metric: str, line: str) -> tuple[int, int]:
        if line == ALL and metric == RESOLUTION:
            met = sum(n for (m, _, ok), n in self.decided.items() if m == metric and ok)
            return met, sum(n for (m, _, ok), n in self.decided.items() if m == metric and not ok)
        return self.decided[(metric, line, True)], self.decided[(metric, line, False)]

    def _matches(self, metric: str, line: str, key_metric: str, key_line: str) -> bool:
        return key_metric == metric and (line == ALL or key_line == line)

    def open_breaches(self, metric: str, line: str) -> int:
        return sum(n for (m, li, _), n in self.breaches_open.items() if self._matches(metric, line, m, li))

    def new_breaches(self, metric: str, line: str) -> int:
        return sum(n for (m, li), n in self.breaches_new.items() if self._matches(metric, line, m, li))

    def tier_breaches(self, metric: str, line: str) -> Counter[str]:
        found: Counter[str] = Counter()
        for (m, li, tier), n in self.breaches_open.items():
            if self._matches(metric, line, m, li):
                found[tier or "no open task"] += n
        return found


def _one_run(history: History, span: Horizon, pools: Pools, rng: Random, lever: Lever | None) -> Tally:
    tally = Tally(history)
    resample = _Resampler(rng)
    for open_clock in history.open_clocks:
        candidates = (
            pools.first_response if open_clock.metric == FIRST_RESPONSE else pools.by_line.get(open_clock.line, [])
        )
        _play_open(open_clock, resample(candidates), span, rng, lever, tally)
    volume = rng.gammavariate(history.window_calls + 0.5, 1 / (history.window_calls + 0.5))
    kinds = list(history.arrival_mix)
    weights = [history.arrival_mix[k] for k in kinds]
    for slot in span.slots:
        rate = history.rates.get((slot.weekday, slot.hour), 0.0) * slot.hours * volume
        for _ in range(poisson(rng, rate)):
            kind = rng.choices(kinds, weights)[0]
            start = slot.working_at + rng.random() * slot.open_seconds
            _play_new(FIRST_RESPONSE, resample(pools.first_response), start, span, rng, lever, tally)
            if kind.priority is not None:
                _play_new(RESOLUTION, resample(pools.resolution.get(kind.priority, [])), start, span, rng, lever, tally)
    return tally


class _Resampler:
    """A bootstrap of each pool, drawn once per run: what the history does not pin down varies by run."""

    def __init__(self, rng: Random):
        self.rng = rng
        self.drawn: dict[int, list[ClockStory]] = {}

    def __call__(self, pool: list[ClockStory]) -> list[ClockStory]:
        key = id(pool)
        if key not in self.drawn:
            self.drawn[key] = self.rng.choices(pool, k=len(pool)) if pool else []
        return self.drawn[key]


def play_open(open_clock: OpenClock, pools: Pools, span: Horizon, rng: Random, tally: Tally) -> None:
    """One open clock played by the model alone (a call the diagrams could not carry: see forecast_diagrams)."""
    pool = pools.first_response if open_clock.metric == FIRST_RESPONSE else pools.by_line.get(open_clock.line, [])
    _play_open(open_clock, pool, span, rng, None, tally)


def _play_open(clock: OpenClock, pool, span: Horizon, rng: Random, lever, tally: Tally) -> None:
    """An open clock ends as a history clock that had run at least as long (share of its budget) ended."""
    done = clock.counted / clock.budget if clock.budget else 0.0
    longer = [s for s in pool if _base_share(s) > done]
    # Longer than anything the history saw: its budget runs out.
    share = max(_share(rng.choice(longer), lever, span.hours_a_day), done) if longer else math.inf
    decided_after = (min(share, 1.0) - done) * clock.budget
    if decided_after <= span.working_left:
        tally.add(clock.metric, clock.line, share <= 1, clock.tier)


def _play_new(metric: str, pool, start: float, span: Horizon, rng: Random, lever, tally: Tally) -> None:
    if not pool:
        return
    story = rng.choice(pool)
    if lever is not None and lever.kind == FEWER_DELAYED and story.delayed and rng.random() < lever.amount:
        plain = [s for s in pool if not s.delayed]
        story = rng.choice(plain) if plain else story
    share = _share(story, lever, span.hours_a_day)
    decided_after = min(share, 1.0) * story.budget
    if start + decided_after <= span.working_left:
        tally.add(metric, ALL if metric == FIRST_RESPONSE else story.line, share <= 1, None)


def _base_share(story: ClockStory) -> float:
    """The story's working time over its budget; a breach is over 1 even when a later re-grade gave it more
    budget, or when it still ran at ``as_of`` (its working time so far is only a lower bound)."""
    share = story.counted / story.budget if story.budget else 0.0
    return share if story.met else max(share, 1.0 + 1e-9)


def _share(story: ClockStory, lever: Lever | None, hours_a_day: float) -> float:
    """The story's share of its budget, less what the lever saves."""
    saved = 0.0
    if lever is not None and lever.kind == FASTER_FIRST_RESPONSE:
        saved = lever.amount * (story.counted if story.metric == FIRST_RESPONSE else story.first_response)
    elif lever is not None and lever.kind == TIER_HOURS:
        # A tier working more hours a day gets through its queue that much sooner (its capacity grows).
        sooner = 1 - hours_a_day / (hours_a_day + lever.amount)
        if story.metric == FIRST_RESPONSE and lever.tier == "first_line":
            saved = sooner * story.counted
        elif story.metric == RESOLUTION:
            saved = sooner * story.tier_seconds.get(lever.tier or "", 0.0)
    return max(_base_share(story) - (saved / story.budget if story.budget else 0.0), 0.0)


def poisson(rng: Random, rate: float) -> int:
    """A Poisson draw (Knuth's method: the rates here are a few calls per half hour at most)."""
    if rate <= 0:
        return 0
    if rate > 30:
        return max(0, round(rng.gauss(rate, math.sqrt(rate))))
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def is_short(history: History) -> list[str]:
    """Why the history is too short to trust the forecast's spread, if it is."""
    reasons = []
    if history.window_days < SHORT_WINDOW_DAYS:
        reasons.append(f"only {history.window_days:.0f} days of calls (fewer than {SHORT_WINDOW_DAYS})")
    pools = Counter((s.metric, s.start_priority) for s in history.stories)
    kinds = Counter(k.priority for k in history.arrival_mix.elements())
    for priority, calls in kinds.items():
        if priority is not None and calls and pools[(RESOLUTION, priority)] < SHORT_POOL:
            reasons.append(f"{pools[(RESOLUTION, priority)]} decided {priority} resolutions to learn from")
    if pools[(FIRST_RESPONSE, None)] < SHORT_POOL:
        reasons.append(f"{pools[(FIRST_RESPONSE, None)]} decided first responses to learn from")
    return reasons
