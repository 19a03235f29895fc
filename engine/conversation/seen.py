"""What is new to a person on a call: when they last opened its page, and whether the customer wrote since
(the "customer replied" mark of the inbox and the calls list; the "new" mark of the ticket page's entries).

A visit is a row per person and ticket (``ticket_seen``), moved on at every visit; it is how the desk reads
to that person, not a fact about the ticket, so it is not on the ticket's history (C32).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotFound
from supportdesk.engine.store.models import Ticket, TicketSeen, User
from supportdesk.engine.tickets import queries
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.working_time.clock import clock


def mark_seen(desk: Desk, reference: str, username: str) -> datetime | None:
    """``username`` opens the call's page now; returns when they opened it before (None: never).

    Call it before reading what the page shows: whatever arrives after this moment is still new to them."""
    now = clock.now()
    with desk.db.transaction() as session:
        ticket_id = find_ticket(session, reference).id
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFound(f"no user {username}")
        before = session.scalar(
            select(TicketSeen.seen_at).where(TicketSeen.user_id == user_id, TicketSeen.ticket_id == ticket_id)
        )
        # Two tabs opening the page at once both write: the second only moves the moment on.
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(TicketSeen).values(user_id=user_id, ticket_id=ticket_id, seen_at=now)
        session.execute(statement.on_conflict_do_update(index_elements=["user_id", "ticket_id"], set_={"seen_at": now}))
    return before


def replied_since_seen(desk: Desk, username: str, references: Iterable[str]) -> set[str]:
    """Which of the tickets ``references`` have a customer's mail or portal message newer than
    ``username``'s last visit to their page (on a ticket they never opened: any after the mail that opened
    it). One query for a page of tickets; the rule is the calls list's "customer replied" filter's."""
    wanted = {reference for reference in references if reference}
    if not wanted:
        return set()
    query = select(Ticket.reference).where(
        Ticket.reference.in_(wanted), queries.customer_wrote_since_seen(Ticket.id, username)
    )
    with desk.db.reading() as session:
        return set(session.scalars(query))
