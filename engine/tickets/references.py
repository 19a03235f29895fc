"""References (C03): SUP-<year>-<six digits> for calls (ESC- for escalations,
TRN- for training requests), unique under concurrency.

The counter row is incremented by an UPDATE inside the command's transaction:
the database's row lock serialises concurrent callers, and a rolled-back
command gives its number back. The unique index on ticket.reference is the
last line of defence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportdesk.engine.store.models import ReferenceCounter

PREFIXES = {"call": "SUP", "escalation": "ESC", "training": "TRN"}


def format_reference(prefix: str, year: int, number: int) -> str:
    return f"{prefix}-{year}-{number:06d}"


def next_reference(session: Session, now: datetime, kind: str = "call") -> str:
    prefix, year = PREFIXES[kind], now.year
    number = _increment(session, prefix, year)
    if number is None:
        _create_counter(session, prefix, year)
        number = _increment(session, prefix, year)
    if number is None:  # the counter was created just above, in this transaction
        raise RuntimeError(f"no reference counter for {prefix} {year}")
    return format_reference(prefix, year, number)


def _increment(session: Session, prefix: str, year: int) -> int | None:
    # No autoflush: the counter's row is never pending in the session (a new one is flushed where it is
    # made), so the command's other writes wait for its one flush.
    with session.no_autoflush:
        result = session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
            .values(last_number=ReferenceCounter.last_number + 1)
            .returning(ReferenceCounter.last_number)
        )
    return result.scalar_one_or_none()


def _create_counter(session: Session, prefix: str, year: int) -> None:
    """First reference of the year. Two processes may race here: the loser's insert
    fails on the primary key, and it simply increments the winner's row."""
    try:
        with session.begin_nested():
            session.add(ReferenceCounter(prefix=prefix, year=year, last_number=0))
    except IntegrityError:
        pass
    found = session.scalar(
        select(ReferenceCounter.year).where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
    )
    if found != year:  # the insert lost to a racing twin, whose row must be there now
        raise RuntimeError(f"no reference counter for {prefix} {year}")
