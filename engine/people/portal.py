"""The customer portal (C25, C27, C28): a customer follows their own calls and their public
conversation, writes to the desk (``conversation.commands.add_portal_message``), leaves feedback and
asks to escalate.

A customer gets in with the link from a confirmation mail (``portal_access``).
A token opens the calls of the contact it was issued to and nothing else; a
call that is not theirs looks exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.orm import Session

from supportdesk.engine.conversation.queries import Entry, conversation
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.people.portal_access import contact_for_token, issue_token  # noqa: F401  (the portal's API)
from supportdesk.engine.store.models import Ticket
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.instances import find_ticket

# What the customer sees of a call's history, in their words (C25): their own words and ours to them,
# never advisors' notes, hand-over reasons, clause numbers or internal alerts.
PUBLIC_EVENTS = {
    "call_logged": "Call logged",
    "priority_set": "Priority set",
    "priority_regraded": "Priority changed",
    "call_delayed": "Waiting for you",
    "call_reopened": "Work resumed",
    "call_resolved": "Resolved",
    "customer_information": "You added information",
    "portal_message_added": "You wrote to us",
    "reply_added": "We replied",
    "call_back_logged": "We called you",
    "mail_received": "Email received",
    "feedback_received": "Your feedback",
    "escalation_started": "Your concern passed to your Account Manager",
    "call_closed": "Closed",
}
NEXT_STEP = {
    "open": "Our support team is working on your call.",
    "delayed": "Write to us below with what we are waiting for, or reply to our last email, and work on your "
    "call resumes.",
    "resolved": "Your call is resolved. Tell us how we did.",
    "closed": "Your call is closed.",
}
# C22: what the desk waits for, by the reason the call is Delayed (handlers.delay.DELAY_REASONS).
WAITING_FOR = {
    "information_awaited": "Information we asked you for",
    "access_refused": "Access to your environment, so that we can look into it",
    "customer_absent": "To hear from you: we could not reach you",
}
# C05: the priorities as a customer reads them.
PRIORITY_WORDS = {"Enhancement": "Request for a product enhancement"}
# C25: who said what in the conversation, in the customer's words. Only these kinds are ever shown: an
# internal note ("note") is not among them, whatever a query returns.
ENTRY_WORDS = {
    "reply": "Reply",
    "call_back": "Phone call",
    "customer_mail": "Email",
    "portal_message": "Message on the portal",
}
SUPPORT_TEAM = "support team"
CLOSED_HELP = (
    "This call is closed, so it takes no more messages. To tell us something new, email {address}: "
    "we log it as a new call and send you its Call Reference."
)
CLOSED_BECAUSE = {
    "enhancement": "Your request is with our Development Team, for possible inclusion in a later release.",
    "advised": "Your Account Manager contacts you with advice.",
}


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    kind: str  # the history event's kind (one of PUBLIC_EVENTS)
    what: str
    detail: str


@dataclass(frozen=True)
class PublicFeedback:
    """C27: the feedback the customer gave, shown back to them."""

    at: datetime
    rating: int | None
    comment: str


@dataclass(frozen=True)
class PublicFile:
    """A file of the conversation as the customer sees it: a download, or why it was not kept."""

    id: int
    filename: str
    size: str  # in words: "12 KiB"
    kept: bool
    not_kept: str


@dataclass(frozen=True)
class PublicEntry:
    """One entry of the public conversation (C25): who, when, what they wrote, and its files."""

    id: int
    at: datetime
    who: str  # "You", another contact's address, or the advisor's name and "support team"
    what: str  # one of ENTRY_WORDS
    html: Markup  # sanitised (``conversation.text``)
    files: tuple[PublicFile, ...]


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
    waiting_for: str = ""  # C22: while Delayed, what the desk is waiting for
    feedback: PublicFeedback | None = None
    conversation: tuple[PublicEntry, ...] = ()
    may_write: bool = False  # a closed call takes no more messages: ``closed_help`` says what to do
    closed_help: str = ""


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
        _priority(view.priority) or None,
        view.summary,
        view.created_at,
        NEXT_STEP.get(view.status, ""),
        public_updates(view),
        may_give_feedback=view.status == "resolved",
        waiting_for=waiting_for(view) if view.status == "delayed" else "",
        feedback=feedback_given(view),
        conversation=public_conversation(desk, contact_email, reference),
        may_write=view.status != "closed",
        closed_help=CLOSED_HELP.format(address=desk.settings.support_address) if view.status == "closed" else "",
    )


def public_conversation(desk: Desk, contact_email: str, reference: str) -> tuple[PublicEntry, ...]:
    """C25: the call's public conversation as its customer reads it (the caller checked the call is theirs)."""
    entries = conversation(desk, reference, public_only=True)
    return tuple(_public_entry(e, contact_email.lower()) for e in entries if e.public and e.kind in ENTRY_WORDS)


def _public_entry(entry: Entry, contact_email: str) -> PublicEntry:
    files = tuple(PublicFile(f.id, f.filename, size_in_words(f.size), f.kept, f.not_kept) for f in entry.files)
    return PublicEntry(
        entry.id, entry.created_at, _who(entry, contact_email), ENTRY_WORDS[entry.kind], entry.html, files
    )


def _who(entry: Entry, contact_email: str) -> str:
    if entry.kind in ("customer_mail", "portal_message"):
        return "You" if entry.author.lower() == contact_email else entry.author
    return f"{entry.author_name}, {SUPPORT_TEAM}"


def size_in_words(size: int) -> str:
    """A file's size in the units the desk's refusals use (``attachments.checked``): bytes, KiB, MiB."""
    if size < 1024:
        return f"{size} byte{'' if size == 1 else 's'}"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def public_updates(view: queries.TicketView) -> list[PublicUpdate]:
    """What a customer may read of a call's history (the portal and the API show the same)."""
    return [
        PublicUpdate(e.at, e.kind, PUBLIC_EVENTS[e.kind], _public_detail(e.kind, e.payload))
        for e in view.history
        if e.kind in PUBLIC_EVENTS
    ]


def waiting_for(view: queries.TicketView) -> str:
    """C22: what the desk waits for, from the latest time the call was set Delayed: the reason in the
    customer's words, and the advisor's note on what is awaited (the Delayed form says the customer reads it)."""
    delays = [e.payload for e in view.history if e.kind == "call_delayed"]
    return _awaited(delays[-1]) if delays else ""


def feedback_given(view: queries.TicketView) -> PublicFeedback | None:
    """C27: the latest feedback the customer gave on the call, to show it back to them."""
    given = [e for e in view.history if e.kind == "feedback_received"]
    if not given:
        return None
    rating = given[-1].payload.get("rating")
    return PublicFeedback(
        given[-1].at, rating if isinstance(rating, int) else None, given[-1].payload.get("comment") or ""
    )


def _public_detail(kind: str, payload: dict) -> str:
    describe = _PUBLIC_DETAILS.get(kind)
    return describe(payload) if describe else ""


def _awaited(delay: dict) -> str:
    what = WAITING_FOR.get(delay.get("reason") or "", "Something from you")
    note = str(delay.get("note") or "").strip()
    return f"{what}: {note}" if note else f"{what}."


def _priority(name: str | None) -> str:
    return PRIORITY_WORDS.get(name or "", name or "")


def _regraded(payload: dict) -> str:
    return f"From {_priority(payload.get('from'))} to {_priority(payload.get('to'))}"


def _feedback(payload: dict) -> str:
    rating, comment = payload.get("rating"), str(payload.get("comment") or "")
    stars = f"{rating} out of 5" if rating else ""
    return ": ".join(part for part in (stars, comment) if part)


def _escalated(payload: dict) -> str:
    reference = payload.get("escalation")
    return f"They will contact you (reference {reference})." if reference else "They will contact you."


# Each detail in the customer's words: the internal reason of a re-grade or a delay is never shown.
_PUBLIC_DETAILS = {
    "call_logged": lambda p: str(p.get("summary") or ""),
    "priority_set": lambda p: _priority(p.get("priority")),
    "priority_regraded": _regraded,
    "call_delayed": _awaited,
    "call_resolved": lambda p: str(p.get("resolution") or ""),
    "customer_information": lambda p: str(p.get("text") or ""),
    "mail_received": lambda p: str(p.get("subject") or ""),
    "feedback_received": _feedback,
    "escalation_started": _escalated,
    "call_closed": lambda p: CLOSED_BECAUSE.get(p.get("outcome") or "", ""),
}


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
