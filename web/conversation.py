"""The conversation of a call at the web desk (issue 19, C12, C25): reply to the customer, add an internal
note, log a call-back, download a file, mail the contact a new portal link.

Each write is a POST (CSRF-checked by CSRFProtect before the view runs) that calls one engine command.
When the engine refuses the input, nothing was written: the ticket page comes back (400) with its
messages next to the fields and the text kept. A body over the request limit is refused before any
view, with the error page (413, ``web.edges``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, redirect, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from supportdesk.engine.conversation import commands, queries
from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.people import portal_access

from . import current_desk
from .access import STAFF_ROLES, requires_roles
from .conversation_section import WRITERS, posted_form, uploads
from .edges import accepts_uploads
from .formatting import sentence
from .ticket_page import render_ticket

blueprint = Blueprint("conversation", __name__)

# A browser never fills a file input again: whoever re-sends the form must choose the files again.
FILES_AGAIN = "Choose the files again: a browser cannot keep them."


@blueprint.route("/calls/<reference>/reply", methods=["POST"])
@accepts_uploads
@requires_roles(*WRITERS)
def reply(reference: str):
    form = posted_form("reply")
    files = uploads(form.attachments.data)
    entry = commands.Reply(reference, form.body.data or "", files, cc=tuple(form.cc.data or ()))
    return _write(
        reference,
        "reply",
        form,
        lambda: commands.add_reply(current_desk(), entry, current_user.username),
        "Reply added: it is on its way to the customer by email.",
        with_files=bool(files),
    )


@blueprint.route("/calls/<reference>/note", methods=["POST"])
@accepts_uploads
@requires_roles(*WRITERS)
def note(reference: str):
    form = posted_form("note")
    files = uploads(form.attachments.data)
    entry = commands.Note(reference, form.body.data or "", files)
    return _write(
        reference,
        "note",
        form,
        lambda: commands.add_note(current_desk(), entry, current_user.username),
        "Internal note added.",
        with_files=bool(files),
    )


@blueprint.route("/calls/<reference>/call-back", methods=["POST"])
@requires_roles(*WRITERS)
def call_back(reference: str):
    form = posted_form("call_back")
    entry = commands.CallBack(reference, form.body.data or "")
    return _write(
        reference,
        "call_back",
        form,
        lambda: commands.log_call_back(current_desk(), entry, current_user.username),
        "Call-back logged.",
    )


def _write(
    reference: str, name: str, form: FlaskForm, command: Callable[[], int], done: str, *, with_files: bool = False
):
    """Run ``command``; on success flash ``done`` and go back to the conversation."""
    try:
        command()
    except InvalidInput as refused:
        general = _show_errors(form, refused)
        again = f" {FILES_AGAIN}" if with_files else ""
        return render_ticket(reference, posted={name: form}, refusal=general + again, status=400)
    except NotAllowed as refused:
        return render_ticket(reference, posted={name: form}, refusal=sentence(str(refused)), status=409)
    flash(done, "success")
    return redirect(url_for("tickets.ticket", reference=reference, _anchor="conversation"))


def _show_errors(form: FlaskForm, refused: InvalidInput) -> str:
    """Each engine message next to its field (body, attachments, cc); the rest is said above the forms."""
    general = [] if refused.fields else [str(refused)]
    for key, message in refused.fields.items():
        if key in form:
            form[key].errors = [message]
        else:
            general.append(message)
    return sentence("; ".join(general)) if general else "Correct the form below and try again."


@blueprint.route("/attachments/<int:attachment_id>")
@requires_roles(*STAFF_ROLES)
def download(attachment_id: int):
    """A file of a conversation, always as a download with the engine's safe headers (never run by the
    browser: HTML and SVG go as octet-stream, nosniff, sandboxed); NotFound is the 404 page."""
    viewer = queries.Viewer.staff_member(current_user.username)
    found = queries.attachment_for(current_desk(), attachment_id, viewer=viewer)
    return Response(found.content, headers=found.headers)


@blueprint.route("/calls/<reference>/portal-link", methods=["POST"])
@requires_roles(*WRITERS)
def send_portal_link(reference: str):
    """Mail the call's contact a new portal link (theirs is lost or expired); on the call's history."""
    address = portal_access.send_link(current_desk(), reference, current_user.username)
    flash(f"A new portal link is on its way to {address}.", "success")
    return redirect(url_for("tickets.ticket", reference=reference))


@blueprint.app_template_filter("file_size")
def file_size(size: int) -> str:
    """A file's size as people read it: 812 bytes, 14 KiB, 2.5 MiB."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
