"""What the simulated people of a forecast do, learned from the store's history as it stood at ``as_of``.

The forecast plays the rest of the period through the real diagrams with the simulator
(``forecast_diagrams``); this module gives the simulator its people and its calls, from the learning
window (``forecast_history.WINDOW``) and nothing dated after ``as_of``:

* how long each task stays open before someone does it, in working minutes, per task title and, where
  the history holds enough of a title, per priority (the tiers are the lanes the titles belong to);
* the chance of each path a problem call takes (first line, second line, second line asking third line,
  passed to third line) per priority, and the chance a call passed to second line is Delayed, and for how
  long (working minutes from ``call_delayed`` to the clock resuming);
* the calls themselves: a new call of a run is a call of the window drawn at random (its details, its
  campaign as far ahead of its arrival, its triage override), so the channel, kind and priority mix is
  the history's, and the priority comes out of the real decision table.

Each run draws its people by a bootstrap of these samples (``behaviour``), so a short history shows as a
wider spread. A task seen fewer than ``MIN_SAMPLES`` times is not guessed at: its few times are used, and
each run scales them all up or down at random (log-normal, the spread shrinking with the square root of
their number), so the interval widens; the forecast says which tasks had few. Only a task never seen
done keeps the simulator's default time. Not played: escalations and training requests (tickets of their
own, not counted in a call's clocks) and customers' feedback.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from random import Random

from sqlalchemy import select

from supportdesk.engine.desk import Desk
from supportdesk.engine.oversight.simulation import Behaviour, Sampled
from supportdesk.engine.store.models import HistoryEvent, Ticket
from supportdesk.engine.tickets.calls import CallDetails
from supportdesk.engine.working_time.calendar import WorkingCalendar

MIN_SAMPLES = 8  # of a task title: below this its times are widened at random in each run
WIDEN = 0.5  # the log-normal spread of that scaling for one time seen (over the square root of the count)
MIN_BY_PRIORITY = 20  # of a title under one priority, to use that priority's delays
MIN_PATHS = 10  # decided problem calls of a priority, to use that priority's path shares
PATHS = ("first_line", "second_line", "ask_third_line", "pass_third_line")
PATH_TASKS = (  # the task a call's path leaves in its history, the farthest first
    ("Resolve call (third line)", "pass_third_line"),
    ("Advise second line", "ask_third_line"),
    ("Resolve call (second line)", "second_line"),
)
LEARNED_FIELDS = {name for name in CallDetails.__dataclass_fields__ if name != "campaign_at"}


@dataclass(frozen=True)
class PastCall:
    """A call of the window, as a new call of a run copies it."""

    details: CallDetails
    campaign_ahead: timedelta | None  # its campaign, this long after it was logged
    override: tuple[str, str] | None  # the priority triage gave it against the suggestion, with the reason
    priority: str  # the priority it ran under ("" for none)


@dataclass(frozen=True)
class Learned:
    pick_up: dict[str, tuple[float, ...]]  # title -> working minutes open
    pick_up_by_priority: dict[tuple[str, str], tuple[float, ...]]
    paths: dict[str, Counter[str]]  # priority ("" for all) -> problem calls by path
    delayed: tuple[int, int]  # calls Delayed, of the calls passed to second line
    delayed_for: tuple[float, ...]  # working minutes
    calls: tuple[PastCall, ...]
    short: tuple[str, ...] = field(default=())

    def behaviour(self, rng: Random, base: Behaviour | None = None) -> Behaviour:
        """The simulated people of one run: every sample set resampled (a bootstrap)."""
        base = base or Behaviour()
        pick_up = dict(base.pick_up)
        pick_up.update({title: _resampled(rng, minutes, widened=True) for title, minutes in self.pick_up.items()})
        by_priority = {key: _resampled(rng, minutes) for key, minutes in self.pick_up_by_priority.items()}
        delayed, passed = self.delayed
        return replace(
            base,
            pick_up=pick_up,
            pick_up_by_priority=by_priority,
            paths=self.path_shares(""),
            delayed=rng.betavariate(delayed + 1, passed - delayed + 1) if passed else base.delayed,
            delayed_for=_resampled(rng, self.delayed_for) if self.delayed_for else base.delayed_for,
            escalation=0.0,
            training=0.0,
            feedback=0.0,
        )

    def path_shares(self, priority: str) -> dict[str, float]:
        counts = self.paths.get(priority) if sum(self.paths.get(priority, Counter()).values()) >= MIN_PATHS else None
        counts = counts or self.paths.get("") or Counter()
        total = sum(counts.values())
        return {path: counts[path] / total for path in PATHS} if total else dict(Behaviour().paths)

    def summary(self) -> dict:
        """What was learned, as an auditor reads it (stored with the forecast)."""
        return {
            "task_samples": {title: len(minutes) for title, minutes in sorted(self.pick_up.items())},
            "task_median_minutes": {title: _median(m) for title, m in sorted(self.pick_up.items())},
            "paths": {p or "all": dict(sorted(c.items())) for p, c in sorted(self.paths.items())},
            "delayed": {"delayed": self.delayed[0], "passed_to_second_line": self.delayed[1]},
            "delayed_samples": len(self.delayed_for),
            "calls_to_draw_from": len(self.calls),
        }


def _resampled(rng: Random, minutes: tuple[float, ...], *, widened: bool = False) -> Sampled:
    """A bootstrap of ``minutes``; ``widened``: few of them, so all scaled by one random factor as well."""
    drawn = rng.choices(minutes, k=len(minutes))
    if widened and len(minutes) < MIN_SAMPLES:
        factor = math.exp(rng.gauss(0.0, WIDEN / math.sqrt(len(minutes))))
        drawn = [value * factor for value in drawn]
    return Sampled(tuple(drawn))


def _median(minutes: tuple[float, ...]) -> float:
    ordered = sorted(minutes)
    return round(ordered[len(ordered) // 2], 1) if ordered else 0.0


# --- reading the window --------------------------------------------------------------------------------


@dataclass
class _Call:
    created_at: datetime
    details: CallDetails | None = None
    override: tuple[str, str] | None = None
    priorities: list[tuple[datetime, str]] = field(default_factory=list)
    opened: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # task id -> (title, opened)
    done: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # (title, opened, completed)
    titles: set[str] = field(default_factory=set)
    delayed_at: list[datetime] = field(default_factory=list)
    resumed_at: list[datetime] = field(default_factory=list)
    resolved: bool = False

    def priority_at(self, moment: datetime) -> str:
        before = [p for at, p in self.priorities if at <= moment]
        return before[-1] if before else (self.priorities[0][1] if self.priorities else "")

    @property
    def path(self) -> str:
        return next((path for title, path in PATH_TASKS if title in self.titles), "first_line")


def learn(desk: Desk, start: datetime, as_of: datetime) -> Learned:
    """Learn from the calls logged from ``start`` to ``as_of``, reading nothing dated after ``as_of``."""
    calls = _read_calls(desk, start, as_of)
    calendar = desk.calendar
    pick_up: dict[str, list[float]] = defaultdict(list)
    by_priority: dict[tuple[str, str], list[float]] = defaultdict(list)
    paths: dict[str, Counter[str]] = defaultdict(Counter)
    delayed = passed = 0
    delayed_for: list[float] = []
    for call in calls:
        for title, opened, completed in call.done:
            if _delayed_between(call, opened, completed):
                continue  # its time open was the Delayed period's, learned below
            minutes = calendar.between(opened, completed).total_seconds() / 60
            pick_up[title].append(minutes)
            by_priority[(title, call.priority_at(opened))].append(minutes)
        delayed_for += _delayed_minutes(call, calendar)
        if call.resolved and call.details is not None and call.details.request_kind == "problem":
            final = call.priority_at(as_of)
            paths[final][call.path] += 1
            paths[""][call.path] += 1
            if call.path != "first_line":
                passed += 1
                delayed += bool(call.delayed_at)
    return Learned(
        pick_up={title: tuple(m) for title, m in pick_up.items() if m},
        pick_up_by_priority={key: tuple(m) for key, m in by_priority.items() if key[1] and len(m) >= MIN_BY_PRIORITY},
        paths=dict(paths),
        delayed=(delayed, passed),
        delayed_for=tuple(delayed_for),
        calls=tuple(_past_calls(calls, as_of)),
        short=tuple(_short(pick_up)),
    )


def _short(pick_up: dict[str, list[float]]) -> list[str]:
    return [
        f"{len(minutes)} completions of {title!r} to learn from (its times are widened at random)"
        for title, minutes in sorted(pick_up.items())
        if len(minutes) < MIN_SAMPLES
    ]


def _delayed_between(call: _Call, opened: datetime, completed: datetime) -> bool:
    return any(opened <= at <= completed for at in call.delayed_at)


def _delayed_minutes(call: _Call, calendar: WorkingCalendar) -> list[float]:
    found = []
    for went in call.delayed_at:
        back = next((at for at in call.resumed_at if at >= went), None)
        if back is not None:
            found.append(calendar.between(went, back).total_seconds() / 60)
    return found


def _past_calls(calls: list[_Call], as_of: datetime) -> list[PastCall]:
    return [
        PastCall(
            replace(call.details, campaign_at=None),
            call.details.campaign_at - call.created_at if call.details.campaign_at else None,
            call.override,
            call.priority_at(as_of),
        )
        for call in calls
        if call.details is not None
    ]


def _read_calls(desk: Desk, start: datetime, as_of: datetime) -> list[_Call]:
    kinds = ("call_logged", "priority_set", "task_opened", "task_completed", "call_delayed", "sla_resumed")
    with desk.db.reading() as session:
        tickets = session.execute(
            select(Ticket.id, Ticket.created_at).where(
                Ticket.kind == "call", Ticket.created_at >= start, Ticket.created_at < as_of
            )
        ).all()
        calls = {row.id: _Call(row.created_at) for row in tickets}
        events = session.execute(
            select(HistoryEvent.ticket_id, HistoryEvent.kind, HistoryEvent.at, HistoryEvent.payload)
            .join(Ticket, HistoryEvent.ticket_id == Ticket.id)
            .where(Ticket.kind == "call", Ticket.created_at >= start, Ticket.created_at < as_of)
            .where(HistoryEvent.at <= as_of, HistoryEvent.kind.in_((*kinds, "call_resolved")))
            .order_by(HistoryEvent.ticket_id, HistoryEvent.seq)
        )
        for ticket_id, kind, at, payload in events:
            if ticket_id in calls:
                _take(calls[ticket_id], kind, at, json.loads(payload))
    return sorted(calls.values(), key=lambda call: call.created_at)


def _take(call: _Call, kind: str, at: datetime, payload: dict) -> None:
    if kind == "call_logged":
        call.details = _details(payload)
    elif kind == "priority_set" and payload.get("priority"):
        call.priorities.append((at, payload["priority"]))
    elif kind == "task_opened":
        call.opened[payload.get("task_id", "")] = (payload.get("task", ""), at)
        call.titles.add(payload.get("task", ""))
    elif kind == "task_completed":
        title, opened = call.opened.pop(payload.get("task_id", ""), (payload.get("task", ""), None))
        if opened is not None:
            call.done.append((title, opened, at))
        data = payload.get("data") or {}
        if title == "Confirm priority" and data.get("priority"):
            call.override = (data["priority"], data.get("override_reason") or "As the history's triage did")
    elif kind == "call_delayed":
        call.delayed_at.append(at)
    elif kind == "sla_resumed":
        call.resumed_at.append(at)
    elif kind == "call_resolved":
        call.resolved = True


def _details(payload: dict) -> CallDetails | None:
    values = {name: payload[name] for name in LEARNED_FIELDS if name in payload}
    if payload.get("campaign_at"):
        values["campaign_at"] = datetime.fromisoformat(payload["campaign_at"])
    try:
        return CallDetails(**values)
    except TypeError:  # a call logged by an older desk, without a field: not drawn from
        return None
