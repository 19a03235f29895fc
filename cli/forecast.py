"""``supportdesk forecast``: this period's SLA attainment forecast (issue 22), made now, stored with its
inputs, and the manager warned of a goal likely missed (once per period and goal), as the worker does daily."""

from __future__ import annotations

import json
import sys

import click

from supportdesk.engine.oversight import forecast as foresight
from supportdesk.engine.oversight.reports import PERIODS

from .group import default_actor, main, open_desk, reports_desk_errors


@main.command("forecast")
@click.option(
    "--period",
    type=click.Choice(PERIODS),
    default=foresight.MONTH,
    show_default=True,
    help="The calendar month or the week (from Monday) under way, London time.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, foresight.MAX_RUNS),
    default=foresight.DEFAULT_RUNS,
    show_default=True,
    help="Monte Carlo runs on the real diagrams: more give steadier figures, and take longer.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=1),
    default=foresight.DEFAULT_SECONDS,
    show_default=True,
    help="Stop the runs when this time is spent (never below five runs); the forecast says how many were made.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="The same seed on the same store gives the same forecast (default: today's date, so a day's forecasts agree).",
)
@click.option("--format", "shape", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reports_desk_errors
def forecast(period: str, runs: int, seconds: float, seed: int | None, shape: str) -> None:
    """Forecast this period's attainment (median and 80 % interval) per goal, warn the manager of a
    likely miss, and name the smallest change that would bring the median back to the goal."""
    desk = open_desk()
    with click.progressbar(length=runs, label="Runs on the diagrams", file=sys.stderr) as bar:
        made = foresight.make_forecast(
            desk,
            period=period,
            runs=runs,
            seed=seed,
            made_by=default_actor(),
            seconds=seconds,
            progress=lambda done, _total: bar.update(done - bar.pos),
        )
    if shape == "json":
        click.echo(json.dumps(made.as_dict(), indent=2))
        return
    for line in table_lines(made):
        click.echo(line)


def table_lines(made: foresight.Forecast) -> list[str]:
    lines = [
        f"Forecast {made.id} of {made.period} {made.first_day:%d %b} to {made.last_day:%d %b %Y}: "
        f"{made.runs} runs, seed {made.seed}",
        f"{'goal':<22}{'median':>9}{'80 % interval':>18}{'target':>8}{'P(miss)':>9}{'to breach':>11}  lever",
    ]
    for line in made.lines:
        interval = f"{_share(line.low)} - {_share(line.high)}" if line.low is not None else "-"
        chance = "-" if line.chance_of_miss is None else f"{line.chance_of_miss:.0%}"
        lever = line.lever["text"] if line.lever else ("-" if not line.misses_goal else "none of the levers tried")
        lines.append(
            f"{line.label:<22}{_share(line.median):>9}{interval:>18}{line.goal:>8.0%}{chance:>9}"
            f"{line.likely_breaches:>11g}  {lever}"
        )
    if made.short_history:
        lines.append("Short history, so the interval is wide: " + "; ".join(made.short_history))
    lines += [f"Note: {note}" for note in made.notes]
    if made.warned:
        lines.append("Warned the customer services manager about: " + ", ".join(made.warned))
    return lines


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
