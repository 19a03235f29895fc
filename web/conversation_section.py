"""The conversation on the ticket page (issue 19, C12, C25): the thread as one ordered list with what is
new to the person looking, the forms to reply, add an internal note or log a call-back, and the call's
portal link.

The forms post to ``web.conversation``; when the engine refuses one, that module renders the ticket page
again (``ticket_page.render_ticket``) with the form as posted, which is why the forms are built here and
not there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from supportdesk.engine.conversation import queries, seen
from supportdesk.engine.conversation.attachments import MAX_FILES, OCTET_STREAM, Upload
from supportdesk.engine.conversation.commands import BODY_CHARS

from . import current_desk
from .access import ESCALATORS

# Who writes in a call's conversation and mails its contact a portal link: the people who deal with the
# customer (advisors of every line, account managers: C10, C18), as for revoking portal links. Admin too.
WRITERS = ESCALATORS
BODY = {"rows": 5, "maxlength": BODY_CHARS}


# No WTForms validators: the engine decides (its InvalidInput names body, attachments or cc). Each form
# has a prefix, so the forms of one page have distinct field names and ids.
class ReplyForm(FlaskForm):
    body = TextAreaField("Reply (Markdown; mailed to the customer and shown on their portal)", render_kw=BODY)
    attachments = MultipleFileField("Files")
    cc = SelectMultipleField(
        "Copy to other known contacts of the account",
        choices=[],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note (Markdown; staff only: never mailed, never on the portal)", render_kw=BODY)
    attachments = MultipleFileField("Files")


class CallBackForm(FlaskForm):
    body = TextAreaField("What was said on the phone", render_kw={**BODY, "required": True})


FORMS: dict[str, type[FlaskForm]] = {"reply": ReplyForm, "note": NoteForm, "call_back": CallBackForm}


def posted_form(name: str) -> FlaskForm:
    return FORMS[name](prefix=name)


def uploads(files: Iterable[FileStorage] | None) -> tuple[Upload, ...]:
    """The files chosen in a form, as the engine takes them (it checks their sizes and names)."""
    return tuple(
        Upload(file.filename or "", file.read(), file.mimetype or OCTET_STREAM) for file in files or () if file
    )


@dataclass(frozen=True)
class ThreadEntry:
    entry: queries.Entry
    new: bool  # written by someone else since this person last opened the page


@dataclass(frozen=True)
class UploadLimits:
    """What one entry's files may weigh at the web desk: the engine's limits, and the request's."""

    files: int
    one_file: int
    together: int


@dataclass(frozen=True)
class Section:
    thread: list[ThreadEntry]
    last_seen: datetime | None  # when this person opened the page before (None: the first time)
    forms: dict[str, FlaskForm]
    recipients: queries.Recipients
    limits: UploadLimits
    portal_address: str | None  # the call's page on the portal (no token in it), for calls only


def section(reference: str, username: str, *, is_call: bool, posted: dict[str, FlaskForm]) -> Section:
    """The conversation as ``username`` sees it now; opening the page counts as seeing it."""
    desk = current_desk()
    # Before reading the thread: anything written after this moment stays new to them.
    last_seen = seen.mark_seen(desk, reference, username)
    thread = queries.conversation(desk, reference, public_only=False)
    recipients = queries.reply_recipients(desk, reference)
    return Section(
        thread=[ThreadEntry(entry, _is_new(entry, last_seen, username)) for entry in thread],
        last_seen=last_seen,
        forms=_forms(recipients, posted),
        recipients=recipients,
        limits=_upload_limits(),
        portal_address=f"{desk.settings.portal_url}/calls/{reference}" if is_call else None,
    )


def _is_new(entry: queries.Entry, last_seen: datetime | None, username: str) -> bool:
    # The first visit marks nothing: all of it is new, so "new" would say nothing.
    return last_seen is not None and entry.created_at > last_seen and entry.author != username


def _forms(recipients: queries.Recipients, posted: dict[str, FlaskForm]) -> dict[str, FlaskForm]:
    forms = {name: posted.get(name) or cls(formdata=None, prefix=name) for name, cls in FORMS.items()}
    forms["reply"].cc.choices = [SelectChoice(address, address) for address in recipients.may_copy]
    return forms


def _upload_limits() -> UploadLimits:
    """The engine's limits: the forms that take files accept requests that large (``edges.accepts_uploads``)."""
    settings = current_desk().settings
    return UploadLimits(MAX_FILES, settings.max_attachment_bytes, settings.max_attachments_bytes)
