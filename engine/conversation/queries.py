"""Reading a call's conversation, for the web desk, the portal and the API alike: one function knows who
may see what (C25). Staff see every entry and file; a customer sees the public entries of their own
calls and their files, and anything else is as if it did not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy import select

from supportdesk.engine.conversation import attachments
from supportdesk.engine.conversation.commands import KINDS, account_contacts
from supportdesk.engine.conversation.text import plain_html, render_html
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.store.models import Attachment, Message, Ticket, User
from supportdesk.engine.tickets.instances import find_ticket


@dataclass(frozen=True)
class FileInfo:
    id: int
    filename: str
    content_type: str  # as the sender declared it: a label, never what it is served as
    size: int
    sha256: str
    kept: bool  # False: over the limits when received (the received mail has it), ``not_kept`` says so
    not_kept: str


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str  # reply | note | call_back | customer_mail | portal_message
    public: bool
    author: str  # a username, or the customer's address
    author_name: str  # a person's display name, or the customer's address
    body: str  # Markdown as written; a customer's mail: its text less the mail it quotes
    full_text: str | None  # a customer's mail whole, when quoting was taken off
    created_at: datetime
    files: tuple[FileInfo, ...]

    @property
    def what(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def html(self) -> Markup:
        """The body as safe HTML: Markdown rendered and sanitised; a customer's mail as the text it is."""
        return plain_html(self.body) if self.kind == "customer_mail" else render_html(self.body)


def conversation(desk: Desk, reference: str, *, public_only: bool) -> list[Entry]:
    """The call's conversation, oldest first, each entry with its files; ``public_only`` for the customer
    (the caller has checked the call is theirs: ``people.portal``)."""
    query = (
        select(Message, User.display_name)
        .outerjoin(User, User.username == Message.author)
        .order_by(Message.created_at, Message.id)
    )
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        query = query.where(Message.ticket_id == ticket.id)
        if public_only:
            query = query.where(Message.public.is_(True))
        rows = session.execute(query).all()
        files = _files_of(session, [message.id for message, _ in rows])
        return [_entry(message, name, files.get(message.id, ())) for message, name in rows]


def _files_of(session, message_ids: list[int]) -> dict[int, tuple[FileInfo, ...]]:
    found: dict[int, list[FileInfo]] = {}
    if not message_ids:
        return {}
    for row in session.scalars(
        select(Attachment).where(Attachment.message_id.in_(message_ids)).order_by(Attachment.id)
    ):
        found.setdefault(row.message_id, []).append(_file_info(row))
    return {message_id: tuple(infos) for message_id, infos in found.items()}


def _file_info(row: Attachment) -> FileInfo:
    return FileInfo(row.id, row.filename, row.content_type, row.size, row.sha256, row.storage != "none", row.not_kept)


def _entry(message: Message, display_name: str | None, files: tuple[FileInfo, ...]) -> Entry:
    staff_kind = message.kind in ("reply", "note", "call_back")
    return Entry(
        message.id,
        message.kind,
        message.public,
        message.author,
        (display_name or message.author) if staff_kind else message.author,
        message.body,
        message.full_text,
        message.created_at,
        files,
    )


# --- files ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who asks for a file: someone at the desk (any staff role), or a customer by their contact address."""

    staff: bool
    name: str  # a username, or the customer's contact address

    @classmethod
    def staff_member(cls, username: str) -> Viewer:
        return cls(True, username)

    @classmethod
    def customer(cls, contact_email: str) -> Viewer:
        return cls(False, contact_email.strip().lower())


@dataclass(frozen=True)
class Download:
    file: FileInfo
    content: bytes
    headers: dict[str, str]  # ``attachments.download_headers``: send them as they are


def attachment_for(desk: Desk, attachment_id: int, *, viewer: Viewer) -> Download:
    """A file of a conversation with the headers to send it safely, if ``viewer`` may see it: staff
    any file (a held mail's too), a customer only a public entry's file on one of their own calls.
    Anything else is NotFound, the same as a file that does not exist."""
    with desk.db.reading() as session:
        row = session.get(Attachment, attachment_id)
        if row is None or not (viewer.staff or _customers_own(session, row, viewer.name)):
            raise NotFound(f"no attachment {attachment_id}")
        content = attachments.content_of(desk.settings, row)
        info = _file_info(row)
    return Download(info, content, attachments.download_headers(info))


def _customers_own(session, row: Attachment, contact_email: str) -> bool:
    if row.message_id is None:
        return False
    found = session.execute(
        select(Message.public, Ticket.kind, Ticket.contact_email)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.id == row.message_id)
    ).first()
    return found is not None and found.public and found.kind == "call" and found.contact_email == contact_email


@dataclass(frozen=True)
class Recipients:
    to: str  # the call's contact
    may_copy: tuple[str, ...]  # other known contacts of its account (C03): a reply may be copied to them


def reply_recipients(desk: Desk, reference: str) -> Recipients:
    """Who a reply on the call goes to, and who it may be copied to (the reply form's choices)."""
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return Recipients(ticket.contact_email, tuple(account_contacts(session, ticket)))
