"""``supportdesk mailboxes list|test NAME|fetch NAME [--once]``: the team's IMAP mailboxes the worker takes
mail in from (engine/mail/imap.py), as Admin > Mailboxes shows them."""

from __future__ import annotations

import signal
import sys
import threading

import click

from supportdesk.engine.mail import imap
from supportdesk.engine.working_time.clock import local

from .group import EXIT_ERROR, open_desk, reports_desk_errors


@click.group("mailboxes")
def mailboxes() -> None:
    """The team's mailboxes, read over IMAP (SUPPORTDESK_IMAP_MAILBOXES)."""


def _when(moment) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M:%S %Z}" if moment else "never"


@mailboxes.command("list")
@reports_desk_errors
def list_() -> None:
    """Each mailbox: where it is, its last fetch, messages filed, and its error while it fails."""
    found = imap.statuses(open_desk())
    if not found:
        click.echo("no mailboxes are configured (SUPPORTDESK_IMAP_MAILBOXES)")
        return
    for status in found:
        click.echo(
            f"{status.name}\t{status.address} ({status.security})\tlast fetch {_when(status.last_fetch_at)}\t"
            f"{status.filed} filed ({status.unreadable} unreadable)"
        )
        if status.failing:
            click.echo(
                f"  failing since {_when(status.failing_since)} ({status.failures} "
                f"{'try' if status.failures == 1 else 'tries'}), next try "
                f"{_when(status.next_try_at)}: {status.last_error}"
            )


@mailboxes.command("test")
@click.argument("name")
@reports_desk_errors
def test(name: str) -> None:
    """Connect to NAME, log in and open its folder, changing nothing."""
    desk = open_desk()
    mailbox = imap.mailbox_named(desk.settings, name)
    try:
        checked = imap.check(desk.settings, mailbox)
    except imap.MailboxError as exc:
        click.echo(f"{mailbox.name}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(f"{mailbox.name}: logged in as {mailbox.user}; {checked.messages} message(s) in {mailbox.folder}")
    click.echo(
        "  new mail is seen at once (IDLE)"
        if checked.idle
        else f"  no IDLE: looked at every {desk.settings.imap_poll_seconds} s"
    )
    if checked.missing_folders:
        click.echo(f"  created at the first message: {', '.join(checked.missing_folders)}")


@mailboxes.command("fetch")
@click.argument("name")
@click.option("--once", is_flag=True, help="Take in what is there now and exit (else watch until Ctrl-C).")
@reports_desk_errors
def fetch(name: str, once: bool) -> None:
    """Take in NAME's mail: file each message as the worker does and move it out of the folder."""
    desk = open_desk()
    mailbox = imap.mailbox_named(desk.settings, name)
    if once:
        fetched = imap.fetch_once(desk, mailbox)
        click.echo(fetched.describe())
        if fetched.error:
            sys.exit(EXIT_ERROR)
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(f"watching {mailbox.name}; Ctrl-C stops")
    try:
        imap.MailboxWatcher(desk, mailbox, stopping).run()
    except KeyboardInterrupt:
        stopping.set()
