"""Conversation commands: each entry of a call's conversation is written by one of these, each one unit
of work (``with UnitOfWork(desk, actor) as uow:``) that writes the entry, its files, what it mails and
its history event, or nothing.

- ``add_reply``: a public reply by staff, mailed to the call's contact (the Call Reference in the
  subject, threaded onto the call's earlier mails, copies to other known contacts of the account when
  asked, its files attached);
- ``add_note``: an internal note, never mailed, never shown to the customer;
- ``log_call_back``: a phone call an advisor made to the customer (public: the customer was there);
- ``add_portal_message``: the customer writes on the portal (re-opening a call Delayed for them, C24);
- ``add_customer_mail``: mail in (``engine.mail.inbound``) adds the customer's mail, inside its own
  unit of work.

Every entry is on the ticket's history (C32) with what makes it again: its kind, visibility, author,
body, and its files' names, types, sizes and SHA-256. ``give_again`` is how the audit replay writes it
again on a scratch store (the entry's id and its files' ids are the store's own: ``VOLATILE_KEYS``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from supportdesk.engine.conversation import attachments
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.conversation.text import plain_text, render_html, without_quoted_mail
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.store.models import (
    Attachment,
    HeldMail,
    HistoryEvent,
    InboundMail,
    Message,
    OutboxMail,
    Ticket,
    User,
)
from supportdesk.engine.tickets import commands, outbox
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

# The message a call's diagram hears when a person answers the customer (C12).
PUBLIC_REPLY = "public_reply"
# The kinds of entry, as people read them.
KINDS = {
    "reply": "Reply",
    "note": "Internal note",
    "call_back": "Call-back",
    "customer_mail": "Customer's email",
    "portal_message": "Customer's message on the portal",
}
# The history event of each entry written at the desk or on the portal: inputs of the audit replay.
EVENTS = {
    "reply": "reply_added",
    "note": "note_added",
    "call_back": "call_back_logged",
    "portal_message": "portal_message_added",
}
ENTRY_EVENTS = tuple(EVENTS.values())
# Payload keys whose values are the store's own row ids: a replay on another store gives others.
VOLATILE_KEYS = ("entry", "attachment_ids")
BODY_CHARS = 10_000  # as the API's text fields (engine.bounds.MAX_TEXT)
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it), lone surrogates (no UTF-8)
REPLY_TEMPLATE = "reply"
# Calls that mail opened are logged by this actor (engine.mail.inbound.ACTOR): their contacts are no
# known contacts of their account (C03).
MAIL_ACTOR = "mail"
THREAD_IDS = 20  # the call's latest Message-IDs a reply's References header names
MESSAGE_ID = re.compile(r"<[^<>\s]{1,298}>")


# --- what each command is given ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    reference: str
    body: str  # Markdown
    attachments: tuple[Upload, ...] = ()
    cc: tuple[str, ...] = ()  # other known contacts of the call's account (``reply_recipients``)

    def validated(self, desk: Desk) -> Reply:
        errors: dict[str, str] = {}
        body = _body(self.body, errors, required=not self.attachments)
        files = _files(self.attachments, desk, errors)
        cc = _addresses(self.cc, errors)
        _refuse(errors, "the reply cannot be sent")
        return replace(self, reference=_reference(self.reference), body=body, attachments=files, cc=cc)


@dataclass(frozen=True)
class Note:
    reference: str
    body: str
    attachments: tuple[Upload, ...] = ()

    def validated(self, desk: Desk) -> Note:
        errors: dict[str, str] = {}
        body = _body(self.body, errors, required=not self.attachments)
        files = _files(self.attachments, desk, errors)
        _refuse(errors, "the note cannot be added")
        return replace(self, reference=_reference(self.reference), body=body, attachments=files)


@dataclass(frozen=True)
class CallBack:
    reference: str
    body: str  # what was said on the phone

    def validated(self, desk: Desk) -> CallBack:
        errors: dict[str, str] = {}
        body = _body(self.body, errors, required=True)
        _refuse(errors, "the call-back cannot be logged")
        return replace(self, reference=_reference(self.reference), body=body)


@dataclass(frozen=True)
class PortalMessage:
    reference: str
    contact_email: str  # the customer signed in to the portal
    body: str
    attachments: tuple[Upload, ...] = ()

    def validated(self, desk: Desk) -> PortalMessage:
        errors: dict[str, str] = {}
        body = _body(self.body, errors, required=not self.attachments)
        files = _files(self.attachments, desk, errors)
        _refuse(errors, "your message cannot be added")
        contact = self.contact_email.strip().lower()
        return replace(self, reference=_reference(self.reference), contact_email=contact, body=body, attachments=files)


def _reference(reference: str) -> str:
    return reference.strip().upper()


def _body(body: str, errors: dict[str, str], *, required: bool) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if required and not body:
        errors["body"] = "Write the message"
    elif len(body) > BODY_CHARS:
        errors["body"] = f"A message holds at most {BODY_CHARS} characters: attach longer text as a file"
    elif UNSTORABLE.search(body):
        errors["body"] = "Remove the NUL character or lone surrogate: text cannot hold it"
    return body


def _files(uploads: Sequence[Upload], desk: Desk, errors: dict[str, str]) -> tuple[Upload, ...]:
    try:
        return attachments.checked(uploads, desk.settings)
    except InvalidInput as refused:
        errors.update(refused.fields)
        return ()


def _addresses(addresses: Sequence[str], errors: dict[str, str]) -> tuple[str, ...]:
    cleaned = []
    for address in addresses:
        try:
            cleaned.append(validate_email(address.strip(), check_deliverability=False).normalized.lower())
        except EmailNotValidError as exc:
            errors["cc"] = f"{address}: {exc}"
    return tuple(dict.fromkeys(cleaned))


def _refuse(errors: dict[str, str], message: str) -> None:
    if errors:
        raise InvalidInput(message, errors)


# --- the commands ----------------------------------------------------------------------------------------


def add_reply(desk: Desk, reply: Reply, actor: str) -> int:
    """A public reply to the customer, mailed through the outbox; returns the entry's id."""
    reply = reply.validated(desk)
    with UnitOfWork(desk, actor) as uow:
        ticket = uow.ticket = find_ticket(uow.session, reply.reference, lock=True)
        cc = tuple(address for address in reply.cc if address != ticket.contact_email)  # the To has it already
        strangers = set(cc) - set(account_contacts(uow.session, ticket))
        if strangers:
            raise InvalidInput(
                "the reply cannot be copied to them",
                {"cc": f"{', '.join(sorted(strangers))}: not a known contact of {ticket.account or 'the account'}"},
            )
        entry = _write_reply(uow, reply.body, reply.attachments, cc, author=actor)
        _customer_answered(uow, entry)
    return entry.id


def add_note(desk: Desk, note: Note, actor: str) -> int:
    """An internal note on the call: never mailed, never on the portal; returns the entry's id."""
    note = note.validated(desk)
    with UnitOfWork(desk, actor) as uow:
        uow.ticket = find_ticket(uow.session, note.reference, lock=True)
        entry = _write_entry(uow, "note", note.body, note.attachments, author=actor)
    return entry.id


def log_call_back(desk: Desk, call_back: CallBack, actor: str) -> int:
    """A phone call the advisor made to the customer, as the advisor tells it; returns the entry's id."""
    call_back = call_back.validated(desk)
    with UnitOfWork(desk, actor) as uow:
        uow.ticket = find_ticket(uow.session, call_back.reference, lock=True)
        entry = _write_entry(uow, "call_back", call_back.body, (), author=actor)
        _customer_answered(uow, entry)
    return entry.id


def _customer_answered(uow: UnitOfWork, entry: Message) -> None:
    """C12: a person answered the customer. The call's diagram decides what that means (support_call
    stops the first response clock, the first time); a ticket whose process does not listen for it
    (an escalation, training) is not told, and nothing else changes."""
    commands.deliver(uow, PUBLIC_REPLY, {"entry": entry.id, "kind": entry.kind})


def add_portal_message(desk: Desk, message: PortalMessage) -> int:
    """The customer writes on their call from the portal (only their own call: any other is "no such
    call"); a call Delayed for them is re-opened (C24). Returns the entry's id."""
    message = message.validated(desk)
    with UnitOfWork(desk, f"customer:{message.contact_email}") as uow:
        ticket = uow.ticket = _customers_call(uow.session, message.contact_email, message.reference)
        if ticket.status == "closed":
            raise NotAllowed(f"{ticket.reference} is closed: log a new call, or reply to our last email")
        entry = _write_entry(uow, "portal_message", message.body, message.attachments, author=message.contact_email)
        if ticket.status == "delayed":
            commands.deliver(uow, "information_received", {"via": "portal"})
    return entry.id


def add_customer_mail(uow: UnitOfWork, record: InboundMail, sender: str, text: str) -> tuple[Message, list[Attachment]]:
    """Within mail in's unit of work: the customer's mail joins ``uow``'s call as an entry, its body
    without the mail it quotes (the whole text kept beside it), with the files kept when it was received
    (``attachments.keep_received``). Mail in records it on the history (``mail_received``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()  # as the wire had it: CRLF
    body = without_quoted_mail(text)
    entry = _new_entry(uow, "customer_mail", body, author=sender, public=True)
    entry.full_text = text if body != text else None
    entry.inbound_mail_id = record.id
    files = list(
        uow.session.scalars(
            select(Attachment)
            .where(Attachment.inbound_mail_id == record.id, Attachment.message_id.is_(None))
            .order_by(Attachment.id)
        )
    )
    for row in files:
        row.message_id, row.ticket_id = entry.id, uow.ticket.id
    return entry, files


def _customers_call(session: Session, contact_email: str, reference: str) -> Ticket:
    """The customer's own call, locked; any other is as if it did not exist (C25)."""
    try:
        ticket = find_ticket(session, reference, lock=True)
    except NotFound:
        ticket = None
    if ticket is None or ticket.kind != "call" or ticket.contact_email != contact_email:
        raise NotFound(f"you have no call {reference}")
    return ticket


# --- writing an entry ---------------------------------------------------------------------------------------


def _write_entry(
    uow: UnitOfWork, kind: str, body: str, files: Sequence[Upload | attachments.Recorded], *, author: str
) -> Message:
    """The entry, its files and its history event."""
    entry = _new_entry(uow, kind, body, author=author, public=kind != "note")
    kept = _keep_files(uow, entry, files)
    uow.record(EVENTS[kind], _described(entry, kept))
    return entry


def _write_reply(
    uow: UnitOfWork, body: str, files: Sequence[Upload | attachments.Recorded], cc: Sequence[str], *, author: str
) -> Message:
    entry = _new_entry(uow, "reply", body, author=author, public=True)
    kept = _keep_files(uow, entry, files)
    uow.record(EVENTS["reply"], {**_described(entry, kept), "cc": list(cc)})
    entry.outbox_mail_id = _queue_reply_mail(uow, entry, kept, tuple(cc)).id
    return entry


def _new_entry(uow: UnitOfWork, kind: str, body: str, *, author: str, public: bool) -> Message:
    entry = Message(
        ticket_id=uow.ticket.id,
        kind=kind,
        public=public,
        author=author[:320],
        body=body,
        created_at=uow.now,
    )
    uow.session.add(entry)
    uow.session.flush()  # its id, for its files and its history event
    return entry


def _keep_files(uow: UnitOfWork, entry: Message, files: Sequence[Upload | attachments.Recorded]) -> list[Attachment]:
    where = {"now": uow.now, "ticket_id": uow.ticket.id, "message_id": entry.id}
    kept = [
        attachments.keep(uow.session, uow.desk.settings, file, **where)
        if isinstance(file, Upload)
        else attachments.keep_recorded(uow.session, file, **where)
        for file in files
    ]
    uow.session.flush()
    return kept


def _described(entry: Message, files: Sequence[Attachment]) -> dict:
    """What the history keeps of an entry: enough to write it again (``give_again``)."""
    return {
        "entry": entry.id,
        "kind": entry.kind,
        "public": entry.public,
        "author": entry.author,
        "body": entry.body,
        "attachments": [
            {"filename": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256} for f in files
        ],
        "attachment_ids": [f.id for f in files],
    }


# --- the reply's mail --------------------------------------------------------------------------------------


def _queue_reply_mail(uow: UnitOfWork, entry: Message, files: list[Attachment], cc: tuple[str, ...]) -> OutboxMail:
    """The reply in the outbox, in this transaction, and on the history (as ``uow.queue_mail`` does, with
    the copies and threading headers it has no way to pass). Its files are not copied: delivery attaches
    the files of the entry that names the mail."""
    session, ticket, settings = uow.session, uow.ticket, uow.desk.settings
    in_reply_to, references = _thread_of(session, ticket)
    context = {
        "body_text": plain_text(entry.body),
        "body_html": render_html(entry.body),
        "author": _display_name(session, entry.author),
        "attachments": [f.filename for f in files],
    }
    mail = outbox.queue_mail(
        session,
        ticket,
        REPLY_TEMPLATE,
        ticket.contact_email,
        context,
        now=uow.now,
        mail_domain=settings.mail_domain,
        cc=cc,
        in_reply_to=in_reply_to,
        references=references,
    )
    session.flush()  # the reply's entry names the mail by its id
    queued = {"template": REPLY_TEMPLATE, "to": mail.to_address, "subject": mail.subject, "message_id": mail.message_id}
    uow.record("mail_queued", {**queued, **({"cc": list(cc)} if cc else {})}, actor="desk")
    uow.jobs_written = True  # wake an in-process worker: the reply goes out now
    return mail


def _thread_of(session: Session, ticket: Ticket) -> tuple[str | None, tuple[str, ...]]:
    """(In-Reply-To, References) for a mail to the call's contact: it answers their latest mail (else our
    latest to them), and names the latest mails between them and us, oldest first, so mail programs keep
    one thread. Mail the desk sent to others about the call (alerts to first line) is none of it."""
    ticket_id = ticket.id
    ours = [
        (at, mail_id)
        for at, mail_id in session.execute(
            select(OutboxMail.created_at, OutboxMail.message_id)
            .where(OutboxMail.ticket_id == ticket_id, OutboxMail.to_address == ticket.contact_email)
            .order_by(OutboxMail.id.desc())
            .limit(THREAD_IDS)
        )
    ]
    received = session.execute(
        select(InboundMail.received_at, InboundMail.message_id)
        .where(InboundMail.ticket_id == ticket_id, InboundMail.outcome.in_(("new_call", "added")))
        .order_by(InboundMail.id.desc())
        .limit(THREAD_IDS)
    )
    theirs = [(at, mail_id) for at, mail_id in received if mail_id and MESSAGE_ID.fullmatch(mail_id)]
    parent = max(theirs or ours, key=lambda row: row[0], default=(None, None))[1]
    ordered = [mail_id for _, mail_id in sorted([*ours, *theirs], key=lambda row: row[0]) if mail_id != parent]
    references = tuple(dict.fromkeys([*ordered, *([parent] if parent else [])]))[-THREAD_IDS:]
    return parent, references


def _display_name(session: Session, username: str) -> str:
    name = session.scalar(select(User.display_name).where(User.username == username))
    return name or username


def account_contacts(session: Session, ticket: Ticket) -> list[str]:
    """Who else a reply may be copied to: the known contacts of the call's account, by mail in's rule
    (C03, ``engine.mail.inbound.known_contact``): contacts of the account's calls that staff logged, and
    senders whose held mail an advisor attached to one of its calls. Never someone who only mailed in."""
    if not ticket.account:
        return []
    logged_by_staff = (
        select(Ticket.contact_email)
        .join(HistoryEvent, (HistoryEvent.ticket_id == Ticket.id) & (HistoryEvent.kind == "call_logged"))
        .where(Ticket.account == ticket.account, HistoryEvent.actor != MAIL_ACTOR)
    )
    attached = (
        select(InboundMail.from_address)
        .join(HeldMail, HeldMail.inbound_id == InboundMail.id)
        .join(Ticket, Ticket.id == HeldMail.ticket_id)
        .where(HeldMail.status == "attached", Ticket.account == ticket.account)
    )
    found = set(session.scalars(logged_by_staff)) | set(session.scalars(attached))
    return sorted(found - {ticket.contact_email})


# --- the audit replay ----------------------------------------------------------------------------------------


def give_again(desk: Desk, reference: str, kind: str, payload: dict, actor: str) -> None:
    """Audit replay (C32): write again the entry a history event ``kind`` records, at the clock's now (the
    event's moment), as it was: nothing is checked against the store again (what was checked then is a
    fact now), and its files are their recorded names, types, sizes and SHA-256, without their bytes.
    What the entry did to the process (a Delayed call re-opened) is an event of its own, replayed as one."""
    entry_kind = next(name for name, event in EVENTS.items() if event == kind)
    files = [attachments.Recorded(**file) for file in payload.get("attachments", [])]
    with UnitOfWork(desk, actor) as uow:
        uow.ticket = find_ticket(uow.session, reference, lock=True)
        if entry_kind == "reply":
            _write_reply(uow, payload["body"], files, payload.get("cc", []), author=payload["author"])
        else:
            _write_entry(uow, entry_kind, payload["body"], files, author=payload["author"])
