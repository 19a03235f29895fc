"""Inbound mail, in this process: a mail opens a call (C01), a reply joins its call and
re-opens a Delayed one (C24), auto-replies open nothing, odd mail is read or
quarantined, never lost; and `supportdesk ingest-mail` for files, folders and Maildirs."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from click.testing import CliRunner

from supportdesk.cli.mail import ingest_mail, mail_release, mail_status
from supportdesk.engine.mail import inbound
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.store.models import OutboxMail, Ticket
from supportdesk.engine.tickets import commands, queries

from conftest import MONDAY_10AM, WORKFLOWS, open_test_desk
from helpers import (
    FIRST_RESPONSE,
    RESOLVED_STRAIGHT_AWAY,
    delay_for_information,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
)

SUPPORT = "support@supportdesk.local"


def customer_mail(
    subject: str = "Campaign won't send",
    body: str = "It stops at 40%.\n",
    sender: str = "Ann Example <ann@example.com>",
    **headers: str,
) -> bytes:
    """A mail as a customer's mail program writes it; ``headers`` as In_Reply_To="<...>"."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
    message["Date"] = format_datetime(MONDAY_10AM)
    message["Message-ID"] = make_msgid(domain="example.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def receive(desk, raw: bytes, envelope_from: str = "ann@example.com") -> inbound.Receipt:
    return inbound.receive(desk, raw, source="test", envelope_from=envelope_from)


def tickets(desk) -> list[Ticket]:
    with desk.db.reading() as session:
        return list(session.query(Ticket).order_by(Ticket.id))


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


def confirmation_of(desk, reference: str) -> OutboxMail:
    return next(m for m in outbox(desk) if m.template == "confirmation" and reference in m.subject)


# --- a new mail is a new call (C01, C02) ---------------------------------------------------------------


def test_C01_a_mail_to_the_support_address_opens_a_call_and_is_confirmed(desk):
    raw = customer_mail()
    receipt = receive(desk, raw)
    assert receipt.outcome == "new_call"
    assert receipt.reference.startswith("SUP-")
    view = queries.ticket_view(desk, receipt.reference)
    assert (view.channel, view.contact_name, view.contact_email, view.account, view.summary) == (
        "email",
        "Ann Example",
        "ann@example.com",
        "example.com",
        "Campaign won't send",
    )
    assert [t.title for t in view.open_tasks] == ["Confirm priority"]
    [received] = events(desk, receipt.reference, "mail_received")
    assert received.payload["from"] == "Ann Example <ann@example.com>"
    assert received.payload["excerpt"] == "It stops at 40%."
    assert received.payload["attachments"] == []
    assert confirmation_of(desk, receipt.reference).to_address == "ann@example.com"
    [kept] = mail_queries.inbound_of(desk, receipt.reference)
    assert kept.outcome == "new_call"
    assert mail_queries.raw_inbound(desk, kept.id) == raw


def test_C01_a_known_sender_keeps_their_account_and_a_stranger_gets_their_domain(desk):
    log_call(desk)  # Ann, by phone, for Acme Ltd
    known = receive(desk, customer_mail(sender="ann@example.com"))
    stranger = receive(desk, customer_mail(sender="Bob <Bob@Elsewhere.example>"), "bob@elsewhere.example")
    assert queries.ticket_view(desk, known.reference).account == "Acme Ltd"
    assert queries.ticket_view(desk, known.reference).contact_name == "ann@example.com"  # no display name
    assert queries.ticket_view(desk, stranger.reference).account == "elsewhere.example"


# --- a reply joins its call (C03, C24) ------------------------------------------------------------------


def test_C03_a_reply_quoting_the_reference_is_added_to_its_call(desk):
    reference = log_call(desk)
    reply = customer_mail(
        f"Re: [{reference}] We have logged your call",
        "The log is attached.\n\nOn Mon, 23 Nov 2026, Support desk wrote:\n> Dear Ann Example,\n"
        "> Thank you for contacting support.\n",
    )
    receipt = receive(desk, reply)
    assert (receipt.outcome, receipt.reference, receipt.reopened) == ("added", reference, False)
    assert len(tickets(desk)) == 1
    assert len(outbox(desk)) == 1
    [received] = events(desk, reference, "mail_received")
    assert received.payload["excerpt"] == "The log is attached."


def test_a_reply_to_one_of_our_mails_threads_by_its_message_id(desk):
    reference = log_call(desk)
    answer = customer_mail("Re: your mail", In_Reply_To=confirmation_of(desk, reference).message_id)
    assert receive(desk, answer).reference == reference
    first_id = events(desk, reference, "mail_received")[0].payload["message_id"]
    follow_up = customer_mail("One more thing", References=f"<unknown@example.com> {first_id}")
    assert receive(desk, follow_up).reference == reference  # answers the customer's own mail on the call


def test_C24_a_reply_reopens_a_delayed_call(desk):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    assert queries.ticket_view(desk, reference).status == "delayed"
    receipt = receive(desk, customer_mail(f"RE: {reference} the CSV", "Here it is."))
    assert (receipt.outcome, receipt.reopened) == ("added", True)
    assert queries.ticket_view(desk, reference).status == "open"
    after_the_mail = history_kinds(desk, reference)[history_kinds(desk, reference).index("mail_received") :]
    assert [k for k in after_the_mail if k in ("message_received", "call_reopened")] == [
        "message_received",
        "call_reopened",
    ]
    assert events(desk, reference, "message_received")[-1].payload["message"] == "information_received"


def test_a_reply_to_a_resolved_call_is_recorded_on_it_and_changes_nothing_else(desk):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    receipt = receive(desk, customer_mail(f"Re: [{reference}] Your call is resolved", "Thanks, all good"))
    assert (receipt.outcome, receipt.reopened) == ("added", False)
    assert queries.ticket_view(desk, reference).status == "resolved"
    assert events(desk, reference, "mail_received")[0].payload["excerpt"] == "Thanks, all good"


# --- loop protection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "envelope_from"),
    [
        (customer_mail("Out of office", Auto_Submitted="auto-replied"), "ann@example.com"),
        (customer_mail("Automatic reply: away", X_Autoreply="yes"), "ann@example.com"),
        (customer_mail("Newsletter", Precedence="bulk"), "news@example.com"),
        (customer_mail("Undeliverable", sender="MAILER-DAEMON@mx.example.com"), "<>"),
        (customer_mail("Delivery failure"), "<>"),  # an empty return path is a bounce, whatever From says
        (customer_mail("Looped", sender=f"Support desk <{SUPPORT}>"), SUPPORT),
    ],
    ids=["auto-submitted", "x-autoreply", "precedence-bulk", "mailer-daemon", "null-sender", "own-address"],
)
def test_an_auto_reply_never_opens_a_call_nor_gets_a_confirmation(desk, raw, envelope_from):
    receipt = receive(desk, raw, envelope_from)
    assert receipt.outcome == "auto_reply"
    assert receipt.reference is None
    assert tickets(desk) == []
    assert outbox(desk) == []


def test_a_bounce_of_our_confirmation_is_noted_on_its_call(desk):
    reference = log_call(desk)
    original = confirmation_of(desk, reference)
    bounce = EmailMessage()
    bounce["From"], bounce["To"] = "Mail Delivery System <MAILER-DAEMON@mx.example.com>", SUPPORT
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content("The mail could not be delivered: mailbox full.")
    returned = EmailMessage()
    returned["From"], returned["To"], returned["Subject"] = SUPPORT, "ann@example.com", original.subject
    returned["Message-ID"] = original.message_id
    returned.set_content("Dear Ann Example, ...")
    bounce.add_attachment(returned)  # message/rfc822, as a delivery report carries it
    receipt = receive(desk, bounce.as_bytes(), "<>")
    assert (receipt.outcome, receipt.reference) == ("auto_reply", reference)
    [noted] = events(desk, reference, "auto_reply_received")
    assert "mailbox full" in noted.payload["excerpt"]
    assert "bounce" in noted.payload["why"]
    assert len(outbox(desk)) == 1
    assert len(tickets(desk)) == 1


# --- nothing twice, nothing lost ------------------------------------------------------------------------


def test_the_same_mail_received_twice_opens_one_call(desk):
    raw = customer_mail()
    first = receive(desk, raw)
    again = receive(desk, raw)
    relayed = receive(desk, b"Received: from mx2.example.com by mx.example.com\r\n" + raw)  # same Message-ID
    assert (again.outcome, again.reference) == ("duplicate", first.reference)
    assert (relayed.outcome, relayed.reference) == ("duplicate", first.reference)
    assert len(tickets(desk)) == 1
    assert len(outbox(desk)) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (bytes(range(256)) * 8, "no mail headers"),
        (b"\r\n\r\n   \r\n", "the message is empty"),
        (b"Subject: who am I?\r\n\r\nno sender at all\r\n", "no sender: the mail has no From address"),
        (b"From: <<<@@>>>\r\nSubject: broken\r\n\r\nbody\r\n", "no sender: the mail has no From address"),
        (customer_mail(sender="Ann <ann@localhost>"), "contact_email"),
    ],
    ids=["binary", "blank", "no-from", "broken-from", "undeliverable-address"],
)
def test_a_mail_that_cannot_be_filed_is_quarantined_whole_with_its_reason(desk, raw, reason):
    assert receive(desk, raw, "").outcome == "quarantined"
    assert receive(desk, raw, "").outcome == "quarantined"  # the same content is kept once
    [kept] = mail_queries.quarantined_mail(desk)
    assert reason in kept.reason
    assert kept.size == len(raw)
    assert kept.source == "test"
    assert tickets(desk) == []
    assert outbox(desk) == []


def test_a_quarantined_mail_is_filed_once_the_cause_is_fixed(sqlite_url, frozen_clock):
    desk = open_test_desk(sqlite_url)  # no diagrams deployed yet: no call can be logged
    assert receive(desk, customer_mail()).outcome == "quarantined"
    [kept] = mail_queries.quarantined_mail(desk)
    assert "NoActiveVersion" in kept.reason
    commands.deploy(desk, actor="test")
    result = CliRunner().invoke(mail_release, [str(kept.id)], env=cli_env(desk))
    assert result.exit_code == 0
    assert result.output.startswith("opened SUP-")
    assert mail_queries.quarantined_mail(desk) == []
    assert len(tickets(desk)) == 1
    desk.close()


# --- whatever the encoding ------------------------------------------------------------------------------


def _mime(headers: bytes, body: bytes) -> bytes:
    return b"From: Ann Example <ann@example.com>\r\nTo: support@supportdesk.local\r\n" + headers + b"\r\n\r\n" + body


ODD_MAILS = {
    "latin-1 bytes in headers and body": (
        _mime(
            "Subject: Problème d'import\r\nContent-Type: text/plain".encode("latin-1"),
            "Les données sont refusées".encode("latin-1"),
        ),
        "Problème d'import",
        "Les données sont refusées",
    ),
    "encoded words, quoted-printable windows-1252": (
        _mime(
            b"Subject: =?iso-8859-1?q?Caf=E9?= =?windows-1252?q?co=FBte_=80?=\r\n"
            b"Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable",
            b"Prix: 10 =80, d=E9j=E0 pay=E9",
        ),
        "Cafécoûte €",
        "Prix: 10 €, déjà payé",
    ),
    "an unknown charset": (
        _mime(
            b"Subject: =?x-unknown?q?Odd?=\r\nContent-Type: text/plain; charset=x-made-up", "fonctionnalité".encode()
        ),
        "Odd",
        "fonctionnalité",
    ),
    "shift_jis": (
        _mime(
            b"Subject: =?shift_jis?b?"
            + base64.b64encode("送信エラー".encode("shift_jis"))
            + b"?=\r\nContent-Type: text/plain; charset=shift_jis",
            "送信できません".encode("shift_jis"),
        ),
        "送信エラー",
        "送信できません",
    ),
    "HTML only": (
        _mime(
            b"Subject: Styled\r\nContent-Type: text/html; charset=utf-8",
            b"<html><head><style>p {color: red}</style></head><body><p>Line one</p>"
            b"<p>Fish &amp; chips&nbsp;twice</p><script>track()</script></body></html>",
        ),
        "Styled",
        "Line one\n\nFish & chips twice",
    ),
    "broken base64": (
        _mime(
            b"Subject: b64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64",
            b"SGVsbG8gd29ybGQ=!!!",
        ),
        "b64",
        "Hello world",
    ),
    "multipart without its boundary": (
        _mime(b"Subject: No boundary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed", b"plain words"),
        "No boundary",
        "plain words",
    ),
}


@pytest.mark.parametrize("name", ODD_MAILS)
def test_oddly_encoded_mail_opens_a_call_with_readable_text(desk, name):
    raw, subject, text = ODD_MAILS[name]
    receipt = receive(desk, raw)
    assert receipt.outcome == "new_call", receipt.detail
    assert queries.ticket_view(desk, receipt.reference).summary == subject
    assert text in events(desk, receipt.reference, "mail_received")[0].payload["excerpt"]


def test_attachments_are_kept_up_to_the_size_limit_and_the_message_size_is_capped(desk):
    desk.settings = replace(desk.settings, max_attachment_bytes=1000, max_message_bytes=20_000)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.com", SUPPORT, "Import fails"
    message.set_content("Log and screenshot attached.")
    message.add_attachment(b"id,name\n1,Ann\n", maintype="text", subtype="csv", filename="../../import.csv")
    message.add_attachment(b"\x89PNG" + bytes(5000), maintype="image", subtype="png", filename="screen.png")
    receipt = receive(desk, message.as_bytes())
    [kept] = mail_queries.inbound_of(desk, receipt.reference)
    assert [(a.filename, a.content_type, a.kept) for a in kept.attachments] == [
        ("import.csv", "text/csv", True),
        ("screen.png", "image/png", False),
    ]
    assert mail_queries.attachment(desk, kept.attachments[0].id) == ("import.csv", "text/csv", b"id,name\n1,Ann\n")
    assert events(desk, receipt.reference, "mail_received")[0].payload["attachments"] == [
        "import.csv",
        "screen.png (not kept: over 1000 bytes)",
    ]
    too_big = receive(desk, customer_mail(body="x" * 30_000))
    assert too_big.outcome == "too_large"
    assert len(tickets(desk)) == 1


# --- supportdesk ingest-mail ----------------------------------------------------------------------------


def cli_env(desk) -> dict[str, str]:
    return {"SUPPORTDESK_DATABASE_URL": desk.settings.database_url, "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS)}


def test_ingest_mail_takes_a_file_a_folder_and_a_maildir_and_nothing_twice(desk, tmp_path):
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "1.eml").write_bytes(customer_mail("First"))
    (folder / "2.EML").write_bytes(customer_mail("Second", sender="bob@example.org"))
    (folder / "notes.txt").write_text("not a mail")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1700000000.M1.host").write_bytes(customer_mail("From the Maildir"))
    auto_reply = customer_mail("Seen already", Auto_Submitted="auto-replied")
    (maildir / "cur" / "1700000001.M2.host:2,S").write_bytes(auto_reply)
    (maildir / "tmp" / "1700000002.M3.host").write_bytes(b"half delivered")
    single = tmp_path / "garbage.eml"
    single.write_bytes(bytes(range(256)))
    runner, env = CliRunner(), cli_env(desk)

    first = runner.invoke(ingest_mail, [str(folder)], env=env)
    assert first.exit_code == 0, first.output
    assert [line.split(": ", 1)[1][:6] for line in first.output.splitlines()] == ["opened", "opened"]
    again = runner.invoke(ingest_mail, [str(folder)], env=env)
    assert again.exit_code == 0
    assert again.output.count("received before") == 2
    from_maildir = runner.invoke(ingest_mail, [str(maildir)], env=env)
    assert "opened SUP-" in from_maildir.output
    assert "auto-reply, no call opened" in from_maildir.output
    assert "half delivered" not in from_maildir.output
    assert from_maildir.output.count("\n") == 2
    quarantined = runner.invoke(ingest_mail, [str(single)], env=env)
    assert quarantined.exit_code == 0
    assert "quarantined: no mail headers" in quarantined.output
    assert [t.summary for t in tickets(desk)] == ["First", "Second", "From the Maildir"]

    desk.settings = replace(desk.settings, max_message_bytes=10)
    too_big = runner.invoke(ingest_mail, [str(folder / "1.eml")], env={**env, "SUPPORTDESK_MAX_MESSAGE_BYTES": "10"})
    assert too_big.exit_code == 1
    assert "refused" in too_big.output
    assert (folder / "1.eml").exists()

    status = runner.invoke(mail_status, [], env=env)
    assert "outbox: 3 queued, 0 sending, 0 sent, 0 failed" in status.output
    assert "quarantine: 1 message(s)" in status.output
    assert "no mail headers" in status.output


# --- on each store --------------------------------------------------------------------------------------


@pytest.fixture
def store_desk(any_store_url, frozen_clock):
    desk = open_test_desk(any_store_url)
    commands.deploy(desk, actor="test")
    yield desk
    desk.close()


def test_filing_mail_on_each_store(store_desk):
    raw = _mime(
        "Subject: Données perdues\r\nContent-Type: text/plain".encode("latin-1"),
        "octets nuls \x00 et accents: déjà".encode("latin-1"),
    )
    opened = receive(store_desk, raw)
    assert opened.outcome == "new_call", opened.detail
    assert queries.ticket_view(store_desk, opened.reference).summary == "Données perdues"
    assert "nuls  et accents: déjà" in events(store_desk, opened.reference, "mail_received")[0].payload["excerpt"]
    reply = customer_mail(f"Re: [{opened.reference}]", Auto_Submitted="no")
    assert receive(store_desk, reply).outcome == "added"
    assert receive(store_desk, bytes(range(256))).outcome == "quarantined"
    [kept] = mail_queries.inbound_of(store_desk, opened.reference)[:1]
    assert mail_queries.raw_inbound(store_desk, kept.id) == raw


def test_the_same_mail_arriving_twice_at_the_same_moment_opens_one_call(store_desk):
    raw, results = customer_mail(), []
    arrivals = [threading.Thread(target=lambda: results.append(receive(store_desk, raw))) for _ in range(4)]
    for thread in arrivals:
        thread.start()
    for thread in arrivals:
        thread.join(timeout=60)
    assert sorted(r.outcome for r in results) == ["duplicate", "duplicate", "duplicate", "new_call"]
    assert len({r.reference for r in results}) == 1
    assert len(tickets(store_desk)) == 1


def test_C03_copies_of_one_mail_by_different_relays_at_the_same_moment_open_one_call(store_desk):
    """The Message-ID is no longer unique in the store (a reused one on other content is a mail of its own),
    so copies that differ only in their relay headers must still be filed one after the other."""
    raw, results = customer_mail(), []
    copies = [f"Received: from mx{n}.example.com by mx.example.com\r\n".encode() + raw for n in range(4)]
    arrivals = [threading.Thread(target=lambda copy=copy: results.append(receive(store_desk, copy))) for copy in copies]
    for thread in arrivals:
        thread.start()
    for thread in arrivals:
        thread.join(timeout=60)
    assert sorted(r.outcome for r in results) == ["duplicate", "duplicate", "duplicate", "new_call"]
    assert len({r.reference for r in results}) == 1
    assert len(tickets(store_desk)) == 1
