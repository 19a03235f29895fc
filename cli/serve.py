"""Running the desk: the web UI with its worker, or a worker alone."""

from __future__ import annotations

import signal

import click

from supportdesk.engine import commands, users
from supportdesk.engine.worker import Worker

from .main import main, open_desk, reports_desk_errors


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@reports_desk_errors
def serve(host: str, port: int) -> None:
    """Start the web desk and, in the same process, the worker (SQLite and small sites)."""
    from werkzeug.serving import run_simple

    from supportdesk.web import create_app

    desk = open_desk()
    click.echo(commands.deploy(desk, actor="serve").describe())
    users.ensure_demo_users(desk)
    _print_demo_users(users.demo_users_present(desk))
    worker = Worker(desk)
    worker.start_in_thread()
    click.echo(f"supportdesk on http://{host}:{port}/ (store: {desk.settings.database_url})")
    try:
        run_simple(host, port, create_app(desk), threaded=True, use_reloader=False)
    finally:
        worker.stop()


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
