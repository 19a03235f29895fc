"""`supportdesk simulate`: simulated calls through the real diagrams, and what they did to the SLAs.

On a scratch store (SUPPORTDESK_DATABASE_URL) with changed diagrams or an
SLA policy (SUPPORTDESK_WORKFLOWS_DIR), the same seed shows what the change
does to SLA attainment before it is deployed for real.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

import click

from supportdesk.engine.oversight import simulation
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, clock, local

from .group import main, open_desk, reports_desk_errors


@main.command()
@click.option("--tickets", type=click.IntRange(min=1), required=True, help="How many calls to log.")
@click.option(
    "--days", type=click.IntRange(min=1), default=20, show_default=True, help="Over how many days the calls arrive."
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="The same seed on the same store gives the same tickets and history.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="The first day (London time); by default the period ends now.",
)
@reports_desk_errors
def simulate(tickets: int, days: int, seed: int, start: datetime | None) -> None:
    """Log simulated calls and work them through the real diagrams on a simulated clock,
    writing real tickets to the configured store; print the SLA attainment."""
    begin = _start_moment(start, days)
    desk = open_desk()
    click.echo(commands.deploy(desk, actor="simulate").describe())
    started = time.perf_counter()
    summary = simulation.simulate(desk, tickets=tickets, days=days, seed=seed, start=begin, progress=_progress)
    for line in summary_lines(summary):
        click.echo(line)
    click.echo(f"took {time.perf_counter() - started:.1f}s")


def _start_moment(start: datetime | None, days: int) -> datetime | None:
    if start is None:
        return None
    begin = start.replace(tzinfo=DISPLAY_ZONE)
    if begin + timedelta(days=days) > clock.now():
        raise click.BadParameter(
            f"{days} days from {start:%Y-%m-%d} end after now: simulated tickets cannot come from the future",
            param_hint="--start",
        )
    return begin


def _progress(done: int, total: int) -> None:
    """One line on a terminal, rewritten as calls are logged; nothing in a pipe or a log."""
    if sys.stderr.isatty():
        click.echo(f"\r{done}/{total} calls logged", nl=done == total, err=True)


def summary_lines(summary: simulation.SimulationSummary) -> list[str]:
    """The summary as a small table: calls, SLA attainment and breaches per priority, against the goals."""
    versions = ", ".join(str(number) for number in summary.diagram_versions) or "-"
    lines = [
        f"{summary.tickets} calls from {local(summary.start):%a %d %b %Y %H:%M} to "
        f"{local(summary.end):%a %d %b %Y %H:%M %Z} (seed {summary.seed}, diagram version {versions})",
        _row("priority", "calls", "first response", "resolution", "breaches"),
    ]
    for row in summary.priorities:
        lines.append(_row(row.priority, row.calls, _cell(row.first_response), _cell(row.resolution), row.breaches))
    lines.append(
        _row("all", summary.tickets, _cell(summary.first_response), _cell(summary.resolution), summary.breaches)
    )
    lines.append(_row("goal", "", _goal(summary.first_response), _goal(summary.resolution), ""))
    lines.append(
        f"still open {summary.still_open}, Delayed {summary.delayed}, escalations {summary.escalations}, "
        f"training requests {summary.training_requests}, feedback {summary.feedback}"
    )
    if summary.refused:
        lines.append(f"the desk refused {len(summary.refused)} simulated action(s), e.g. {summary.refused[0]}")
    return lines


def _row(priority, calls, first, resolution, breaches) -> str:
    return f"{priority:<12} {calls:>5}  {first:>18}  {resolution:>18}  {breaches:>8}".rstrip()


def _cell(attainment: simulation.Attainment) -> str:
    """Met out of decided (met or breached), and the share; clocks still counting are left out."""
    if attainment.share is None:
        return "-"
    return f"{attainment.met}/{attainment.decided} {attainment.share:6.1%}"


def _goal(attainment: simulation.Attainment) -> str:
    if attainment.goal is None:
        return "-"
    verdict = {True: "met", False: "not met", None: ""}[attainment.meets_goal]
    return f"{attainment.goal:.0%} {verdict}".strip()
