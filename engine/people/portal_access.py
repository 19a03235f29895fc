"""Portal tokens (C25): the link in a confirmation mail carries a random token of
256 bits; only its SHA-256 is stored, so a copy of the database opens no portal.

A link works for ``Settings.portal_link_days`` after it was made, until staff revoke the contact's links;
a portal session opened with it stops with it (``access_is_valid``, checked on every portal page). A
customer whose link no longer works asks for a new one with their email address (``request_link``): it
is mailed to that address only, and only if it has calls; the answer is the same either way. Staff who
deal with the customer mail one to a call's contact from its page (``send_link``), on the call's history.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from supportdesk.engine.errors import NotAllowed
from supportdesk.engine.store.models import OutboxMail, PortalAccess, Ticket
from supportdesk.engine.tickets import outbox
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock

if TYPE_CHECKING:
    from supportdesk.engine.desk import Desk

TOKEN_BYTES = 32
# One link mail per contact in this time, however often it is asked for (no mail flood for a victim).
REQUEST_INTERVAL = timedelta(minutes=10)
LINK_TEMPLATE = "portal_link"
STAFF_LINK_TEMPLATE = "portal_link_from_staff"  # sent by staff: "as we said", not "you asked"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, contact_email: str, now: datetime) -> str:
    """A new portal token for a contact; the caller mails it, the store keeps only its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PortalAccess(contact_email=contact_email.lower(), token_hash=_hash(token), created_at=now))
    return token


@dataclass(frozen=True)
class Entry:
    """Who a working link lets in: the contact, and the access (checked again on every page)."""

    contact: str
    access_id: int


def _valid(access: PortalAccess, desk: Desk, now: datetime) -> bool:
    return access.revoked_at is None and now < access.created_at + timedelta(days=desk.settings.portal_link_days)


def enter(desk: Desk, token: str) -> Entry | None:
    """The contact a portal token lets in, or None for an unknown, expired or revoked one."""
    if not token or len(token) > 200:
        return None
    now = clock.now()
    with desk.db.transaction() as session:
        access = session.scalar(select(PortalAccess).where(PortalAccess.token_hash == _hash(token)))
        if access is None or not _valid(access, desk, now):
            return None
        access.last_used_at = now
        return Entry(access.contact_email, access.id)


def contact_for_token(desk: Desk, token: str) -> str | None:
    """The contact a portal token belongs to, or None for an unknown, expired or revoked token."""
    entry = enter(desk, token)
    return entry.contact if entry else None


def access_is_valid(desk: Desk, access_id: int) -> bool:
    """Whether the link a portal session was opened with still works (not revoked, not expired)."""
    with desk.db.reading() as session:
        access = session.get(PortalAccess, access_id)
        return access is not None and _valid(access, desk, clock.now())


def revoke_links(desk: Desk, contact_email: str) -> int:
    """Revoke every working link of a contact (and so the portal sessions opened with them); how many."""
    now = clock.now()
    with desk.db.transaction() as session:
        return session.execute(
            update(PortalAccess)
            .where(PortalAccess.contact_email == contact_email.strip().lower(), PortalAccess.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount


def request_link(desk: Desk, email: str) -> bool:
    """Mail a new portal link to ``email`` if it is the contact of a call (and none was sent in the last
    minutes). Returns whether a mail was queued; callers answer the same either way."""
    email = email.strip().lower()
    if not email or len(email) > 320:
        return False
    now = clock.now()
    with desk.db.transaction() as session:
        ticket = session.scalar(
            select(Ticket)
            .where(Ticket.contact_email == email, Ticket.kind == "call")
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(1)
        )
        if ticket is None:
            return False
        recent = session.scalar(
            select(OutboxMail.id)
            .where(
                OutboxMail.template == LINK_TEMPLATE,
                OutboxMail.to_address == email,
                OutboxMail.created_at > now - REQUEST_INTERVAL,
            )
            .limit(1)
        )
        if recent is not None:
            return False
        token = issue_token(session, email, now)
        settings = desk.settings
        outbox.queue_mail(
            session,
            ticket,
            LINK_TEMPLATE,
            email,
            {"portal_url": f"{settings.portal_url}/{token}", "days": settings.portal_link_days},
            now=now,
            mail_domain=settings.mail_domain,
        )
    from supportdesk.engine.tickets.jobs import (
        wake_workers,  # after the commit: the worker sends it now, not at its next look
    )

    wake_workers(desk)
    return True


def send_link(desk: Desk, reference: str, actor: str) -> str:
    """Staff mail the call's contact a new portal link (theirs is lost or expired), through the outbox in
    one unit of work, on the call's history; returns the address. Their other links keep working."""
    with UnitOfWork(desk, actor) as uow:
        ticket = uow.ticket = find_ticket(uow.session, reference, lock=True)
        if ticket.kind != "call":
            raise NotAllowed(f"{ticket.reference} is no call: only a call's contact follows it on the portal")
        token = issue_token(uow.session, ticket.contact_email, uow.now)
        settings = desk.settings
        mail = outbox.queue_mail(
            uow.session,
            ticket,
            STAFF_LINK_TEMPLATE,
            ticket.contact_email,
            {"portal_url": f"{settings.portal_url}/{token}", "days": settings.portal_link_days},
            now=uow.now,
            mail_domain=settings.mail_domain,
        )
        sent = {"template": mail.template, "to": mail.to_address, "subject": mail.subject}
        # One event, not "mail_queued": the audit replay leaves it out (engine.oversight.audit.OUTSIDE), as a
        # person's choice to mail a link is no step of the process that a replay could give again.
        uow.record("portal_link_sent", {**sent, "message_id": mail.message_id})
        uow.jobs_written = True  # the worker sends it now, not at its next look
        return ticket.contact_email
