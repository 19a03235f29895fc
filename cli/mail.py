"""Mail: receiving it (an SMTP server, or .eml files and Maildirs) and looking after the outbox."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from supportdesk.engine.mail import delivery, inbound
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.mail.ingest import ingest
from supportdesk.engine.mail.server import start_mail_server
from supportdesk.engine.process.deployment import active_version
from supportdesk.engine.working_time.clock import local

from .group import EXIT_ERROR, default_actor, main, open_desk, reports_desk_errors


@main.command("mail-server")
@click.option("--host", default=None, help="Address to listen on (default: SUPPORTDESK_MAIL_SERVER_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: SUPPORTDESK_MAIL_SERVER_PORT, 8025).")
@reports_desk_errors
def mail_server(host: str | None, port: int | None) -> None:
    """Receive mail for the support address over SMTP; each mail opens a call or joins one.
    Runs until SIGTERM or Ctrl-C."""
    desk = open_desk()
    with desk.db.reading() as session:
        active_version(session)  # no diagrams: every mail would be quarantined, so refuse to start
    settings = desk.settings
    host, port = host or settings.mail_server_host, port or settings.mail_server_port
    controller = start_mail_server(desk, host, port)
    click.echo(f"receiving mail for <{settings.support_address}> on smtp://{host}:{port}/", err=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        desk.close()


@main.command("ingest-mail")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@reports_desk_errors
def ingest_mail(path: Path) -> None:
    """File mail from PATH: one .eml file, a folder of .eml files, or a Maildir.
    Ingesting the same mail again changes nothing."""
    desk = open_desk()
    not_kept = 0
    for done in ingest(desk, path):
        if done.receipt is None:
            click.echo(f"{done.path}: not taken in ({done.error})", err=True)
        else:
            click.echo(f"{done.path}: {done.receipt.describe()}")
        not_kept += not done.kept
    if not_kept:
        click.echo(f"{not_kept} message(s) were not taken in and stay where they are", err=True)
        sys.exit(EXIT_ERROR)


@main.command("mail-status")
@click.option("--limit", default=20, show_default=True)
@reports_desk_errors
def mail_status(limit: int) -> None:
    """The outbox (queued and failed mail); received mail by where it is (on calls, held for review,
    not opened, discarded, quarantined), with the held, not opened and quarantined mail listed."""
    desk = open_desk()
    counts = mail_queries.outbox_counts(desk)
    click.echo("outbox: " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    if not mail_queries.mail_delivery_enabled(desk):
        click.echo("  no SMTP host is set (SUPPORTDESK_SMTP_HOST): mail stays queued")
    for row in mail_queries.failed_mail(desk, limit=limit):
        click.echo(
            f"  failed {row.id}  {row.reference or '-'}  to {row.to_address}  after {row.attempts} "
            f"attempt(s): {row.last_error}"
        )
    for row in mail_queries.queued_mail(desk, limit=limit):
        due = f"{local(row.next_attempt_at):%Y-%m-%d %H:%M %Z}" if row.next_attempt_at else "-"
        click.echo(
            f"  queued {row.id}  {row.reference or '-'}  to {row.to_address}  next try {due}"
            + (f"  (last error: {row.last_error})" if row.last_error else "")
        )
    received = mail_queries.received_counts(desk)
    click.echo(
        "received: " + ", ".join(f"{received[name]} {words}" for name, words in mail_queries.RECEIVED_PLACES.items())
    )
    for row in mail_queries.held_mail(desk, limit=limit):
        click.echo(f"  held {row.id}  {local(row.received_at):%Y-%m-%d %H:%M %Z}  from {row.from_address}: {row.why}")
    for row in mail_queries.not_opened_mail(desk, limit=limit):
        click.echo(
            f"  not opened {row.id}  {local(row.received_at):%Y-%m-%d %H:%M %Z}  from {row.from_address}: {row.reason}"
        )
    quarantined = mail_queries.quarantined_mail(desk, limit=limit)
    click.echo(f"quarantine: {len(quarantined)}{'+' if len(quarantined) == limit else ''} message(s)")
    for row in quarantined:
        click.echo(f"  {row.id}  {local(row.received_at):%Y-%m-%d %H:%M %Z}  {row.source}: {row.reason}")


@main.command("mail-retry")
@click.argument("mail_id", type=int)
@click.option("--as", "actor", default=None)
@reports_desk_errors
def mail_retry(mail_id: int, actor: str | None) -> None:
    """Send a failed mail again, with a fresh set of tries."""
    delivery.retry_failed(open_desk(), mail_id, actor or default_actor())
    click.echo(f"mail {mail_id} is queued again")


@main.command("mail-release")
@click.argument("quarantined_id", type=int)
@reports_desk_errors
def mail_release(quarantined_id: int) -> None:
    """File a quarantined mail again, once what stopped it is fixed."""
    receipt = inbound.release(open_desk(), quarantined_id)
    click.echo(receipt.describe())
    if receipt.outcome == "quarantined":
        sys.exit(EXIT_ERROR)
