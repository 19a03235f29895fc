"""The customer portal's side of the conversation (issue 19, C24, C25, C32): the customer reads the
public conversation of their own call with its files, never an internal note nor its file; writes to
the desk with files (a call Delayed for them re-opens); downloads only their own public files, each as
a download the browser never runs; a refused message keeps what they wrote and writes nothing."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.conversation.queries import Viewer, attachment_for
from supportdesk.engine.conversation.queries import conversation as thread
from supportdesk.engine.people import portal_access
from supportdesk.engine.store.models import Attachment, Message
from supportdesk.engine.tickets import commands, queries

from helpers import (
    ANN,
    FIRST_RESPONSE,
    RESOLVED_STRAIGHT_AWAY,
    delay_for_information,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
)
from web_client import desk_app, parse, portal_link, text, token

pytestmark = pytest.mark.usefixtures("quick_password_hashes")

CARL = replace(ANN, contact_name="Carl Other", contact_email="carl@other.example", account="Other plc")
FIGURES = Upload("figures.csv", b"campaign,sent\nNovember,1200\n", "text/csv")
SECRET = Upload("internal-notes.txt", b"the customer is difficult", "text/plain")


@pytest.fixture
def customer(desk):
    """A browser on the portal (the demo users exist, so replies show their authors' names)."""
    return desk_app(desk).test_client()


def signed_in_for(customer, desk, reference: str):
    """``customer`` in through the link of ``reference``'s confirmation mail."""
    assert customer.get(portal_link(desk, reference)[0]).status_code == 302
    return customer


def write(customer, reference: str, body: str, files: tuple[Upload, ...] = (), *, with_token: bool = True):
    page = customer.get(f"/portal/calls/{reference}")
    data: dict = {
        "message-body": body,
        "message-files": [(io.BytesIO(f.content), f.filename, f.content_type) for f in files],
    }
    if with_token:
        data["message-csrf_token"] = token(page, form="message")
    return customer.post(f"/portal/calls/{reference}/messages", data=data, content_type="multipart/form-data")


def file_of(desk, reference: str, kind: str, *, public_only: bool = False):
    [entry] = [e for e in thread(desk, reference, public_only=public_only) if e.kind == kind]
    return entry.files[0]


def messages(desk) -> int:
    with desk.db.reading() as session:
        return session.query(Message).count() + session.query(Attachment).count()


def delayed_for_information(desk) -> str:
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    assert queries.ticket_view(desk, reference).status == "delayed"
    return reference


# --- reading the conversation ----------------------------------------------------------------------------


def test_C25_the_customer_reads_replies_call_backs_and_files_but_never_an_internal_note(desk, customer):
    reference = log_call(desk)
    conversation.add_reply(desk, conversation.Reply(reference, "The **export** loads now.", (FIGURES,)), "alice")
    conversation.add_note(desk, conversation.Note(reference, "INTERNAL: be careful with Ann", (SECRET,)), "sam")
    conversation.log_call_back(desk, conversation.CallBack(reference, "Talked Ann through the import"), "sam")
    signed_in_for(customer, desk, reference)

    page = text(customer.get(f"/portal/calls/{reference}"))

    assert "The <strong>export</strong> loads now." in page
    assert "<strong>Alice First, support team</strong> · Reply ·" in page
    assert '<time datetime="2026-11-23T10:00:00+00:00">23 Nov 2026, 10:00</time>' in page  # London time
    reply_file = file_of(desk, reference, "reply")
    assert f'<a href="/portal/attachments/{reply_file.id}" download>figures.csv</a> (28 bytes)' in page
    assert "<strong>Sam Second, support team</strong> · Phone call ·" in page
    assert "Talked Ann through the import" in page
    assert "INTERNAL" not in page
    assert "internal-notes.txt" not in page
    note_file = file_of(desk, reference, "note")
    assert f"/portal/attachments/{note_file.id}" not in page
    download = customer.get(f"/portal/attachments/{reply_file.id}")
    assert (download.status_code, download.data) == (200, FIGURES.content)
    assert customer.get(f"/portal/attachments/{note_file.id}").status_code == 404


def test_C25_the_public_updates_name_replies_but_never_a_note(desk, customer):
    reference = log_call(desk)
    conversation.add_note(desk, conversation.Note(reference, "INTERNAL: be careful"), "sam")
    conversation.add_reply(desk, conversation.Reply(reference, "Looking into it"), "alice")
    signed_in_for(customer, desk, reference)
    page = text(customer.get(f"/portal/calls/{reference}"))
    assert "<td>We replied</td>" in page
    assert "INTERNAL" not in page
    assert "note" not in page.lower().replace("notes", "")  # no "Internal note", no "note_added"


def test_C25_what_a_customer_writes_is_shown_as_text_never_as_markup(desk, customer):
    reference = log_call(desk)
    signed_in_for(customer, desk, reference)
    assert write(customer, reference, "<script>alert(1)</script> *really* urgent").status_code == 302
    page = text(customer.get(f"/portal/calls/{reference}"))
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <em>really</em> urgent" in page
    assert "<strong>You</strong> · Message on the portal ·" in page


# --- writing to the desk -------------------------------------------------------------------------------------


def test_C24_C25_the_customer_answers_with_a_file_the_advisor_sees_it_and_the_delayed_call_reopens(desk, customer):
    reference = delayed_for_information(desk)
    signed_in_for(customer, desk, reference)
    log = Upload("import.log", b"row 40: stray BOM\n", "text/plain")

    response = write(customer, reference, "Here is the log you asked for.", (log, FIGURES))

    assert response.status_code == 302
    [entry] = [e for e in thread(desk, reference, public_only=False) if e.kind == "portal_message"]
    assert response.headers["Location"] == f"/portal/calls/{reference}#entry-{entry.id}"
    assert (entry.author, entry.body) == ("ann@example.com", "Here is the log you asked for.")
    assert [(f.filename, f.content_type) for f in entry.files] == [
        ("import.log", "text/plain"),
        ("figures.csv", "text/csv"),
    ]
    assert attachment_for(desk, entry.files[0].id, viewer=Viewer.staff_member("sam")).content == log.content
    assert queries.ticket_view(desk, reference).status == "open"  # C24
    kinds = history_kinds(desk, reference)
    assert kinds.index("portal_message_added") < kinds.index("call_reopened")  # C32: both, in order
    assert events(desk, reference, "portal_message_added")[0].actor == "customer:ann@example.com"
    page = text(customer.get(f"/portal/calls/{reference}"))
    assert "Thank you: your message is with our support team." in page
    assert "What we are waiting for" not in page


def test_C25_a_too_large_file_is_refused_by_name_keeps_the_text_and_writes_nothing(desk, customer):
    reference = log_call(desk)
    desk.settings = replace(desk.settings, max_attachment_bytes=1000)
    signed_in_for(customer, desk, reference)
    before, revision = messages(desk), queries.ticket_view(desk, reference).revision

    response = write(customer, reference, "The log is attached", (Upload("big.log", b"x" * 2000, "text/plain"),))

    assert response.status_code == 400
    form = parse(response)
    assert form.tags["message-body"] == "textarea"
    page = text(response)
    assert "The log is attached</textarea>" in page
    assert (
        '<p class="field-error" id="message-files-error">big.log is 2000 bytes, more than the 1000 bytes allowed '
        "for one file. Nothing was sent: choose your files again.</p>"
    ) in page
    assert "Up to 20 files, 1000 bytes each" in page  # the limits, said before anyone tries
    assert messages(desk) == before
    assert queries.ticket_view(desk, reference).revision == revision
    assert events(desk, reference, "portal_message_added") == []


def test_C25_an_empty_message_is_refused_by_its_field(desk, customer):
    reference = log_call(desk)
    signed_in_for(customer, desk, reference)
    response = write(customer, reference, "   ")
    assert response.status_code == 400
    assert '<p class="field-error" id="message-body-error">Write the message</p>' in text(response)
    assert messages(desk) == 0


def test_C25_the_message_form_needs_its_csrf_token(desk, customer):
    reference = log_call(desk)
    signed_in_for(customer, desk, reference)
    assert write(customer, reference, "Hello", with_token=False).status_code == 400
    assert messages(desk) == 0


def test_C25_a_closed_call_says_how_to_get_help_instead_of_the_form(desk, customer):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    signed_in_for(customer, desk, reference)
    open_page = customer.get(f"/portal/calls/{reference}")
    commands.deliver_message(desk, commands.DeliverMessage(reference, "feedback", {"rating": 4}), "customer")
    assert queries.ticket_view(desk, reference).status == "closed"

    page = customer.get(f"/portal/calls/{reference}")
    assert "message-body" not in parse(page).inputs
    assert "email support@supportdesk.local: we log it as a new call" in text(page)
    assert "Your feedback" in text(page)  # what was there stays

    response = customer.post(  # a form opened before the call closed
        f"/portal/calls/{reference}/messages",
        data={"message-csrf_token": token(open_page, form="message"), "message-body": "One more thing"},
    )
    assert response.status_code == 409
    assert "is closed" in text(response)
    assert '<pre class="kept-text">One more thing</pre>' in text(response)  # nothing they wrote is lost
    assert messages(desk) == 0


# --- downloads ---------------------------------------------------------------------------------------------------


def test_C25_a_customer_cannot_download_another_customers_file_nor_an_unknown_one(desk, customer):
    ann, carl = log_call(desk), log_call(desk, details=CARL)
    conversation.add_reply(desk, conversation.Reply(carl, "For Carl", (FIGURES,)), "alice")
    carls = file_of(desk, carl, "reply")
    signed_in_for(customer, desk, ann)
    refused = customer.get(f"/portal/attachments/{carls.id}")
    unknown = customer.get(f"/portal/attachments/{carls.id + 100}")
    assert (refused.status_code, unknown.status_code) == (404, 404)
    assert FIGURES.content not in refused.data
    said = text(refused).replace(f"no attachment {carls.id}", "no attachment N")
    assert said == text(unknown).replace(f"no attachment {carls.id + 100}", "no attachment N")  # alike
    assert customer.get(f"/portal/calls/{carl}").status_code == 404


def test_C25_downloads_need_a_portal_session_whose_link_still_works(desk, customer):
    reference = log_call(desk)
    conversation.add_reply(desk, conversation.Reply(reference, "Here", (FIGURES,)), "alice")
    mine = file_of(desk, reference, "reply")
    assert customer.get(f"/portal/attachments/{mine.id}").status_code == 403  # not signed in to the portal
    signed_in_for(customer, desk, reference)
    assert customer.get(f"/portal/attachments/{mine.id}").status_code == 200
    portal_access.revoke_links(desk, ANN.contact_email)
    assert customer.get(f"/portal/attachments/{mine.id}").status_code == 403


@pytest.mark.parametrize(
    ("name", "declared"),
    [("page.html", "text/html"), ("logo.svg", "image/svg+xml"), ("trick.png", "text/html; charset=utf-8")],
)
def test_C25_a_file_a_browser_could_run_is_a_download_of_bytes_never_sniffed(desk, customer, name, declared):
    reference = log_call(desk)
    content = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    conversation.add_reply(
        desk, conversation.Reply(reference, "See attached", (Upload(name, content, declared),)), "alice"
    )
    signed_in_for(customer, desk, reference)

    download = customer.get(f"/portal/attachments/{file_of(desk, reference, 'reply').id}")

    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"  # not the page policy
    assert download.headers["Cache-Control"] == "private, no-store"
