"""Receiving a mail: a mail to the support address opens a call (C01, C02); one that
names a Call Reference in its subject, or answers one of the call's mails (In-Reply-To,
References), is added to that call, and re-opens it when it is Delayed waiting for the
customer (information received, C24) — when its sender may write into that call (C03).

Who may write into a call (C03): the call's contact, or a known contact of the call's
account. A known contact of an account is an address that a person at the desk vouched
for in that account, never one that only mailed in:
- the contact of a call of the account that staff logged (by phone, on the web desk or
  through the API: its ``call_logged`` event is not the mail receiver's), or
- the sender of a held mail that an advisor attached to a call of the account.
A call opened by a mail (by anyone, from any domain) makes its sender the contact of that
call alone. Mail quoting a call from anyone else, or quoting a reference that names no
call, is held as "needs review" (``HeldMail``, ``review``): it touches no call, opens
none, gets no confirmation, and the SMTP answer is the plain "received" of any mail that
named no reference, so the sender learns nothing about the call it quoted.

Filing a mail is one command: the mail kept whole, its attachments, the call it
opens or the history it adds to, and the message to the process commit
together or not at all. A mail that cannot be filed is quarantined with the
reason. Nothing is lost: ``receive`` only raises when the store itself fails,
and then nothing was kept, so the caller keeps the mail (SMTP answers "try
again later", a file stays where it is).

Loop protection: an auto-reply or a bounce never opens a call and so never
gets a confirmation; when it answers one of our mails (by the Message-ID we gave it), or
comes from someone who may write into the call it quotes, it is noted on that call; else
it is kept as "not opened" with the reason, listed with held mail.

Receiving the same mail twice changes nothing: the same bytes, or the same Message-ID with
the same content (relays add trace headers such as Received, ``parsing.content_digest``).
A reused Message-ID on other content is a mail of its own.

Every mail received is somewhere a person looks: on a call, held for review, not opened
(auto-reply or bulk, with the reason), or quarantined with the reason. Mail that is bad in
an expected way (no sender, unreadable, too large, refused by the process) is logged as
one line with its reason; only an unexpected failure logs a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportdesk.engine.conversation import attachments as conversation_files
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.conversation.text import without_quoted_mail
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, DeskError, NotFound
from supportdesk.engine.mail import parsing
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import (
    HeldMail,
    HistoryEvent,
    InboundMail,
    MailAttachment,
    OutboxMail,
    QuarantinedMail,
    Ticket,
)
from supportdesk.engine.tickets import commands, history
from supportdesk.engine.tickets.calls import CallDetails
from supportdesk.engine.tickets.instances import advance, load_workflow, lock_ticket
from supportdesk.engine.tickets.outbox import address_of
from supportdesk.engine.tickets.references import PREFIXES
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger(__name__)

ACTOR = "mail"
WORK_CAN_PROGRESS = "information_received"  # the message a customer's reply brings a Delayed call (C24)
REFERENCE = re.compile(rf"\b(?:{'|'.join(PREFIXES.values())})-\d{{4}}-\d{{6}}\b")
EXCERPT_CHARS = 4000
TRIES = 3  # a call changed by someone else at the same moment: file the mail again


@dataclass(frozen=True)
class Receipt:
    """What became of a received mail."""

    outcome: str  # new_call | added | auto_reply | held | duplicate | quarantined | too_large
    # The call the mail opened or joined (an auto-reply: the call it is noted on). Never set for held
    # mail: whoever shows a receipt to the sender (the SMTP answer) must not learn the quoted call.
    reference: str | None = None
    reopened: bool = False
    detail: str = ""

    def describe(self) -> str:
        where = f" {self.reference}" if self.reference else ""
        text = {
            "new_call": f"opened{where}",
            "added": f"added to{where}" + (", re-opened" if self.reopened else ""),
            "auto_reply": "auto-reply, no call opened" + (f"; noted on{where}" if where else ""),
            "duplicate": "received before" + (f" ({self.reference})" if where else ""),
            "held": "held for review",
            "quarantined": "quarantined",
            "too_large": "refused",
        }[self.outcome]
        return f"{text}: {self.detail}" if self.detail else text

    @property
    def reference_for_sender(self) -> str | None:
        """The reference the sender may be told: the call their mail opened or joined. Not a duplicate's:
        a copy of someone else's mail (a CC) must not learn the call that mail opened."""
        return self.reference if self.outcome in ("new_call", "added") else None


class _NotDelivered(Exception):
    """The process refused the message the mail brings; the mail is still filed."""


def receive(desk: Desk, raw: bytes, *, source: str, envelope_from: str = "") -> Receipt:
    """File one received mail (``envelope_from`` is SMTP's MAIL FROM, "<>" for a bounce)."""
    settings = desk.settings
    if len(raw) > settings.max_message_bytes:
        detail = f"{len(raw)} bytes, more than the {settings.max_message_bytes} allowed (SUPPORTDESK_MAX_MESSAGE_BYTES)"
        log.warning("refused mail from %s: %s", source, detail)
        return Receipt("too_large", detail=detail)
    try:
        mail = parsing.parse(raw, envelope_from=envelope_from, own_addresses=own_addresses(settings))
    except parsing.Unreadable as exc:
        return quarantine(desk, raw, source, envelope_from, str(exc))
    if not mail.from_address:
        return quarantine(
            desk,
            raw,
            source,
            envelope_from,
            "no sender: the mail has no From address and no envelope sender (MAIL FROM)",
        )
    refused, problem = None, "not filed"
    for _ in range(TRIES):
        try:
            receipt = _file(desk, raw, mail, source, envelope_from, refused)
        except (ConflictError, IntegrityError) as exc:  # a concurrent change, or the same mail at once: look again
            problem = f"{exc.__class__.__name__}: {exc}"
            continue
        except _NotDelivered as exc:  # file it without the message the process refused
            refused = problem = str(exc)
            continue
        except DeskError as exc:  # expected: an address no call can be logged for, no diagrams deployed...
            return quarantine(desk, raw, source, envelope_from, _reason(exc))
        except Exception as exc:  # whatever went wrong, the mail is kept with the reason (and logged)
            log.exception("mail from %s could not be filed", source)
            return quarantine(desk, raw, source, envelope_from, _reason(exc))
        if receipt.outcome in ("auto_reply", "held"):
            log.info("mail from %s <%s>: %s", source, mail.from_address, receipt.describe())
        return receipt
    return quarantine(desk, raw, source, envelope_from, problem)


def _reason(exc: Exception) -> str:
    fields = getattr(exc, "fields", None) or {}  # InvalidInput names each field that is wrong
    details = "".join(f"; {name}: {message}" for name, message in fields.items())
    return f"{exc.__class__.__name__}: {exc}{details}"


def own_addresses(settings: Settings) -> frozenset[str]:
    """Mail from these is the desk's own, come back: never a call."""
    return frozenset(filter(None, (address_of(settings.mail_from), address_of(settings.support_address))))


def quarantine(desk: Desk, raw: bytes, source: str, envelope_from: str, reason: str) -> Receipt:
    """Keep a mail that cannot be filed, whole, with the reason (once per content)."""
    digest = hashlib.sha256(raw).hexdigest()
    with desk.db.transaction() as session:
        if session.scalar(select(QuarantinedMail.id).where(QuarantinedMail.sha256 == digest).limit(1)) is None:
            session.add(
                QuarantinedMail(
                    sha256=digest,
                    received_at=clock.now(),
                    source=source[:500],
                    envelope_from=envelope_from[:320],
                    reason=reason,
                    size=len(raw),
                    raw=raw,
                )
            )
    log.warning("quarantined mail from %s: %s", source, " ".join(reason.split()))  # one line, whatever the reason
    return Receipt("quarantined", detail=reason)


def release(desk: Desk, quarantined_id: int) -> Receipt:
    """File a quarantined mail again (after the cause is fixed); filed, it leaves the quarantine."""
    with desk.db.reading() as session:
        row = session.get(QuarantinedMail, quarantined_id)
        if row is None:
            raise NotFound(f"no quarantined mail {quarantined_id}")
        raw, source, envelope_from = row.raw, row.source, row.envelope_from
    receipt = receive(desk, raw, source=source, envelope_from=envelope_from)
    if receipt.outcome not in ("quarantined", "too_large"):  # filed now, or filed before by another copy
        with desk.db.transaction() as session:
            session.execute(delete(QuarantinedMail).where(QuarantinedMail.id == quarantined_id))
    return receipt


def _file(
    desk: Desk, raw: bytes, mail: parsing.ParsedMail, source: str, envelope_from: str, refused: str | None
) -> Receipt:
    digest = hashlib.sha256(raw).hexdigest()
    with UnitOfWork(desk, ACTOR) as uow:
        session = uow.session
        _one_at_a_time(session, mail.message_id)
        earlier = _received_before(session, raw, mail, digest)
        if earlier is not None:
            on_call = earlier.outcome in ("new_call", "added")
            return Receipt(
                "duplicate",
                _reference_of(session, earlier.ticket_id) if on_call else None,
                detail="" if on_call else f"inbound mail {earlier.id}, {earlier.outcome}",
            )
        record = InboundMail(
            message_id=mail.message_id,
            sha256=digest,
            received_at=clock.now(),
            source=source[:500],
            envelope_from=envelope_from[:320],
            from_address=mail.from_address[:320],
            subject=mail.subject[:500],
            outcome="",
            size=len(raw),
            raw=raw,
        )
        session.add(record)
        session.flush()  # the same mail filed at this moment elsewhere fails here, before any work
        session.execute(delete(QuarantinedMail).where(QuarantinedMail.sha256 == digest))
        return _file_record(uow, record, mail, refused)


def _file_record(uow: UnitOfWork, record: InboundMail, mail: parsing.ParsedMail, refused: str | None) -> Receipt:
    desk, session = uow.desk, uow.session
    quotes = _quoted(session, mail)
    if mail.auto_reply:
        record.outcome, record.reason = "auto_reply", mail.auto_reply[:500]
        found = next(
            (q for q in quotes if q.ticket is not None and (q.by_our_mail or _known_for(session, mail, q))), None
        )
        if found is None:
            return Receipt("auto_reply", detail=f"not opened: {mail.auto_reply}")
        ticket = lock_ticket(session, found.ticket_id)
        record.ticket_id = ticket.id
        history.append(
            session,
            ticket,
            at=clock.now(),
            kind="auto_reply_received",
            actor=ACTOR,
            payload={**_described(mail, record, []), "why": mail.auto_reply},
        )
        return Receipt("auto_reply", ticket.reference, detail=mail.auto_reply)
    if not quotes:
        open_call(uow, mail)
        record.outcome, record.ticket_id = "new_call", uow.ticket.id
        kept = _keep_attachments(desk, session, record, mail)
        uow.record("mail_received", {**_described(mail, record, kept), **conversation_entry(uow, record, mail)})
        return Receipt("new_call", uow.ticket.reference)
    found = next((q for q in quotes if q.ticket is not None and _known_for(session, mail, q)), None)
    if found is None:
        return _hold(desk, session, record, mail, quotes[0])
    ticket = uow.ticket = lock_ticket(session, found.ticket_id)
    reopened = add_to_call(desk, uow, record, mail, _keep_attachments(desk, session, record, mail), refused)
    return Receipt("added", ticket.reference, reopened)


def add_to_call(
    desk: Desk,
    uow: UnitOfWork,
    record: InboundMail,
    mail: parsing.ParsedMail,
    attachments: list[str],
    refused: str | None,
    **noted,
) -> bool:
    """The mail joins ``uow``'s call (locked): on its history, and re-opening it when it is Delayed
    (C24). Returns whether it re-opened. A trusted reply and a held mail an advisor attaches both
    come this way; ``noted`` goes on the history event (who attached it, why)."""
    record.outcome, record.ticket_id = "added", uow.ticket.id
    payload = {**_described(mail, record, attachments), **conversation_entry(uow, record, mail)}
    uow.record("mail_received", {**payload, **noted, **({"not_delivered": refused} if refused else {})})
    return refused is None and _work_can_progress(desk, uow, mail)


@dataclass(frozen=True)
class _Quote:
    """A call a mail quotes: by a reference in its subject, or by Message-IDs of the call's mail."""

    reference: str
    ticket: Ticket | None  # (id, reference, contact_email, account): None when the reference names no call
    by_our_mail: bool = False  # it answers a mail the desk sent (its Message-ID is ours, random)

    @property
    def ticket_id(self) -> int:
        if self.ticket is None:
            raise NotFound(f"no call {self.reference}")
        return self.ticket.id


def _quoted(session: Session, mail: parsing.ParsedMail) -> list[_Quote]:
    """The calls the mail quotes, most telling first: the call of the mail it answers, then each
    reference in its subject. A Message-ID that is none of the desk's quotes nothing."""
    quotes: list[_Quote] = []
    if mail.thread_ids:
        for table in (OutboxMail, InboundMail):
            ticket_id = _ticket_of_ids(session, table, mail.thread_ids)
            if ticket_id is not None:
                ticket = _ticket_row(session, Ticket.id == ticket_id)
                if ticket is not None:
                    quotes.append(_Quote(ticket.reference, ticket, by_our_mail=table is OutboxMail))
                break
    for reference in dict.fromkeys(REFERENCE.findall(mail.subject)):
        if all(q.reference != reference for q in quotes):
            quotes.append(_Quote(reference, _ticket_row(session, Ticket.reference == reference)))
    return quotes


def _ticket_row(session: Session, where) -> Ticket | None:
    return session.execute(
        select(Ticket.id, Ticket.reference, Ticket.contact_email, Ticket.account).where(where)
    ).first()


def _known_for(session: Session, mail: parsing.ParsedMail, quote: _Quote) -> bool:
    return quote.ticket is not None and known_contact(session, mail.from_address, quote.ticket) is not None


def known_contact(session: Session, address: str, ticket) -> str | None:
    """Why ``address`` may write into ``ticket``'s call (C03), or None: it is the call's contact, or a
    known contact of the call's account (see the module's docstring)."""
    address = address.strip().lower()
    if not address:
        return None
    if address == ticket.contact_email:
        return "the call's contact"
    if not ticket.account:
        return None
    logged_by_staff = (
        select(Ticket.id)
        .join(HistoryEvent, (HistoryEvent.ticket_id == Ticket.id) & (HistoryEvent.kind == "call_logged"))
        .where(Ticket.account == ticket.account, Ticket.contact_email == address, HistoryEvent.actor != ACTOR)
        .limit(1)
    )
    if session.scalar(logged_by_staff) is not None:
        return f"a contact of a call of {ticket.account} that staff logged"
    attached = (
        select(HeldMail.id)
        .join(InboundMail, InboundMail.id == HeldMail.inbound_id)
        .join(Ticket, Ticket.id == HeldMail.ticket_id)
        .where(HeldMail.status == "attached", InboundMail.from_address == address, Ticket.account == ticket.account)
        .limit(1)
    )
    if session.scalar(attached) is not None:
        return f"an advisor attached their mail to a call of {ticket.account}"
    return None


def _hold(desk: Desk, session: Session, record: InboundMail, mail: parsing.ParsedMail, quote: _Quote) -> Receipt:
    """C03: the mail quotes a call its sender may not write into; it waits for an advisor, touching
    no call. The receipt names no reference."""
    if quote.ticket is None:
        why = f"{quote.reference} names no call"
    else:
        why = (
            f"{mail.from_address} is not the contact of {quote.reference} nor a known contact of its account "
            f"({quote.ticket.account})"
        )
    record.outcome, record.reason = "held", why[:500]
    _keep_attachments(desk, session, record, mail)
    session.add(
        HeldMail(
            inbound_id=record.id,
            quoted_reference=quote.reference[:32],
            quoted_ticket_id=quote.ticket.id if quote.ticket is not None else None,
            why=why[:500],
            excerpt=excerpt(mail.text),
            held_at=clock.now(),
            status="held",
        )
    )
    return Receipt("held", detail=f"quotes {quote.reference}: {why}")


def _received_before(session: Session, raw: bytes, mail: parsing.ParsedMail, digest: str) -> InboundMail | None:
    """The mail kept before with this content: the same bytes, or the same Message-ID and the same
    content less trace headers (a copy relayed another way). A Message-ID alone is not enough."""
    same = session.scalar(select(InboundMail).where(InboundMail.sha256 == digest).limit(1))
    if same is not None or not mail.message_id:
        return same
    content = parsing.content_digest(raw)
    for earlier_id, earlier_raw in session.execute(
        select(InboundMail.id, InboundMail.raw)
        .where(InboundMail.message_id == mail.message_id)
        .order_by(InboundMail.id)
        .limit(20)
    ):
        if parsing.content_digest(earlier_raw) == content:
            return session.get(InboundMail, earlier_id)
    return None


def _one_at_a_time(session: Session, message_id: str | None) -> None:
    """Copies of one mail arriving at once (by two relays) are filed one after the other, so the second
    sees the first. SQLite's writers already queue (BEGIN IMMEDIATE); PostgreSQL takes a lock on the
    Message-ID until the commit (two different mails sharing one only wait for each other)."""
    if message_id and session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _reference_of(session: Session, ticket_id: int | None) -> str | None:
    return session.scalar(select(Ticket.reference).where(Ticket.id == ticket_id)) if ticket_id else None


def _ticket_of_ids(session: Session, table, ids: list[str]) -> int | None:
    """The ticket of the newest of our mails (sent, or received before) that ``ids`` names."""
    return session.scalar(
        select(table.ticket_id)
        .where(table.message_id.in_(ids), table.ticket_id.is_not(None))
        .order_by(table.id.desc())
        .limit(1)
    )


def open_call(uow: UnitOfWork, mail: parsing.ParsedMail, summary: str | None = None) -> None:
    """C01: the mail becomes ``uow``'s call, as ``commands.log_call`` logs one, in its transaction. The call
    is logged by the mail (``ACTOR``), whoever let it in: its sender becomes the contact of this call
    only, never a known contact of its account."""
    summary = (mail.subject if summary is None else summary) or "(no subject)"
    details = CallDetails(
        contact_name=(mail.from_name or mail.from_address)[:200],
        contact_email=mail.from_address,
        account=_account_of(uow.session, mail.from_address)[:200],
        summary=summary[:500],
        channel="email",
    ).validated()
    commands.start_call(uow, details)


def _account_of(session: Session, address: str) -> str:
    """The account this sender's calls were logged under, else the sender's domain."""
    known = session.scalar(
        select(Ticket.account)
        .where(Ticket.contact_email == address)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    return known or address.partition("@")[2]


def _work_can_progress(desk: Desk, uow: UnitOfWork, mail: parsing.ParsedMail) -> bool:
    """C24: a Delayed call waits for the customer; their mail re-opens it. A call that is not
    waiting for it (open, resolved, closed) just has the mail on its history."""
    if uow.ticket.status != "delayed":
        return False
    uow.attempting(f"re-open the call on mail from {mail.sender}", f"message:{WORK_CAN_PROGRESS}")
    workflow = load_workflow(uow.session, desk, uow.ticket.state)
    payload = {"note": f"mail from {mail.sender}: {mail.subject}"[:500]}
    event = BpmnEvent(
        MessageEventDefinition(WORK_CAN_PROGRESS), payload={"payload": payload, "result_var": WORK_CAN_PROGRESS}
    )
    try:
        workflow.send_event(event)
    except WorkflowException:
        return False
    uow.record("message_received", {"message": WORK_CAN_PROGRESS, "payload": payload})
    try:
        advance(uow, workflow)
    except DeskError as exc:
        if isinstance(exc, ConflictError):
            raise
        raise _NotDelivered(f"{WORK_CAN_PROGRESS} was refused: {exc}") from exc
    return True


def conversation_entry(uow: UnitOfWork, record: InboundMail, mail: parsing.ParsedMail) -> dict:
    """The mail joins the conversation of ``uow``'s call as the customer's entry, with the files kept when
    it was received; returns what its ``mail_received`` event says of it (which entry, which files)."""
    entry, files = conversation.add_customer_mail(uow, record, mail.from_address, mail.text)
    described = [
        {"filename": f.filename, "size": f.size, "sha256": f.sha256, **({"not_kept": f.not_kept} if f.not_kept else {})}
        for f in files
    ]
    return {"entry": entry.id, "files": described}


def _keep_attachments(desk: Desk, session: Session, record: InboundMail, mail: parsing.ParsedMail) -> list[str]:
    """Store the attachments, their bytes up to the size limit; returns what the history says of them.

    Each file is kept twice over: as the conversation's file (``engine.conversation.attachments``: the
    attachment store, waiting for the entry the mail becomes on a call), and as a ``MailAttachment``,
    which the mail pages and held-mail review still read (``mail.queries``, ``mail.review``)."""
    uploads = [conversation_files.Upload(a.filename, a.content, a.content_type) for a in mail.attachments]
    conversation_files.keep_received(session, desk.settings, record.id, uploads, now=clock.now())
    limit, described = desk.settings.max_attachment_bytes, []
    for attachment in mail.attachments:
        kept = len(attachment.content) <= limit
        session.add(
            MailAttachment(
                inbound_id=record.id,
                filename=attachment.filename,
                content_type=attachment.content_type[:100],
                size=len(attachment.content),
                content=attachment.content if kept else None,
            )
        )
        described.append(attachment.filename if kept else f"{attachment.filename} (not kept: over {limit} bytes)")
    return described


def _described(mail: parsing.ParsedMail, record: InboundMail, attachments: list[str]) -> dict:
    return {
        "from": mail.sender,
        "subject": mail.subject,
        "excerpt": excerpt(mail.text),
        "attachments": attachments,
        "message_id": mail.message_id,
        "inbound_mail": record.id,
    }


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """What the customer wrote, without the quoted mail they answer (as the conversation keeps it:
    ``without_quoted_mail``, the "On ..., X wrote:" and Outlook blocks and "> " lines taken off)."""
    kept = re.sub(r"\n{3,}", "\n\n", without_quoted_mail(text)).strip()
    return kept if len(kept) <= limit else kept[:limit].rstrip() + " …"
