"""supportdesk migrate: move open tickets to another diagram version, SLA deadlines kept."""

from __future__ import annotations

import sys

import click

from supportdesk.engine.tickets import migration
from supportdesk.engine.working_time.clock import local

from .group import default_actor, open_desk, reports_desk_errors

EXIT_UNSAFE = 1


@click.command("migrate")
@click.option(
    "--to",
    "to_version",
    type=int,
    required=True,
    metavar="VERSION",
    help="The diagram version (its number) to move the tickets to.",
)
@click.option("--ticket", "reference", default=None, metavar="REF", help="One ticket, by its reference.")
@click.option("--all", "every", is_flag=True, help="Every open ticket that runs on another version.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--as", "actor", default=None, help="Who migrates (recorded in each ticket's history).")
@reports_desk_errors
def migrate(to_version: int, reference: str | None, every: bool, dry_run: bool, actor: str | None) -> None:
    """Move open tickets to diagram version VERSION.

    For each ticket: the difference between its version and VERSION, and whether the
    migration is safe (no element the ticket has done or is in was removed or changed).
    Safe tickets are migrated, each in one transaction; SLA clocks and waiting timers keep
    their due moments (a timer VERSION changed is evaluated again, and said so). Unsafe
    tickets are listed with the reason and left untouched; the exit status is then 1.
    """
    if bool(reference) == every:
        raise click.UsageError("give --ticket REF, or --all")
    desk = open_desk()
    if dry_run:
        results = migration.plan(desk, to_version, reference=reference)
    else:
        results = migration.migrate(desk, to_version, reference=reference, actor=actor or default_actor())
    shown_changes: set[tuple[int, str]] = set()
    for result in results:
        _print_result(result, shown_changes)
    _print_summary(results, to_version, dry_run)
    sys.exit(EXIT_UNSAFE if any(r.outcome == migration.UNSAFE for r in results) else 0)


def _print_result(result: migration.TicketMigration, shown_changes: set) -> None:
    click.echo(
        result.describe()
        if result.outcome != migration.UNSAFE
        else f"{result.reference} ({result.process_id}) version {result.from_version} -> {result.to_version}: "
        "UNSAFE, left untouched"
    )
    if result.outcome in (migration.ALREADY, migration.FINISHED):
        return
    key = (result.from_version, result.process_id)
    if key not in shown_changes:
        shown_changes.add(key)
        click.echo(f"  {result.process_id} {result.from_version} -> {result.to_version}: {result.changes.describe()}")
    if result.at:
        click.echo(f"  at: {', '.join(result.at)}")
    for reason in result.reasons:
        click.echo(f"  because {reason}")
    for timer in result.timers:
        if timer.re_evaluated:
            click.echo(
                f"  timer {timer.name} ({timer.element}): changed in this version, re-evaluated: "
                f"was {_moment(timer.was)}, now {_moment(timer.due)}"
            )
        else:
            kept = ", kept" if result.outcome != migration.UNSAFE else ""
            click.echo(f"  timer {timer.name} ({timer.element}): {_moment(timer.due)}{kept}")


def _print_summary(results, to_version: int, dry_run: bool) -> None:
    counts = {
        outcome: sum(1 for r in results if r.outcome == outcome)
        for outcome in (migration.SAFE, migration.MIGRATED, migration.UNSAFE, migration.ALREADY, migration.FINISHED)
    }
    parts = [
        f"{counts[migration.SAFE]} safe" if dry_run else f"{counts[migration.MIGRATED]} migrated",
        f"{counts[migration.UNSAFE]} unsafe (left untouched)",
    ]
    if counts[migration.ALREADY]:
        parts.append(f"{counts[migration.ALREADY]} already on version {to_version}")
    if counts[migration.FINISHED]:
        parts.append(f"{counts[migration.FINISHED]} finished")
    click.echo(
        f"{'dry run, nothing changed: ' if dry_run else ''}{len(results)} ticket(s) for version {to_version}: "
        + ", ".join(parts)
    )


def _moment(moment) -> str:
    return f"due {local(moment):%a %d %b %Y %H:%M %Z}" if moment else "no deadline (its SLA clock is paused or stopped)"
