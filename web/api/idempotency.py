"""Idempotency keys on the create endpoints: a client that did not hear the answer sends the same
request again with the same ``Idempotency-Key`` and gets the first answer, and nothing is created twice.

The key, with a hash of the request and the answer, is written **in the transaction of what it
creates**: the API joins the command's unit of work (``unit_of_work.joining``), which adds the key's
row (and flushes it) just before it commits. So either the call and its key commit together, or
neither does:

* a retry after the commit finds the key and replays the stored answer (``Idempotent-Replayed: true``);
* a retry racing the first request (both looked before either committed) runs the command too, but
  the unique (user, key) constraint stops its transaction at the key's row, rolling back its call with
  it; the loser then finds the winner's key and replays its answer;
* a request that failed wrote nothing, its key neither, so a retry runs again;
* the same key with another body, or on another endpoint, is refused (422, nothing run).

The command is the engine's own (``commands.log_call``, ``start_escalation``, ``accounts.create_account``):
no second path into the engine, and no wrapper around its database.

Keys are kept per person; nothing deletes old ones yet (a key is ~1 KB; purge by ``created_at`` if needed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from flask import current_app, request
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from supportdesk.engine.desk import Desk
from supportdesk.engine.store.models import IdempotencyKey
from supportdesk.engine.tickets.unit_of_work import joining
from supportdesk.engine.working_time.clock import clock

from .. import current_desk
from .auth import api_user
from .problems import Problem

REPLAYED_HEADER = "Idempotent-Replayed"
# (the session, the objects the command added) -> the answer's body, or None when this transaction
# did not create the thing (then nothing is recorded in it).
Respond = Callable[[Session, list[Any]], dict | None]


def request_hash() -> str:
    """The body as JSON with sorted keys: the same request however its keys were ordered or spaced."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create(
    *,
    key: str | None,
    endpoint: str,
    command: Callable[[Desk], Any],
    respond: Respond,
    location: Callable[[dict], str],
    status: int = 201,
):
    """Run ``command`` on the desk once per (person, key); answer ``status`` with ``respond``'s body."""
    desk = current_desk()
    user_id = api_user().person.id
    digest = request_hash() if key is not None else ""
    if key is not None:
        stored = _stored(desk, user_id, key)
        if stored is not None:
            return _replay(stored, endpoint, digest, location)
    answer: dict[str, Any] = {}

    def finish(session: Session, added: list[Any]) -> None:
        if answer:
            return
        body = respond(session, added)
        if body is None:
            return
        answer["body"] = json.dumps(body)
        if key is not None:
            session.add(
                IdempotencyKey(
                    user_id=user_id,
                    key=key,
                    endpoint=endpoint,
                    request_hash=digest,
                    response_status=status,
                    response_body=answer["body"],
                    created_at=clock.now(),
                )
            )
            session.flush()  # a racing twin fails here, before its commit, and rolls back what it created

    def recording(session: Session) -> contextlib.AbstractContextManager:
        return _recorded(session, finish)

    try:
        with joining(recording):
            command(desk)
    except IntegrityError:
        stored = _stored(desk, user_id, key) if key is not None else None
        if stored is None:
            raise
        return _replay(stored, endpoint, digest, location)
    if not answer:  # pragma: no cover  (the command created nothing we could describe)
        raise RuntimeError(f"{endpoint}: the command committed but created nothing to answer with")
    return _answer(status, answer["body"], location)


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


def _stored(desk: Desk, user_id: int, key: str) -> IdempotencyKey | None:
    with desk.db.reading() as session:
        return session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        )


def _replay(stored: IdempotencyKey, endpoint: str, digest: str, location: Callable[[dict], str]):
    if stored.endpoint != endpoint or stored.request_hash != digest:
        raise Problem(
            "idempotency-key-reused",
            f"The Idempotency-Key {stored.key!r} was used at {stored.created_at:%Y-%m-%d %H:%M:%S} UTC "
            "for another request; nothing was done. Use a new key for a new request.",
        )
    response = _answer(stored.response_status, stored.response_body, location)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _answer(status: int, body: str, location: Callable[[dict], str]):
    response = current_app.response_class(body, status=status, mimetype="application/json")
    response.headers["Location"] = location(json.loads(body))
    return response
