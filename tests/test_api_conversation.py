"""A call's conversation through the REST API (issue 19, C12, C25, C32): everyone at the desk reads it,
the people who deal with customers write replies, notes and call-backs with files (base64 in the JSON),
files download with the safe headers, an internal note is never in a public view, and every refusal is
a problem detail naming its field."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from openapi_spec_validator import validate

from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.conversation.queries import conversation as thread
from supportdesk.engine.people import api_tokens
from supportdesk.engine.store.models import OutboxMail
from supportdesk.engine.tickets import queries

from helpers import ANN, events, log_call
from web_client import desk_app

pytestmark = pytest.mark.usefixtures("quick_password_hashes")

PREFIX = "/api/v1"
LOG = b"row 40: stray BOM\n"
PAGE = b"<html><script>alert(1)</script></html>"


@pytest.fixture
def client(desk):
    return desk_app(desk).test_client()


@pytest.fixture
def as_(desk, client):
    """``as_("sam").get(path)``: the API with a token of sam's."""
    tokens: dict[str, str] = {}

    def caller(username: str):
        if username not in tokens:
            tokens[username] = api_tokens.create_token(desk, username, "tests", by=None)[1]
        return Caller(client, tokens[username])

    return caller


class Caller:
    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def get(self, path: str, **kwargs):
        return self.client.get(PREFIX + path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def post(self, path: str, *, headers: dict | None = None, **kwargs):
        auth = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.post(PREFIX + path, headers=auth, **kwargs)


def problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["type"], body["status"]) == (f"/api/v1/problems/{kind}", status)
    return body


def base64_of(content: bytes) -> str:
    return base64.b64encode(content).decode()


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


# --- reading ------------------------------------------------------------------------------------------------


def test_C25_everyone_at_the_desk_reads_every_entry_and_public_only_is_the_portals_view(desk, as_):
    reference = log_call(desk)
    conversation.add_reply(desk, conversation.Reply(reference, "Here you are", (Upload("fix.csv", b"1"),)), "alice")
    conversation.add_note(desk, conversation.Note(reference, "INTERNAL: be careful", (Upload("n.txt", b"2"),)), "sam")
    conversation.log_call_back(desk, conversation.CallBack(reference, "Talked it through"), "sam")
    conversation.add_portal_message(desk, conversation.PortalMessage(reference, ANN.contact_email, "Thanks!"))

    everything = as_("audrey").get(f"/tickets/{reference}/conversation")  # an auditor reads, as on the web desk

    assert everything.status_code == 200
    items = everything.get_json()["items"]
    assert [(e["kind"], e["public"]) for e in items] == [
        ("reply", True),
        ("note", False),
        ("call_back", True),
        ("portal_message", True),
    ]
    reply = items[0]
    assert (reply["author"], reply["author_name"], reply["title"], reply["html"]) == (
        "alice",
        "Alice First",
        "Reply",
        "<p>Here you are</p>\n",
    )
    [file] = reply["attachments"]
    assert (file["filename"], file["size"], file["kept"], file["url"]) == (
        "fix.csv",
        1,
        True,
        f"/api/v1/attachments/{file['id']}",
    )
    public = as_("audrey").get(f"/tickets/{reference}/conversation?public_only=true").get_json()["items"]
    assert [e["id"] for e in public] == [e.id for e in thread(desk, reference, public_only=True)]
    assert "INTERNAL" not in str(public)
    assert "n.txt" not in str(public)


def test_C25_an_internal_note_is_never_in_the_tickets_public_history(desk, as_):
    reference = log_call(desk)
    assert (
        as_("sam")
        .post(f"/tickets/{reference}/conversation", json={"kind": "note", "body": "INTERNAL: odd"})
        .status_code
        == 201
    )
    assert (
        as_("sam").post(f"/tickets/{reference}/conversation", json={"kind": "reply", "body": "On it"}).status_code
        == 201
    )
    ticket = as_("sam").get(f"/tickets/{reference}")
    history = ticket.get_json()["history"]
    assert "reply_added" in [e["kind"] for e in history]  # "We replied": the public steps name replies
    assert "note_added" not in [e["kind"] for e in history]
    assert "INTERNAL" not in ticket.get_data(as_text=True)


# --- writing ------------------------------------------------------------------------------------------------


def test_C12_C25_a_reply_with_files_is_mailed_on_the_history_and_its_files_download_safely(desk, as_):
    reference = log_call(desk)
    log_call(desk, details=replace(ANN, contact_email="bob@example.com"))  # staff logged it: a known contact
    response = as_("sam").post(
        f"/tickets/{reference}/conversation",
        json={
            "kind": "reply",
            "body": "The import failed at row 40: the file starts with a **byte order mark**.",
            "cc": ["bob@example.com"],
            "attachments": [
                {"filename": "import.log", "content_type": "text/plain", "content": base64_of(LOG)},
                {"filename": "page.html", "content_type": "text/html", "content": base64_of(PAGE)},
            ],
        },
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    entry = response.get_json()
    assert response.headers["Location"] == f"/api/v1/tickets/{reference}/conversation"
    assert (entry["kind"], entry["public"], entry["author"], entry["author_name"]) == (
        "reply",
        True,
        "sam",
        "Sam Second",
    )
    assert (
        entry["html"]
        == "<p>The import failed at row 40: the file starts with a <strong>byte order mark</strong>.</p>\n"
    )
    assert [(f["filename"], f["content_type"], f["size"]) for f in entry["attachments"]] == [
        ("import.log", "text/plain", len(LOG)),
        ("page.html", "text/html", len(PAGE)),
    ]
    assert as_("sam").get(f"/tickets/{reference}/conversation").get_json()["items"] == [entry]  # the same, read back
    [mail] = [m for m in outbox(desk) if m.template == "reply"]
    assert (mail.to_address, mail.cc_addresses) == (ANN.contact_email, "bob@example.com")
    [added] = events(desk, reference, "reply_added")  # C32
    assert (added.actor, added.payload["attachments"][0]["filename"]) == ("sam", "import.log")
    assert queries.ticket_view(desk, reference).clocks[0].state == "stopped"  # C12: the first level response

    log, page = (as_("audrey").get(f["url"].removeprefix(PREFIX)) for f in entry["attachments"])
    assert (log.status_code, log.data, log.headers["Content-Type"]) == (200, LOG, "text/plain")
    assert (page.status_code, page.data, page.headers["Content-Type"]) == (200, PAGE, "application/octet-stream")
    assert page.headers["Content-Disposition"] == "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_C25_a_note_and_a_call_back_are_written_and_a_note_is_never_mailed(desk, as_):
    reference = log_call(desk)
    note = as_("amy").post(  # an account manager deals with customers too (C10), as on the web desk
        f"/tickets/{reference}/conversation",
        json={"kind": "note", "attachments": [{"filename": "notes.txt", "content": base64_of(b"x")}]},
    )
    call_back = as_("tara").post(f"/tickets/{reference}/conversation", json={"kind": "call_back", "body": "Rang Ann"})
    assert (note.status_code, call_back.status_code) == (201, 201)
    assert (note.get_json()["public"], note.get_json()["attachments"][0]["content_type"]) == (
        False,
        "application/octet-stream",
    )
    assert call_back.get_json()["public"] is True
    assert [m.template for m in outbox(desk)] == ["confirmation"]


def test_a_retried_reply_with_the_same_idempotency_key_is_mailed_once(desk, as_):
    reference = log_call(desk)
    sam, key = as_("sam"), {"Idempotency-Key": "reply-1"}
    first = sam.post(f"/tickets/{reference}/conversation", headers=key, json={"kind": "reply", "body": "Hello"})
    again = sam.post(f"/tickets/{reference}/conversation", headers=key, json={"kind": "reply", "body": "Hello"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [m.template for m in outbox(desk)].count("reply") == 1
    other = sam.post(f"/tickets/{reference}/conversation", headers=key, json={"kind": "reply", "body": "Other"})
    problem(other, 422, "idempotency-key-reused")


# --- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"kind": "reply", "body": "  "}, "body"),  # the engine's "Write the message"
        ({"kind": "reply", "body": "x" * 10_001}, "body"),
        ({"kind": "reply", "body": "Hi", "cc": ["eve@elsewhere.example"]}, "cc"),  # no known contact (C03)
        ({"kind": "note", "body": "Hi", "cc": ["bob@example.com"]}, "cc"),
        ({"kind": "call_back", "body": "Hi", "attachments": [{"filename": "a", "content": "YQ=="}]}, "attachments"),
        (
            {"kind": "note", "body": "Hi", "attachments": [{"filename": "a", "content": "not base64!"}]},
            "attachments.0.content",
        ),
        ({"kind": "note", "attachments": [{"filename": "big.log", "content": base64_of(b"x" * 2000)}]}, "attachments"),
        ({"kind": "internal", "body": "Hi"}, "kind"),
        ({"kind": "note", "body": "Hi", "author": "someone else"}, "author"),
    ],
)
def test_an_entry_is_refused_field_by_field_and_nothing_is_written(desk, as_, sent, field):
    reference = log_call(desk)
    desk.settings = replace(desk.settings, max_attachment_bytes=1000)
    body = problem(as_("sam").post(f"/tickets/{reference}/conversation", json=sent), 400, "invalid-input")
    assert set(body["errors"]) == {field}
    assert thread(desk, reference, public_only=False) == []
    assert [m.template for m in outbox(desk)] == ["confirmation"]


def test_writing_needs_a_role_that_deals_with_customers_and_reading_needs_a_token(desk, client, as_):
    reference = log_call(desk)
    for username in ("audrey", "carl", "dev"):  # auditor, customer services manager, development team
        refused = as_(username).post(f"/tickets/{reference}/conversation", json={"kind": "note", "body": "Hi"})
        problem(refused, 403, "forbidden")
    assert thread(desk, reference, public_only=False) == []
    problem(client.get(f"{PREFIX}/tickets/{reference}/conversation"), 401, "unauthenticated")
    problem(client.get(f"{PREFIX}/attachments/1"), 401, "unauthenticated")


def test_an_unknown_ticket_or_file_is_404(desk, as_):
    problem(as_("sam").get("/tickets/SUP-2026-999999/conversation"), 404, "not-found")
    problem(
        as_("sam").post("/tickets/SUP-2026-999999/conversation", json={"kind": "note", "body": "x"}), 404, "not-found"
    )
    problem(as_("sam").get("/attachments/999"), 404, "not-found")


# --- the description ---------------------------------------------------------------------------------------------


def test_the_openapi_description_documents_the_conversation_with_examples(client):
    spec = client.get(f"{PREFIX}/openapi.json").get_json()
    validate(spec)
    conversation_path = spec["paths"][f"{PREFIX}/tickets/{{reference}}/conversation"]
    write = conversation_path["post"]
    assert {"201", "400", "401", "403", "404", "413", "422"} <= set(write["responses"])
    assert write["requestBody"]["content"]["application/json"]["example"]["attachments"][0]["content"]
    assert "base64" in write["description"]
    assert any(p["name"] == "Idempotency-Key" for p in write["parameters"])
    assert conversation_path["get"]["responses"]["200"]["content"]["application/json"]["example"]["items"]
    content = spec["components"]["schemas"]["ConversationFileIn"]["properties"]["content"]
    assert (content["type"], content["format"]) == ("string", "byte")
    download = spec["paths"][f"{PREFIX}/attachments/{{attachment_id}}"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}
    assert {"401", "404"} <= set(download["responses"])
