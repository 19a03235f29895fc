"""Audit (C32): verify the hash chains, replay a ticket from its recorded inputs and
compare, ask "what if" of another calendar or policy, export a ticket's history.

A replay runs on a scratch store, never the real one: the ticket's diagram version
is deployed there, the clock is set to each recorded moment (for this thread only),
and the recorded inputs are given again through the same engine commands: the call
logged, each task completed with its data, each message, each timer firing, each
claim. What the engine derives (references, SLA segments, tasks opened, mail
queued, priorities, closures) must come out the same; any difference is reported.

A ticket migrated to another diagram version is replayed across the migration: it
starts on the version it started on, and at the ``ticket_migrated`` event its
scratch instance is migrated to the target version (deployed in the scratch store
under its own number) by the same command, at the recorded moment.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import multiprocessing
import os
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.desk import Desk
from supportdesk.engine.process.deployment import active_version, deploy_files
from supportdesk.engine.process.spiff import HandlerRegistry
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import (
    Base,
    DiagramFile,
    DiagramVersion,
    HistoryEvent,
    Job,
    ProcessSpec,
    ReferenceCounter,
    Ticket,
    WorkTask,
)
from supportdesk.engine.tickets import commands, migration
from supportdesk.engine.tickets.calls import CallDetails
from supportdesk.engine.tickets.history import events_of, first_broken_link
from supportdesk.engine.tickets.instances import FIRED_WITH_COMMAND, find_ticket, load_workflow
from supportdesk.engine.tickets.sla_clocks import SlaClocks
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.engine.working_time.sla import Segment, compute
from supportdesk.engine.working_time.sla_policy import SlaPolicy

MIGRATED = "ticket_migrated"
# What a replay gives again; everything else in a history is derived by the engine.
INPUTS = (
    "call_logged",
    "escalation_raised",
    "training_need_recorded",
    "task_completed",
    "message_received",
    "timer_fired",
    "task_claimed",
    "task_released",
    MIGRATED,
    *conversation.ENTRY_EVENTS,  # replies, notes, call-backs, portal messages, written again as they were
)
# Derived from the world outside the engine (the mail server, the portal), not from
# the process: a replay cannot and need not reproduce them.
OUTSIDE = (
    "mail_sent",
    "mail_failed",
    "mail_requeued",
    "mail_received",
    "auto_reply_received",
    "customer_information",
    "escalation_started",
    "training_requested",
    "held_mail_discarded",
    "portal_link_sent",  # staff mailed the contact a new portal link (engine.people.portal_access.send_link)
)
VOLATILE_KEYS = ("task_id", "message_id", *conversation.VOLATILE_KEYS)  # random on every run, or the store's ids


@dataclass(frozen=True)
class BrokenChain:
    reference: str
    seq: int
    kind: str


def verify(desk: Desk) -> list[BrokenChain]:
    """The first broken link of every ticket whose chain does not hold."""
    return [broken for _reference, broken in verify_each(desk) if broken is not None]


VERIFY_BATCH = 200  # tickets read per look at the store: no read transaction lasts the whole run


def verify_each(desk: Desk) -> Iterator[tuple[str, BrokenChain | None]]:
    """Every ticket's reference, in order, with the first broken link of its chain (None: it holds),
    ticket by ticket so that a caller can show its progress."""
    with desk.db.reading() as session:
        tickets = session.execute(select(Ticket.id, Ticket.reference).order_by(Ticket.id)).all()
    for start in range(0, len(tickets), VERIFY_BATCH):
        checked = []
        with desk.db.reading() as session:
            for ticket_id, reference in tickets[start : start + VERIFY_BATCH]:
                shown = reference or f"#{ticket_id}"
                event = first_broken_link(events_of(session, ticket_id))
                checked.append((shown, BrokenChain(shown, event.seq, event.kind) if event is not None else None))
        yield from checked


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    kind: str
    actor: str
    summary: str
    clocks: dict[str, timedelta]  # working time counted on each SLA clock at that moment
    seq: int = 0  # the event's place in the ticket's history


@dataclass(frozen=True)
class Difference:
    """One thing a replay gives otherwise than the store holds, as a person reads it: where (the ticket,
    its open tasks, its instance, an SLA clock, a history event), and each field that differs with the
    stored value and the replay's, in words (moments in London time)."""

    where: str
    fields: tuple[tuple[str, str, str], ...]  # (field, stored, the replay's)


@dataclass(frozen=True)
class ClockChange:
    """What if: an SLA clock's due moment and outcome as stored, and under the other configuration."""

    metric: str
    due_before: datetime | None
    due_after: datetime | None
    breached_before: bool
    breached_after: bool

    @property
    def outcome_changes(self) -> bool:
        """Met becomes breached or breached becomes met (not only a due moment that moves)."""
        return self.breached_before != self.breached_after

    def __str__(self) -> str:
        return (
            f"{self.metric}: due {_moment(self.due_before)} -> {_moment(self.due_after)}; "
            f"{_outcome(self.breached_before)} -> {_outcome(self.breached_after)}"
        )


@dataclass
class Replay:
    reference: str
    differences: list[str] = field(default_factory=list)
    timeline: list[TimelineRow] = field(default_factory=list)
    outcome_changes: list[str] = field(default_factory=list)  # what-if: clocks whose outcome moved
    details: list[Difference] = field(default_factory=list)  # the differences, field by field
    clock_changes: list[ClockChange] = field(default_factory=list)  # what-if: the outcome_changes as data

    @property
    def same(self) -> bool:
        return not self.differences


def replay(
    desk: Desk, reference: str, *, calendar: WorkingCalendar | None = None, policy: SlaPolicy | None = None
) -> Replay:
    """Re-run ``reference`` from its recorded inputs and compare with what is stored.

    With ``calendar`` or ``policy`` it is a what-if: the stored data is untouched, and
    the result lists the SLA clocks whose due moment or outcome would change.
    """
    with Replayer(desk, calendar=calendar, policy=policy) as replayer:
        return replayer.replay(reference)


def replay_all(
    desk: Desk,
    references: Iterable[str],
    *,
    calendar: WorkingCalendar | None = None,
    policy: SlaPolicy | None = None,
    jobs: int = 1,
) -> Iterator[Replay]:
    """``replay`` for each of ``references``, in their order, without timelines.

    One process replays them in turn on shared scratch stores; ``jobs`` > 1 shares them
    out among that many processes (each with its own scratch stores), for large stores:
    a replay runs the ticket's commands again, so one process replays about as fast as
    the desk ran them."""
    references = list(references)
    if jobs <= 1 or len(references) < 2:
        with Replayer(desk, calendar=calendar, policy=policy) as replayer:
            for reference in references:
                yield replayer.replay(reference, timeline=False)
        return
    # Spawned, not forked: a child must not inherit the parent's open store connections.
    with ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_replayer,
        initargs=(desk.settings, desk.registry, desk.calendar, desk.sla_policy, calendar, policy),
    ) as pool:
        try:
            yield from pool.map(_replay_here, references, chunksize=max(1, min(50, len(references) // (4 * jobs))))
        finally:
            # A caller that stops early (a run cancelled, a worker stopping) waits for the replays under
            # way only, not for the whole queue.
            pool.shutdown(wait=False, cancel_futures=True)


def default_jobs(tickets: int) -> int:
    """Processes for replaying ``tickets``: one per CPU, but one for a small store (starting a
    process costs about as much as replaying a few dozen tickets)."""
    return max(1, min(os.cpu_count() or 1, tickets // TICKETS_PER_EXTRA_PROCESS))


TICKETS_PER_EXTRA_PROCESS = 25
# The one Replayer of a replay process (see replay_all); None in every other process.
_process_replayer: Replayer | None = None


def _start_replayer(
    settings: Settings,
    registry: HandlerRegistry,
    calendar: WorkingCalendar,
    policy: SlaPolicy,
    what_if_calendar: WorkingCalendar | None,
    what_if_policy: SlaPolicy | None,
) -> None:
    global _process_replayer
    desk = Desk(settings, registry)
    desk.calendar, desk.sla_policy = calendar, policy  # the parent's, even if not from its files
    _process_replayer = Replayer(desk, calendar=what_if_calendar, policy=what_if_policy)


def _replay_here(reference: str) -> Replay:
    if _process_replayer is None:
        raise RuntimeError("the replay worker process was not initialised")
    return _process_replayer.replay(reference, timeline=False)


class Replayer:
    """Replays tickets one after another on scratch stores kept for the whole run.

    Making a scratch store (the schema's migrations, the deploy with its validation, a
    new connection's statement cache) costs several times what replaying a ticket does,
    so there is one per diagram version a ticket starts on, emptied of the previous
    ticket before the next: each ticket still meets a store holding nothing but its
    version, as a ticket of its own. A ticket migrated to another version gets a store of
    its own (the migration deploys more versions, which would change what the next
    ticket starts on).
    """

    def __init__(self, desk: Desk, *, calendar: WorkingCalendar | None = None, policy: SlaPolicy | None = None):
        self.desk, self.calendar, self.policy = desk, calendar, policy
        self._folder = tempfile.TemporaryDirectory(prefix="supportdesk-replay-")
        self._stores: dict[int, Desk] = {}  # by the number of the version a ticket starts on
        self._made = 0

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for scratch in self._stores.values():
            scratch.close()
        self._stores.clear()
        self._folder.cleanup()

    def replay(self, reference: str, *, timeline: bool = True) -> Replay:
        stored = _stored(self.desk, reference)
        what_if = self.calendar is not None or self.policy is not None
        result = Replay(reference, timeline=_timeline(self.desk, stored) if timeline else [])
        with self._scratch_for(stored) as scratch:
            try:
                _give_inputs_again(scratch, stored, catch_up=what_if)
            except Exception as exc:  # noqa: BLE001  (a replay that cannot proceed is itself the finding)
                stopped = f"{exc.__class__.__name__}: {exc}"
                result.differences.append(f"the replay stopped: {stopped}")
                result.details.append(Difference("the replay stopped", (("error", "", stopped),)))
                return result
            replayed = _stored(scratch, reference)
        if what_if:
            result.clock_changes = _clock_changes(stored, replayed)
            result.outcome_changes = [str(change) for change in result.clock_changes]
        else:
            result.differences = _compare(stored, replayed)
            result.details = _details(stored, replayed)
        return result

    @contextlib.contextmanager
    def _scratch_for(self, stored: _Stored) -> Iterator[Desk]:
        pooled = not stored.migrated_to
        scratch = self._stores.get(stored.version_number) if pooled else None
        if scratch is None:
            scratch = self._new_store(stored)
            if pooled:
                self._stores[stored.version_number] = scratch
        try:
            _make_ready_for(scratch, stored.ticket["reference"])
            yield scratch
        finally:
            if not pooled:
                scratch.close()

    def _new_store(self, stored: _Stored) -> Desk:
        self._made += 1
        folder = Path(self._folder.name) / f"store-{self._made}"
        workflows = folder / "workflows"
        workflows.mkdir(parents=True)
        for name, content in stored.version_files.items():
            (workflows / name).write_text(content, encoding="utf-8")
        settings = replace(
            self.desk.settings,
            database_url=f"sqlite:///{folder / 'replay.sqlite'}",
            workflows_dir=workflows,
            smtp_host="",
            sqlite_synchronous="off",
        )  # thrown away after
        scratch = Desk(settings, self.desk.registry)
        scratch.calendar = self.calendar or self.desk.calendar
        scratch.sla_policy = self.policy or self.desk.sla_policy
        try:
            scratch.upgrade_schema()
            with clock.at(stored.events[0]["at"]):
                _deploy_numbered(scratch, stored.version_files, stored.version_number)
        except BaseException:
            scratch.close()
            raise
        return scratch


def carry_into(desk: Desk, scratch: Desk, reference: str, until: datetime) -> None:
    """Give ``reference``'s recorded inputs dated up to ``until`` again on ``scratch``, a store that holds
    other tickets too: the ticket there is as it stood at ``until`` (the forecast plays on from there). The
    ticket's diagram version is deployed there if it is not yet (carry tickets in the order of their versions:
    a call starts on the latest deployed). Raises ``LookupError`` for a ticket migrated between versions or
    started on an older version than the scratch store's latest, and whatever the engine raises when an input
    cannot be given again."""
    stored = _stored(desk, reference)
    if stored.migrated_to:
        raise LookupError(f"{reference} was migrated between diagram versions")
    with clock.at(stored.events[0]["at"]):
        _deploy_numbered(scratch, stored.version_files, stored.version_number)
    with scratch.db.reading() as session:
        if active_version(session).number != stored.version_number:
            raise LookupError(f"{reference} started on version {stored.version_number}, older than the latest")
    _hand_out_next(scratch, reference)
    for event in stored.events:
        if event["at"] > until:
            break
        if event["kind"] in INPUTS:
            with clock.at(event["at"]):
                _give(scratch, stored, reference, event, catch_up=False)


def deploy_active_version(desk: Desk, scratch: Desk, at: datetime) -> None:
    """Deploy ``desk``'s active diagram version on ``scratch`` under its number, if it is not there yet."""
    with desk.db.reading() as session:
        version = active_version(session)
        files, number = {f.name: f.content for f in version.files}, version.number
    with clock.at(at):
        _deploy_numbered(scratch, files, number)


def _hand_out_next(scratch: Desk, reference: str) -> None:
    """Make ``scratch`` hand out ``reference`` next (its counter one before), whatever it handed out before."""
    prefix, year, number = reference.split("-")
    with scratch.db.transaction() as session:
        counter = session.get(ReferenceCounter, (prefix, int(year)))
        if counter is None:
            session.add(ReferenceCounter(prefix=prefix, year=int(year), last_number=int(number) - 1))
        else:
            counter.last_number = int(number) - 1


# --- what is stored -------------------------------------------------------------------------------------


@dataclass
class _Stored:
    ticket: dict
    version_files: dict[str, str]  # of the version the ticket started on
    version_number: int
    migrated_to: dict[int, dict[str, str]]  # the files of each version the ticket was migrated to
    events: list[dict]
    clocks: dict[str, dict]
    open_tasks: list[str]
    instance: dict


def _stored(desk: Desk, reference: str) -> _Stored:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        events = [
            {"seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "payload": json.loads(e.payload)}
            for e in events_of(session, ticket.id)
        ]
        migrations = [e["payload"] for e in events if e["kind"] == MIGRATED]
        version = (
            _version_numbered(session, migrations[0]["from"])
            if migrations
            else session.get(DiagramVersion, ticket.version_id)
        )
        clocks = SlaClocks(session, ticket, desk.calendar, desk.sla_policy)
        return _Stored(
            ticket={
                c: getattr(ticket, c)
                for c in (
                    "reference",
                    "kind",
                    "process_id",
                    "status",
                    "priority",
                    "outcome",
                    "contact_name",
                    "contact_email",
                    "account",
                    "summary",
                    "licence_type",
                    "channel",
                    "closed_at",
                )
            },
            version_files={f.name: f.content for f in version.files},
            version_number=version.number,
            migrated_to={
                m["to"]: {f.name: f.content for f in _version_numbered(session, m["to"]).files} for m in migrations
            },
            events=events,
            clocks={
                c.metric: {
                    "priority": c.priority,
                    "state": c.state,
                    "due_at": c.due_at,
                    "breached_at": c.breached_at,
                    "stopped_at": c.stopped_at,
                    "segments": [(s.kind, s.at, s.priority) for s in clocks.segments(c)],
                }
                for c in clocks.clocks()
            },
            open_tasks=sorted(session.scalars(select(WorkTask.element_id).where(WorkTask.ticket_id == ticket.id))),
            instance=_instance_summary(session, desk, ticket.state),
        )


def _version_numbered(session, number: int) -> DiagramVersion:
    return session.scalar(select(DiagramVersion).where(DiagramVersion.number == number))


def _instance_summary(session: Session, desk: Desk, state: str) -> dict:
    """The instance without its random task ids: which elements are in which state, and its data."""
    workflow = load_workflow(session, desk, state)
    tasks = sorted((t.task_spec.name, t.state) for t in workflow.get_tasks())
    return {"completed": workflow.is_completed(), "tasks": tasks, "data": workflow.data}


# --- the scratch store ------------------------------------------------------------------------------------


def _deploy_numbered(scratch: Desk, files: dict[str, str], number: int) -> None:
    """Deploy ``files`` on the scratch store as version ``number``, as on the real one (the history
    names versions by number), unless the scratch store has that version already."""
    with scratch.db.transaction() as session:
        if _version_numbered(session, number) is not None:
            return
        deployed = _version_numbered(session, deploy_files(session, files, scratch.handler_topics, "replay").number)
        deployed.number = number


# What a scratch store keeps from one replay to the next: its schema, its deployed version and its spec.
_KEPT_TABLES = ("alembic_version", DiagramVersion.__tablename__, DiagramFile.__tablename__, ProcessSpec.__tablename__)


def _make_ready_for(scratch: Desk, reference: str) -> None:
    """Empty the scratch store of all but its versions (the ticket before), and make it hand
    out ``reference`` next (SUP-2026-000123: the counter at 122)."""
    prefix, year, number = reference.split("-")
    with scratch.db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):  # the referring rows before those they refer to
            if table.name not in _KEPT_TABLES:
                session.execute(table.delete())
        session.add(ReferenceCounter(prefix=prefix, year=int(year), last_number=int(number) - 1))


# --- giving the inputs again ---------------------------------------------------------------------------


def _give_inputs_again(scratch: Desk, stored: _Stored, *, catch_up: bool) -> None:
    """The recorded inputs, each at its recorded moment. A replay fires exactly the timers
    the history says fired, when it says; a what-if (``catch_up``) fires whatever falls due
    under the other configuration, as a worker keeping up would have."""
    reference = stored.ticket["reference"]
    for event in stored.events:
        if event["kind"] not in INPUTS:
            continue
        with clock.at(event["at"]):
            if catch_up:
                commands.fire_due_timers(scratch)
            _give(scratch, stored, reference, event, catch_up)
    if catch_up:
        with clock.at(stored.events[-1]["at"]):
            commands.fire_due_timers(scratch)


def _give(scratch: Desk, stored: _Stored, reference: str, event: dict, catch_up: bool) -> None:
    kind, payload, actor = event["kind"], event["payload"], event["actor"]
    if kind == "call_logged":
        commands.log_call(scratch, _call_details(payload), actor)
    elif kind in ("escalation_raised", "training_need_recorded") and event["seq"] == 1:
        _start_linked(scratch, stored, kind, payload, actor)
    elif kind == "task_completed":
        commands.complete_task(
            scratch, commands.CompleteTask(_task_at(scratch, reference, payload["element"]), payload["data"]), actor
        )
    elif kind == "message_received":
        commands.deliver_message(
            scratch, commands.DeliverMessage(reference, payload["message"], payload["payload"]), actor
        )
    elif kind == "timer_fired" and not catch_up and payload.get("cause") != FIRED_WITH_COMMAND:
        _fire_timer_at(scratch, reference, payload["element"])
    elif kind in conversation.ENTRY_EVENTS:
        conversation.give_again(scratch, reference, kind, payload, actor)
    elif kind == MIGRATED:
        _deploy_numbered(scratch, stored.migrated_to[payload["to"]], payload["to"])
        migration.migrate_ticket(scratch, reference, payload["to"], actor)
    elif kind in ("task_claimed", "task_released"):
        task_id = _task_at(scratch, reference, _element_of_task(stored, payload["task_id"]))
        if kind == "task_claimed":
            commands.claim_task(scratch, commands.ClaimTask(task_id), actor)
        else:
            commands.release_task(scratch, commands.ReleaseTask(task_id), actor)


def _fire_timer_at(scratch: Desk, reference: str, element: str) -> None:
    """Fire the ticket's waiting timer at ``element``, as the history records."""
    with scratch.db.reading() as session:
        ticket = find_ticket(session, reference)
        workflow = load_workflow(session, scratch, ticket.state)
        jobs = session.scalars(select(Job).where(Job.ticket_id == ticket.id)).all()
        job = next((j for j in jobs if _element_of(workflow, j.task_id) == element), None)
    if job is None or not commands._fire_timer_job(scratch, job.id):
        raise LookupError(f"the timer at {element} is not due, though the history says it fired")


def _element_of(workflow, task_id: str) -> str | None:
    task = workflow.get_task_from_id(UUID(task_id))
    return task.task_spec.bpmn_id if task is not None else None


def _call_details(payload: dict) -> CallDetails:
    names = CallDetails.__dataclass_fields__
    values = {k: v for k, v in payload.items() if k in names}
    if values.get("campaign_at"):
        values["campaign_at"] = datetime.fromisoformat(values["campaign_at"])
    return CallDetails(**values)


def _start_linked(scratch: Desk, stored: _Stored, kind: str, payload: dict, actor: str) -> None:
    """An escalation or training request, started again without its call (replayed on its own)."""
    t = stored.ticket
    ticket = Ticket(
        kind=t["kind"],
        channel=t["channel"],
        contact_name=t["contact_name"],
        contact_email=t["contact_email"],
        account=t["account"],
        summary=t["summary"],
        licence_type=t["licence_type"],
    )
    data = {"call_reference": payload.get("call")} if t["kind"] == "escalation" else {"need": payload.get("need")}
    first = {k: v for k, v in payload.items() if k != "diagram_version"}
    with UnitOfWork(scratch, actor) as uow:
        commands.start(uow, ticket, t["process_id"], data, kind, first)


def _task_at(scratch: Desk, reference: str, element: str) -> str:
    with scratch.db.reading() as session:
        ticket = find_ticket(session, reference)
        task_id = session.scalar(
            select(WorkTask.id)
            .where(WorkTask.ticket_id == ticket.id, WorkTask.element_id == element)
            .order_by(WorkTask.created_at)
        )
    if task_id is None:
        raise LookupError(f"no open task at {element} to complete, as the history says happened")
    return task_id


def _element_of_task(stored: _Stored, task_id: str) -> str:
    return next(
        e["payload"]["element"]
        for e in stored.events
        if e["kind"] == "task_opened" and e["payload"].get("task_id") == task_id
    )


# --- comparing ------------------------------------------------------------------------------------------


def _comparable(events: list[dict]) -> list[tuple]:
    rows = []
    for event in events:
        if event["kind"] in OUTSIDE:
            continue
        payload = {k: v for k, v in event["payload"].items() if k not in VOLATILE_KEYS}
        rows.append((event["at"], event["kind"], event["actor"], json.dumps(payload, sort_keys=True, default=str)))
    return rows


def _compare(stored: _Stored, replayed: _Stored) -> list[str]:
    differences = []
    for label, mine, theirs in (
        ("ticket", stored.ticket, replayed.ticket),
        ("open tasks", stored.open_tasks, replayed.open_tasks),
        ("instance", stored.instance, replayed.instance),
    ):
        if mine != theirs:
            differences.append(f"{label}: stored {_short(mine)} but the replay gives {_short(theirs)}")
    differences += _clock_differences(stored.clocks, replayed.clocks)
    differences += _history_differences(_comparable(stored.events), _comparable(replayed.events))
    return differences


def _clock_differences(stored: dict, replayed: dict) -> list[str]:
    found = []
    for metric in sorted(set(stored) | set(replayed)):
        mine, theirs = stored.get(metric), replayed.get(metric)
        if mine != theirs:
            found.append(f"SLA clock {metric}: stored {_short(mine)} but the replay gives {_short(theirs)}")
    return found


def _history_differences(stored: list[tuple], replayed: list[tuple], limit: int = 10) -> list[str]:
    found = []
    for index in range(max(len(stored), len(replayed))):
        mine = stored[index] if index < len(stored) else None
        theirs = replayed[index] if index < len(replayed) else None
        if mine != theirs:
            found.append(f"history event {index + 1}: stored {_short(mine)} but the replay gives {_short(theirs)}")
            if len(found) >= limit:
                break
    return found


def _clock_changes(stored: _Stored, replayed: _Stored) -> list[ClockChange]:
    changes = []
    for metric in sorted(set(stored.clocks) | set(replayed.clocks)):
        mine, theirs = stored.clocks.get(metric) or {}, replayed.clocks.get(metric) or {}
        change = ClockChange(
            metric,
            mine.get("due_at"),
            theirs.get("due_at"),
            bool(mine.get("breached_at")),
            bool(theirs.get("breached_at")),
        )
        if change.due_before != change.due_after or change.outcome_changes:
            changes.append(change)
    return changes


def _outcome(breached: bool) -> str:
    return "breached" if breached else "met"


# --- the differences, field by field ----------------------------------------------------------------------

HISTORY_DETAILS = 10  # history events shown differing: past the first few, the rest usually follows from them


def _details(stored: _Stored, replayed: _Stored) -> list[Difference]:
    """What ``_compare`` finds, as ``Difference`` rows a page can show: only the fields that differ."""
    found = []
    ticket = _field_differences(stored.ticket, replayed.ticket)
    if ticket:
        found.append(Difference("the ticket", ticket))
    if stored.open_tasks != replayed.open_tasks:
        found.append(Difference("its open tasks", (("tasks", _shown(stored.open_tasks), _shown(replayed.open_tasks)),)))
    instance = _instance_differences(stored.instance, replayed.instance)
    if instance:
        found.append(Difference("its workflow instance", instance))
    for metric in sorted(set(stored.clocks) | set(replayed.clocks)):
        clocks = _field_differences(stored.clocks.get(metric) or {}, replayed.clocks.get(metric) or {})
        if clocks:
            found.append(Difference(f"SLA clock {metric.replace('_', ' ')}", clocks))
    return found + _history_details(stored.events, replayed.events)


def _field_differences(mine: dict, theirs: dict, prefix: str = "") -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (f"{prefix}{key}", _shown(mine.get(key)), _shown(theirs.get(key)))
        for key in sorted(set(mine) | set(theirs), key=str)
        if mine.get(key) != theirs.get(key)
    )


def _instance_differences(mine: dict, theirs: dict) -> tuple[tuple[str, str, str], ...]:
    found = list(_field_differences({"completed": mine.get("completed")}, {"completed": theirs.get("completed")}))
    stored_tasks, replayed_tasks = set(mine.get("tasks") or ()), set(theirs.get("tasks") or ())
    if stored_tasks != replayed_tasks:
        only = (sorted(stored_tasks - replayed_tasks), sorted(replayed_tasks - stored_tasks))
        found.append(("tasks (element, state) only on one side", _shown(only[0]), _shown(only[1])))
    found += _field_differences(mine.get("data") or {}, theirs.get("data") or {}, "data: ")
    return tuple(found)


def _history_details(stored: list[dict], replayed: list[dict]) -> list[Difference]:
    """The history events that differ, lined up (difflib) so that one missing or extra event is
    shown as that, not as every event after it being different."""
    mine, theirs = _numbered(stored), _numbered(replayed)
    matcher = difflib.SequenceMatcher(a=[row for _, row in mine], b=[row for _, row in theirs], autojunk=False)
    found: list[Difference] = []
    for operation, a_from, a_to, b_from, b_to in matcher.get_opcodes():
        if operation == "equal":
            continue
        for offset in range(max(a_to - a_from, b_to - b_from)):
            if len(found) >= HISTORY_DETAILS:
                return found
            ours = mine[a_from + offset] if a_from + offset < a_to else None
            given = theirs[b_from + offset] if b_from + offset < b_to else None
            before = mine[min(a_from + offset, a_to) - 1][0] if min(a_from + offset, a_to) > 0 else None
            found.append(_event_difference(ours, given, before))
    return found


def _numbered(events: list[dict]) -> list[tuple[int, tuple]]:
    """The comparable events (``_comparable``) with their sequence numbers, for naming them."""
    kept = [event for event in events if event["kind"] not in OUTSIDE]
    return list(zip([event["seq"] for event in kept], _comparable(kept), strict=True))


def _event_difference(ours: tuple[int, tuple] | None, given: tuple[int, tuple] | None, after: int | None) -> Difference:
    """One event that differs; ``after`` is the stored event an extra one of the replay's would follow."""
    if ours is None:
        _, row = given  # type: ignore[misc]
        where = f"after event {after}" if after is not None else "first"
        return Difference(
            f"history, {where}: an event the store does not hold ({row[1]})", (("event", "none", _event(row)),)
        )
    seq, row = ours
    if given is None:
        return Difference(
            f"history event {seq} ({row[1]})", (("event", _event(row), "none: the replay gives no such event"),)
        )
    theirs = given[1]
    fields = _field_differences(
        {"moment": row[0], "kind": row[1], "actor": row[2]},
        {"moment": theirs[0], "kind": theirs[1], "actor": theirs[2]},
    )
    fields += _field_differences(json.loads(row[3]), json.loads(theirs[3]), "payload: ")
    return Difference(f"history event {seq} ({row[1]})", fields)


def _event(row: tuple) -> str:
    at, kind, actor, payload = row
    return f"{kind} by {actor} at {_shown(at)}: {payload}"


def _shown(value, limit: int = 300) -> str:
    """A stored or replayed value in words: moments in London time, lists one after another."""
    if value is None:
        return "none"
    if isinstance(value, datetime):
        return local(value).strftime("%d %b %Y %H:%M:%S %Z")
    if isinstance(value, list | tuple):
        parts = [" ".join(map(_shown, item)) if isinstance(item, list | tuple) else _shown(item) for item in value]
        text = "; ".join(parts) or "none"
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _short(value, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _moment(value) -> str:
    return value.isoformat() if value else "none"


# --- the timeline and the export --------------------------------------------------------------------


def _timeline(desk: Desk, stored: _Stored) -> list[TimelineRow]:
    """Each event with the working time counted on each clock by then (the budget does not
    change what has been counted, so none is needed here)."""
    rows = []
    for event in stored.events:
        counted = {}
        for metric, data in stored.clocks.items():
            segments = [Segment(kind, at, priority) for kind, at, priority in data["segments"]]
            if segments and segments[0].at <= event["at"]:
                counted[metric] = compute(segments, desk.calendar, event["at"]).elapsed
        rows.append(
            TimelineRow(event["at"], event["kind"], event["actor"], _summary(event["payload"]), counted, event["seq"])
        )
    return rows


def _summary(payload: dict) -> str:
    shown = {k: v for k, v in payload.items() if k not in VOLATILE_KEYS}
    return ", ".join(f"{k}={v}" for k, v in shown.items())[:200]


def export(desk: Desk, reference: str) -> dict:
    """One ticket's full record for an external auditor: the ticket, every event with its
    hashes (so the chain can be checked outside), the SLA clocks with their segments."""
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        version = session.get(DiagramVersion, ticket.version_id)
        clocks = SlaClocks(session, ticket, desk.calendar, desk.sla_policy)
        events = session.scalars(
            select(HistoryEvent).where(HistoryEvent.ticket_id == ticket.id).order_by(HistoryEvent.seq)
        )
        return {
            "reference": ticket.reference,
            "kind": ticket.kind,
            "status": ticket.status,
            "priority": ticket.priority,
            "diagram_version": {"number": version.number, "content_hash": version.content_hash},
            "hash_chain": "sha256(prev_hash \\n ticket_id \\n seq \\n at \\n kind \\n actor \\n payload)",
            "ticket_id": ticket.id,
            "events": [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "actor": e.actor,
                    "payload": e.payload,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in events
            ],
            "sla_clocks": [
                {
                    "metric": c.metric,
                    "priority": c.priority,
                    "target": c.target,
                    "state": c.state,
                    "due_at": _iso(c.due_at),
                    "breached_at": _iso(c.breached_at),
                    "segments": [
                        {"kind": s.kind, "at": s.at.isoformat(), "priority": s.priority} for s in clocks.segments(c)
                    ],
                }
                for c in clocks.clocks()
            ],
        }


def _iso(moment):
    return moment.isoformat() if moment else None


def ticket_count(desk: Desk) -> int:
    """How many tickets ``verify_each`` goes through."""
    with desk.db.reading() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def references(desk: Desk) -> list[str]:
    with desk.db.reading() as session:
        return list(session.scalars(select(Ticket.reference).where(Ticket.reference.is_not(None)).order_by(Ticket.id)))
