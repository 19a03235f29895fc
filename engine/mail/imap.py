"""Mail from the team's own mailboxes over IMAP (issue 24): the worker reads each configured mailbox
(``Settings.imap_mailboxes``), files every message through the one inbound path (``inbound.receive``:
threading, trust of senders, auto-replies, quarantine, attachments), and moves it out of the folder it
reads: to the processed folder, or, when the desk could not file it (quarantined, too large), to the
unreadable folder. Nothing is ever deleted.

Exactly once: each message taken in is an ``ImapMessage`` row, (mailbox, UIDVALIDITY, UID) and the raw
message's SHA-256, written in the same transaction as what the message made (the call it opened, its place
on one, held, not opened: the row joins the inbound command's unit of work, ``unit_of_work.joining``). A
worker that dies between filing a message and moving it finds the row on its next look and only moves it.
A quarantined message is recorded just after the quarantine, which keeps one copy per content, so filing
it again after a crash there adds nothing either. A message whose very bytes were taken in from the mailbox
before (its folder rebuilt with a new UIDVALIDITY, or the mail put back) is only recorded and moved.

A mailbox that cannot be reached or refuses the login is an incident: the server's answer, since when and
the next try are on its ``ImapMailboxState`` (Admin > Mailboxes, ``supportdesk mailboxes list``); it is tried
again with backoff, and its mail waits on the server meanwhile.

Waiting for mail: where the server offers IDLE the worker keeps the connection and waits on IDLE (at most
``imap_idle_seconds`` at a time), else it connects every ``imap_poll_seconds``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from imapclient import DELETED, IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.mail import inbound
from supportdesk.engine.settings import ImapMailbox, Settings
from supportdesk.engine.store.models import ImapMailboxState, ImapMessage
from supportdesk.engine.tickets.unit_of_work import joining
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger(__name__)

UNREADABLE = ("quarantined", "too_large")  # receipts whose message goes to the unreadable folder
FIRST_RETRY = timedelta(seconds=30)  # a failing mailbox: 30 s, then doubling...
LONGEST_RETRY = timedelta(minutes=30)  # ...up to this
IDLE_CHECK_SECONDS = 1.0  # one wait inside IDLE: how quickly a stopping worker notices
AFTER_STORE_ERROR_SECONDS = 5.0  # the store failed while filing: the mail stays on the server, look again soon


class MailboxError(Exception):
    """The mailbox could not be reached, refused the login, or the connection failed: the server's answer."""


@dataclass(frozen=True)
class Fetched:
    """What one look at a mailbox did."""

    mailbox: str
    filed: int = 0  # messages taken in now (a call, on one, held, not opened, received before)
    unreadable: int = 0  # messages quarantined or refused now, moved to the unreadable folder
    moved_only: int = 0  # taken in before (a worker stopped before moving them): only moved now
    error: str = ""

    def describe(self) -> str:
        done = f"{self.filed} filed, {self.unreadable} unreadable, {self.moved_only} filed before and moved now"
        return f"{self.mailbox}: {done}" + (f"; failed: {self.error}" if self.error else "")


@dataclass(frozen=True)
class Checked:
    """``check``: the mailbox answers and the desk may read it."""

    mailbox: str
    messages: int  # in the folder read
    uidvalidity: int
    idle: bool  # the server offers IDLE: new mail is seen at once, else every imap_poll_seconds
    move: bool  # the server offers MOVE, else copy, flag deleted and expunge that one message (UIDPLUS)
    missing_folders: tuple[str, ...]  # created at the first move


@dataclass(frozen=True)
class MailboxStatus:
    """A configured mailbox and how fetching it goes, for the admin page and ``mailboxes list``."""

    name: str
    address: str  # user@host:port/folder
    security: str
    processed_folder: str
    unreadable_folder: str
    filed: int  # messages taken in from it, ever (unreadable ones included)
    unreadable: int
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failing_since: datetime | None
    failures: int
    next_try_at: datetime | None

    @property
    def failing(self) -> bool:
        return self.last_error is not None


def mailbox_named(settings: Settings, name: str) -> ImapMailbox:
    for mailbox in settings.imap_mailboxes:
        if mailbox.name.lower() == name.lower():
            return mailbox
    configured = ", ".join(m.name for m in settings.imap_mailboxes) or "none (SUPPORTDESK_IMAP_MAILBOXES)"
    raise NotFound(f"no mailbox {name!r} is configured; configured: {configured}")


# --- connecting ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def connected(settings: Settings, mailbox: ImapMailbox) -> Iterator[IMAPClient]:
    """A logged-in connection; any failure on the way or while it is used is a ``MailboxError`` with the
    server's (or the network's) answer."""
    where = f"{mailbox.host}:{mailbox.port}"
    try:
        client = IMAPClient(
            mailbox.host,
            port=mailbox.port,
            ssl=mailbox.security == "tls",
            ssl_context=ssl.create_default_context(),
            timeout=settings.imap_timeout,
        )
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"cannot reach {where}: {_said(exc)}") from exc
    try:
        if mailbox.security == "starttls":
            client.starttls(ssl.create_default_context())
        client.login(mailbox.user, _password(mailbox))
    except LoginError as exc:
        _drop(client)
        raise MailboxError(f"{where} refused the login of {mailbox.user}: {_said(exc)}") from exc
    except (IMAPClientError, OSError) as exc:
        _drop(client)
        raise MailboxError(f"{where} before the login of {mailbox.user}: {_said(exc)}") from exc
    try:
        yield client
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"{where} ({mailbox.user}): {_said(exc)}") from exc
    finally:
        _drop(client)


def _password(mailbox: ImapMailbox) -> str:
    if mailbox.password_file is None:
        return mailbox.password
    try:
        return mailbox.password_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise MailboxError(f"cannot read the password file {mailbox.password_file}: {exc}") from exc


def _drop(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # the connection may be dead already: nothing to tell the server
        client.logout()
    with contextlib.suppress(Exception):
        client.shutdown()


def _said(exc: Exception) -> str:
    """The server's answer in words (imaplib gives it as bytes inside the exception)."""
    answer = exc.args[0] if exc.args else exc
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    quoted = re.fullmatch(r"b(['\"])(.*)\1", text, re.DOTALL)  # some errors carry the bytes' repr
    text = quoted.group(2) if quoted else text
    return f"{exc.__class__.__name__}: {text}" if isinstance(exc, OSError) else text


def check(settings: Settings, mailbox: ImapMailbox) -> Checked:
    """Connect, log in and select the folder, touching nothing (``supportdesk mailboxes test``)."""
    with connected(settings, mailbox) as client:
        selected = client.select_folder(mailbox.folder, readonly=True)
        missing = tuple(
            folder
            for folder in (mailbox.processed_folder, mailbox.unreadable_folder)
            if not client.folder_exists(folder)
        )
        return Checked(
            mailbox=mailbox.name,
            messages=int(selected.get(b"EXISTS", 0)),
            uidvalidity=int(selected[b"UIDVALIDITY"]),
            idle=bool(client.has_capability("IDLE")),
            move=bool(client.has_capability("MOVE")),
            missing_folders=missing,
        )


# --- taking mail in --------------------------------------------------------------------------------------


def fetch_once(desk: Desk, mailbox: ImapMailbox) -> Fetched:
    """One look at the mailbox: take in and move every message in its folder, and record how it went
    (a failure is the mailbox's incident, retried with backoff by the worker)."""
    tally: Counter[str] = Counter()
    try:
        with connected(desk.settings, mailbox) as client:
            take_in(desk, mailbox, client, tally)
    except MailboxError as exc:
        record_failure(desk, mailbox, str(exc))
        return _fetched(mailbox.name, tally, str(exc))
    record_success(desk, mailbox)
    return _fetched(mailbox.name, tally)


def _fetched(name: str, tally: Counter[str], error: str = "") -> Fetched:
    return Fetched(name, tally["filed"], tally["unreadable"], tally["moved_only"], error)


def take_in(desk: Desk, mailbox: ImapMailbox, client: IMAPClient, tally: Counter[str]) -> None:
    """Every message now in the folder, oldest first: filed (or found filed before), then moved."""
    uidvalidity = int(client.select_folder(mailbox.folder)[b"UIDVALIDITY"])
    folders_seen: set[str] = set()
    for uid in client.search(["UNDELETED"]):  # UIDs (IMAPClient's default); deleted ones are leaving anyway
        outcome = _take_in_one(desk, mailbox, client, uidvalidity, int(uid), tally)
        if outcome is None:
            continue  # gone from the folder meanwhile (someone moved it): nothing to do
        folder = mailbox.unreadable_folder if outcome in UNREADABLE else mailbox.processed_folder
        _move(client, int(uid), folder, folders_seen)
        _mark_moved(desk, mailbox.name, uidvalidity, int(uid))


def _take_in_one(
    desk: Desk, mailbox: ImapMailbox, client: IMAPClient, uidvalidity: int, uid: int, tally: Counter[str]
) -> str | None:
    """File one message unless it was filed before; returns its outcome ("" when filed), None if it is gone."""
    before = _recorded(desk, mailbox.name, uidvalidity, uid)
    if before is not None:
        tally["moved_only"] += 1
        return before
    size = _size(client, uid)
    if size is None:
        return None
    if size > desk.settings.max_message_bytes:  # not fetched at all: it waits in the unreadable folder, whole
        limit = desk.settings.max_message_bytes
        log.warning("mailbox %s: uid %s has %s bytes, more than the %s allowed", mailbox.name, uid, size, limit)
        _record(desk, mailbox.name, uidvalidity, uid, digest="", outcome="too_large")
        tally["unreadable"] += 1
        return "too_large"
    raw = _body(client, uid)
    if raw is None:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    earlier = _same_content_taken_in(desk, mailbox.name, digest)
    if earlier is not None:  # the folder was rebuilt (new UIDVALIDITY) or the mail put back: not filed again
        _record(desk, mailbox.name, uidvalidity, uid, digest=digest, outcome=earlier)
        tally["moved_only"] += 1
        return earlier
    source = f"imap {mailbox.name} ({mailbox.user}@{mailbox.host}/{mailbox.folder}) uid {uid}"
    with joining(_recording(mailbox.name, uidvalidity, uid, digest)):
        receipt = inbound.receive(desk, raw, source=source)
    outcome = receipt.outcome if receipt.outcome in UNREADABLE else ""
    # Filed: the row was written with it (this adds nothing). Quarantined: the quarantine has committed; now the row.
    _record(desk, mailbox.name, uidvalidity, uid, digest=digest, outcome=outcome)
    tally["unreadable" if outcome else "filed"] += 1
    log.info("mailbox %s uid %s: %s", mailbox.name, uid, receipt.describe())
    return outcome


def _size(client: IMAPClient, uid: int) -> int | None:
    found = client.fetch([uid], ["RFC822.SIZE"]).get(uid)
    return None if found is None else int(found[b"RFC822.SIZE"])


def _body(client: IMAPClient, uid: int) -> bytes | None:
    found = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)  # PEEK: reading it does not mark it seen
    return None if found is None else bytes(found[b"BODY[]"])


def _move(client: IMAPClient, uid: int, folder: str, folders_seen: set[str]) -> None:
    """Move one message; a folder that is not there yet is created. Without MOVE: copy it, flag it deleted
    and expunge that message alone (UIDPLUS), never the folder's other deleted mail."""
    if folder not in folders_seen:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        folders_seen.add(folder)
    if client.has_capability("MOVE"):
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.add_flags([uid], [DELETED])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])


# --- the record of what was taken in ---------------------------------------------------------------------


def _recording(mailbox: str, uidvalidity: int, uid: int, digest: str) -> Callable[[Session], Any]:
    """Joins the inbound command's transaction: the message is recorded as taken in with what it made."""

    @contextlib.contextmanager
    def recording(session: Session) -> Iterator[None]:
        yield  # the command ran; an exception skips the rest and everything rolls back
        if _row(session, mailbox, uidvalidity, uid) is None:  # a command that ran twice records it once
            session.add(
                ImapMessage(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, sha256=digest, filed_at=clock.now())
            )

    return recording


def _row(session: Session, mailbox: str, uidvalidity: int, uid: int) -> ImapMessage | None:
    return session.scalar(
        select(ImapMessage).where(
            ImapMessage.mailbox == mailbox, ImapMessage.uidvalidity == uidvalidity, ImapMessage.uid == uid
        )
    )


def _recorded(desk: Desk, mailbox: str, uidvalidity: int, uid: int) -> str | None:
    """The outcome of this message if it was taken in before ("" filed), else None."""
    with desk.db.reading() as session:
        row = _row(session, mailbox, uidvalidity, uid)
        return None if row is None else row.outcome


def _same_content_taken_in(desk: Desk, mailbox: str, digest: str) -> str | None:
    """The outcome of a message with these very bytes taken in from this mailbox before, if any."""
    with desk.db.reading() as session:
        return session.scalar(
            select(ImapMessage.outcome)
            .where(ImapMessage.mailbox == mailbox, ImapMessage.sha256 == digest)
            .order_by(ImapMessage.id)
            .limit(1)
        )


def _record(desk: Desk, mailbox: str, uidvalidity: int, uid: int, *, digest: str, outcome: str) -> None:
    with desk.db.transaction() as session:
        if _row(session, mailbox, uidvalidity, uid) is None:
            session.add(
                ImapMessage(
                    mailbox=mailbox,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    sha256=digest,
                    filed_at=clock.now(),
                    outcome=outcome,
                )
            )


def _mark_moved(desk: Desk, mailbox: str, uidvalidity: int, uid: int) -> None:
    with desk.db.transaction() as session:
        row = _row(session, mailbox, uidvalidity, uid)
        if row is not None:
            row.moved_at = clock.now()


# --- how each mailbox is doing -----------------------------------------------------------------------------


def _state(session: Session, mailbox: str) -> ImapMailboxState:
    state = session.get(ImapMailboxState, mailbox)
    if state is None:
        state = ImapMailboxState(mailbox=mailbox, failures=0)
        session.add(state)
    return state


def record_success(desk: Desk, mailbox: ImapMailbox) -> None:
    now = clock.now()
    with desk.db.transaction() as session:
        state = _state(session, mailbox.name)
        if state.last_error is not None:
            log.warning("mailbox %s answers again (it failed since %s)", mailbox.name, state.failing_since)
        state.last_fetch_at = state.last_success_at = now
        state.last_error = state.failing_since = state.next_try_at = None
        state.failures = 0


def record_failure(desk: Desk, mailbox: ImapMailbox, error: str) -> timedelta:
    """The mailbox's incident: the answer, since when, and the next try; returns the wait until then."""
    now = clock.now()
    with desk.db.transaction() as session:
        state = _state(session, mailbox.name)
        state.failures = (state.failures or 0) + 1
        wait = min(FIRST_RETRY * 2 ** min(state.failures - 1, 16), LONGEST_RETRY)
        state.last_fetch_at, state.last_error = now, error
        state.failing_since = state.failing_since or now
        state.next_try_at = now + wait
    log.warning("mailbox %s: %s; next try in %s s", mailbox.name, error, int(wait.total_seconds()))
    return wait


def statuses(desk: Desk) -> list[MailboxStatus]:
    """Every configured mailbox with its state, in the order of the settings."""
    with desk.db.reading() as session:
        states = {s.mailbox: s for s in session.scalars(select(ImapMailboxState))}
        per_mailbox = select(ImapMessage.mailbox, func.count()).group_by(ImapMessage.mailbox)
        counts = {name: count for name, count in session.execute(per_mailbox)}
        unreadable_ones = per_mailbox.where(ImapMessage.outcome.in_(UNREADABLE))
        unreadable = {name: count for name, count in session.execute(unreadable_ones)}
    found = []
    for mailbox in desk.settings.imap_mailboxes:
        state = states.get(mailbox.name)
        found.append(
            MailboxStatus(
                name=mailbox.name,
                address=f"{mailbox.user}@{mailbox.host}:{mailbox.port}/{mailbox.folder}",
                security=mailbox.security,
                processed_folder=mailbox.processed_folder,
                unreadable_folder=mailbox.unreadable_folder,
                filed=counts.get(mailbox.name, 0),
                unreadable=unreadable.get(mailbox.name, 0),
                last_fetch_at=state.last_fetch_at if state else None,
                last_success_at=state.last_success_at if state else None,
                last_error=state.last_error if state else None,
                failing_since=state.failing_since if state else None,
                failures=state.failures if state else 0,
                next_try_at=state.next_try_at if state else None,
            )
        )
    return found


# --- watching: what the worker runs, one thread per mailbox -------------------------------------------------


class MailboxWatcher:
    """Takes in a mailbox's mail until ``stopping`` is set: at once, then on every IDLE wake-up (or every
    poll interval without IDLE); a failing mailbox is tried again with backoff."""

    def __init__(self, desk: Desk, mailbox: ImapMailbox, stopping: threading.Event):
        self.desk, self.mailbox, self.stopping = desk, mailbox, stopping

    def run(self) -> None:
        log.info("watching mailbox %s (%s@%s)", self.mailbox.name, self.mailbox.user, self.mailbox.host)
        while not self.stopping.is_set():
            try:
                wait = self.watch()
            except Exception:  # the store failed while filing: the mail waits on the server, look again
                log.exception("mailbox %s: taking mail in failed", self.mailbox.name)
                wait = AFTER_STORE_ERROR_SECONDS
            self.stopping.wait(wait)

    def watch(self) -> float:
        """One connection: take in what is there, then wait on IDLE and take in again, until the connection
        fails or the worker stops. Returns how many seconds to wait before connecting again."""
        settings = self.desk.settings
        tally: Counter[str] = Counter()
        try:
            with connected(settings, self.mailbox) as client:
                take_in(self.desk, self.mailbox, client, tally)
                record_success(self.desk, self.mailbox)
                if not client.has_capability("IDLE"):
                    return float(settings.imap_poll_seconds)
                while not self.stopping.is_set():
                    if self._idle(client, settings.imap_idle_seconds):
                        take_in(self.desk, self.mailbox, client, tally)
                        record_success(self.desk, self.mailbox)
        except MailboxError as exc:
            return record_failure(self.desk, self.mailbox, str(exc)).total_seconds()
        return 0.0

    def _idle(self, client: IMAPClient, seconds: int) -> bool:
        """Wait on IDLE until the server says the folder changed, ``seconds`` pass, or the worker stops;
        returns whether it changed (a new message: EXISTS)."""
        client.idle()
        changed = False
        try:
            until = time.monotonic() + seconds
            while not changed and not self.stopping.is_set() and time.monotonic() < until:
                responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
                changed = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
        finally:
            client.idle_done()
        return changed


def start_watching(desk: Desk, stopping: threading.Event) -> list[threading.Thread]:
    """A thread per configured mailbox, each ending when ``stopping`` is set."""
    threads = []
    for mailbox in desk.settings.imap_mailboxes:
        watcher = MailboxWatcher(desk, mailbox, stopping)
        thread = threading.Thread(target=watcher.run, name=f"supportdesk-imap-{mailbox.name}", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
