"""Words for item 8's tickets: each clone its own contact, account, summary and customer's mail, so that a
search finds few tickets, as in a real desk, rather than every clone of a seed; and moments of their own.

The clones of bench/clone.py share their seed's words. ``Wording.dress`` gives each clone a contact (of about
180,000 names), an account (one per 50 tickets, at any size of store), a summary of words drawn from a
vocabulary of 5,000 by frequency (rank r about 1/r as often: a few common words, most rare) and, for about
a third, a customer's mail in the same words; then writes their search documents with the engine's own
``search_index.refresh``, as a command would. Claims are taken off the clones: a person holds a handful of
open tasks however large the store grows (the seeds' own claims stay). And each clone's moments (logged,
changed, due, its tasks' and clocks') move together by up to ``SPREAD``, its own offset.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update

from supportdesk.engine.store import search_index
from supportdesk.engine.store.models import Message, SlaClock, Ticket, WorkTask

SYLLABLES = (
    "ba", "be", "bi", "bo", "da", "de", "di", "do", "fa", "fe", "ga", "go", "ka", "ke", "ki", "ko", "la", "le",
    "li", "lo", "na", "ne", "ni", "no", "pa", "pe", "pi", "po", "sa", "se", "si", "so", "ta", "te", "ti", "to",
    "va", "ve", "vi", "vo", "za", "ze", "zi", "zo", "bran", "dor", "fel", "gan", "hal", "kin", "lun", "mar",
    "nor", "pel", "quin", "sten", "tor", "vel", "wen", "yor",
)  # fmt: skip
GIVEN = (
    "Ann", "Ben", "Cara", "Dev", "Eve", "Finn", "Gita", "Hugo", "Iris", "Jon", "Kemi", "Liam", "Mina", "Nia",
    "Omar", "Pia", "Quinn", "Rhys", "Sade", "Theo", "Uma", "Vik", "Wren", "Xia", "Yusuf", "Zoe", "Aled", "Bea",
    "Cai", "Dina", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jude", "Kai", "Lena", "Milo", "Noor", "Otto", "Priya",
    "Rosa", "Sami", "Tess", "Ugo", "Vera", "Will", "Yara", "Zane", "Alma", "Boris", "Cleo", "Dara", "Emil",
    "Flo", "Gil", "Hope", "Ines", "Jax",
)  # fmt: skip
CHUNK = 1_000


class Wording:
    """A fixed vocabulary (the same for every run: seeded), and the words of each ticket by its id."""

    def __init__(self, reserved: Sequence[str], seed: int = 8):
        draw = random.Random(seed)
        # No generated word starts a reserved word (the words the measurement searches for): their
        # matches are the calls made through the commands, and no clone.
        taken = {word.lower() for word in reserved}
        self.family = _vocabulary(draw, 3_000, 2, 3, taken)
        self.accounts = _vocabulary(draw, 5_000, 2, 3, taken)
        self.words = _vocabulary(draw, 5_000, 1, 3, taken)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]

    def contact(self, ticket_id: int) -> tuple[str, str]:
        draw = random.Random(ticket_id)
        given, family = draw.choice(GIVEN), draw.choice(self.family).capitalize()
        return f"{given} {family}", f"{given.lower()}.{family.lower()}{ticket_id}@example.com"

    def account(self, ticket_id: int) -> str:
        return f"{self.accounts[(ticket_id // 50) % len(self.accounts)].capitalize()} Ltd"

    def sentence(self, draw: random.Random, count: int) -> str:
        return " ".join(draw.choices(self.words, self.weights, k=count)).capitalize()

    def dress(self, engine, ticket_ids: Sequence[int]) -> None:
        """Give ``ticket_ids`` their own words, take their claims off, and index them: ``CHUNK`` per transaction."""
        for start in range(0, len(ticket_ids), CHUNK):
            chunk = list(ticket_ids[start : start + CHUNK])
            with engine.begin() as connection:
                self._dress(connection, chunk)
                search_index.refresh(connection, chunk)

    def _dress(self, connection, ticket_ids: list[int]) -> None:
        _spread(connection, ticket_ids)
        logged = dict(connection.execute(select(Ticket.id, Ticket.created_at).where(Ticket.id.in_(ticket_ids))).all())
        details, mails = [], []
        for ticket_id in ticket_ids:
            draw = random.Random(ticket_id * 7 + 1)
            name, email = self.contact(ticket_id)
            summary = self.sentence(draw, 6)
            details.append(
                {"row": ticket_id, "name": name, "email": email, "account": self.account(ticket_id), "summary": summary}
            )
            if draw.random() < 1 / 3:
                body = f"{self.sentence(draw, 12)}. {self.sentence(draw, 8)}."
                mails.append(_customer_mail(ticket_id, email, body, logged[ticket_id] + timedelta(minutes=30)))
        table = Ticket.__table__
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("row"))
            .values(
                contact_name=bindparam("name"),
                contact_email=bindparam("email"),
                account=bindparam("account"),
                summary=bindparam("summary"),
            ),
            details,
        )
        connection.execute(update(WorkTask.__table__).where(WorkTask.ticket_id.in_(ticket_ids)).values(claimed_by=None))
        if mails:
            connection.execute(insert(Message.__table__), mails)


# Each clone's moments move together by up to this much either way: a real store's calls do not come in
# blocks of a thousand logged, changed and due at one moment (the tests try the list's ties).
SPREAD = timedelta(hours=6)
MOMENTS = {
    Ticket.__table__: ("created_at", "updated_at", "next_due_at"),
    WorkTask.__table__: ("created_at", "due_at"),
    SlaClock.__table__: ("started_at", "due_at", "stopped_at", "breached_at"),
}


def _spread(connection, ticket_ids: list[int]) -> None:
    """Move every moment of each ticket (its row, open tasks and SLA clocks) by the ticket's own offset."""
    offsets = {
        ticket_id: timedelta(seconds=random.Random(ticket_id).randint(-SPREAD.seconds, SPREAD.seconds))
        for ticket_id in ticket_ids
    }
    for table, names in MOMENTS.items():
        owner = table.c.id if table is Ticket.__table__ else table.c.ticket_id
        rows = connection.execute(
            select(table.c.id, owner, *(table.c[name] for name in names)).where(owner.in_(ticket_ids))
        )
        moved = [
            {
                "row": row_id,
                **{
                    f"new_{name}": value + offsets[ticket_id] if value else None
                    for name, value in zip(names, values, strict=True)
                },
            }
            for row_id, ticket_id, *values in rows
        ]
        if moved:
            connection.execute(
                update(table)
                .where(table.c.id == bindparam("row"))
                .values({name: bindparam(f"new_{name}") for name in names}),
                moved,
            )


def _customer_mail(ticket_id: int, author: str, body: str, at) -> dict:
    return {
        "ticket_id": ticket_id,
        "kind": "customer_mail",
        "public": True,
        "author": author,
        "body": body,
        "created_at": at,
    }


def _vocabulary(draw: random.Random, count: int, shortest: int, longest: int, taken: set[str]) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < count:
        word = "".join(draw.choice(SYLLABLES) for _ in range(draw.randint(shortest, longest)))
        if len(word) > 2 and not any(word.startswith(reserved) for reserved in taken):
            found[word] = None
    return list(found)
