"""Mail held for review (C03): a mail quoting a call whose sender may not write into it (see
``inbound``'s docstring) waits here for an advisor, who

- attaches it to a call (the quoted one, or another): it joins the call exactly as a trusted
  reply would, re-opening a call Delayed for information (C24), and its sender becomes a known
  contact of that call's account;
- opens a new call from it: the sender is the new call's contact and gets the usual
  confirmation, which names the new call only (the quoted reference is taken out of the
  summary);
- or discards it, with a reason (noted on the quoted call, if there is one).

Each is one command, all or nothing, and stays on the held mail's row: who, when, what, why.
A held mail is decided once; a second advisor acting on it at the same moment is told who did.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.mail import inbound, parsing
from supportdesk.engine.store.models import HeldMail, InboundMail, MailAttachment
from supportdesk.engine.tickets import history
from supportdesk.engine.tickets.instances import find_ticket, lock_ticket
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock, shown

REASON_CHARS = 2000
ACTIONS = {"attached": "attached to a call", "new_call": "opened as a new call", "discarded": "discarded"}


def attach(desk: Desk, held_id: int, reference: str, actor: str, reason: str = "") -> inbound.Receipt:
    """Add the held mail to the call ``reference``, as a trusted reply is added (re-opening it when
    it is Delayed); returns what became of it."""
    reference, reason = reference.strip().upper(), _reason(reason)
    if not reference:
        raise InvalidInput("say which call the mail belongs to", {"reference": "The Call Reference is required"})
    refused = None
    for _ in range(2):  # a second time without the message the process refused, as a trusted reply is filed
        try:
            with UnitOfWork(desk, actor) as uow:
                session = uow.session
                held, record, mail = _take(session, desk, held_id)
                ticket = uow.ticket = find_ticket(session, reference, lock=True)
                noted = {"held_mail": held.id, "attached_by": actor, **({"review_reason": reason} if reason else {})}
                reopened = inbound.add_to_call(
                    desk, uow, record, mail, _attachments_of(session, desk, record), refused, **noted
                )
                _decide(held, "attached", actor, reason, ticket.id)
        except inbound._NotDelivered as exc:
            refused = str(exc)
            continue
        return inbound.Receipt("added", ticket.reference, reopened)
    raise AssertionError("unreachable: the second try delivers no message")  # pragma: no cover


def open_call(desk: Desk, held_id: int, actor: str, reason: str = "") -> str:
    """Open a new call from the held mail (C01), its sender the contact; returns its reference."""
    reason = _reason(reason)
    # The call is logged by the mail, as any call a mail opens: its sender becomes no known contact.
    with UnitOfWork(desk, inbound.ACTOR) as uow:
        session = uow.session
        held, record, mail = _take(session, desk, held_id)
        inbound.open_call(uow, mail, summary=without_references(mail.subject))
        record.outcome, record.ticket_id = "new_call", uow.ticket.id
        payload = inbound._described(mail, record, _attachments_of(session, desk, record))
        payload |= inbound.conversation_entry(uow, record, mail)  # the mail is the new call's first entry
        uow.record(
            "mail_received",
            {**payload, "held_mail": held.id, "opened_by": actor, **({"review_reason": reason} if reason else {})},
            actor=actor,
        )
        _decide(held, "new_call", actor, reason, uow.ticket.id)
    return uow.ticket.reference


def discard(desk: Desk, held_id: int, actor: str, reason: str) -> None:
    """Keep the held mail out of every call, saying why (the mail itself stays, whole)."""
    reason = _reason(reason)
    if not reason:
        raise InvalidInput("say why the mail is discarded", {"reason": "Say why the mail is discarded"})
    with UnitOfWork(desk, actor) as uow:
        session = uow.session
        held, record, _ = _take(session, desk, held_id, parse=False)
        record.outcome = "discarded"
        _decide(held, "discarded", actor, reason, None)
        if held.quoted_ticket_id is not None:
            ticket = lock_ticket(session, held.quoted_ticket_id)
            history.append(
                session,
                ticket,
                at=clock.now(),
                kind="held_mail_discarded",
                actor=actor,
                payload={
                    "held_mail": held.id,
                    "from": record.from_address,
                    "subject": record.subject,
                    "reason": reason,
                },
            )


def without_references(subject: str) -> str:
    """The subject less any Call Reference it quotes (and the brackets or "Re:" left around it)."""
    text = inbound.REFERENCE.sub("", subject)
    text = re.sub(r"\[\s*\]|\(\s*\)", "", text)
    text = re.sub(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", "", text, flags=re.IGNORECASE)
    return " ".join(text.split()).strip(" :-") or "(no subject)"


def _reason(reason: str) -> str:
    return " ".join((reason or "").split())[:REASON_CHARS]


def _take(session: Session, desk: Desk, held_id: int, *, parse: bool = True):
    """The held mail (locked), its received mail and that mail read; refused once decided."""
    held = session.scalar(
        select(HeldMail).where(HeldMail.id == held_id).with_for_update().execution_options(populate_existing=True)
    )
    if held is None:
        raise NotFound(f"no held mail {held_id}")
    if held.status != "held":
        raise NotAllowed(
            f"held mail {held_id} was already {ACTIONS.get(held.status, held.status)} by "
            f"{held.decided_by} at {shown(held.decided_at)}"
        )
    record = session.get_one(InboundMail, held.inbound_id)
    mail = (
        parsing.parse(
            record.raw, envelope_from=record.envelope_from, own_addresses=inbound.own_addresses(desk.settings)
        )
        if parse
        else None
    )
    return held, record, mail


def _attachments_of(session: Session, desk: Desk, record: InboundMail) -> list[str]:
    """What the history says of the attachments kept when the mail was held."""
    limit = desk.settings.max_attachment_bytes
    rows = session.execute(
        select(MailAttachment.filename, MailAttachment.content.is_not(None))
        .where(MailAttachment.inbound_id == record.id)
        .order_by(MailAttachment.id)
    )
    return [name if kept else f"{name} (not kept: over {limit} bytes)" for name, kept in rows]


def _decide(held: HeldMail, status: str, actor: str, reason: str, ticket_id: int | None) -> None:
    held.status, held.decided_at, held.decided_by = status, clock.now(), actor
    held.decision_reason, held.ticket_id = reason, ticket_id
