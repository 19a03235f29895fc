"""Item 11 of bench/run.py: the SLA forecast's backtest (issue 22) at full size.

Simulated months through the real diagrams with known arrival and handling rates (``simulation.Behaviour``'s
defaults, ``calls_per_week`` calls spread over the working time), several seeds; forecasts made at noon on
days 5, 10, 15 and 20 of the month from the store as it stood then, against the month's C31 report read at
its end (``engine/oversight/forecast_backtest.py``). Each forecast is the product's own: ``runs`` runs on the
real diagrams, the open calls carried onto scratch stores as they stood, new calls and the people's times
learned from the store before the forecast's moment. Two figures, against the targets of bench/README.md:
calibration (how often the 80 % interval holds the actual attainment; 70-90 %) and the median absolute
error of the median (percentage points; at most 5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lifecycle import sqlite_desk
from measures import Result

from supportdesk.engine.oversight import forecast_backtest
from supportdesk.engine.tickets import commands

log = logging.getLogger("bench")
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
CALIBRATION_TARGET = (0.7, 0.9)
ERROR_TARGET_POINTS = 5.0


@dataclass(frozen=True)
class BacktestSize:
    seeds: tuple[int, ...]
    calls_per_week: int
    weeks_of_history: int
    runs: int


FULL = BacktestSize(seeds=(11, 12, 13, 14, 15, 16), calls_per_week=40, weeks_of_history=4, runs=20)
QUICK = BacktestSize(seeds=(11, 12), calls_per_week=30, weeks_of_history=3, runs=10)


def forecast_backtest_figures(quick: bool, folder: Path) -> list[Result]:
    size = QUICK if quick else FULL

    def new_desk(seed: int):
        desk = sqlite_desk(folder, f"forecast-{seed}.sqlite")
        commands.deploy(desk, actor="bench")
        return desk

    result = forecast_backtest.backtest(
        new_desk,
        seeds=size.seeds,
        period="month",
        period_start=MONTH_START,
        calls_per_week=size.calls_per_week,
        weeks_of_history=size.weeks_of_history,
        forecast_after=tuple(timedelta(days=day, hours=11) for day in (4, 9, 14, 19)),
        runs=size.runs,
    )
    spread = [c for c in result.comparisons if c.high > c.low]  # lines whose outcome was not already certain
    details = {
        "seeds": len(size.seeds),
        "simulated_calls": result.calls,
        "comparisons": len(result.comparisons),
        "calibration_of_uncertain_lines": sum(c.holds for c in spread) / len(spread) if spread else None,
        "uncertain_lines": len(spread),
        "seconds_per_forecast": result.forecast_seconds,
        "runs_per_forecast": size.runs,
        "calls_per_week": size.calls_per_week,
    }
    low, high = CALIBRATION_TARGET
    calibration = Result(
        "forecast_calibration",
        f"11a. Forecast backtest: share of 80 % intervals holding the month's actual ({len(size.seeds)} seeds)",
        result.calibration,
        0.8,
        result.calibration / 0.8,
        f"{low:.0%} <= value <= {high:.0%}",
        low <= result.calibration <= high,
        "share",
        details,
    )
    error = Result(
        "forecast_error",
        "11b. Forecast backtest: median absolute error of the median (percentage points)",
        result.median_error_points,
        ERROR_TARGET_POINTS,
        result.median_error_points / ERROR_TARGET_POINTS,
        "ratio <= 1",
        result.median_error_points <= ERROR_TARGET_POINTS,
        "points",
        dict(details),
    )
    return [calibration, error]
