"""Receiving a mail: a mail to the support address opens a call (C01, C02); one that
names a known Call Reference in its subject, or answers one of the desk's mails
(In-Reply-To, References), is added to that call, and re-opens it when it is
Delayed waiting for the customer (information received, C24).

Filing a mail is one command: the mail kept whole, its attachments, the call it
opens or the history it adds to, and the message to the process commit
together or not at all. A mail that cannot be filed is quarantined with the
reason. Nothing is lost: ``receive`` only raises when the store itself fails,
and then nothing was kept, so the caller keeps the mail (SMTP answers "try
again later", a file stays where it is).

Loop protection: an auto-reply or a bounce never opens a call and so never
gets a confirmation; when it answers one of our mails it is noted on that call.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportdesk.engine import commands, history
from supportdesk.engine.calls import CallDetails
from supportdesk.engine.clock import clock
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, DeskError, NotFound
from supportdesk.engine.instances import UnitOfWork, advance, load_workflow, lock_ticket
from supportdesk.engine.models import InboundMail, MailAttachment, OutboxMail, QuarantinedMail, Ticket
from supportdesk.engine.outbox import address_of
from supportdesk.engine.references import PREFIXES
from supportdesk.engine.settings import Settings

from . import parsing

log = logging.getLogger(__name__)

ACTOR = "mail"
WORK_CAN_PROGRESS = "information_received"  # the message a customer's reply brings a Delayed call (C24)
REFERENCE = re.compile(rf"\b(?:{'|'.join(PREFIXES.values())})-\d{{4}}-\d{{6}}\b")
EXCERPT_CHARS = 4000
TRIES = 3  # a call changed by someone else at the same moment: file the mail again


@dataclass(frozen=True)
class Receipt:
    """What became of a received mail."""

    outcome: str  # new_call | added | auto_reply | duplicate | quarantined | too_large
    reference: str | None = None
    reopened: bool = False
    detail: str = ""

    def describe(self) -> str:
        where = f" {self.reference}" if self.reference else ""
        text = {"new_call": f"opened{where}", "added": f"added to{where}" + (", re-opened" if self.reopened else ""),
                "auto_reply": "auto-reply, no call opened" + (f"; noted on{where}" if where else ""),
                "duplicate": "received before" + (f" ({self.reference})" if where else ""),
                "quarantined": "quarantined", "too_large": "refused"}[self.outcome]
        return f"{text}: {self.detail}" if self.detail else text


class _NotDelivered(Exception):
    """The process refused the message the mail brings; the mail is still filed."""


def receive(desk: Desk, raw: bytes, *, source: str, envelope_from: str = "") -> Receipt:
    """File one received mail (``envelope_from`` is SMTP's MAIL FROM, "<>" for a bounce)."""
    settings = desk.settings
    if len(raw) > settings.max_message_bytes:
        return Receipt("too_large", detail=f"{len(raw)} bytes, more than the {settings.max_message_bytes} "
                                           "allowed (SUPPORTDESK_MAX_MESSAGE_BYTES)")
    try:
        mail = parsing.parse(raw, envelope_from=envelope_from, own_addresses=own_addresses(settings))
    except parsing.Unreadable as exc:
        return quarantine(desk, raw, source, envelope_from, str(exc))
    refused, problem = None, "not filed"
    for _ in range(TRIES):
        try:
            return _file(desk, raw, mail, source, envelope_from, refused)
        except (ConflictError, IntegrityError) as exc:  # a concurrent change, or the same mail at once: look again
            problem = f"{exc.__class__.__name__}: {exc}"
        except _NotDelivered as exc:  # file it without the message the process refused
            refused = problem = str(exc)
        except Exception as exc:  # noqa: BLE001  (whatever went wrong, the mail is kept with the reason)
            log.exception("mail from %s could not be filed", source)
            return quarantine(desk, raw, source, envelope_from, _reason(exc))
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
            session.add(QuarantinedMail(sha256=digest, received_at=clock.now(), source=source[:500],
                                        envelope_from=envelope_from[:320], reason=reason, size=len(raw), raw=raw))
    log.warning("quarantined mail from %s: %s", source, reason)
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


def _file(desk: Desk, raw: bytes, mail: parsing.ParsedMail, source: str, envelope_from: str,
          refused: str | None) -> Receipt:
    digest = hashlib.sha256(raw).hexdigest()
    with commands._command(desk) as session:
        earlier = _received_before(session, mail, digest)
        if earlier is not None:
            return Receipt("duplicate", _reference_of(session, earlier.ticket_id))
        record = InboundMail(message_id=mail.message_id, sha256=digest, received_at=clock.now(), source=source[:500],
                             envelope_from=envelope_from[:320], from_address=mail.from_address[:320],
                             subject=mail.subject[:500], outcome="", size=len(raw), raw=raw)
        session.add(record)
        session.flush()  # the same mail filed at this moment elsewhere fails here, before any work
        session.execute(delete(QuarantinedMail).where(QuarantinedMail.sha256 == digest))
        receipt, uow = _file_record(desk, session, record, mail, refused)
    if uow is not None:
        commands._after_commit(desk, uow)
    return receipt


def _file_record(desk: Desk, session: Session, record: InboundMail, mail: parsing.ParsedMail,
                 refused: str | None) -> tuple[Receipt, UnitOfWork | None]:
    ticket = _thread_of(session, mail)
    record.ticket_id = ticket.id if ticket is not None else None
    if mail.auto_reply:
        record.outcome = "auto_reply"
        if ticket is not None:
            history.append(session, ticket, at=clock.now(), kind="auto_reply_received", actor=ACTOR,
                           payload={**_described(mail, record, []), "why": mail.auto_reply})
        return Receipt("auto_reply", ticket.reference if ticket else None, detail=mail.auto_reply), None
    if ticket is None:
        uow = _open_call(desk, session, mail)
        record.outcome, record.ticket_id = "new_call", uow.ticket.id
        uow.record("mail_received", _described(mail, record, _keep_attachments(desk, session, record, mail)))
        return Receipt("new_call", uow.ticket.reference), uow
    record.outcome = "added"
    uow = UnitOfWork(session, ticket, clock.now(), ACTOR, desk)
    payload = _described(mail, record, _keep_attachments(desk, session, record, mail))
    uow.record("mail_received", {**payload, **({"not_delivered": refused} if refused else {})})
    reopened = refused is None and _work_can_progress(desk, uow, mail)
    return Receipt("added", ticket.reference, reopened), uow


def _received_before(session: Session, mail: parsing.ParsedMail, digest: str) -> InboundMail | None:
    same = [InboundMail.sha256 == digest]
    if mail.message_id:
        same.append(InboundMail.message_id == mail.message_id)
    return session.scalar(select(InboundMail).where(or_(*same)).limit(1))


def _reference_of(session: Session, ticket_id: int | None) -> str | None:
    return session.scalar(select(Ticket.reference).where(Ticket.id == ticket_id)) if ticket_id else None


def _thread_of(session: Session, mail: parsing.ParsedMail) -> Ticket | None:
    """The ticket the mail answers (locked), by our Message-IDs it names, else by the reference in its subject."""
    ticket_id = None
    if mail.thread_ids:
        ticket_id = _ticket_of_ids(session, OutboxMail, mail.thread_ids) or \
            _ticket_of_ids(session, InboundMail, mail.thread_ids)
    if ticket_id is None:
        for reference in REFERENCE.findall(mail.subject):
            ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == reference))
            if ticket_id is not None:
                break
    return lock_ticket(session, ticket_id) if ticket_id is not None else None


def _ticket_of_ids(session: Session, table, ids: list[str]) -> int | None:
    """The ticket of the newest of our mails (sent, or received before) that ``ids`` names."""
    return session.scalar(select(table.ticket_id).where(table.message_id.in_(ids), table.ticket_id.is_not(None))
                          .order_by(table.id.desc()).limit(1))


def _open_call(desk: Desk, session: Session, mail: parsing.ParsedMail) -> UnitOfWork:
    """C01: the mail becomes a call, as ``commands.log_call`` logs one, in this transaction."""
    details = CallDetails(contact_name=(mail.from_name or mail.from_address)[:200], contact_email=mail.from_address,
                          account=_account_of(session, mail.from_address)[:200],
                          summary=(mail.subject or "(no subject)")[:500], channel="email").validated()
    ticket = Ticket(kind="call", channel=details.channel, contact_name=details.contact_name,
                    contact_email=details.contact_email, account=details.account, summary=details.summary,
                    licence_type=details.licence_type)
    return commands._start(desk, session, ticket, "support_call", details.decision_inputs(clock.now()), ACTOR,
                           "call_logged", details.as_record())


def _account_of(session: Session, address: str) -> str:
    """The account this sender's calls were logged under, else the sender's domain."""
    known = session.scalar(select(Ticket.account).where(Ticket.contact_email == address)
                           .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(1))
    return known or address.partition("@")[2]


def _work_can_progress(desk: Desk, uow: UnitOfWork, mail: parsing.ParsedMail) -> bool:
    """C24: a Delayed call waits for the customer; their mail re-opens it. A call that is not
    waiting for it (open, resolved, closed) just has the mail on its history."""
    if uow.ticket.status != "delayed":
        return False
    workflow = load_workflow(uow.session, desk, uow.ticket.state)
    payload = {"note": f"mail from {mail.sender}: {mail.subject}"[:500]}
    event = BpmnEvent(MessageEventDefinition(WORK_CAN_PROGRESS), payload={"payload": payload,
                                                                          "result_var": WORK_CAN_PROGRESS})
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


def _keep_attachments(desk: Desk, session: Session, record: InboundMail, mail: parsing.ParsedMail) -> list[str]:
    """Store the attachments, their bytes up to the size limit; returns what the history says of them."""
    limit, described = desk.settings.max_attachment_bytes, []
    for attachment in mail.attachments:
        kept = len(attachment.content) <= limit
        session.add(MailAttachment(inbound_id=record.id, filename=attachment.filename,
                                   content_type=attachment.content_type[:100], size=len(attachment.content),
                                   content=attachment.content if kept else None))
        described.append(attachment.filename if kept else f"{attachment.filename} (not kept: over {limit} bytes)")
    return described


def _described(mail: parsing.ParsedMail, record: InboundMail, attachments: list[str]) -> dict:
    return {"from": mail.sender, "subject": mail.subject, "excerpt": excerpt(mail.text),
            "attachments": attachments, "message_id": mail.message_id, "inbound_mail": record.id}


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """What the customer wrote, without the quoted mail they answer ("> ..." lines, the
    "On ..., X wrote:" line before them, an Outlook "Original Message")."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("-----Original Message-----"):
            break
        if line.startswith(">"):
            if lines and lines[-1].rstrip().endswith("wrote:"):
                lines.pop()
            continue
        lines.append(line)
    kept = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return kept if len(kept) <= limit else kept[:limit].rstrip() + " …"

