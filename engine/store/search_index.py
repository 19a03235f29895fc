"""The calls' full-text index, in the database's own full-text search: one document per ticket.

A ticket's document holds the words of its Call Reference, contact name and address, account and
summary, and of its conversation: every entry's body (notes too: only staff search), who wrote the
customer's entries, and the names of its files. It lives in ``ticket_search`` (``TicketSearch``):

- SQLite: ``words`` is the text, and an FTS5 table over it (``ticket_search_fts``, external content:
  the text is kept once, in ``ticket_search``) is kept in step by triggers on ``ticket_search``;
- PostgreSQL: ``words`` is a ``tsvector`` with a GIN index.

Both databases are given the same words, so a search finds the same tickets on either: text is
folded here (case and accents: "Müller" is "muller") and cut at everything that is neither a letter
nor a digit, each word once (an e-mail address is its parts: "ann", "example", "com"). PostgreSQL
takes the words as they are (a cast to ``tsvector``, no parser or dictionary of its own); FTS5's
tokenizer finds nothing more to split in them. A search is words, each matching any word of a
document that starts with it (a one-letter word matches only itself), all of them in one document.

Kept current in each command's own transaction (``kept_current``, entered by the unit of work): the
changes the command flushes are watched for a new ticket, a ticket whose indexed text changed, and a
conversation entry or file added, and just before the commit those tickets' documents are written
again from the store. ``refresh`` does the same for any tickets (the migration's backfill, bulk loads).

The FTS5 table, its shadow tables and triggers and the GIN index are the database's own structures,
made by migration 0014 and not in the models: ``in_models`` leaves them out of schema comparisons.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Integer, Select, Text, bindparam, cast, column, event, inspect, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from supportdesk.engine.store.models import Attachment, Message, Ticket, TicketSearch

FTS_TABLE = "ticket_search_fts"
GIN_INDEX = "ix_ticket_search_words"
# Made by migration 0014 beside ticket_search, on one database or the other.
_DATABASE_OWN = re.compile(rf"^({FTS_TABLE}(_\w+)?|{GIN_INDEX})$")

WORD = re.compile(r"[^\W_]+")  # letters and digits: what both databases take as one word
LONGEST_WORD = 64  # longer runs are encoded data (base64, hashes), nobody types them into a search
# A document's words stop here: PostgreSQL's tsvector holds at most 1 MB, and words past this many
# characters of distinct words are a pasted log's, not what anyone searches a call by.
DOCUMENT_CHARS = 200_000
BATCH = 500  # tickets read and written per round trip
TICKET_TEXT = ("reference", "contact_name", "contact_email", "account", "summary")
# The rows beside a ticket that give it words, and their attributes that do (the ticket's id: a row moved).
_WORDS_OF: dict[type, tuple[str, ...]] = {
    Message: ("ticket_id", "kind", "author", "body"),
    Attachment: ("ticket_id", "filename"),
}
CUSTOMER_ENTRIES = ("customer_mail", "portal_message")  # their author is the customer (an address)


def in_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: False for the search index's own database structures."""
    return not (name and type_ in ("table", "index") and _DATABASE_OWN.match(name))


# --- words ---------------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """The words of ``text`` as both databases index them: case-folded, accents taken off, in order."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(character for character in folded if not unicodedata.combining(character))
    return [word for word in WORD.findall(plain) if len(word) <= LONGEST_WORD]


def document(texts: Iterable[str]) -> str:
    """The words of ``texts``, each once, in the order first met, space-separated, at most ``DOCUMENT_CHARS``."""
    kept, length = [], 0
    for word in dict.fromkeys(word for text in texts for word in words(text or "")):
        length += len(word) + 1
        if length > DOCUMENT_CHARS:
            break
        kept.append(word)
    return " ".join(kept)


# --- writing documents ---------------------------------------------------------------------------------------


def refresh(executor: Session | Connection, ticket_ids: Collection[int]) -> None:
    """Write the documents of ``ticket_ids`` again from the store (in the caller's transaction)."""
    ordered = sorted(set(ticket_ids))
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        _write(executor, {ticket_id: document(texts) for ticket_id, texts in _texts(executor, chunk).items()})


def _texts(executor: Session | Connection, ticket_ids: Sequence[int]) -> dict[int, list[str]]:
    texts: dict[int, list[str]] = defaultdict(list)
    fields = [getattr(Ticket, name) for name in TICKET_TEXT]
    for ticket_id, *values in executor.execute(select(Ticket.id, *fields).where(Ticket.id.in_(ticket_ids))):
        texts[ticket_id].extend(value or "" for value in values)
    entries = (
        select(Message.ticket_id, Message.kind, Message.author, Message.body)
        .where(Message.ticket_id.in_(ticket_ids))
        .order_by(Message.id)
    )
    for ticket_id, kind, author, body in executor.execute(entries):
        texts[ticket_id].extend((body, author) if kind in CUSTOMER_ENTRIES else (body,))
    files = select(Attachment.ticket_id, Attachment.filename).where(Attachment.ticket_id.in_(ticket_ids))
    for ticket_id, filename in executor.execute(files.order_by(Attachment.id)):
        if ticket_id in texts:
            texts[ticket_id].append(filename)
    return texts


def _dialect(executor: Session | Connection) -> str:
    return executor.get_bind().dialect.name if isinstance(executor, Session) else executor.dialect.name


def _write(executor: Session | Connection, documents: dict[int, str]) -> None:
    if not documents:
        return
    rows = [{"row_ticket_id": ticket_id, "row_words": words} for ticket_id, words in documents.items()]
    search = TicketSearch.__table__
    if _dialect(executor) == "postgresql":
        statement: Any = postgresql.insert(search).values(
            ticket_id=bindparam("row_ticket_id"), words=cast(bindparam("row_words", type_=Text), postgresql.TSVECTOR)
        )
    else:  # the FTS5 table follows through ticket_search's triggers
        statement = sqlite.insert(search).values(ticket_id=bindparam("row_ticket_id"), words=bindparam("row_words"))
    statement = statement.on_conflict_do_update(index_elements=["ticket_id"], set_={"words": statement.excluded.words})
    executor.execute(statement, rows)


# --- keeping them current in a command's transaction --------------------------------------------------------


class _Changed:
    """The tickets whose document a command's flushed changes make stale."""

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []  # new ones have no id until flushed
        self.ticket_ids: set[int] = set()

    def note(self, session: Session, _flush_context, _instances) -> None:
        for row in (*session.new, *session.deleted):
            self._note(row, whole=True)
        for row in session.dirty:
            self._note(row, whole=False)

    def _note(self, row: object, *, whole: bool) -> None:
        """``whole``: the row is new or going, so all its words are; else only the attributes it changed."""
        if isinstance(row, Ticket):
            if whole or _changed(row, TICKET_TEXT):
                self.tickets.append(row)
            return
        watched = _WORDS_OF.get(type(row))
        ticket_id = getattr(row, "ticket_id", None)
        if watched and ticket_id is not None and (whole or _changed(row, watched)):
            self.ticket_ids.add(ticket_id)

    def all_ids(self) -> set[int]:
        return self.ticket_ids | {ticket.id for ticket in self.tickets if ticket.id is not None}


def _changed(row: object, names: Iterable[str]) -> bool:
    attributes = inspect(row).attrs
    return any(attributes[name].history.has_changes() for name in names)


@contextlib.contextmanager
def kept_current(session: Session) -> Iterator[None]:
    """Within a transaction: on leaving the block without an error, the documents of the tickets whose
    indexed text the block changed are written again, in the same transaction (before its commit)."""
    changed = _Changed()
    event.listen(session, "before_flush", changed.note)
    try:
        yield
        session.flush()  # the block's last changes pass the watch too
    finally:
        event.remove(session, "before_flush", changed.note)
    refresh(session, changed.all_ids())


# --- matching ------------------------------------------------------------------------------------------------

_FTS = table(FTS_TABLE, column("rowid", Integer), column(FTS_TABLE))


def matching_ids(dialect: str, searched: Sequence[str]) -> Select:
    """SQL: the ids of the tickets whose document has, for each of the ``searched`` words (``words()``'s),
    a word that starts with it (that is it, for a one-letter word)."""
    if dialect == "postgresql":
        query = " & ".join(f"{word}:*" if len(word) > 1 else word for word in searched)
        tsquery = cast(bindparam("search_query", query, type_=Text), postgresql.TSQUERY)
        return select(TicketSearch.ticket_id).where(TicketSearch.words.op("@@")(tsquery))
    query = " AND ".join(f'"{word}"*' if len(word) > 1 else f'"{word}"' for word in searched)
    return select(_FTS.c.rowid).where(_FTS.c[FTS_TABLE].op("MATCH")(bindparam("search_query", query, type_=Text)))
