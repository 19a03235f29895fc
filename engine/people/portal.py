"""The customer portal (C25, C27, C28): a customer follows their own calls, adds
information, leaves feedback and asks to escalate.

A customer gets in with the link from a confirmation mail (``portal_access``).
A token opens the calls of the contact it was issued to and nothing else; a
call that is not theirs looks exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.people.portal_access import contact_for_token, issue_token  # noqa: F401  (the portal's API)
from supportdesk.engine.store.models import Ticket
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

# What the customer sees of a call's history: their own words and ours to them,
# never advisors' notes, hand-over reasons or internal alerts.
PUBLIC_EVENTS = {
    "call_logged": "Call logged",
    "priority_set": "Priority set",
    "priority_regraded": "Priority changed",
    "call_delayed": "Waiting for you",
    "call_reopened": "Work resumed",
    "call_resolved": "Resolved",
    "customer_information": "You added information",
    "mail_received": "Your email received",
    "feedback_received": "Your feedback",
    "escalation_started": "Your concern raised",
    "call_closed": "Closed",
}
NEXT_STEP = {
    "open": "Our support team is working on your call.",
    "delayed": "We are waiting for information or access from you: add it below and work resumes.",
    "resolved": "Your call is resolved. Tell us how we did.",
    "closed": "Your call is closed.",
}


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    kind: str  # the history event's kind (one of PUBLIC_EVENTS)
    what: str
    detail: str


@dataclass(frozen=True)
class PublicCall:
    reference: str
    status: str
    priority: str | None
    summary: str
    created_at: datetime
    next_step: str
    updates: list[PublicUpdate]
    may_give_feedback: bool


def _own_call(session: Session, contact_email: str, reference: str) -> Ticket:
    try:
        ticket = find_ticket(session, reference)
    except NotFound:
        ticket = None
    if ticket is None or ticket.kind != "call" or ticket.contact_email != contact_email.lower():
        raise NotFound(f"you have no call {reference}")
    return ticket


def call_for_customer(desk: Desk, contact_email: str, reference: str) -> PublicCall:
    with desk.db.reading() as session:
        _own_call(session, contact_email, reference)
    view = queries.ticket_view(desk, reference)
    return PublicCall(
        view.reference,
        view.status,
        view.priority,
        view.summary,
        view.created_at,
        NEXT_STEP.get(view.status, ""),
        public_updates(view),
        may_give_feedback=view.status == "resolved",
    )


def public_updates(view: queries.TicketView) -> list[PublicUpdate]:
    """What a customer may read of a call's history (the portal and the API show the same)."""
    return [
        PublicUpdate(e.at, e.kind, PUBLIC_EVENTS[e.kind], _public_detail(e))
        for e in view.history
        if e.kind in PUBLIC_EVENTS
    ]


def _public_detail(event) -> str:
    payload = event.payload
    return {
        "call_logged": payload.get("summary", ""),
        "priority_set": payload.get("priority", ""),
        "priority_regraded": f"{payload.get('from')} to {payload.get('to')}",
        "call_delayed": payload.get("why", ""),
        "call_resolved": payload.get("resolution", ""),
        "customer_information": payload.get("text", ""),
        "mail_received": payload.get("subject", ""),
        "feedback_received": payload.get("comment", ""),
        "escalation_started": payload.get("escalation", ""),
    }.get(event.kind, "")


def add_information(desk: Desk, contact_email: str, reference: str, text: str) -> None:
    """C24: the customer adds information; a call Delayed for it is re-opened."""
    text = text.strip()
    if not text:
        raise InvalidInput("say what you want to add", {"text": "Write the information to add"})
    with UnitOfWork(desk, f"customer:{contact_email}") as uow:
        _own_call(uow.session, contact_email, reference)
        ticket = uow.ticket = find_ticket(uow.session, reference, lock=True)
        if ticket.status == "closed":
            raise NotAllowed(f"{reference} is closed: log a new call, or reply to our last email")
        uow.record("customer_information", {"text": text[:4000]})
        if ticket.status == "delayed":
            commands.deliver(uow, "information_received", {"via": "portal"})


def leave_feedback(desk: Desk, contact_email: str, reference: str, rating: int | None, comment: str) -> None:
    """C27: feedback on a resolved call, kept with it."""
    with desk.db.reading() as session:
        _own_call(session, contact_email, reference)
    commands.deliver_message(
        desk,
        commands.DeliverMessage(reference, "feedback", {"rating": rating, "comment": comment.strip()}),
        f"customer:{contact_email}",
    )


def ask_to_escalate(desk: Desk, contact_email: str, reference: str, concern: str) -> str:
    """C28: the customer raises a concern about their call; returns the escalation's reference."""
    with desk.db.reading() as session:
        _own_call(session, contact_email, reference)
    return commands.start_escalation(
        desk, commands.StartEscalation(concern, call_reference=reference), f"customer:{contact_email}"
    )
