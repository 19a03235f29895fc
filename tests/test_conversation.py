"""The conversation of a call (issue 19): replies mailed with their files and threaded (C03, C04), internal
notes never shown or mailed, customers seeing only their own calls' public files (C25), files stored and
served safely, customers' mail with its files and without the mail it quotes, and the audit replay of a
ticket with a conversation (C32). Engine level: the web desk, the portal and the API call these."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_mail_delivery import Sink, free_port, sending_to  # the loopback SMTP server

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import attachments, text
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.conversation.queries import Viewer, attachment_for, reply_recipients
from supportdesk.engine.conversation.queries import conversation as thread
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.mail import inbound, review
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.oversight import audit
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import Attachment, Message, OutboxMail
from supportdesk.engine.tickets.instances import find_ticket

from helpers import ANN, FIRST_RESPONSE, delay_for_information, do, events, log_and_triage, log_call

MAIL = Path(__file__).resolve().parent / "mail"
BOB = replace(ANN, contact_name="Bob Example", contact_email="bob@example.com")  # another contact of Acme Ltd
CARL = replace(ANN, contact_name="Carl Other", contact_email="carl@other.example", account="Other plc")
CSV = Upload("figures.csv", b"campaign,sent\nNovember,1200\n", "text/csv")


def receive_file(desk, name: str) -> inbound.Receipt:
    raw = (MAIL / name).read_bytes()
    return inbound.receive(desk, raw, source=f"tests/mail/{name}", envelope_from="ann@example.com")


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


def staff() -> Viewer:
    return Viewer.staff_member("alice")


# --- replies -------------------------------------------------------------------------------------------


def test_C25_a_reply_is_mailed_with_the_reference_threading_headers_copies_and_its_file(desk, frozen_clock):
    reference = log_call(desk)
    log_call(desk, details=BOB)  # staff logged a call for Bob at Acme Ltd: a known contact of the account
    assert reference == "SUP-2026-000001"  # the reference tests/mail/gmail_reply.eml quotes
    assert receive_file(desk, "gmail_reply.eml").outcome == "added"
    confirmation = next(m for m in outbox(desk) if m.template == "confirmation" and reference in m.subject)
    assert reply_recipients(desk, reference).may_copy == ("bob@example.com",)

    entry_id = conversation.add_reply(
        desk,
        conversation.Reply(
            reference, "Thanks Ann: the **export** loads now.", (CSV,), cc=("Bob@Example.com", ANN.contact_email)
        ),
        "alice",
    )

    with Sink(free_port()) as sink:
        Worker(sending_to(desk, sink.port)).run_once()
    [(_, recipients, message)] = [r for r in sink.received if r[2]["Subject"].endswith("Re: " + ANN.summary)]
    assert message["Subject"] == f"[{reference}] Re: {ANN.summary}"
    assert (message["To"], message["Cc"]) == ("ann@example.com", "bob@example.com")
    assert recipients == ["ann@example.com", "bob@example.com"]
    assert message["In-Reply-To"] == "<CAGmail-reply-1@mail.gmail.com>"  # the customer's mail it answers
    assert message["References"].split() == [confirmation.message_id, "<CAGmail-reply-1@mail.gmail.com>"]
    assert "the **export** loads now." in message.get_body(("plain",)).get_content()
    assert "the <strong>export</strong> loads now." in message.get_body(("html",)).get_content()
    [file] = list(message.iter_attachments())
    assert (file.get_filename(), file.get_content_type(), file.get_content()) == (
        "figures.csv",
        "text/csv",
        CSV.content.decode(),
    )
    [reply] = [e for e in thread(desk, reference, public_only=True) if e.kind == "reply"]
    assert (reply.id, reply.author, reply.public, [f.filename for f in reply.files]) == (
        entry_id,
        "alice",
        True,
        ["figures.csv"],
    )
    [added] = events(desk, reference, "reply_added")
    assert added.payload["attachments"] == [
        {"filename": "figures.csv", "content_type": "text/csv", "size": len(CSV.content), "sha256": _sha(CSV.content)}
    ]
    assert (added.payload["cc"], added.payload["body"]) == (
        ["bob@example.com"],
        "Thanks Ann: the **export** loads now.",
    )
    assert events(desk, reference, "mail_queued")[-1].payload["template"] == "reply"


def test_C03_a_reply_is_copied_only_to_known_contacts_of_the_account(desk):
    reference = log_call(desk)
    with pytest.raises(InvalidInput) as refused:
        conversation.add_reply(desk, conversation.Reply(reference, "Hello", cc=("eve@elsewhere.example",)), "alice")
    assert "eve@elsewhere.example: not a known contact of Acme Ltd" in refused.value.fields["cc"]
    assert [m.template for m in outbox(desk)] == ["confirmation"]


# --- who sees what (C25) ---------------------------------------------------------------------------------


def test_C25_an_internal_note_is_never_mailed_nor_shown_to_the_customer(desk):
    reference = log_call(desk)
    note_id = conversation.add_note(
        desk, conversation.Note(reference, "Customer is *upset*; be careful", (Upload("notes.txt", b"x"),)), "alice"
    )
    assert [m.template for m in outbox(desk)] == ["confirmation"]
    assert [e.id for e in thread(desk, reference, public_only=True)] == []
    [note] = thread(desk, reference, public_only=False)
    assert (note.id, note.kind, note.public, note.what) == (note_id, "note", False, "Internal note")
    [file] = note.files
    with pytest.raises(NotFound):
        attachment_for(desk, file.id, viewer=Viewer.customer("ann@example.com"))
    assert attachment_for(desk, file.id, viewer=staff()).content == b"x"


def test_C25_a_customer_gets_only_the_public_files_of_their_own_calls(desk):
    ann, carl = log_call(desk), log_call(desk, details=CARL)
    conversation.add_portal_message(
        desk, conversation.PortalMessage(ann, "ANN@example.com ", "Here is the file", (Upload("mine.csv", b"1"),))
    )
    conversation.add_reply(desk, conversation.Reply(carl, "For Carl", (Upload("carls.csv", b"2"),)), "alice")
    [mine] = thread(desk, ann, public_only=True)[0].files
    [carls] = thread(desk, carl, public_only=True)[0].files
    assert thread(desk, ann, public_only=True)[0].author == "ann@example.com"

    as_ann = Viewer.customer("ann@example.com")
    assert attachment_for(desk, mine.id, viewer=as_ann).content == b"1"
    with pytest.raises(NotFound) as hidden:
        attachment_for(desk, carls.id, viewer=as_ann)
    assert str(hidden.value) == f"no attachment {carls.id}"  # the same as a file that does not exist
    with pytest.raises(NotFound, match=f"no attachment {carls.id + 100}"):
        attachment_for(desk, carls.id + 100, viewer=as_ann)
    assert attachment_for(desk, carls.id, viewer=staff()).content == b"2"
    with pytest.raises(NotFound, match="you have no call"):
        conversation.add_portal_message(desk, conversation.PortalMessage(carl, "ann@example.com", "Let me in"))


def test_C24_a_portal_message_reopens_a_call_delayed_for_the_customer(desk):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    conversation.add_portal_message(desk, conversation.PortalMessage(reference, "ann@example.com", "The logs"))
    assert events(desk, reference, "message_received")[-1].payload["message"] == "information_received"
    assert events(desk, reference, "portal_message_added")[0].payload["author"] == "ann@example.com"


# --- serving files safely ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "declared", "served"),
    [
        ("report.html", "text/html", "application/octet-stream"),
        ("logo.svg", "image/svg+xml", "application/octet-stream"),
        ("feed.xml", "application/xml", "application/octet-stream"),
        ("data.xml", "text/xml", "application/octet-stream"),
        ("app.js", "text/javascript", "application/octet-stream"),
        ("page.xhtml", "application/xhtml+xml", "application/octet-stream"),
        ("odd", "not a type <script>", "application/octet-stream"),
        ("shot.png", "image/png", "image/png"),
        ("notes.txt", "text/plain; charset=utf-8", "text/plain"),
    ],
)
def test_C25_files_are_served_as_downloads_never_as_something_a_browser_runs(filename, declared, served):
    headers = attachments.download_headers(attachments.Recorded(filename, declared, 12, "0" * 64))
    assert headers["Content-Type"] == served
    assert headers["Content-Disposition"].startswith("attachment; ")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]


def test_file_names_are_made_safe_and_sent_in_utf8():
    assert attachments.safe_filename("../../etc/passwd") == "passwd"
    assert attachments.safe_filename("C:\\Users\\ann\\report.html") == "report.html"
    assert attachments.safe_filename("invoice\u202egnp.exe") == "invoice gnp.exe"  # no right-to-left trick
    assert attachments.safe_filename("a\r\nb\x00c.txt") == "a b c.txt"
    assert attachments.safe_filename("...") == "attachment"
    long = attachments.safe_filename("x" * 300 + ".pdf")
    assert (len(long), long[-4:]) == (255, ".pdf")
    headers = attachments.download_headers(attachments.Recorded('rapport "été".html', "text/html", 1, ""))
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"rapport __t__.html\"; filename*=UTF-8''rapport%20%22%C3%A9t%C3%A9%22.html"
    )


def test_the_folder_store_keeps_each_content_once_under_its_sha256_and_refuses_a_changed_file(desk, tmp_path):
    folder = tmp_path / "files"
    desk.settings = replace(desk.settings, attachment_store="folder", attachment_dir=folder)
    reference = log_call(desk)
    for body in ("first copy", "second copy"):
        conversation.add_note(desk, conversation.Note(reference, body, (CSV,)), "alice")
    digest = _sha(CSV.content)
    stored = folder / digest[:2] / digest[2:4] / digest
    assert [p for p in folder.rglob("*") if p.is_file()] == [stored]  # once, and no temporary file left
    assert stored.read_bytes() == CSV.content
    with desk.db.reading() as session:
        rows = session.query(Attachment).order_by(Attachment.id).all()
    assert [(r.storage, r.path, r.content) for r in rows] == [
        ("folder", f"{digest[:2]}/{digest[2:4]}/{digest}", None)
    ] * 2
    first = thread(desk, reference, public_only=False)[0].files[0]
    download = attachment_for(desk, first.id, viewer=staff())
    assert (download.content, download.headers["Content-Type"]) == (CSV.content, "text/csv")

    stored.write_bytes(b"changed on disk")
    with pytest.raises(NotFound, match="damaged"):
        attachment_for(desk, first.id, viewer=staff())
    conversation.add_note(desk, conversation.Note(reference, "third copy", (CSV,)), "alice")  # the same bytes mend it
    assert attachment_for(desk, first.id, viewer=staff()).content == CSV.content


def test_a_file_over_the_limit_is_refused_naming_it_and_nothing_is_written(desk):
    desk.settings = replace(desk.settings, max_attachment_bytes=1000, max_attachments_bytes=1500)
    reference = log_call(desk)
    big = Upload("big-export.csv", b"x" * 1001, "text/csv")
    with pytest.raises(InvalidInput) as refused:
        conversation.add_reply(desk, conversation.Reply(reference, "See attached", (big, CSV)), "alice")
    assert refused.value.fields["attachments"].startswith("big-export.csv is 1001 bytes, more than the 1000 bytes")
    together = (Upload("a.bin", b"a" * 900), Upload("b.bin", b"b" * 900))
    with pytest.raises(InvalidInput, match="the note cannot be added") as too_many:
        conversation.add_note(desk, conversation.Note(reference, "two", together), "alice")
    assert "the files together are 1800 bytes" in too_many.value.fields["attachments"]
    with desk.db.reading() as session:
        assert session.query(Message).count() == session.query(Attachment).count() == 0
    assert [m.template for m in outbox(desk)] == ["confirmation"]


def test_a_message_needs_words_or_files_and_a_closed_call_takes_no_portal_message(desk):
    reference = log_call(desk)
    with pytest.raises(InvalidInput) as empty:
        conversation.log_call_back(desk, conversation.CallBack(reference, "  "), "alice")
    assert empty.value.fields == {"body": "Write the message"}
    with pytest.raises(InvalidInput, match="cannot be added"):
        conversation.add_note(desk, conversation.Note(reference, "nul \x00 byte"), "alice")
    conversation.add_note(desk, conversation.Note(reference, "", (CSV,)), "alice")  # a file alone is enough
    with desk.db.transaction() as session:  # as if resolved and closed
        find_ticket(session, reference).status = "closed"
    with pytest.raises(NotAllowed, match="is closed"):
        conversation.add_portal_message(desk, conversation.PortalMessage(reference, "ann@example.com", "Hello?"))


# --- the customer's mail -----------------------------------------------------------------------------------


def test_C01_a_mail_with_files_of_several_kinds_opens_a_call_whose_first_entry_keeps_them(desk):
    receipt = receive_file(desk, "new_call_with_files.eml")
    assert receipt.outcome == "new_call"
    [entry] = thread(desk, receipt.reference, public_only=True)
    assert (entry.kind, entry.author, entry.full_text) == ("customer_mail", "ann@example.com", None)
    assert entry.body.startswith("Hello,\n\nThe import stops at row 41.")
    assert [(f.filename, f.content_type, f.kept) for f in entry.files] == [
        ("import-log.csv", "text/csv", True),
        ("screen shot.png", "image/png", True),
        ("report.html", "text/html", True),
        ("logo.svg", "image/svg+xml", True),
        ("campaign brief.pdf", "application/pdf", True),
    ]
    downloads = {f.filename: attachment_for(desk, f.id, viewer=Viewer.customer("ann@example.com")) for f in entry.files}
    assert downloads["import-log.csv"].content == b"row,error\n41,unexpected byte 0xEF\n"
    assert downloads["screen shot.png"].content.startswith(b"\x89PNG")
    assert downloads["campaign brief.pdf"].content.startswith(b"%PDF-1.4")
    for name in ("report.html", "logo.svg"):  # kept as sent, served as bytes to download
        assert downloads[name].headers["Content-Type"] == "application/octet-stream"
    assert all(d.file.sha256 == _sha(d.content) for d in downloads.values())
    [received] = events(desk, receipt.reference, "mail_received")
    assert received.payload["entry"] == entry.id
    assert [f["filename"] for f in received.payload["files"]] == [f.filename for f in entry.files]


def test_a_received_file_over_the_limit_is_described_with_the_reason_and_the_mail_keeps_it(desk):
    desk.settings = replace(desk.settings, max_attachment_bytes=100)
    receipt = receive_file(desk, "new_call_with_files.eml")
    [entry] = thread(desk, receipt.reference, public_only=False)
    assert [f.filename for f in entry.files if not f.kept] == ["campaign brief.pdf"]  # 125 bytes; the rest are less
    [pdf] = [f for f in entry.files if not f.kept]
    assert pdf.not_kept == "125 bytes, over the 100 allowed for one file (the received mail has it)"
    assert (pdf.size, pdf.content_type, len(pdf.sha256)) == (125, "application/pdf", 64)
    with pytest.raises(NotFound, match="was not kept"):
        attachment_for(desk, pdf.id, viewer=staff())
    [mail] = mail_queries.inbound_of(desk, receipt.reference)
    assert b"campaign brief.pdf" in mail_queries.raw_inbound(desk, mail.id)  # nothing lost
    files = events(desk, receipt.reference, "mail_received")[0].payload["files"]
    assert [(f["filename"], f["not_kept"]) for f in files if "not_kept" in f] == [("campaign brief.pdf", pdf.not_kept)]


def test_C03_quoted_mail_is_taken_off_gmail_and_outlook_replies_and_the_whole_text_kept(desk):
    reference = log_call(desk)
    assert receive_file(desk, "gmail_reply.eml").outcome == "added"
    assert receive_file(desk, "outlook_reply.eml").outcome == "added"
    gmail, outlook = thread(desk, reference, public_only=True)
    assert gmail.body == "Thanks, here is the export you asked for.\n\nThe campaign is due at noon."
    assert gmail.full_text.startswith(gmail.body + "\n\nOn Mon, 23 Nov 2026 at 10:05, Support desk")
    assert "> Dear Ann Example," in gmail.full_text
    assert [f.filename for f in gmail.files] == ["export.csv"]
    assert outlook.body == "Hi,\n\nThe job log is attached.\n\nKind regards,\nAnn"
    assert "-----Original Message-----" in outlook.full_text
    assert [f.filename for f in outlook.files] == ["job.log"]
    assert str(gmail.html).startswith("Thanks, here is the export you asked for.<br>")


def test_answers_between_quoted_lines_keep_the_questions_they_answer():
    inline = "> Did you try again?\nYes, it fails at 40%.\n> Which browser?\nFirefox.\n"
    assert text.without_quoted_mail(inline) == inline.strip()
    assert text.without_quoted_mail("> only a quote\n> of our mail\n") == "> only a quote\n> of our mail"


def test_C03_a_held_mail_attached_to_a_call_becomes_its_entry_with_its_files(desk):
    reference = log_call(desk)
    raw = (MAIL / "gmail_reply.eml").read_bytes().replace(b"ann@example.com", b"dan@partner.example")
    held = inbound.receive(desk, raw, source="test", envelope_from="dan@partner.example")
    assert held.outcome == "held"
    assert thread(desk, reference, public_only=False) == []
    with desk.db.reading() as session:
        [waiting] = session.query(Attachment).all()
    assert (waiting.filename, waiting.message_id, waiting.ticket_id) == ("export.csv", None, None)
    [row] = mail_queries.held_mail(desk)
    review.attach(desk, row.id, reference, "alice", "their partner agency")
    [entry] = thread(desk, reference, public_only=True)
    assert (entry.author, [f.filename for f in entry.files]) == ("dan@partner.example", ["export.csv"])


# --- Markdown -----------------------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, dict(attrs)))


def test_markdown_is_rendered_and_script_iframe_and_event_handlers_are_stripped():
    source = (
        'Hello **Ann**\n\n<script>alert(1)</script>\n<iframe src="https://evil.example"></iframe>\n'
        '<img src=x onerror="alert(1)">\n[click](javascript:alert(1)) [docs](https://docs.example/a?b=1)\n'
        "![tracker](https://tracker.example/p.png)\n"
    )
    html = str(text.render_html(source))
    parser = _Elements()
    parser.feed(html)
    tags = [tag for tag, _ in parser.found]
    assert not {"script", "iframe", "img", "style", "object", "embed"} & set(tags)
    assert not any(name.startswith("on") for _, attrs in parser.found for name in attrs)
    assert not any((attrs.get("href") or "").lower().startswith("javascript") for _, attrs in parser.found)
    assert "<strong>Ann</strong>" in html
    assert '<a href="https://docs.example/a?b=1" rel="noopener noreferrer nofollow">docs</a>' in html
    assert '<a href="https://tracker.example/p.png" rel="noopener noreferrer nofollow">tracker</a>' in html
    assert text.plain_text("Hello **Ann**\r\n") == "Hello **Ann**\n"


# --- settings ------------------------------------------------------------------------------------------------


def test_the_attachment_store_is_chosen_by_a_setting():
    settings = Settings.from_env(
        {
            "SUPPORTDESK_ATTACHMENT_STORE": " Folder ",
            "SUPPORTDESK_ATTACHMENT_DIR": "/srv/supportdesk/files",
            "SUPPORTDESK_MAX_ATTACHMENTS_BYTES": "1000",
        }
    )
    assert (settings.attachment_store, settings.attachment_dir, settings.max_attachments_bytes) == (
        "folder",
        Path("/srv/supportdesk/files"),
        1000,
    )
    assert Settings.from_env({}).attachment_store == "database"
    with pytest.raises(ValueError, match="SUPPORTDESK_ATTACHMENT_STORE must be one of database, folder, not 's3'"):
        Settings.from_env({"SUPPORTDESK_ATTACHMENT_STORE": "s3"})


# --- the audit (C32) ----------------------------------------------------------------------------------------


def test_C32_a_ticket_with_a_conversation_replays_to_what_is_stored(desk, frozen_clock):
    reference = log_and_triage(desk)
    log_call(desk, details=BOB)
    receive_file(desk, "gmail_reply.eml")
    conversation.log_call_back(desk, conversation.CallBack(reference, "Called Ann: the export is fine"), "alice")
    frozen_clock.set(frozen_clock.now() + timedelta(minutes=20))
    conversation.add_reply(desk, conversation.Reply(reference, "See the fix", (CSV,), cc=("bob@example.com",)), "alice")
    conversation.add_note(desk, conversation.Note(reference, "Internal: known bug", (Upload("bug.txt", b"42"),)), "sam")
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    frozen_clock.set(frozen_clock.now() + timedelta(hours=2))
    conversation.add_portal_message(
        desk, conversation.PortalMessage(reference, "ann@example.com", "Logs attached", (Upload("app.log", b"ok"),))
    )

    assert audit.verify(desk) == []
    result = audit.replay(desk, reference)
    assert result.differences == []
    kinds = [row.kind for row in result.timeline]
    for kind in ("call_back_logged", "reply_added", "note_added", "portal_message_added"):
        assert kind in kinds


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
