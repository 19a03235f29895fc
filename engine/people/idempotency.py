"""Idempotency keys: a client that did not hear the answer sends the same request again with the same
key and gets the first answer, and nothing is created twice.

The key, with a hash of the request and the answer, is written **in the transaction of what it
creates**: the key joins the command's unit of work (``unit_of_work.joining``) and adds its row (and
flushes it) just before the commit. So either the thing and its key commit together, or neither does:

* a retry after the commit finds the key and gets the stored answer again (``Answer.replayed``);
* a retry racing the first request (both looked before either committed) runs the command too, but
  the unique (person, key) constraint stops its transaction at the key's row, rolling back what it
  created with it; the loser then finds the winner's key and replays its answer;
* a request that failed wrote nothing, its key neither, so a retry runs again;
* the same key with another request, or for another endpoint, is refused (``KeyReused``, nothing run).

The command is the engine's own (``commands.log_call``, ``start_escalation``, ``accounts.create_account``):
no second path into the engine, and no wrapper around its database.

Keys are kept per person; nothing deletes old ones yet (a key is ~1 KB; purge by ``created_at`` if needed).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import DeskError
from supportdesk.engine.store.models import IdempotencyKey
from supportdesk.engine.tickets.unit_of_work import joining
from supportdesk.engine.working_time.clock import clock

# The objects the command added -> the answer's body, or None when they are not what the
# command creates (a transaction may add other rows first; nothing is recorded for those).
Respond = Callable[[list[Any]], dict | None]


@dataclass(frozen=True)
class Request:
    """Who asks, with which key, for what (``endpoint``), and the hash of what they sent."""

    person_id: int
    key: str | None
    endpoint: str
    request_hash: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # JSON
    replayed: bool = False  # the stored answer of an earlier request with this key


class KeyReused(DeskError):
    """The key was used for another request: nothing was done."""


def run_once(desk: Desk, request: Request, command: Callable[[Desk], Any], respond: Respond, status: int) -> Answer:
    """Run ``command`` once per (person, key); the answer is ``respond``'s body of what it created."""
    if request.key is not None:
        stored = _stored(desk, request)
        if stored is not None:
            return _replay(stored, request)
    answer: dict[str, str] = {}

    def finish(session: Session, added: list[Any]) -> None:
        if answer:
            return
        body = respond(added)
        if body is None:
            return
        answer["body"] = json.dumps(body)
        if request.key is not None:
            session.add(_key_row(request, status, answer["body"]))
            session.flush()  # a racing twin fails here, before its commit, and rolls back what it created

    try:
        with joining(lambda session: _recorded(session, finish)):
            command(desk)
    except IntegrityError:
        stored = _stored(desk, request) if request.key is not None else None
        if stored is None:
            raise
        return _replay(stored, request)
    if not answer:  # pragma: no cover  (the command created nothing we could describe)
        raise RuntimeError(f"{request.endpoint}: the command committed but created nothing to answer with")
    return Answer(status, answer["body"])


def _key_row(request: Request, status: int, body: str) -> IdempotencyKey:
    return IdempotencyKey(
        user_id=request.person_id,
        key=request.key,
        endpoint=request.endpoint,
        request_hash=request.request_hash,
        response_status=status,
        response_body=body,
        created_at=clock.now(),
    )


@contextlib.contextmanager
def _recorded(session: Session, finish: Callable[[Session, list[Any]], None]) -> Iterator[None]:
    """Joins the command's transaction: collects what it adds, and just before the commit calls
    ``finish(session, added)`` (an exception in the command skips it, and all rolls back)."""
    added: list[Any] = []

    def collect(flushing: Session, _context) -> None:
        added.extend(flushing.new)  # still the pre-flush state in after_flush

    event.listen(session, "after_flush", collect)
    try:
        yield
        session.flush()
        finish(session, added)
    finally:
        event.remove(session, "after_flush", collect)


def _stored(desk: Desk, request: Request) -> IdempotencyKey | None:
    with desk.db.reading() as session:
        return session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.user_id == request.person_id, IdempotencyKey.key == request.key)
        )


def _replay(stored: IdempotencyKey, request: Request) -> Answer:
    if stored.endpoint != request.endpoint or stored.request_hash != request.request_hash:
        raise KeyReused(
            f"The Idempotency-Key {stored.key!r} was used at {stored.created_at:%Y-%m-%d %H:%M:%S} UTC "
            "for another request; nothing was done. Use a new key for a new request."
        )
    return Answer(stored.response_status, stored.response_body, replayed=True)
