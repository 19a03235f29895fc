"""Throttling password and code guessing: failed sign-ins are rows in the store (``sign_in_failure``), so
every web process, on SQLite or PostgreSQL, counts the same failures.

Policy (``Settings``): when an account has had ``sign_in_attempts`` failures within
``sign_in_lockout_minutes``, every further try for it is refused, even with the right password, until
that long after its last failure; a client address likewise after ``sign_in_address_attempts``
failures, whatever accounts it tried. A refused try is not checked and not counted, so the refusal ends
when it says. Unknown usernames are counted like known ones: the answers tell nothing about who exists.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from supportdesk.engine.errors import DeskError
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import SignInFailure
from supportdesk.engine.working_time.clock import local

ACCOUNT_LENGTH = 100  # the sign_in_failure.account column
ADDRESS_LENGTH = 64


class TooManyAttempts(DeskError):
    """Too many failed sign-ins: nothing is checked until ``until`` (``retry_after`` seconds from now)."""

    def __init__(self, until: datetime, now: datetime):
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))
        minutes = math.ceil(self.retry_after / 60)
        super().__init__(
            f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''} "
            f"(after {local(until):%H:%M %Z})."
        )


def account_key(username: str) -> str:
    return username.strip().lower()[:ACCOUNT_LENGTH]


def address_key(address: str | None) -> str:
    return (address or "unknown")[:ADDRESS_LENGTH]


def check(session: Session, settings: Settings, username: str, address: str | None, now: datetime) -> None:
    """Raise TooManyAttempts if the account or the address is held back now."""
    window = timedelta(minutes=settings.sign_in_lockout_minutes)
    until = None
    for column, key, limit in (
        (SignInFailure.account, account_key(username), settings.sign_in_attempts),
        (SignInFailure.address, address_key(address), settings.sign_in_address_attempts),
    ):
        recent = session.scalars(
            select(SignInFailure.at)
            .where(column == key, SignInFailure.at > now - window)
            .order_by(SignInFailure.at.desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:
            ends = recent[0] + window
            until = ends if until is None else max(until, ends)
    if until is not None and until > now:
        raise TooManyAttempts(until, now)


def record_failure(session: Session, settings: Settings, username: str, address: str | None, now: datetime) -> None:
    """Count a failure, and forget those too old to matter."""
    session.add(SignInFailure(account=account_key(username), address=address_key(address), at=now))
    session.execute(
        delete(SignInFailure).where(SignInFailure.at < now - timedelta(minutes=settings.sign_in_lockout_minutes))
    )
