"""Mail from the team's own mailbox over IMAP (issue 24), against a real IMAP server: Dovecot from Debian's
packages on 127.0.0.1 (tests/imap/start-dovecot.sh, started here when it is not running; without Dovecot these
tests are skipped with the reason, except under CI=true, where that fails). Each test reads folders of its own
in the test user's mailbox, so tests never see each other's mail."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid
from dataclasses import replace
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import imapclient
import pytest
from click.testing import CliRunner

from supportdesk.cli.mailboxes import mailboxes
from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import queries as conversation
from supportdesk.engine.mail import imap
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.settings import ImapMailbox, Settings
from supportdesk.engine.store.models import InboundMail, Ticket
from supportdesk.engine.tickets import queries

from conftest import MONDAY_10AM, WORKFLOWS
from web_client import signed_in, text

START_DOVECOT = Path(__file__).resolve().parent / "imap" / "start-dovecot.sh"
HOST, PORT = "127.0.0.1", int(os.environ.get("IMAP_TEST_PORT", "10143"))
USER, PASSWORD = "support@desk.test", "desk-test-password"  # made by start-dovecot.sh


@pytest.fixture(scope="session")
def dovecot() -> int:
    """The test Dovecot's port, started by tests/imap/start-dovecot.sh if it is not running."""
    try:
        done = subprocess.run([str(START_DOVECOT)], capture_output=True, text=True, timeout=60, check=False)
        problem = "" if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = str(exc)
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the test IMAP server (Dovecot) could not be started: {problem}")
        pytest.skip(f"no test IMAP server: {START_DOVECOT.name} failed: {problem}")
    return PORT


@pytest.fixture
def mailbox(dovecot) -> ImapMailbox:
    """The test user's mailbox, read from a folder of this test's own (created empty)."""
    tag = uuid.uuid4().hex[:10]
    box = ImapMailbox(
        name="support",
        host=HOST,
        port=dovecot,
        security="none",
        user=USER,
        password=PASSWORD,
        folder=f"in-{tag}",
        processed_folder=f"done-{tag}",
        unreadable_folder=f"bad-{tag}",
    )
    with server() as client:
        client.create_folder(box.folder)
    return box


@pytest.fixture
def imap_desk(desk, mailbox):
    desk.settings = replace(desk.settings, imap_mailboxes=(mailbox,))
    return desk


def server() -> imapclient.IMAPClient:
    client = imapclient.IMAPClient(HOST, port=PORT, ssl=False, timeout=10)
    client.login(USER, PASSWORD)
    return client


def deliver(mailbox: ImapMailbox, raw: bytes) -> None:
    """A mail arrives in the mailbox, as the team's mail provider puts it there."""
    with server() as client:
        client.append(mailbox.folder, raw)


def folder(name: str) -> list[bytes]:
    """The messages in a folder of the test user's mailbox, whole."""
    with server() as client:
        if not client.folder_exists(name):
            return []
        client.select_folder(name, readonly=True)
        uids = client.search(["ALL"])
        return [data[b"BODY[]"] for _, data in sorted(client.fetch(uids, ["BODY.PEEK[]"]).items())]


def customer_mail(subject="Campaign won't send", body="It stops at 40%.\n", sender="Ann Example <ann@example.com>"):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@desk.test", subject
    message["Date"] = format_datetime(MONDAY_10AM)
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(body)
    return message


def tickets(desk) -> list[Ticket]:
    with desk.db.reading() as session:
        return list(session.query(Ticket).order_by(Ticket.id))


def inbound_count(desk) -> int:
    with desk.db.reading() as session:
        return session.query(InboundMail).count()


def status(desk) -> imap.MailboxStatus:
    [found] = imap.statuses(desk)
    return found


# --- new mail, replies, attachments, moving ---------------------------------------------------------------


def test_C01_new_mail_in_the_mailbox_opens_a_call_and_is_moved_to_the_processed_folder(imap_desk, mailbox):
    raw = customer_mail().as_bytes()
    deliver(mailbox, raw)
    fetched = imap.fetch_once(imap_desk, mailbox)
    assert (fetched.filed, fetched.unreadable, fetched.moved_only, fetched.error) == (1, 0, 0, "")
    [ticket] = tickets(imap_desk)
    view = queries.ticket_view(imap_desk, ticket.reference)
    assert (view.summary, view.contact_email, view.channel) == ("Campaign won't send", "ann@example.com", "email")
    assert folder(mailbox.folder) == []
    assert [m.replace(b"\r\n", b"\n") for m in folder(mailbox.processed_folder)] == [raw.replace(b"\r\n", b"\n")]
    shown = status(imap_desk)
    assert (shown.filed, shown.failing, shown.last_fetch_at) == (1, False, MONDAY_10AM)


def test_C03_a_reply_threads_onto_its_call_with_its_attachments_kept(imap_desk, mailbox):
    deliver(mailbox, customer_mail().as_bytes())
    imap.fetch_once(imap_desk, mailbox)
    [ticket] = tickets(imap_desk)
    reply = customer_mail(f"Re: [{ticket.reference}] We have logged your call", "The import log is attached.\n")
    reply.add_attachment(b"id,name\n1,Ann\n", maintype="text", subtype="csv", filename="import.csv")
    deliver(mailbox, reply.as_bytes())
    assert imap.fetch_once(imap_desk, mailbox).filed == 1
    assert [t.reference for t in tickets(imap_desk)] == [ticket.reference]  # no second call
    first, second = conversation.conversation(imap_desk, ticket.reference, public_only=False)
    assert (first.kind, second.kind) == ("customer_mail", "customer_mail")
    assert second.body.strip() == "The import log is attached."
    assert [(f.filename, f.size, f.kept) for f in second.files] == [("import.csv", 14, True)]
    assert len(folder(mailbox.processed_folder)) == 2


def test_mail_the_desk_cannot_file_is_quarantined_with_the_reason_and_moved_to_its_own_folder(imap_desk, mailbox):
    deliver(mailbox, b"Subject: no sender here\r\n\r\nWho wrote this?\r\n")
    fetched = imap.fetch_once(imap_desk, mailbox)
    assert (fetched.filed, fetched.unreadable) == (0, 1)
    [kept] = mail_queries.quarantined_mail(imap_desk)
    assert "no sender" in kept.reason
    assert tickets(imap_desk) == []
    assert folder(mailbox.folder) == []
    assert folder(mailbox.processed_folder) == []
    assert [m.replace(b"\r\n", b"\n") for m in folder(mailbox.unreadable_folder)] == [
        b"Subject: no sender here\n\nWho wrote this?\n"
    ]  # never deleted
    assert (status(imap_desk).filed, status(imap_desk).unreadable) == (1, 1)


# --- exactly once ---------------------------------------------------------------------------------------


def test_a_worker_stopped_between_filing_and_moving_files_nothing_twice(imap_desk, mailbox, monkeypatch):
    deliver(mailbox, customer_mail().as_bytes())
    real_move = imapclient.IMAPClient.move

    def connection_lost_before_the_move(client, messages, to):
        client.shutdown()  # the worker dies here: the message is filed, still in the folder read
        return real_move(client, messages, to)

    monkeypatch.setattr(imapclient.IMAPClient, "move", connection_lost_before_the_move)
    first = imap.fetch_once(imap_desk, mailbox)
    assert (first.filed, first.error != "") == (1, True)
    assert len(tickets(imap_desk)) == 1
    assert len(folder(mailbox.folder)) == 1

    monkeypatch.setattr(imapclient.IMAPClient, "move", real_move)  # the worker starts again
    again = imap.fetch_once(imap_desk, mailbox)
    assert (again.filed, again.moved_only, again.error) == (0, 1, "")
    assert len(tickets(imap_desk)) == 1
    assert inbound_count(imap_desk) == 1  # filed once
    assert folder(mailbox.folder) == []
    assert len(folder(mailbox.processed_folder)) == 1
    assert status(imap_desk).failing is False


def test_a_worker_killed_just_after_the_call_is_committed_only_moves_the_message_next_time(
    imap_desk, mailbox, monkeypatch
):
    """The UID is recorded in the same transaction as the call the message opened, not after it."""
    deliver(mailbox, customer_mail().as_bytes())

    def killed(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(imap, "_record", killed)  # nothing after the inbound command's commit runs
    with pytest.raises(RuntimeError):
        imap.fetch_once(imap_desk, mailbox)
    monkeypatch.undo()
    assert len(tickets(imap_desk)) == 1
    assert len(folder(mailbox.folder)) == 1
    again = imap.fetch_once(imap_desk, mailbox)
    assert (again.filed, again.moved_only) == (0, 1)
    assert len(tickets(imap_desk)) == 1
    assert inbound_count(imap_desk) == 1
    assert folder(mailbox.folder) == []
    assert len(folder(mailbox.processed_folder)) == 1


def test_the_same_message_back_in_a_rebuilt_folder_is_only_moved(imap_desk, mailbox):
    """A new UIDVALIDITY makes every UID new: the message's SHA-256 still tells it was taken in."""
    raw = customer_mail().as_bytes()
    deliver(mailbox, raw)
    imap.fetch_once(imap_desk, mailbox)
    with server() as client:  # the folder is deleted and made again, and the mail restored from a backup
        validity = client.folder_status(mailbox.folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder(mailbox.folder)
        client.create_folder(mailbox.folder)
        client.append(mailbox.folder, raw)
        assert client.folder_status(mailbox.folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"] != validity
    again = imap.fetch_once(imap_desk, mailbox)
    assert (again.filed, again.moved_only) == (0, 1)
    assert len(tickets(imap_desk)) == 1
    assert folder(mailbox.folder) == []
    assert len(folder(mailbox.processed_folder)) == 2  # both copies kept, none deleted


def test_the_store_failing_while_filing_leaves_the_message_to_be_filed_on_the_next_look(
    imap_desk, mailbox, monkeypatch
):
    """Nothing was kept, so nothing is recorded and nothing moved: the mail waits on the server."""
    deliver(mailbox, customer_mail().as_bytes())

    def store_down(*args, **kwargs):
        raise RuntimeError("the store went away")

    monkeypatch.setattr(imap.inbound, "receive", store_down)
    with pytest.raises(RuntimeError):
        imap.fetch_once(imap_desk, mailbox)
    monkeypatch.undo()
    assert tickets(imap_desk) == []
    assert len(folder(mailbox.folder)) == 1
    assert imap.fetch_once(imap_desk, mailbox).filed == 1
    assert len(tickets(imap_desk)) == 1


# --- a mailbox that refuses us ----------------------------------------------------------------------------


def test_a_wrong_password_is_an_incident_with_the_servers_answer_and_loses_nothing(imap_desk, mailbox, frozen_clock):
    deliver(mailbox, customer_mail().as_bytes())
    wrong = replace(mailbox, password="not-the-password")
    imap_desk.settings = replace(imap_desk.settings, imap_mailboxes=(wrong,))
    failed = imap.fetch_once(imap_desk, wrong)
    assert "refused the login of support@desk.test" in failed.error
    assert failed.error.endswith(": [AUTHENTICATIONFAILED] Authentication failed.")  # Dovecot's own answer
    shown = status(imap_desk)
    assert (shown.failing, shown.failures, shown.failing_since) == (True, 1, MONDAY_10AM)
    assert shown.next_try_at == MONDAY_10AM + imap.FIRST_RETRY
    imap.fetch_once(imap_desk, wrong)
    assert status(imap_desk).next_try_at == MONDAY_10AM + 2 * imap.FIRST_RETRY  # backoff doubles
    assert tickets(imap_desk) == []
    assert len(folder(mailbox.folder)) == 1  # the mail waits on the server

    imap_desk.settings = replace(imap_desk.settings, imap_mailboxes=(mailbox,))  # the password put right
    assert imap.fetch_once(imap_desk, mailbox).filed == 1
    shown = status(imap_desk)
    assert (shown.failing, shown.failures, shown.last_error) == (False, 0, None)
    assert len(tickets(imap_desk)) == 1


def test_an_unreachable_mailbox_is_an_incident_too(imap_desk, mailbox):
    nobody_there = replace(mailbox, port=1)
    imap_desk.settings = replace(imap_desk.settings, imap_mailboxes=(nobody_there,))
    assert "cannot reach 127.0.0.1:1: ConnectionRefusedError" in imap.fetch_once(imap_desk, nobody_there).error
    assert status(imap_desk).failing


def test_admins_see_the_mailboxes_and_a_failing_ones_answer(imap_desk, mailbox, client):
    wrong = replace(mailbox, password="not-the-password")
    imap_desk.settings = replace(imap_desk.settings, imap_mailboxes=(wrong,))
    imap.fetch_once(imap_desk, wrong)
    signed_in(client, "admin")
    page = " ".join(re.sub(r"<[^>]+>", " ", text(client.get("/admin/mailboxes"))).split())  # what a person reads
    assert f"support@desk.test@127.0.0.1:{mailbox.port}/{mailbox.folder}" in page
    assert "Failing since 23 Nov 2026, 10:00 (1 try); next try 23 Nov 2026, 10:00, its mail waits" in page
    assert (
        f"The server's answer: 127.0.0.1:{mailbox.port} refused the login of support@desk.test: "
        "[AUTHENTICATIONFAILED] Authentication failed." in page
    )
    assert "Mailboxes read over IMAP" in text(client.get("/admin"))
    signed_in(client, "alice")
    assert client.get("/admin/mailboxes").status_code == 403


# --- waiting for mail ----------------------------------------------------------------------------------------


def test_IDLE_the_worker_delivers_a_new_message_to_the_desk_within_seconds(imap_desk, mailbox):
    """C01 by mail from the team's mailbox: the worker waits on IMAP IDLE, so a new mail is a call at once."""
    worker = Worker(imap_desk)
    running = worker.start_in_thread()
    try:
        for _ in range(100):  # connected, took in the (empty) folder, waiting on IDLE
            if status(imap_desk).last_success_at is not None:
                break
            time.sleep(0.1)
        sent = time.monotonic()
        deliver(mailbox, customer_mail("Sent while the desk waits").as_bytes())
        while not tickets(imap_desk) and time.monotonic() - sent < 10:
            time.sleep(0.05)
        took = time.monotonic() - sent
    finally:
        worker.stop()
        running.join(timeout=10)
    assert [t.summary for t in tickets(imap_desk)] == ["Sent while the desk waits"]
    print(f"IMAP IDLE: a new message was a call {took:.2f} s after it reached the mailbox")  # pytest -s shows it
    assert took < 5, f"took {took:.1f} s"
    assert len(folder(mailbox.processed_folder)) == 1
    assert not running.is_alive()  # stopping the worker ends the IDLE within a second or so


def test_a_server_without_IDLE_or_MOVE_is_polled_and_each_message_copied_then_expunged_alone(
    imap_desk, mailbox, monkeypatch
):
    real = imapclient.IMAPClient.has_capability
    monkeypatch.setattr(
        imapclient.IMAPClient,
        "has_capability",
        lambda client, name: name not in ("IDLE", "MOVE") and real(client, name),
    )
    with server() as client:  # someone else's deleted mail in the folder is not the desk's to expunge
        client.append(mailbox.folder, customer_mail("Theirs, deleted").as_bytes(), flags=[imapclient.DELETED])
    deliver(mailbox, customer_mail().as_bytes())
    imap_desk.settings = replace(imap_desk.settings, imap_poll_seconds=45)
    next_look = imap.MailboxWatcher(imap_desk, mailbox, threading.Event()).watch()
    assert next_look == 45.0  # no IDLE: the connection is closed and the mailbox looked at again in 45 s
    assert [t.summary for t in tickets(imap_desk)] == ["Campaign won't send"]
    assert len(folder(mailbox.processed_folder)) == 1
    assert [b"Theirs, deleted" in m for m in folder(mailbox.folder)] == [True]


# --- settings and the command line -----------------------------------------------------------------------------


def test_mailboxes_are_read_from_the_settings_and_bad_ones_are_refused_by_name():
    env = {
        "SUPPORTDESK_IMAP_MAILBOXES": "support, sales",
        "SUPPORTDESK_IMAP_SUPPORT_HOST": "imap.example.com",
        "SUPPORTDESK_IMAP_SUPPORT_USER": "support@example.com",
        "SUPPORTDESK_IMAP_SUPPORT_PASSWORD_FILE": "/run/secrets/imap",
        "SUPPORTDESK_IMAP_SALES_HOST": "imap.example.com",
        "SUPPORTDESK_IMAP_SALES_USER": "sales@example.com",
        "SUPPORTDESK_IMAP_SALES_PASSWORD": "secret",
        "SUPPORTDESK_IMAP_SALES_SECURITY": "starttls",
        "SUPPORTDESK_IMAP_SALES_FOLDER": "Support",
    }
    support, sales = Settings.from_env(env).imap_mailboxes
    assert (support.port, support.security, support.password_file, support.folder) == (
        993,
        "tls",
        Path("/run/secrets/imap"),
        "INBOX",
    )
    assert (sales.port, sales.security, sales.folder, sales.processed_folder) == (
        143,
        "starttls",
        "Support",
        "Processed",
    )
    assert "secret" not in repr(sales)
    with pytest.raises(ValueError, match="SUPPORTDESK_IMAP_SALES_SECURITY none sends the password in clear"):
        Settings.from_env({**env, "SUPPORTDESK_IMAP_SALES_SECURITY": "none"})
    with pytest.raises(ValueError, match="set one of SUPPORTDESK_IMAP_SALES_PASSWORD and"):
        Settings.from_env({**env, "SUPPORTDESK_IMAP_SALES_PASSWORD_FILE": "/x"})
    with pytest.raises(ValueError, match="SUPPORTDESK_IMAP_SUPPORT_HOST is not set"):
        Settings.from_env({**env, "SUPPORTDESK_IMAP_SUPPORT_HOST": ""})


def test_the_command_line_lists_tests_and_fetches_a_mailbox(desk, mailbox, tmp_path):
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    env = {
        "SUPPORTDESK_DATABASE_URL": desk.settings.database_url,
        "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS),
        "SUPPORTDESK_IMAP_MAILBOXES": "support",
        "SUPPORTDESK_IMAP_SUPPORT_HOST": HOST,
        "SUPPORTDESK_IMAP_SUPPORT_PORT": str(mailbox.port),
        "SUPPORTDESK_IMAP_SUPPORT_SECURITY": "none",
        "SUPPORTDESK_IMAP_SUPPORT_USER": USER,
        "SUPPORTDESK_IMAP_SUPPORT_PASSWORD_FILE": str(secret),
        "SUPPORTDESK_IMAP_SUPPORT_FOLDER": mailbox.folder,
        "SUPPORTDESK_IMAP_SUPPORT_PROCESSED_FOLDER": mailbox.processed_folder,
        "SUPPORTDESK_IMAP_SUPPORT_UNREADABLE_FOLDER": mailbox.unreadable_folder,
    }
    runner = CliRunner()
    deliver(mailbox, customer_mail().as_bytes())
    tested = runner.invoke(mailboxes, ["test", "support"], env=env)
    assert tested.exit_code == 0, tested.output
    assert f"support: logged in as {USER}; 1 message(s) in {mailbox.folder}" in tested.output
    assert "new mail is seen at once (IDLE)" in tested.output
    fetched = runner.invoke(mailboxes, ["fetch", "support", "--once"], env=env)
    assert fetched.exit_code == 0, fetched.output
    assert "support: 1 filed, 0 unreadable, 0 filed before and moved now" in fetched.output
    listed = runner.invoke(mailboxes, ["list"], env=env)
    assert f"support\t{USER}@{HOST}:{mailbox.port}/{mailbox.folder} (none)\tlast fetch 2026-11-23 10:00:00 GMT" in (
        listed.output
    )
    assert "1 filed (0 unreadable)" in listed.output
    secret.write_text("wrong\n")  # read at each connection: a rotated secret needs no restart
    refused = runner.invoke(mailboxes, ["fetch", "support", "--once"], env=env)
    assert refused.exit_code == 1
    assert "refused the login" in refused.output
    assert "failing since 2026-11-23 10:00:00 GMT (1 try)" in runner.invoke(mailboxes, ["list"], env=env).output
    unknown = runner.invoke(mailboxes, ["test", "sales"], env=env)
    assert (unknown.exit_code, "no mailbox 'sales' is configured; configured: support" in unknown.output) == (1, True)
