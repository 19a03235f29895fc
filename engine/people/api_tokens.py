"""Personal API tokens: how a script, a phone system or a CRM signs in to the REST API (web/api).

A token belongs to one person and acts with that person's roles, read afresh on every request
(a role taken away is taken away from their tokens at once). It is 256 random bits, shown once
when it is made; the store keeps only its SHA-256, so a copy of the database opens nothing.
Revoking keeps the row, dated and signed, so an audit can tell which key did what until when.

Who may do what: anyone signed in makes, lists and revokes their own tokens; an admin also
those of others. ``by=None`` is the command line (whoever runs it owns the store).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import Forbidden, InvalidInput, NotFound
from supportdesk.engine.people.users import AccountDisabled, Person, person_of
from supportdesk.engine.store.models import ApiToken, User
from supportdesk.engine.working_time.clock import clock

# Recognisable in logs and by secret scanners; the rest is secrets.token_urlsafe(32).
TOKEN_PREFIX = "sdk_"  # noqa: S105  (a prefix, not a secret)
TOKEN_BYTES = 32
NAME_LIMIT = 100
# last_used_at is a hint for people tidying their tokens, not an audit trail: writing it on every
# request would make every read a write, so it is refreshed at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
ADMIN = "admin"


@dataclass(frozen=True)
class TokenInfo:
    """A token as people see it: never the token itself."""

    id: int
    username: str
    name: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.user.username,
        row.name,
        row.created_at,
        row.created_by,
        row.last_used_at,
        row.revoked_at,
        row.revoked_by,
    )


def _actor(by: Person | None) -> str:
    return by.username if by is not None else "cli"


def _check_may_manage(by: Person | None, owner: str) -> None:
    if by is not None and by.username != owner and ADMIN not in by.roles:
        raise Forbidden(f"only an admin manages another person's API tokens; {by.username} is not an admin")


def create_token(desk: Desk, username: str, name: str, *, by: Person | None) -> tuple[TokenInfo, str]:
    """A new token for ``username``; returns it with the token, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name the token", {"name": "Say what the token is for, e.g. 'CRM sync'"})
    if len(name) > NAME_LIMIT:
        raise InvalidInput("the name is too long", {"name": f"The name allows at most {NAME_LIMIT} characters"})
    _check_may_manage(by, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with desk.db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        row = ApiToken(user=user, name=name, token_hash=_hash(token), created_at=clock.now(), created_by=_actor(by))
        session.add(row)
        session.flush()
        return _info(row), token


def revoke_token(desk: Desk, token_id: int, *, by: Person | None) -> TokenInfo:
    """Revoke a token (its own person's or, for an admin, anyone's); revoking twice changes nothing."""
    with desk.db.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFound(f"no API token {token_id}")
        _check_may_manage(by, row.user.username)
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = clock.now(), _actor(by)
        return _info(row)


def list_tokens(desk: Desk, *, username: str | None = None, by: Person | None) -> list[TokenInfo]:
    """Tokens, newest first: ``username``'s, or everyone's (an admin or the command line only)."""
    if username is None:
        if by is not None and ADMIN not in by.roles:
            username = by.username
    else:
        _check_may_manage(by, username)
    query = select(ApiToken).join(User, ApiToken.user_id == User.id)
    if username is not None:
        query = query.where(User.username == username)
    with desk.db.reading() as session:
        return [_info(row) for row in session.scalars(query.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))]


def person_for_token(desk: Desk, token: str) -> Person | None:
    """Who a bearer token signs in, or None for an unknown or revoked one. Raises ``AccountDisabled`` for
    a token of a disabled person: checked on every request, so disabling someone stops their scripts at
    once (the tokens are kept, and work again if the person is enabled again)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _hash(token)
    now = clock.now()
    with desk.db.reading() as session:
        found = session.execute(
            select(ApiToken.id, ApiToken.last_used_at, User)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        ).first()
    if found is None:
        return None
    token_id, last_used_at, user = found
    if user.disabled_at is not None:
        raise AccountDisabled(
            f"The account {user.username} is disabled: its API tokens open nothing until it is enabled."
        )
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        with desk.db.transaction() as session:
            row = session.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = now
    return person_of(user)
