"""Read models of mail, for the ticket page, the admin pages and the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.mail.delivery import delivery_enabled
from supportdesk.engine.store.models import (
    HeldMail,
    InboundMail,
    MailAttachment,
    MailAttempt,
    OutboxMail,
    QuarantinedMail,
    Ticket,
)
from supportdesk.engine.tickets.instances import find_ticket


@dataclass(frozen=True)
class OutboxRow:
    id: int
    reference: str | None
    template: str
    to_address: str
    subject: str
    message_id: str
    status: str  # queued | sending | sent | failed
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None  # queued: when it is tried (again)


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    at: datetime
    outcome: str  # sent | retry | failed
    detail: str


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    filename: str
    content_type: str
    size: int
    kept: bool  # False: larger than the limit (the raw mail still has it)


@dataclass(frozen=True)
class InboundRow:
    id: int
    received_at: datetime
    from_address: str
    subject: str
    outcome: str  # new_call | added | auto_reply (noted on the call)
    size: int
    attachments: list[AttachmentRow]


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    received_at: datetime
    source: str
    envelope_from: str
    reason: str
    size: int


def _outbox_row(mail: OutboxMail, reference: str | None) -> OutboxRow:
    return OutboxRow(
        mail.id,
        reference,
        mail.template,
        mail.to_address,
        mail.subject,
        mail.message_id,
        mail.status,
        mail.attempts,
        mail.last_error,
        mail.created_at,
        mail.sent_at,
        mail.next_attempt_at,
    )


def outbox_of(desk: Desk, reference: str) -> list[OutboxRow]:
    """The ticket's mail, oldest first, with where each one stands."""
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        mails = session.scalars(select(OutboxMail).where(OutboxMail.ticket_id == ticket.id).order_by(OutboxMail.id))
        return [_outbox_row(mail, reference) for mail in mails]


def failed_mail(desk: Desk, *, limit: int = 100) -> list[OutboxRow]:
    """Mail given up on after its last try, newest first: someone must act on it."""
    return _outbox_with_status(desk, "failed", limit)


def queued_mail(desk: Desk, *, limit: int = 100) -> list[OutboxRow]:
    """Mail waiting to be sent (all of it while no SMTP host is set), oldest first."""
    return _outbox_with_status(desk, "queued", limit)


def _outbox_with_status(desk: Desk, status: str, limit: int) -> list[OutboxRow]:
    order = OutboxMail.id.desc() if status == "failed" else OutboxMail.id
    query = (
        select(OutboxMail, Ticket.reference)
        .outerjoin(Ticket, OutboxMail.ticket_id == Ticket.id)
        .where(OutboxMail.status == status)
        .order_by(order)
        .limit(limit)
    )
    with desk.db.reading() as session:
        return [_outbox_row(mail, reference) for mail, reference in session.execute(query)]


def outbox_counts(desk: Desk) -> dict[str, int]:
    """How many mails are queued, sending, sent and failed."""
    query = select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
    with desk.db.reading() as session:
        counts = dict(session.execute(query).all())
    return {status: counts.get(status, 0) for status in ("queued", "sending", "sent", "failed")}


def attempts_of(desk: Desk, mail_id: int) -> list[AttemptRow]:
    """Every try at sending one mail, and what the server said."""
    query = select(MailAttempt).where(MailAttempt.mail_id == mail_id).order_by(MailAttempt.id)
    with desk.db.reading() as session:
        return [AttemptRow(a.attempt, a.at, a.outcome, a.detail) for a in session.scalars(query)]


def mail_delivery_enabled(desk: Desk) -> bool:
    """False: no SMTP host is set and mail stays in the outbox (say so on the pages)."""
    return delivery_enabled(desk.settings)


def inbound_of(desk: Desk, reference: str) -> list[InboundRow]:
    """The mail received on a ticket, oldest first, with its attachments."""
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        mails = list(
            session.scalars(select(InboundMail).where(InboundMail.ticket_id == ticket.id).order_by(InboundMail.id))
        )
        attachments = _attachments_of(session, [mail.id for mail in mails])
        return [
            InboundRow(m.id, m.received_at, m.from_address, m.subject, m.outcome, m.size, attachments.get(m.id, []))
            for m in mails
        ]


def _attachments_of(session, inbound_ids: list[int]) -> dict[int, list[AttachmentRow]]:
    query = (
        select(
            MailAttachment.id,
            MailAttachment.inbound_id,
            MailAttachment.filename,
            MailAttachment.content_type,
            MailAttachment.size,
            MailAttachment.content.is_not(None),
        )
        .where(MailAttachment.inbound_id.in_(inbound_ids))
        .order_by(MailAttachment.id)
    )
    found: dict[int, list[AttachmentRow]] = {}
    for row_id, inbound_id, filename, content_type, size, kept in session.execute(query):
        found.setdefault(inbound_id, []).append(AttachmentRow(row_id, filename, content_type, size, bool(kept)))
    return found


def attachment(desk: Desk, attachment_id: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of a kept attachment, for download."""
    with desk.db.reading() as session:
        row = session.get(MailAttachment, attachment_id)
        if row is None or row.content is None:
            raise NotFound(f"no kept attachment {attachment_id}")
        return row.filename, row.content_type, row.content


def raw_inbound(desk: Desk, inbound_id: int) -> bytes:
    """A received mail exactly as it came (an .eml file)."""
    with desk.db.reading() as session:
        raw = session.scalar(select(InboundMail.raw).where(InboundMail.id == inbound_id))
    if raw is None:
        raise NotFound(f"no received mail {inbound_id}")
    return raw


def quarantined_mail(desk: Desk, *, limit: int = 100) -> list[QuarantineRow]:
    """Mail that could not be filed, newest first, with the reason."""
    query = (
        select(
            QuarantinedMail.id,
            QuarantinedMail.received_at,
            QuarantinedMail.source,
            QuarantinedMail.envelope_from,
            QuarantinedMail.reason,
            QuarantinedMail.size,
        )
        .order_by(QuarantinedMail.id.desc())
        .limit(limit)
    )
    with desk.db.reading() as session:
        return [QuarantineRow(*row) for row in session.execute(query)]


# --- where received mail is (C03: every mail is somewhere a person looks) ----------------------------------

# Received mail by where it is: what the admin page and `supportdesk mail-status` count.
RECEIVED_PLACES = {
    "on_calls": "on calls",
    "needs_review": "held: needs review",
    "not_opened": "not opened: auto-reply or bulk",
    "discarded": "discarded after review",
    "quarantined": "quarantined",
}


@dataclass(frozen=True)
class HeldRow:
    id: int
    inbound_id: int
    received_at: datetime
    from_address: str
    subject: str
    quoted_reference: str  # as the mail quoted it
    quoted_call: str | None  # the reference, when it names a call
    quoted_contact: str | None  # that call's contact and account, for the advisor to compare
    quoted_account: str | None
    why: str
    excerpt: str
    attachments: list[AttachmentRow]
    status: str  # held | attached | new_call | discarded
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str
    went_to: str | None  # the call it was attached to or opened as


@dataclass(frozen=True)
class NotOpenedRow:
    id: int
    received_at: datetime
    from_address: str
    subject: str
    reason: str  # the auto-reply or bulk header that kept it from opening a call


def held_mail(desk: Desk, *, decided: bool = False, limit: int = 100) -> list[HeldRow]:
    """Mail held for review, oldest first (the next to look at); or, ``decided``, the latest decisions."""
    quoted, went = aliased(Ticket), aliased(Ticket)
    query = (
        select(
            HeldMail,
            InboundMail.received_at,
            InboundMail.from_address,
            InboundMail.subject,
            quoted.reference,
            quoted.contact_email,
            quoted.account,
            went.reference,
        )
        .join(InboundMail, InboundMail.id == HeldMail.inbound_id)
        .outerjoin(quoted, quoted.id == HeldMail.quoted_ticket_id)
        .outerjoin(went, went.id == HeldMail.ticket_id)
    )
    if decided:
        query = query.where(HeldMail.status != "held").order_by(HeldMail.decided_at.desc(), HeldMail.id.desc())
    else:
        query = query.where(HeldMail.status == "held").order_by(HeldMail.id)
    with desk.db.reading() as session:
        rows = session.execute(query.limit(limit)).all()
        attachments = _attachments_of(session, [held.inbound_id for held, *_ in rows])
        return [
            HeldRow(
                held.id,
                held.inbound_id,
                received_at,
                from_address,
                subject,
                held.quoted_reference,
                quoted_call,
                contact,
                account,
                held.why,
                held.excerpt,
                attachments.get(held.inbound_id, []),
                held.status,
                held.decided_at,
                held.decided_by,
                held.decision_reason,
                went_to,
            )
            for held, received_at, from_address, subject, quoted_call, contact, account, went_to in rows
        ]


def not_opened_mail(desk: Desk, *, limit: int = 100) -> list[NotOpenedRow]:
    """Auto-replies and bulk mail that are on no call, newest first, with the reason."""
    query = (
        select(
            InboundMail.id, InboundMail.received_at, InboundMail.from_address, InboundMail.subject, InboundMail.reason
        )
        .where(InboundMail.outcome == "auto_reply", InboundMail.ticket_id.is_(None))
        .order_by(InboundMail.id.desc())
        .limit(limit)
    )
    with desk.db.reading() as session:
        return [NotOpenedRow(*row) for row in session.execute(query)]


def received_counts(desk: Desk) -> dict[str, int]:
    """How many received mails are in each place of ``RECEIVED_PLACES``: every mail kept is in one."""
    place = case(
        (InboundMail.outcome.in_(("new_call", "added")), "on_calls"),
        (InboundMail.outcome == "held", "needs_review"),
        ((InboundMail.outcome == "auto_reply") & InboundMail.ticket_id.is_not(None), "on_calls"),
        (InboundMail.outcome == "auto_reply", "not_opened"),
        else_=InboundMail.outcome,
    )
    with desk.db.reading() as session:
        counts = dict(session.execute(select(place, func.count()).group_by(place)).all())
        counts["quarantined"] = session.scalar(select(func.count()).select_from(QuarantinedMail))
    return {name: counts.get(name, 0) for name in RECEIVED_PLACES}
