"""SLA clock handlers (C12-C14, C21-C24) and the timer expression ``sla_due``.

The clocks count from the moment the call was logged; the diagrams say when
they stop, pause, resume or take a new priority. Each change is also written
to the ticket's history (C32).
"""

from __future__ import annotations

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.process.spiff import current_unit_of_work
from supportdesk.engine.tickets.instances import NEVER
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION

from . import expression, handler

# A timeDate must be a moment; a clock that is not running has none, and its
# timer is re-armed when it runs (on start, resume or re-grade).
NO_DEADLINE = NEVER.isoformat()


def _record(uow: UnitOfWork, kind: str, metric: str, reason: str = "") -> None:
    clock = uow.sla.clock(metric)
    uow.record(
        f"sla_{kind}",
        {
            "clock": metric,
            "priority": clock.priority if clock else None,
            "target": clock.target if clock else None,
            "due": local(clock.due_at).isoformat() if clock and clock.due_at else None,
            **({"reason": reason} if reason else {}),
        },
        actor="desk",
    )


@handler("start_sla_clocks")
def start_sla_clocks(uow: UnitOfWork, task: SpiffTask) -> None:
    """C12 and C06-C08: both clocks count from the logging moment; no resolution
    clock for Enhancement and Advice (C09, C10)."""
    priority = task.data.get("priority")
    for metric in (FIRST_RESPONSE, RESOLUTION):
        if uow.sla.start(metric, priority, uow.ticket.created_at) is not None:
            _record(uow, "started", metric)


@handler("stop_first_response_clock")
def stop_first_response_clock(uow: UnitOfWork, task: SpiffTask) -> None:
    if uow.sla.stop(FIRST_RESPONSE, uow.now) is not None:
        _record(uow, "stopped", FIRST_RESPONSE)


@handler("stop_resolution_clock")
def stop_resolution_clock(uow: UnitOfWork, task: SpiffTask) -> None:
    if uow.sla.stop(RESOLUTION, uow.now) is not None:
        _record(uow, "stopped", RESOLUTION)


@handler("pause_sla_clocks")
def pause_sla_clocks(uow: UnitOfWork, task: SpiffTask) -> None:
    """C23: while Delayed, the clocks do not count."""
    reason = str(task.data.get("delay_reason") or "")
    for clock in uow.sla.pause(uow.now, reason):
        _record(uow, "paused", clock.metric, reason)


@handler("resume_sla_clocks")
def resume_sla_clocks(uow: UnitOfWork, task: SpiffTask) -> None:
    """C24: work can progress again."""
    for clock in uow.sla.resume(uow.now, "re-opened"):
        _record(uow, "resumed", clock.metric)


@handler("regrade_sla")
def regrade_sla(uow: UnitOfWork, task: SpiffTask) -> None:
    """C21, C22: the resolution clock takes the new priority's target."""
    reason = str(task.data.get("regrade_reason") or "")
    if uow.sla.regrade(task.data["priority"], uow.now, reason) is not None:
        _record(uow, "regraded", RESOLUTION, reason)


@handler("record_first_response_breach")
def record_first_response_breach(uow: UnitOfWork, task: SpiffTask) -> None:
    """C14: a missed target is recorded, never hidden; the call goes on. (The engine records
    it too, at the same moment, if its timer came late: then this does nothing.)"""
    uow.record_breach(FIRST_RESPONSE)


@handler("record_resolution_breach")
def record_resolution_breach(uow: UnitOfWork, task: SpiffTask) -> None:
    uow.record_breach(RESOLUTION)


@expression
def sla_due(metric: str) -> str:
    """The running clock's due moment as an ISO string, for a ``timeDate`` timer; a clock that
    has not started, is paused or has stopped has none (the timer is re-armed when it runs)."""
    uow = current_unit_of_work()
    clock = uow.sla.clock(metric) if uow is not None else None
    if clock is None or clock.state != "running" or clock.due_at is None:
        return NO_DEADLINE
    return clock.due_at.isoformat()


@expression
def next_working_day() -> str:
    """The same working moment on the next working day (C26: daily progress updates)."""
    uow = current_unit_of_work()
    return uow.desk.calendar.add_days(uow.now, 1).isoformat()


@expression
def working_days_from_now(days: int) -> str:
    """The same working moment ``days`` working days on (e.g. how long feedback is awaited)."""
    uow = current_unit_of_work()
    return uow.desk.calendar.add_days(uow.now, int(days)).isoformat()


@expression
def call_is_open() -> bool:
    """Whether the call is still being worked on (not yet resolved), for gateways."""
    return current_unit_of_work().ticket.status in ("open", "delayed")
