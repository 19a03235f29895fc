"""The ticket history: append-only, ordered per ticket, hash-chained (C32).

Each event's ``hash`` is SHA-256 over the previous event's hash and the
event's own content, so an edited or deleted event breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportdesk.engine.store.models import HistoryEvent, Ticket

GENESIS_HASH = "0" * 64


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, ticket_id: int, seq: int, at: datetime, kind: str, actor: str, payload: str) -> str:
    content = "\n".join([prev_hash, str(ticket_id), str(seq), at.isoformat(), kind, actor, payload])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def append(
    session: Session, ticket: Ticket, *, at: datetime, kind: str, actor: str, payload: dict[str, Any] | None = None
) -> HistoryEvent:
    """Add an event at the end of the ticket's chain (the caller holds the ticket's lock)."""
    seq, prev_hash = _tail(session, ticket.id)
    seq += 1
    text = canonical_json(payload or {})
    event = HistoryEvent(
        ticket_id=ticket.id,
        seq=seq,
        at=at,
        kind=kind,
        actor=actor,
        payload=text,
        prev_hash=prev_hash,
        hash=event_hash(prev_hash, ticket.id, seq, at, kind, actor, text),
    )
    session.add(event)
    session.info.setdefault(_TAILS, {})[ticket.id] = (seq, event.hash)
    return event


_TAILS = "history_tails"


def _tail(session: Session, ticket_id: int) -> tuple[int, str]:
    """The last (seq, hash) of a ticket's chain. Read from the store once per transaction, then
    carried in the session: a command appends a dozen events without a query or flush each."""
    tails = session.info.setdefault(_TAILS, {})
    if ticket_id not in tails:
        # No autoflush: this session has no unflushed event of the ticket yet (its first append
        # is the one asking), so what is pending is left for the command's next flush, in one batch.
        with session.no_autoflush:
            last = session.execute(
                select(HistoryEvent.seq, HistoryEvent.hash)
                .where(HistoryEvent.ticket_id == ticket_id)
                .order_by(HistoryEvent.seq.desc())
                .limit(1)
            ).first()
        tails[ticket_id] = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    return tails[ticket_id]


def events_of(session: Session, ticket_id: int) -> list[HistoryEvent]:
    return list(
        session.scalars(select(HistoryEvent).where(HistoryEvent.ticket_id == ticket_id).order_by(HistoryEvent.seq))
    )


def first_broken_link(events: list[HistoryEvent]) -> HistoryEvent | None:
    """The first event whose hash does not follow from the chain, or None."""
    prev_hash = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        recomputed = event_hash(prev_hash, event.ticket_id, event.seq, event.at, event.kind, event.actor, event.payload)
        if event.seq != expected_seq or event.prev_hash != prev_hash or event.hash != recomputed:
            return event
        prev_hash = event.hash
    return None


def completion_of(session: Session, task_id: str) -> HistoryEvent | None:
    """The event that completed the task ``task_id``, if it was completed."""
    return session.scalars(
        select(HistoryEvent)
        .where(HistoryEvent.kind == "task_completed", HistoryEvent.payload.contains(f'"task_id":"{task_id}"'))
        .limit(1)
    ).first()
