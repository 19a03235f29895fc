"""Running the desk: the web UI with its worker, or a worker alone."""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import click

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.oversight import simulation
from supportdesk.engine.oversight.audit_runs import AuditRunner
from supportdesk.engine.oversight.forecast import DailyForecasts
from supportdesk.engine.people import users
from supportdesk.engine.tickets import commands, queries

from .group import main, open_desk, reports_desk_errors
from .simulate import summary_lines

# serve --demo: a few weeks of simulated calls, ending now, on a store with no tickets.
DEMO_TICKETS, DEMO_DAYS, DEMO_SEED = 60, 20, 1


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--demo",
    is_flag=True,
    help=f"On a store with no users, make demo users (one per role, a generated password printed); "
    f"with no tickets, first simulate {DEMO_TICKETS} calls over the last {DEMO_DAYS} days.",
)
@reports_desk_errors
def serve(host: str, port: int, demo: bool) -> None:
    """Start the web desk and, in the same process, the worker (SQLite and small sites)."""
    import waitress

    from supportdesk.web import create_app

    desk = open_desk()
    if "SUPPORTDESK_PORTAL_URL" not in os.environ:  # the links in mail must reach this server
        desk.settings = replace(desk.settings, portal_url=f"http://{host}:{port}/portal")
    click.echo(commands.deploy(desk, actor="serve").describe())
    seed_first_users(desk, demo=demo)
    if demo:
        fill_demo_store(desk)
    worker = Worker(desk)
    worker.start_in_thread()
    audits = AuditRunner(desk)  # the auditor's desk's runs, in a thread of their own (timers never wait on them)
    audits.start_in_thread()
    forecasts = DailyForecasts(desk)  # the month's SLA forecast once a day, in a thread of its own (issue 22)
    forecasts.start_in_thread()
    click.echo(f"supportdesk on http://{host}:{port}/ (store: {desk.settings.database_url})")
    # A production WSGI server (waitress: threads, no development-server warning); the worker runs beside it.
    server = waitress.create_server(create_app(desk), host=host, port=port, threads=WEB_THREADS)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: the worker finishes its job first
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        worker.stop()
        audits.stop()
        forecasts.stop()


WEB_THREADS = 8
AUDIT_GIVE_BACK_SECONDS = 30  # how long a stopping worker waits for its audit run to go back to the queue


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def seed_first_users(desk, *, demo: bool) -> str | None:
    """On a store with no users: with ``demo`` the demo users (one per role), otherwise one ``admin``, each
    time with a generated password printed once (only its hash is stored). Returns that password, or None
    when the store had users (then only the demo users still there are recalled)."""
    if demo:
        password = users.ensure_demo_users(desk)
        present = users.demo_users_present(desk)
        if present:
            said = f"password {password}" if password else "passwords as printed when they were made"
            click.echo(f"demo users ({said}):")
            for username, name, roles in present:
                click.echo(f"  {username:<8} {name:<16} {', '.join(roles)}")
        return password
    password = users.ensure_first_admin(desk)
    if password:
        click.echo(f"first administrator: {users.FIRST_ADMIN}, password {password}")
        click.echo(
            "  shown this once: sign in and change it (Your account), then add people on Admin > Users "
            "or with `supportdesk users add`"
        )
    return password


def fill_demo_store(desk, tickets: int = DEMO_TICKETS, days: int = DEMO_DAYS):
    """Simulate calls into a store that has no tickets (before the worker and web start: the simulation
    drives the clock); a store with tickets is left alone. Returns the summary, or None."""
    if queries.recent_tickets(desk, limit=1):
        click.echo("demo: the store has tickets already; nothing simulated")
        return None
    click.echo(f"demo: simulating {tickets} calls over the last {days} days (seed {DEMO_SEED}) ...")
    summary = simulation.simulate(desk, tickets=tickets, days=days, seed=DEMO_SEED)
    for line in summary_lines(summary):
        click.echo(f"  {line}")
    return summary


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, print the jobs' health, exit (cron, tests).")
@click.option(
    "--lease",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Seconds a batch of jobs is held; a dead worker's jobs are taken over after this.",
)
@reports_desk_errors
def worker(once: bool, lease: int) -> None:
    """Fire due timers and deliver mail; runs until SIGTERM or Ctrl-C (then finishes the job under way
    and gives back the rest). Run one or more per machine on PostgreSQL; on SQLite, `serve` runs it."""
    from datetime import timedelta

    from supportdesk.engine.tickets import jobs

    desk = open_desk()
    worker = Worker(desk, lease=timedelta(seconds=lease))
    if once:
        click.echo(f"fired {worker.run_once()} timer(s)")
        click.echo(jobs.health(desk).describe())
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, worker.on_signal)
    click.echo(f"worker {worker.name} on {desk.db.shown_url}", err=True)
    if desk.db.is_sqlite:  # correct with two, but they would only queue for SQLite's one writer
        click.echo("on SQLite run one worker only (`supportdesk serve` runs its own)", err=True)
    audits = AuditRunner(desk, name=worker.name)  # the auditor's desk's runs, beside the timers, never before them
    audit_thread = audits.start_in_thread()
    forecasts = DailyForecasts(desk)  # the month's SLA forecast once a day (issue 22), never before a timer
    forecasts.start_in_thread()
    worker.run_forever()
    forecasts.stop()
    audits.stop()  # a run under way goes back to the queue at its next progress write, for another worker
    audit_thread.join(timeout=AUDIT_GIVE_BACK_SECONDS)
