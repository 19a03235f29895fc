"""supportdesk audit: verify the hash chains, replay tickets, what-if, export (C32)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supportdesk.engine.oversight import audit as auditing
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla_policy import SlaPolicy

from .group import main, open_desk, reports_desk_errors


@main.group()
def audit() -> None:
    """Check that the history holds, and that it replays to what is stored."""


@audit.command()
@reports_desk_errors
def verify() -> None:
    """Check every ticket's hash chain; report the first broken link of each."""
    broken = auditing.verify(open_desk())
    for link in broken:
        click.echo(f"{link.reference}: the chain breaks at event {link.seq} ({link.kind})")
    click.echo(f"{len(broken)} broken chain(s)" if broken else "every hash chain holds")
    sys.exit(1 if broken else 0)


@audit.command()
@click.argument("reference", required=False)
@click.option("--all", "every", is_flag=True, help="Replay every ticket, with a summary.")
@click.option(
    "--calendar",
    "calendar_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="What if: another working calendar (TOML, like workflows/calendar.toml).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="What if: another SLA policy (TOML, like workflows/sla_policy.toml).",
)
@click.option("--quiet", is_flag=True, help="No timeline; differences only.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="With --all: processes to replay in (default: one per CPU for a large store).",
)
@reports_desk_errors
def replay(reference, every, calendar_file, policy_file, quiet, jobs) -> None:
    """Re-run a ticket from its recorded inputs and compare with what is stored; exit 1 on any difference.

    With --calendar or --policy nothing is compared: the tickets whose SLA outcome
    would change under that configuration are listed (stored data is never changed).
    """
    desk = open_desk()
    if bool(reference) == every:
        raise click.UsageError("give one REFERENCE, or --all")
    calendar = WorkingCalendar.from_toml(calendar_file) if calendar_file else None
    policy = SlaPolicy.from_toml(policy_file) if policy_file else None
    what_if = calendar is not None or policy is not None
    references = auditing.references(desk) if every else [reference]
    if every:
        results = _replay_all(desk, references, calendar, policy, jobs or auditing.default_jobs(len(references)))
    else:
        results = [auditing.replay(desk, reference, calendar=calendar, policy=policy)]
    for result in results:
        if not every and not quiet:
            _print_timeline(result)
        _print_findings(result, what_if)
    _print_summary(results, what_if)
    sys.exit(0 if what_if or all(r.same for r in results) else 1)


def _replay_all(desk, references, calendar, policy, jobs: int):
    replays = auditing.replay_all(desk, references, calendar=calendar, policy=policy, jobs=jobs)
    with click.progressbar(replays, length=len(references), label="replaying", file=sys.stderr) as bar:
        return list(bar)


def _print_timeline(result) -> None:
    click.echo(f"{result.reference}")
    for row in result.timeline:
        clocks = ", ".join(f"{metric.replace('_', ' ')} {_hours(spent)}" for metric, spent in row.clocks.items())
        click.echo(
            f"  {local(row.at):%a %d %b %Y %H:%M:%S %Z}  {row.kind:<22} {row.actor:<18} "
            f"{('[' + clocks + '] ') if clocks else ''}{row.summary}"
        )


def _print_findings(result, what_if: bool) -> None:
    if what_if:
        for change in result.outcome_changes:
            click.echo(f"{result.reference}: would change: {change}")
        return
    for difference in result.differences:
        click.echo(f"{result.reference}: DIFFERENT: {difference}")


def _print_summary(results, what_if: bool) -> None:
    if what_if:
        changed = [r for r in results if r.outcome_changes]
        click.echo(f"{len(changed)} of {len(results)} ticket(s) would change")
        return
    different = [r for r in results if not r.same]
    click.echo(
        f"{len(results) - len(different)} of {len(results)} ticket(s) replay to what is stored"
        + (f"; {len(different)} differ" if different else "")
    )


def _hours(amount) -> str:
    minutes = int(amount.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@audit.command()
@click.argument("reference")
@reports_desk_errors
def export(reference: str) -> None:
    """One ticket's full history as JSON, with the hashes, for an external auditor."""
    click.echo(json.dumps(auditing.export(open_desk(), reference), indent=2, ensure_ascii=False))
