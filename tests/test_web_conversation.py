"""The conversation of a call at the web desk (issue 19), through Flask's test client, CSRF tokens and all:
replies with files mailed from the ticket page and shown on it, internal notes marked internal, call-backs
(C12), files downloaded safely, refusals that keep what was typed and write nothing, "customer replied"
in the inbox and the calls list until the person opens the call, the roles that may write, and the call's
portal link to copy or to mail again (C25, C32)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from io import BytesIO
from pathlib import Path

import pytest
from browser import chromium_page, require_chromium, screenshot, serving
from sqlalchemy import update
from test_mail_delivery import Sink, free_port, sending_to  # the loopback SMTP server

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation.queries import conversation
from supportdesk.engine.mail import inbound
from supportdesk.engine.oversight import audit
from supportdesk.engine.store.models import Attachment, Message, OutboxMail, User
from supportdesk.engine.tickets import queries
from supportdesk.engine.working_time.clock import clock
from supportdesk.web import create_app, edges

from helpers import ANN, events, log_and_triage, log_call
from web_client import (
    PASSWORD,
    PORTAL_LINK,
    demo_users,
    desk_app,
    parse,
    signed_in,
    text,
    token,
    use_quick_password_hashes,
)

MAIL = Path(__file__).resolve().parent / "mail"
BOB = replace(ANN, contact_name="Bob Example", contact_email="bob@example.com")  # another contact of Acme Ltd
CSV = b"campaign,sent\nNovember,1200\n"


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    use_quick_password_hashes(monkeypatch)


@pytest.fixture
def browser(desk):
    return desk_app(desk).test_client()


def post_form(browser, reference: str, form: str, *, files=(), **fields):
    """Post one of the conversation's forms (reply, note, call_back) from the ticket page, as a browser does:
    multipart, its fields named with the form's prefix, the files as (name, bytes, type)."""
    page = browser.get(f"/calls/{reference}")
    data = {f"{form}-{name}": value for name, value in fields.items()}
    if files:
        data[f"{form}-attachments"] = [(BytesIO(content), name, kind) for name, content, kind in files]
    action = {"reply": "reply", "note": "note", "call_back": "call-back"}[form]
    return browser.post(
        f"/calls/{reference}/{action}",
        data={"csrf_token": token(page, form), **data},
        content_type="multipart/form-data",
    )


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


def entries_written(desk) -> tuple[int, int]:
    with desk.db.reading() as session:
        return session.query(Message).count(), session.query(Attachment).count()


def customer_writes(desk, reference: str, body: str) -> None:
    """Ann answers by mail (she is the call's contact: the mail joins the call)."""
    mail = EmailMessage()
    mail["From"], mail["To"] = "Ann Example <ann@example.com>", "support@supportdesk.local"
    mail["Subject"], mail["Date"] = f"Re: [{reference}] We have logged your call", format_datetime(clock.now())
    mail["Message-ID"] = make_msgid(domain="example.com")
    mail.set_content(body)
    receipt = inbound.receive(desk, mail.as_bytes(), source="test", envelope_from="ann@example.com")
    assert receipt.outcome == "added"


def marked_replied(page, reference: str) -> bool:
    row = re.search(rf">{reference}</a>(.*?)</td>", text(page), re.DOTALL)
    return row is not None and "customer replied" in row.group(1)


# --- writing from the ticket page ------------------------------------------------------------------------


def test_C25_a_reply_with_a_file_from_the_ticket_page_is_mailed_with_it_and_shown_on_the_page(browser, desk):
    reference = log_call(desk)
    log_call(desk, details=BOB)  # staff logged a call for Bob: a known contact of Acme Ltd, offered as a copy
    signed_in(browser, "alice")
    page = browser.get(f"/calls/{reference}")
    assert parse(page).inputs["reply-cc"]["value"] == "bob@example.com"

    response = post_form(
        browser,
        reference,
        "reply",
        body="Thanks Ann: the **export** loads now.",
        cc="bob@example.com",
        files=[("figures.csv", CSV, "text/csv")],
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{reference}#conversation"

    page = text(browser.get(f"/calls/{reference}"))
    assert "Reply added: it is on its way to the customer by email." in page
    assert "Thanks Ann: the <strong>export</strong> loads now." in page
    [entry] = conversation(desk, reference, public_only=True)
    [file] = entry.files
    assert f'<a href="/attachments/{file.id}">figures.csv</a>' in page
    assert f"({len(CSV)} bytes)" in page
    with Sink(free_port()) as sink:
        Worker(sending_to(desk, sink.port)).run_once()
    [(_, recipients, mail)] = [r for r in sink.received if r[2]["Subject"] == f"[{reference}] Re: {ANN.summary}"]
    assert recipients == ["ann@example.com", "bob@example.com"]
    [attached] = list(mail.iter_attachments())
    assert (attached.get_filename(), attached.get_content()) == ("figures.csv", CSV.decode())
    assert "Alice First replied to the customer: Thanks Ann: the **export** loads now." in page  # the history (C32)


def test_C12_a_reply_from_the_ticket_page_is_the_first_level_response(browser, desk):
    reference = log_and_triage(desk)
    signed_in(browser, "alice")
    assert post_form(browser, reference, "reply", body="We are on it.").status_code == 302
    [first_response] = [c for c in queries.ticket_view(desk, reference).clocks if c.metric == "first_response"]
    assert first_response.state == "stopped"
    assert not first_response.breached


def test_C12_a_call_back_logged_from_the_ticket_page_is_in_the_thread(browser, desk):
    reference = log_and_triage(desk)
    signed_in(browser, "sam")
    assert post_form(browser, reference, "call_back", body="Called Ann: the export works again").status_code == 302
    page = text(browser.get(f"/calls/{reference}"))
    assert re.search(r'class="entry-kind">Call-back</span>\s*by <span class="entry-author">Sam Second</span>', page)
    assert "Called Ann: the export works again" in page
    assert [c.state for c in queries.ticket_view(desk, reference).clocks if c.metric == "first_response"] == ["stopped"]


def test_C25_an_internal_note_shows_marked_internal_and_is_never_mailed(browser, desk):
    reference = log_call(desk)
    signed_in(browser, "sam")
    response = post_form(
        browser, reference, "note", body="Customer is *upset*; be careful", files=[("notes.txt", b"x", "text/plain")]
    )
    assert response.status_code == 302
    page = text(browser.get(f"/calls/{reference}"))
    entry = re.search(r'<li id="entry-\d+" class="entry entry-note internal">(.*?)</li>\s*</ol>', page, re.DOTALL)
    assert entry is not None
    assert '<strong class="internal-mark">Internal</strong>' in entry.group(1)
    assert "staff only: never mailed, never on the portal" in entry.group(1)
    assert "Customer is <em>upset</em>; be careful" in entry.group(1)
    assert [m.template for m in outbox(desk)] == ["confirmation"]
    assert conversation(desk, reference, public_only=True) == []


@pytest.mark.parametrize(
    ("name", "declared"), [("report.html", "text/html"), ("logo.svg", "image/svg+xml"), ("page.xhtml", "text/xml")]
)
def test_C25_a_file_a_browser_could_run_downloads_as_bytes_never_shown(browser, desk, name, declared):
    reference = log_call(desk)
    signed_in(browser, "alice")
    content = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.cookie)</script></svg>"
    assert post_form(browser, reference, "note", body="From Ann", files=[(name, content, declared)]).status_code == 302
    [file] = conversation(desk, reference, public_only=False)[0].files
    response = browser.get(f"/attachments/{file.id}")
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{name}"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_file_that_does_not_exist_is_a_404_page(browser, desk):
    signed_in(browser, "alice")
    response = browser.get("/attachments/999")
    assert response.status_code == 404
    assert "no attachment 999" in text(response)


# --- refusals: the message on the form, what was typed kept, nothing written ------------------------------


@pytest.mark.parametrize(
    ("fields", "files", "message"),
    [
        ({"body": "  "}, [], "Write the message"),
        (
            {"body": "The export, as promised"},
            [("big-export.csv", b"x" * 1001, "text/csv")],
            "big-export.csv is 1001 bytes, more than the 1000 bytes allowed for one file",
        ),
        (
            {"body": "The export, as promised", "cc": "eve@elsewhere.example"},
            [],
            "eve@elsewhere.example: not a known contact of Acme Ltd",
        ),
    ],
    ids=["empty", "file too large", "copy to a stranger"],
)
def test_C25_an_invalid_reply_comes_back_with_the_message_and_writes_nothing(browser, desk, fields, files, message):
    desk.settings = replace(desk.settings, max_attachment_bytes=1000)
    reference = log_call(desk)
    signed_in(browser, "alice")
    response = post_form(browser, reference, "reply", files=files, **fields)
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was changed." in page
    assert '<p class="field-error" id="reply-' in page
    assert message in page
    assert fields["body"] in page  # the reply as typed, to correct and send again
    if files:
        assert "Choose the files again: a browser cannot keep them." in page
    assert entries_written(desk) == (0, 0)
    assert [m.template for m in outbox(desk)] == ["confirmation"]


def test_C25_a_file_larger_than_an_ordinary_request_goes_with_a_reply(desk):
    """The desk refuses ordinary requests over SUPPORTDESK_MAX_REQUEST_BYTES (4 MiB), but a reply's
    files may weigh what the engine allows one file (10 MiB)."""
    browser = desk_app(desk).test_client()
    reference = log_call(desk)
    signed_in(browser, "alice")
    screenshot = ("screen.png", b"\x89PNG" + b"x" * (5 * 1024 * 1024), "image/png")
    response = post_form(browser, reference, "reply", body="Here is what I see", files=[screenshot])
    assert response.status_code == 302
    assert entries_written(desk) == (1, 1)


def test_a_request_over_the_desks_limit_is_a_clear_413_page(desk):
    # A form that takes files may carry the files one entry may have (as base64 for the API) and the
    # usual request on top: no more.
    desk.settings = replace(desk.settings, max_request_bytes=64 * 1024, max_attachments_bytes=16 * 1024)
    limit = edges.upload_limit(16 * 1024, 64 * 1024)
    browser = desk_app(desk).test_client()
    reference = log_call(desk)
    signed_in(browser, "alice")
    response = post_form(browser, reference, "reply", body="See attached", files=[("big.bin", b"x" * limit, "")])
    assert response.status_code == 413
    assert f"The request body is larger than the {limit} bytes this desk accepts." in text(response)
    assert entries_written(desk) == (0, 0)


# --- what is new to whom ----------------------------------------------------------------------------------


def test_C25_a_customers_mail_shows_customer_replied_for_each_advisor_until_they_open_the_call(
    browser, desk, frozen_clock
):
    reference = log_call(desk)
    sam = desk_app(desk).test_client()
    signed_in(browser, "alice")
    signed_in(sam, "sam")
    assert not marked_replied(browser.get("/tasks"), reference)
    assert not marked_replied(browser.get("/calls"), reference)

    frozen_clock.set(frozen_clock.now() + timedelta(minutes=5))
    raw = (MAIL / "gmail_reply.eml").read_bytes()  # Ann's reply above the mail it quotes
    assert inbound.receive(desk, raw, source="test", envelope_from="ann@example.com").outcome == "added"
    assert marked_replied(browser.get("/tasks"), reference)  # alice: first line, the call's open task
    assert marked_replied(browser.get("/calls"), reference)

    page = text(browser.get(f"/calls/{reference}"))  # alice opens the call: she has seen it
    assert "Thanks, here is the export you asked for." in page
    assert "<summary>The whole email, with the mail it quotes</summary>" in page
    assert "&gt; Dear Ann Example," in page  # the quoted mail, whole, in the fold
    assert not marked_replied(browser.get("/tasks"), reference)
    assert not marked_replied(browser.get("/calls"), reference)
    assert marked_replied(sam.get("/calls"), reference)  # sam has not opened it

    frozen_clock.set(frozen_clock.now() + timedelta(minutes=5))
    customer_writes(desk, reference, "One more thing: the import log is attached.")
    assert marked_replied(browser.get("/calls"), reference)
    page = text(browser.get(f"/calls/{reference}"))
    [new_entry] = re.findall(r'<li id="entry-\d+" class="entry entry-customer-mail new">(.*?)</li>', page, re.DOTALL)
    assert "One more thing" in new_entry
    assert '<strong class="new-mark">new</strong>' in new_entry
    assert page.count('class="new-mark"') == 1  # the earlier mail was seen already
    assert 'class="new-mark"' not in text(browser.get(f"/calls/{reference}"))  # seen now


def test_ones_own_entries_are_not_new_to_oneself(browser, desk, frozen_clock):
    reference = log_call(desk)
    signed_in(browser, "alice")
    browser.get(f"/calls/{reference}")
    frozen_clock.set(frozen_clock.now() + timedelta(minutes=1))
    assert post_form(browser, reference, "note", body="Checked the logs").status_code == 302
    assert 'class="new-mark"' not in text(browser.get(f"/calls/{reference}"))


# --- who may --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["audrey", "carl", "dev"])
def test_C25_a_role_that_does_not_deal_with_customers_reads_the_thread_and_gets_403_on_the_forms(
    browser, desk, username
):
    reference = log_call(desk)
    signed_in(browser, username)
    page = browser.get(f"/calls/{reference}")
    assert page.status_code == 200
    assert 'id="conversation"' in text(page)
    assert "reply-body" not in parse(page).inputs
    for action in ("reply", "note", "call-back", "portal-link"):
        response = browser.post(
            f"/calls/{reference}/{action}",
            data={"csrf_token": token(page), "reply-body": "Hello", "note-body": "x", "call_back-body": "x"},
        )
        assert response.status_code == 403, action
    assert entries_written(desk) == (0, 0)
    assert [m.template for m in outbox(desk)] == ["confirmation"]


def test_downloads_need_a_staff_role(browser, desk):
    reference = log_call(desk)
    signed_in(browser, "alice")
    post_form(browser, reference, "note", body="x", files=[("notes.txt", b"secret", "text/plain")])
    [file] = conversation(desk, reference, public_only=False)[0].files
    browser.post("/logout", data={"csrf_token": token(browser.get("/tasks"))})
    assert browser.get(f"/attachments/{file.id}").status_code == 302  # signed out: to the sign-in page
    signed_in(browser, "audrey")
    assert browser.get(f"/attachments/{file.id}").data == b"secret"  # an auditor reads every file (C32)
    with desk.db.transaction() as session:  # a person left with no staff role at all
        session.execute(update(User).where(User.username == "audrey").values(roles=[]))
    assert browser.get(f"/attachments/{file.id}").status_code == 403


# --- the portal link ----------------------------------------------------------------------------------------


def test_C25_the_calls_portal_address_is_shown_to_copy_and_a_new_link_can_be_mailed(browser, desk):
    reference = log_call(desk)
    signed_in(browser, "alice")
    page = browser.get(f"/calls/{reference}")
    copy_field = re.search(r'<input type="text" id="portal-address" readonly value="([^"]*)"', text(page))
    assert copy_field is not None
    assert copy_field.group(1) == f"http://127.0.0.1:5000/portal/calls/{reference}"
    assert '<button type="button" class="secondary" data-copy="portal-address">Copy</button>' in text(page)
    assert '<script src="/static/copy.js" defer></script>' in text(page)
    assert browser.get("/static/copy.js").status_code == 200

    response = browser.post(f"/calls/{reference}/portal-link", data={"csrf_token": token(page)})
    assert response.status_code == 302
    assert "A new portal link is on its way to ann@example.com." in text(browser.get(f"/calls/{reference}"))
    [mail] = [m for m in outbox(desk) if m.template == "portal_link_from_staff"]
    assert (mail.to_address, mail.subject) == (
        "ann@example.com",
        f"[{reference}] Your link to follow your call on the support portal",
    )
    link = PORTAL_LINK.search(mail.body_text)
    customer = desk_app(desk).test_client()
    assert customer.get(f"/portal/{link.group(2)}").status_code == 302  # the new link opens the portal
    assert customer.get(f"/portal/calls/{reference}").status_code == 200

    [sent] = events(desk, reference, "portal_link_sent")
    assert (sent.actor, sent.payload["to"]) == ("alice", "ann@example.com")
    assert "Alice First mailed ann@example.com a new link to the portal" in text(browser.get(f"/calls/{reference}"))
    assert audit.replay(desk, reference).differences == []  # a person's choice, not the process's (C32)


def test_C32_a_call_with_a_conversation_from_the_ticket_page_replays_to_what_is_stored(browser, desk):
    reference = log_and_triage(desk)
    signed_in(browser, "alice")
    post_form(browser, reference, "reply", body="We are on it.", files=[("a.csv", CSV, "text/csv")])
    post_form(browser, reference, "note", body="Known bug")
    post_form(browser, reference, "call_back", body="Called Ann")
    assert audit.verify(desk) == []
    assert audit.replay(desk, reference).differences == []


# --- in a browser ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_C25_an_advisor_copies_the_portal_address_and_replies_with_a_file_in_a_browser(desk, tmp_path):
    """Chromium under the desk's Content-Security-Policy: the Copy button's script runs (from /static), the
    reply form sends its file; any CSP violation fails the test."""
    require_chromium()
    demo_users(desk)
    reference = log_call(desk)
    (tmp_path / "figures.csv").write_bytes(CSV)
    console: list[str] = []
    with serving(create_app(desk)) as url, chromium_page() as page:
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{url}/login")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/tasks")
        page.goto(f"{url}/calls/{reference}")

        page.get_by_role("button", name="Copy").click()
        said = page.locator(".copy-field .copied")
        said.filter(has_text=re.compile("Copied|Selected")).wait_for()  # the clipboard, or the text selected

        page.get_by_label("Reply (Markdown").fill("Thanks Ann: the **export** loads now.")
        page.locator("#reply-attachments").set_input_files(str(tmp_path / "figures.csv"))
        page.get_by_role("button", name="Send the reply").click()
        page.wait_for_url(f"{url}/calls/{reference}#conversation")
        thread = page.locator("#conversation .thread").inner_text()
        assert "Thanks Ann: the export loads now." in thread
        assert "figures.csv" in thread
        screenshot(page, "conversation")
    assert [line for line in console if "Content Security Policy" in line] == []
