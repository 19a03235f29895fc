"""`supportdesk mail-server` in a subprocess, mail sent to it with smtplib: a new mail
opens a call, a reply joins its call and re-opens it when Delayed, an auto-reply
opens nothing, and malformed or oddly encoded mail is read or quarantined while
the receiver keeps serving. The desk's store is shared with this process."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.people import portal
from supportdesk.engine.tickets import commands, queries

from conftest import WORKFLOWS, open_test_desk
from helpers import FIRST_RESPONSE, delay_for_information, do, events, log_and_triage

pytestmark = pytest.mark.slow
SUPPORT = "support@supportdesk.local"

# The command line, as the installed ``supportdesk`` runs it.
SUPPORTDESK = [sys.executable, "-m", "supportdesk.cli"]


def customer_mail(
    subject: str = "Campaign won't send",
    body: str = "It stops at 40%.",
    sender: str = "Ann Example <ann@example.com>",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
    message["Message-ID"] = make_msgid(domain="example.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_smtp(port: int, server: subprocess.Popen, deadline: float) -> None:
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5, local_hostname="test.local") as probe:
                probe.noop()
                return
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"mail-server exited with {server.returncode}:\n{server.communicate()[0]}")
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory, module_store_url):
    """(desk, port) of a mail-server running in a subprocess on a fresh store."""
    folder = tmp_path_factory.mktemp("mail-server")
    url = module_store_url("mail-server")
    desk = open_test_desk(url)
    commands.deploy(desk, actor="test")
    port = free_port()
    env = {
        **os.environ,
        "SUPPORTDESK_DATABASE_URL": url,
        "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS),
        "SUPPORTDESK_MAIL_SERVER_PORT": str(port),
        "SUPPORTDESK_SUPPORT_ADDRESS": SUPPORT,
    }
    server = subprocess.Popen(
        [*SUPPORTDESK, "mail-server"], env=env, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_smtp(port, server, time.monotonic() + 60)
        yield desk, port
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
        desk.close()
    assert server.returncode == 0, output
    assert f"receiving mail for <{SUPPORT}> on smtp://127.0.0.1:{port}/" in output


def send(port: int, raw: bytes, sender: str = "ann@example.com", to: str = SUPPORT) -> tuple[int, str]:
    """One mail over SMTP; returns the server's answer to it."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30, local_hostname="test.local") as smtp:
        smtp.ehlo()
        smtp.mail(sender)
        code, said = smtp.rcpt(to)
        if code != 250:
            return code, said.decode()
        code, said = smtp.data(raw)
        return code, said.decode()


def test_C01_a_mail_over_smtp_opens_a_call_and_the_answer_names_it(served):
    desk, port = served
    code, said = send(port, customer_mail("Templates lost", sender="Carol <carol@example.com>"), "carol@example.com")
    assert code == 250
    assert said.startswith("2.0.0 received SUP-")
    reference = said.split()[-1]
    view = queries.ticket_view(desk, reference)
    assert (view.summary, view.contact_email, view.channel) == ("Templates lost", "carol@example.com", "email")
    assert [m.template for m in mail_queries.outbox_of(desk, reference)] == ["confirmation"]


def test_C24_a_reply_over_smtp_joins_its_call_and_reopens_it(served):
    desk, port = served
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    code, said = send(port, customer_mail(f"Re: [{reference}] the import file", "Attached, sorry for the wait."))
    assert (code, said) == (250, f"2.0.0 received {reference}")
    assert queries.ticket_view(desk, reference).status == "open"
    assert events(desk, reference, "mail_received")[0].payload["excerpt"] == "Attached, sorry for the wait."


def test_an_auto_reply_over_smtp_opens_no_call(served):
    desk, port = served
    code, _ = send(port, customer_mail("Out of office", sender="dan@example.com", Auto_Submitted="auto-replied"), "")
    assert code == 250
    assert queries.customer_calls(desk, "dan@example.com") == []


def test_malformed_and_oddly_encoded_mail_is_read_or_quarantined_and_the_server_keeps_serving(served):
    desk, port = served
    latin1 = (
        "From: Élise <elise@example.fr>\r\nTo: support@supportdesk.local\r\nSubject: Problème d'envoi\r\n"
        "\r\nLa campagne est bloquée\r\n"
    ).encode("latin-1")
    html_only = (
        b"From: fay@example.com\r\nSubject: =?utf-8?q?Fen=C3=AAtre_vide?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Nothing <b>shows</b></p>\r\n"
    )
    binary = bytes(range(1, 256)).replace(b"\r", b"").replace(b"\n", b"")
    no_from = b"Subject: Who am I\r\n\r\nno From header: the envelope sender is the contact\r\n"
    no_domain = b"From: Ivy <ivy@localhost>\r\nSubject: Hello\r\n\r\nan address no call can be logged for\r\n"
    for raw, sender in (
        (latin1, "elise@example.fr"),
        (html_only, "fay@example.com"),
        (binary, "x@example.com"),
        (no_from, "hal@example.com"),
        (no_domain, "ivy@localhost"),
    ):
        code, said = send(port, raw, sender)
        assert code == 250, said  # kept: filed, or quarantined
    [elise] = queries.customer_calls(desk, "elise@example.fr")
    assert elise.summary == "Problème d'envoi"
    assert elise.contact_name == "Élise"
    [fay] = queries.customer_calls(desk, "fay@example.com")
    assert fay.summary == "Fenêtre vide"
    [hal] = queries.customer_calls(desk, "hal@example.com")
    assert hal.summary == "Who am I"
    reasons = [row.reason for row in mail_queries.quarantined_mail(desk)]
    assert len(reasons) == 2
    assert any("no mail headers" in reason for reason in reasons)
    assert any("contact_email: The part after the @-sign is not valid" in reason for reason in reasons)
    assert all(row.source == "smtp from 127.0.0.1" for row in mail_queries.quarantined_mail(desk))

    refused = send(port, customer_mail(), to="someone-else@example.com")
    assert refused[0] == 550
    assert SUPPORT in refused[1]
    code, said = send(port, customer_mail("Still there?", sender="gus@example.com"), "gus@example.com")
    assert code == 250
    assert said.startswith("2.0.0 received SUP-")


def test_C03_a_strangers_reply_over_smtp_is_held_and_the_answer_reveals_nothing(served):
    """Eve quotes Ann's Delayed call: held for review, the call not re-opened, no clock restarted,
    nothing on Ann's portal, and the SMTP answer is the plain one of a mail that named no call:
    the same whether the reference she quotes names a call or not."""
    desk, port = served
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    before = [e.kind for e in queries.ticket_view(desk, reference).history]
    outbox_before = mail_queries.outbox_counts(desk)
    quoting = send(
        port,
        customer_mail(
            f"Re: [{reference}] We have logged your call", "Let me in.", sender="Eve <eve@elsewhere.example>"
        ),
        "eve@elsewhere.example",
    )
    no_such_call = send(
        port,
        customer_mail(
            "Re: [SUP-2026-999999] We have logged your call", "Let me in.", sender="Eve <eve@elsewhere.example>"
        ),
        "eve@elsewhere.example",
    )
    auto_reply = send(
        port,
        customer_mail(
            f"Re: [{reference}] Out of office", sender="eve@elsewhere.example", Auto_Submitted="auto-replied"
        ),
        "eve@elsewhere.example",
    )
    assert quoting == no_such_call == auto_reply == (250, "2.0.0 received")
    view = queries.ticket_view(desk, reference)
    assert view.status == "delayed"
    assert [e.kind for e in view.history] == before
    assert {c.metric: c.state for c in view.clocks}["resolution"] == "paused"
    assert "mail_received" not in [u.kind for u in portal.call_for_customer(desk, "ann@example.com", reference).updates]
    assert mail_queries.outbox_counts(desk) == outbox_before  # no confirmation or auto-reply to anyone
    assert queries.customer_calls(desk, "eve@elsewhere.example") == []
    held = [row for row in mail_queries.held_mail(desk) if row.from_address == "eve@elsewhere.example"]
    assert sorted(row.quoted_reference for row in held) == sorted([reference, "SUP-2026-999999"])
