"""Call References (C03): SUP-<year>-<six digits>, unique under concurrency.

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

from .models import ReferenceCounter

PREFIX = "SUP"


def format_reference(year: int, number: int) -> str:
    return f"{PREFIX}-{year}-{number:06d}"


def next_reference(session: Session, now: datetime) -> str:
    year = now.year
    number = _increment(session, year)
    if number is None:
        _create_counter(session, year)
        number = _increment(session, year)
    return format_reference(year, number)


def _increment(session: Session, year: int) -> int | None:
    result = session.execute(
        update(ReferenceCounter).where(ReferenceCounter.year == year)
        .values(last_number=ReferenceCounter.last_number + 1)
        .returning(ReferenceCounter.last_number)
    )
    return result.scalar_one_or_none()


def _create_counter(session: Session, year: int) -> None:
    """First call of the year. Two processes may race here: the loser's insert
    fails on the primary key, and it simply increments the winner's row."""
    try:
        with session.begin_nested():
            session.add(ReferenceCounter(year=year, last_number=0))
    except IntegrityError:
        pass
    assert session.scalar(select(ReferenceCounter.year).where(ReferenceCounter.year == year)) == year
