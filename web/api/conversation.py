"""A call's conversation (issue 19, C12, C25): read it, write a reply, an internal note or a call-back,
download its files.

Each write is the engine command the web desk's forms call (``conversation.commands``), with the web
desk's role lists; reading is ``conversation.queries``, which knows who may see what. Files travel
inside the JSON, in base64 (as Zammad's ticket articles take them): one request, one content type and
one schema that checks all of it, so the description says everything and schemathesis fuzzes it whole.
A request is bounded by ``SUPPORTDESK_MAX_REQUEST_BYTES`` (413) before the engine's file limits apply.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import current_app, url_for

from supportdesk.engine.conversation import commands, queries
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.desk import Desk
from supportdesk.engine.store.models import Attachment, Message

from .. import current_desk
from ..access import STAFF_ROLES
from ..conversation_section import WRITERS
from ..edges import accepts_uploads
from . import idempotency, schemas
from .auth import api_user, guarded
from .base import ApiBlueprint

blp = ApiBlueprint(
    "Conversation",
    __name__,
    description="A call's conversation: replies, internal notes, call-backs, the customer's mail and portal "
    "messages, with their files",
)

TOO_LARGE = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
LOCATION = {"Location": {"description": "The conversation the entry joined", "schema": {"type": "string"}}}
REPLAYED = {
    idempotency.REPLAYED_HEADER: {
        "description": "true when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string"},
    }
}
DOWNLOAD_HEADERS = {
    "Content-Disposition": {
        "description": "Always attachment, with the file's name (RFC 6266, UTF-8 by RFC 5987)",
        "schema": {"type": "string"},
    },
    "X-Content-Type-Options": {"description": "nosniff", "schema": {"type": "string"}},
}
REPLY_EXAMPLE = {
    "kind": "reply",
    "body": "The import failed at row 40: the file starts with a **byte order mark**.",
    "cc": ["bob@example.com"],
    "attachments": [{"filename": "import.log", "content_type": "text/plain", "content": "cm93IDQwOiBzdHJheSBCT00K"}],
}
ENTRY_EXAMPLE = {
    "id": 42,
    "kind": "reply",
    "title": "Reply",
    "public": True,
    "author": "alice",
    "author_name": "Alice First",
    "body": "The import failed at row 40: the file starts with a **byte order mark**.",
    "html": "<p>The import failed at row 40: the file starts with a <strong>byte order mark</strong>.</p>\n",
    "full_text": None,
    "created_at": "2026-11-23T10:00:00+00:00",
    "attachments": [
        {
            "id": 7,
            "filename": "import.log",
            "content_type": "text/plain",
            "size": 18,
            "sha256": "04fab3951a5ef66716600ff0f21c0765692c5dc161fb6354ba2bc8052d342dc3",
            "kept": True,
            "not_kept": "",
            "url": "/api/v1/attachments/7",
        }
    ],
}


@blp.route("/tickets/<reference>/conversation")
@guarded(blp, *STAFF_ROLES, errors=(400, 404))
@blp.arguments(schemas.ConversationQuery, location="query")
@blp.response(200, schemas.Conversation, example={"items": [ENTRY_EXAMPLE]})
def list_entries(query: dict, reference: str):
    """A ticket's conversation (C25)

    Every entry, oldest first, each with its files: replies, internal notes, call-backs, the
    customer's mail and portal messages. ``public_only=true`` gives exactly what the customer sees
    on the portal: never an internal note nor its files. Everyone at the desk reads it.
    """
    entries = queries.conversation(current_desk(), reference, public_only=query["public_only"])
    return {"items": [entry_body(entry) for entry in entries]}


@blp.route("/tickets/<reference>/conversation", methods=["POST"])
@accepts_uploads
@guarded(blp, *WRITERS, errors=(400, 404, 409, 422))
@blp.alt_response(TOO_LARGE.value, response=TOO_LARGE.name)
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.arguments(schemas.ConversationEntryIn, example=REPLY_EXAMPLE)
@blp.response(201, schemas.ConversationEntry, headers={**LOCATION, **REPLAYED}, example=ENTRY_EXAMPLE)
def add_entry(headers: dict, body: dict, reference: str):
    """Write in a ticket's conversation (C12, C25)

    ``kind`` says what: a **reply** is mailed to the call's contact at once (through the outbox,
    the Call Reference in its subject, its files attached, copies to known contacts of the
    account in ``cc``) and is the first level response if it comes first (C12); a **note** is
    internal, never mailed nor shown to the customer; a **call_back** records a phone call you made
    to the customer (public, no files; a first level response too). ``body`` is Markdown.

    **Files** go inside the JSON: each in ``attachments`` with its ``filename``, ``content_type``
    and its bytes in base64 as ``content``. A file over the desk's limit for one file
    (``SUPPORTDESK_MAX_ATTACHMENT_BYTES``), files over the limit for one entry, or more than 20
    files are refused by name (400, ``errors.attachments``); the request as a whole is bounded by
    ``SUPPORTDESK_MAX_REQUEST_BYTES`` (413, 4 MiB by default: about 3 MiB of files in base64).
    Download a file with ``GET /attachments/{id}`` (its ``url``).

    Send an ``Idempotency-Key`` so that a retry does not mail the customer twice. People who deal
    with customers (advisors of every line, account managers) and admin, as on the web desk.
    """
    actor = api_user().username
    command = _command(reference, body, actor)
    return idempotency.create(
        key=headers.get("key"),
        endpoint="add_conversation_entry",
        command=command,
        respond=_created_entry,
        location=lambda _entry: url_for("Conversation.list_entries", reference=reference),
    )


def _command(reference: str, body: dict, actor: str) -> Callable[[Desk], int]:
    """The engine command ``body`` asks for, to run on a desk; returns the entry's id."""
    text = body["body"]
    files = tuple(Upload(f["filename"], f["content"], f["content_type"]) for f in body["attachments"])
    if body["kind"] == "reply":
        reply = commands.Reply(reference, text, files, cc=tuple(body["cc"]))
        return lambda desk: commands.add_reply(desk, reply, actor)
    if body["kind"] == "note":
        note = commands.Note(reference, text, files)
        return lambda desk: commands.add_note(desk, note, actor)
    call_back = commands.CallBack(reference, text)
    return lambda desk: commands.log_call_back(desk, call_back, actor)


def _created_entry(added: list[Any]) -> dict | None:
    """The answer, from the rows the command added (in its transaction: the answer an Idempotency-Key
    keeps must be written with them)."""
    entry = next((row for row in added if isinstance(row, Message)), None)
    if entry is None:
        return None
    files = tuple(
        queries.FileInfo(f.id, f.filename, f.content_type, f.size, f.sha256, f.storage != "none", f.not_kept)
        for f in added
        if isinstance(f, Attachment) and f.message_id == entry.id
    )
    author_name = api_user().display_name or entry.author
    return schemas.ConversationEntry().dump(
        entry_body(
            queries.Entry(
                entry.id,
                entry.kind,
                entry.public,
                entry.author,
                author_name,
                entry.body,
                entry.full_text,
                entry.created_at,
                files,
            )
        )
    )


def entry_body(entry: queries.Entry) -> dict:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "title": entry.what,
        "public": entry.public,
        "author": entry.author,
        "author_name": entry.author_name,
        "body": entry.body,
        "html": str(entry.html),
        "full_text": entry.full_text,
        "created_at": entry.created_at,
        "attachments": [
            {
                "id": f.id,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
                "kept": f.kept,
                "not_kept": f.not_kept,
                "url": url_for("Conversation.download", attachment_id=f.id),
            }
            for f in entry.files
        ],
    }


@blp.route("/attachments/<int:attachment_id>")
@guarded(blp, *STAFF_ROLES, errors=(404,))
@blp.doc(
    responses={
        "200": {
            "description": "The file's bytes, always as a download: its own type only when a browser cannot "
            "run it (an image, PDF, text, office file), else application/octet-stream",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "headers": DOWNLOAD_HEADERS,
        }
    }
)
def download(attachment_id: int):
    """Download a file of a conversation

    With headers that keep a browser from running it (``Content-Disposition: attachment``,
    ``nosniff``, a sandboxing policy). A file received but not kept (over the size limits) is 404.
    Everyone at the desk may download.
    """
    viewer = queries.Viewer.staff_member(api_user().username)
    found = queries.attachment_for(current_desk(), attachment_id, viewer=viewer)
    return current_app.response_class(found.content, headers=found.headers)
