"""Portal tokens (C25): the link in a confirmation mail carries a random token of
256 bits; only its SHA-256 is stored, so a copy of the database opens no portal."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import clock
from .models import PortalAccess

if TYPE_CHECKING:
    from .desk import Desk

TOKEN_BYTES = 32


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, contact_email: str, now: datetime) -> str:
    """A new portal token for a contact; the caller mails it, the store keeps only its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PortalAccess(contact_email=contact_email.lower(), token_hash=_hash(token), created_at=now))
    return token


def contact_for_token(desk: Desk, token: str) -> str | None:
    """The contact a portal token belongs to, or None for an unknown token."""
    if not token or len(token) > 200:
        return None
    with desk.db.transaction() as session:
        access = session.scalar(select(PortalAccess).where(PortalAccess.token_hash == _hash(token)))
        if access is None:
            return None
        access.last_used_at = clock.now()
        return access.contact_email
