"""``supportdesk incidents list|retry``: timer jobs that failed their last try (engine.jobs), as
Admin > Mail and jobs shows them, for an operator at the command line or in a script."""

from __future__ import annotations

import click

from supportdesk.engine.tickets import jobs
from supportdesk.engine.working_time.clock import local

from .group import default_actor, open_desk, reports_desk_errors


@click.group("incidents")
def incidents() -> None:
    """Jobs that stopped after their last try and wait for someone to retry them."""


@incidents.command("list")
@reports_desk_errors
def list_() -> None:
    """Each incident: job id, Call Reference, failed at, tries, error."""
    found = jobs.incidents(open_desk())
    for incident in found:
        failed = f"{local(incident.failed_at):%Y-%m-%d %H:%M %Z}" if incident.failed_at else "-"
        click.echo(
            f"{incident.job_id}\t{incident.reference or '-'}\t{failed}\t{incident.attempts} tries\t{incident.error}"
        )
    click.echo(f"{len(found)} incident(s)", err=True)


@incidents.command("retry")
@click.argument("job_id", type=int)
@click.option("--as", "actor", default=None, help="Who retries (recorded in the ticket's history).")
@reports_desk_errors
def retry(job_id: int, actor: str | None) -> None:
    """Try the incident JOB_ID again now, with a fresh set of tries; a running worker takes it at once."""
    jobs.retry_incident(open_desk(), job_id, actor or default_actor())
    click.echo(f"job {job_id} will be tried again now")
