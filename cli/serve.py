"""Running the desk: the web UI with its worker, or a worker alone."""

from __future__ import annotations

import signal

import click

from supportdesk.engine import commands, queries, simulation, users
from supportdesk.engine.worker import Worker

from .main import main, open_desk, reports_desk_errors
from .simulate import summary_lines

# serve --demo: a few weeks of simulated calls, ending now, on a store with no tickets.
DEMO_TICKETS, DEMO_DAYS, DEMO_SEED = 60, 20, 1


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", is_flag=True,
              help=f"On a store with no tickets, first simulate {DEMO_TICKETS} calls over the last {DEMO_DAYS} days.")
@reports_desk_errors
def serve(host: str, port: int, demo: bool) -> None:
    """Start the web desk and, in the same process, the worker (SQLite and small sites)."""
    from werkzeug.serving import run_simple

    from supportdesk.web import create_app

    desk = open_desk()
    click.echo(commands.deploy(desk, actor="serve").describe())
    users.ensure_demo_users(desk)
    _print_demo_users(users.demo_users_present(desk))
    if demo:
        fill_demo_store(desk)
    worker = Worker(desk)
    worker.start_in_thread()
    click.echo(f"supportdesk on http://{host}:{port}/ (store: {desk.settings.database_url})")
    try:
        run_simple(host, port, create_app(desk), threaded=True, use_reloader=False)
    finally:
        worker.stop()


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


def _print_demo_users(created) -> None:
    if not created:
        return
    click.echo(f"demo users (password {users.DEMO_PASSWORD!r} unless changed):")
    for username, name, roles in created:
        click.echo(f"  {username:<8} {name:<16} {', '.join(roles)}")


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit (cron, tests).")
@reports_desk_errors
def worker(once: bool) -> None:
    """Fire due timers; runs until SIGTERM or Ctrl-C."""
    worker = Worker(open_desk())
    if once:
        click.echo(f"ran {worker.run_once()} job(s)")
        return
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        worker.stop()
