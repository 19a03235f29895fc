"""Many tickets fast: copies of tickets the engine made, written with bulk inserts.

A seed is a ticket made through the engine's commands. A clone is written as the
engine would have written it, with its own ids: the rows of ``ticket``, ``work_task``,
``sla_clock``, ``sla_segment``, ``history_event`` and ``job``, each column copied, with
a new ticket id, a new Call Reference (the counter moves past them), new SpiffWorkflow
task ids (in the instance's state, the task rows, the jobs and the history payloads)
and the history's hash chain computed again for the new ticket (``history.event_hash``).
So a clone is a working ticket: its tasks can be completed and its timers fire, and
``audit verify`` holds for it. Moments are not shifted: a clone happens when its seed did.
Not copied: the seed's mail (outbox), feedback and portal rows, which no measured query reads.

Ids of tickets and clocks are given explicitly (the next free ones); on PostgreSQL the
sequences are moved past them afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from supportdesk.engine.store.models import HistoryEvent, Job, ReferenceCounter, SlaClock, SlaSegment, Ticket, WorkTask
from supportdesk.engine.tickets.history import GENESIS_HASH, event_hash
from supportdesk.engine.tickets.references import format_reference

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TABLES: tuple[Table, ...] = (
    Ticket.__table__,
    SlaClock.__table__,
    SlaSegment.__table__,
    WorkTask.__table__,
    HistoryEvent.__table__,
    Job.__table__,
)


class _Text:
    """A text with the ticket's own ids in it (task ids, its reference), to fill in per clone."""

    def __init__(self, value: str | None, pattern: re.Pattern):
        self.parts = pattern.split(value) if value is not None else None

    def tokens(self) -> Iterable[str]:
        return self.parts[1::2] if self.parts else ()

    def fill(self, mapping: dict[str, str]) -> str | None:
        if self.parts is None:
            return None
        parts = list(self.parts)
        parts[1::2] = [mapping[token] for token in parts[1::2]]
        return "".join(parts)


@dataclass
class Seed:
    """One ticket's rows, read once, ready to be copied."""

    ticket: dict
    reference: str
    state: _Text
    clocks: list[tuple[dict, list[dict]]]  # (clock row, its segments)
    tasks: list[tuple[dict, _Text]]
    events: list[tuple[dict, _Text]]
    jobs: list[tuple[dict, _Text]]
    tokens: list[str] = field(default_factory=list)  # every distinct id to replace

    @classmethod
    def read(cls, connection: Connection, ticket_id: int) -> Seed:
        ticket = dict(connection.execute(select(Ticket.__table__).where(Ticket.id == ticket_id)).mappings().one())
        if ticket["parent_id"] is not None:
            raise ValueError("seeds are calls: an escalation or training request is not cloned on its own")
        reference = ticket["reference"]
        pattern = re.compile(f"({UUID}|{re.escape(reference)})")

        def rows(table, *where, order):
            return [dict(row) for row in connection.execute(select(table).where(*where).order_by(order)).mappings()]

        clock_rows = rows(SlaClock.__table__, SlaClock.ticket_id == ticket_id, order=SlaClock.id)
        clocks = [
            (c, rows(SlaSegment.__table__, SlaSegment.clock_id == c["id"], order=SlaSegment.seq)) for c in clock_rows
        ]
        tasks = [
            (t, _Text(t["id"], pattern))
            for t in rows(WorkTask.__table__, WorkTask.ticket_id == ticket_id, order=WorkTask.created_at)
        ]
        events = [
            (e, _Text(e["payload"], pattern))
            for e in rows(HistoryEvent.__table__, HistoryEvent.ticket_id == ticket_id, order=HistoryEvent.seq)
        ]
        jobs = [
            (j, _Text(j["task_id"], pattern)) for j in rows(Job.__table__, Job.ticket_id == ticket_id, order=Job.id)
        ]
        seed = cls(ticket, reference, _Text(ticket["state"], pattern), clocks, tasks, events, jobs)
        texts = [seed.state] + [t for _, t in tasks] + [t for _, t in events] + [t for _, t in jobs]
        seed.tokens = sorted({token for t in texts for token in t.tokens()})
        return seed


def read_seeds(connection: Connection, ticket_ids: Iterable[int]) -> list[Seed]:
    return [Seed.read(connection, ticket_id) for ticket_id in ticket_ids]


def _new_uuids(count: int) -> list[str]:
    raw = os.urandom(16 * count).hex()
    found = []
    for i in range(count):
        h = raw[32 * i : 32 * i + 32]
        found.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}")
    return found


class Cloner:
    """Writes clones of seeds into a store, ``chunk`` tickets per transaction."""

    def __init__(self, engine, seeds: list[Seed], *, chunk: int = 1000):
        self.engine, self.seeds, self.chunk = engine, seeds, chunk
        self.postgres = engine.dialect.name == "postgresql"

    def clone(self, count: int, progress=None) -> int:
        """Write ``count`` clones, as many of each seed (give or take one); returns how many were written.

        A seed's clones are written one after another, seeds in the order they were made: ids then
        follow creation time, as in a store that grew by itself (clones share their seed's moments,
        and interleaving the seeds would scatter each moment's tickets across the table)."""
        each, extra = divmod(count, len(self.seeds))
        order = [seed for n, seed in enumerate(self.seeds) for _ in range(each + (n < extra))]
        written = 0
        while written < count:
            batch = min(self.chunk, count - written)
            with self.engine.begin() as connection:
                self._write(connection, order[written : written + batch])
            written += batch
            if progress:
                progress(written, count)
        if self.postgres:
            with self.engine.begin() as connection:
                for table in (Ticket.__table__, SlaClock.__table__):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
        return written

    def _write(self, connection: Connection, seeds: list[Seed]) -> None:
        next_ticket = (connection.scalar(select(func.max(Ticket.id))) or 0) + 1
        next_clock = (connection.scalar(select(func.max(SlaClock.id))) or 0) + 1
        numbers = self._references(connection, seeds)
        rows: dict[str, list[dict]] = {table.name: [] for table in TABLES}
        for seed, number in zip(seeds, numbers, strict=True):
            ticket_id, next_ticket = next_ticket, next_ticket + 1
            uuids = _new_uuids(len(seed.tokens))
            mapping = dict(zip(seed.tokens, uuids, strict=True))
            mapping[seed.reference] = number
            rows["ticket"].append(
                {**seed.ticket, "id": ticket_id, "reference": number, "state": seed.state.fill(mapping)}
            )
            for clock, segments in seed.clocks:
                clock_id, next_clock = next_clock, next_clock + 1
                rows["sla_clock"].append({**clock, "id": clock_id, "ticket_id": ticket_id})
                rows["sla_segment"] += [{**_without_id(s), "clock_id": clock_id} for s in segments]
            rows["work_task"] += [{**t, "id": ids.fill(mapping), "ticket_id": ticket_id} for t, ids in seed.tasks]
            rows["job"] += [
                {**_without_id(j), "ticket_id": ticket_id, "task_id": ids.fill(mapping)} for j, ids in seed.jobs
            ]
            prev_hash = GENESIS_HASH
            for event, payload in seed.events:
                filled = payload.fill(mapping)
                digest = event_hash(
                    prev_hash, ticket_id, event["seq"], event["at"], event["kind"], event["actor"], filled
                )
                rows["history_event"].append(
                    {
                        **_without_id(event),
                        "ticket_id": ticket_id,
                        "payload": filled,
                        "prev_hash": prev_hash,
                        "hash": digest,
                    }
                )
                prev_hash = digest
        for table in TABLES:  # in the order of their foreign keys
            if rows[table.name]:
                connection.execute(insert(table), rows[table.name])

    def _references(self, connection: Connection, seeds: list[Seed]) -> list[str]:
        """The next Call References, per prefix and year as the seeds have them; the counters move on."""
        found = []
        counters: dict[tuple[str, int], int] = {}
        for seed in seeds:
            prefix, year, _ = seed.reference.split("-")
            key = (prefix, int(year))
            if key not in counters:
                counters[key] = connection.scalar(
                    select(ReferenceCounter.last_number).where(
                        ReferenceCounter.prefix == prefix, ReferenceCounter.year == int(year)
                    )
                )
            counters[key] += 1
            found.append(format_reference(prefix, int(year), counters[key]))
        for (prefix, year), last in counters.items():
            connection.execute(
                update(ReferenceCounter)
                .where(ReferenceCounter.prefix == prefix, ReferenceCounter.year == year)
                .values(last_number=last)
            )
        return found


def _without_id(row: dict) -> dict:
    """A row the store numbers itself (events, segments, jobs: nothing refers to their ids here)."""
    return {k: v for k, v in row.items() if k != "id"}


def drop_jobs(connection: Connection, ticket_ids: Iterable[int]) -> None:
    """Take the seeds' own timers away (a worker would fire them), once they are read."""
    connection.execute(delete(Job).where(Job.ticket_id.in_(list(ticket_ids))))
