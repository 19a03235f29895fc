"""The forecast's backtest: simulated histories with known arrival and handling rates, forecasts made
part-way through a period, and the period's actual outcome.

For each seed a scratch store gets ``weeks_of_history`` weeks of calls and then the whole period, all
played through the real diagrams by the simulator (``simulation.simulate``: a known number of calls,
spread evenly over the working time, handled with the ``Behaviour``'s delays and paths). Forecasts are
made at moments part-way through the period from the store *as it stood then* (``forecast.compute`` with
``as_of``: later rows are not read), and compared with the C31 report of the period read at its end:

* calibration: the share of (forecast, line) pairs whose 80 % interval holds the actual attainment;
* error: the median absolute difference between the forecast's median and the actual, in points.

Used by tests/test_forecast.py (small) and bench item 11 (full).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from supportdesk.engine.desk import Desk
from supportdesk.engine.oversight import forecast, reports, simulation
from supportdesk.engine.working_time.clock import clock


@dataclass(frozen=True)
class Comparison:
    seed: int
    as_of: datetime
    metric: str
    line: str
    actual: float
    median: float
    low: float
    high: float

    @property
    def holds(self) -> bool:
        return self.low - 1e-9 <= self.actual <= self.high + 1e-9

    @property
    def error_points(self) -> float:
        return abs(self.median - self.actual) * 100


@dataclass(frozen=True)
class Backtest:
    comparisons: tuple[Comparison, ...]
    seeds: int
    calls: int  # simulated, all seeds
    forecast_seconds: float  # mean per forecast

    @property
    def calibration(self) -> float:
        return sum(c.holds for c in self.comparisons) / len(self.comparisons) if self.comparisons else 0.0

    @property
    def median_error_points(self) -> float:
        return statistics.median(c.error_points for c in self.comparisons) if self.comparisons else 0.0


def backtest(
    new_desk: Callable[[int], Desk],
    *,
    seeds: tuple[int, ...],
    period: str,
    period_start: datetime,
    calls_per_week: int,
    weeks_of_history: int,
    forecast_after: tuple[timedelta, ...],
    runs: int,
    behaviour: simulation.Behaviour | None = None,
) -> Backtest:
    """``new_desk(seed)`` gives a desk on an empty scratch store with the diagrams deployed."""
    comparisons: list[Comparison] = []
    calls, spent, made = 0, 0.0, 0
    (shown,) = reports.periods_between(period, period_start.date(), period_start.date())
    start = reports.london_midnight(shown.first_day)
    end = reports.london_midnight(shown.last_day + timedelta(days=1))
    history_start = start - timedelta(weeks=weeks_of_history)
    days = round((end - history_start).total_seconds() / 86400)
    tickets = round(calls_per_week * days / 7)
    for seed in seeds:
        desk = new_desk(seed)
        try:
            clock.set(end)
            simulation.simulate(desk, tickets=tickets, days=days, seed=seed, start=history_start, behaviour=behaviour)
            calls += tickets
            actual = _actual(desk, period, shown, end)
            for after in forecast_after:
                as_of = (start + after).astimezone(UTC)
                began = time.perf_counter()
                made_now, _ = forecast.compute(desk, period=period, runs=runs, seed=seed, as_of=as_of, levers=False)
                spent += time.perf_counter() - began
                made += 1
                comparisons += _compare(seed, made_now, actual)
        finally:
            desk.close()
    return Backtest(tuple(comparisons), len(seeds), calls, spent / made if made else 0.0)


def _actual(desk: Desk, period: str, shown: reports.Period, end: datetime) -> dict[tuple[str, str], float | None]:
    """The period's attainment per line as the C31 report reads it at the period's end."""
    clock.set(end)
    report = reports.sla_report(desk, period=period, start=shown.first_day, end=shown.last_day)
    return {(line.metric, line.priority): line.total.attainment for line in report.lines}


def _compare(seed: int, made: forecast.Forecast, actual: dict) -> list[Comparison]:
    found = []
    for line in made.lines:
        truth = actual.get((line.metric, line.line))
        if truth is None or line.median is None or line.low is None or line.high is None:
            continue
        found.append(Comparison(seed, made.made_at, line.metric, line.line, truth, line.median, line.low, line.high))
    return found
