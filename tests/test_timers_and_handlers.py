"""Timers fire at the clock's moment through the worker; handlers fail loudly
and all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import HandlerError
from supportdesk.engine.store.models import Job, Ticket
from supportdesk.engine.tickets import commands, queries
from supportdesk.handlers import HANDLERS

from conftest import TEST_DIAGRAMS, open_test_desk
from helpers import ANN, history_kinds, log_call, open_task


@pytest.fixture
def timer_desk(sqlite_url, frozen_clock):
    desk = open_test_desk(sqlite_url, TEST_DIAGRAMS / "timer")
    commands.deploy(desk)
    yield desk
    desk.close()


def due_jobs(desk) -> list[Job]:
    with desk.db.reading() as session:
        return list(session.query(Job).all())


def test_a_waiting_timer_is_stored_as_a_job_due_at_its_moment(timer_desk, frozen_clock):
    log_call(timer_desk)
    [job] = due_jobs(timer_desk)
    assert job.kind == "timer"
    assert job.due_at == frozen_clock.now() + timedelta(hours=1)


def test_the_worker_fires_a_timer_only_once_it_is_due(timer_desk, frozen_clock):
    reference = log_call(timer_desk)
    worker = Worker(timer_desk)
    frozen_clock.advance(timedelta(minutes=59))
    assert worker.run_once() == 0
    frozen_clock.advance(timedelta(minutes=1, seconds=1))
    assert worker.run_once() == 1
    assert worker.run_once() == 0  # fired once, never twice

    chase = open_task(timer_desk, reference, "Chase the response")
    assert chase.created_at == frozen_clock.now()
    open_task(timer_desk, reference, "First level response")  # non-interrupting: still open
    assert due_jobs(timer_desk) == []
    assert history_kinds(timer_desk, reference)[-2:] == ["timer_fired", "task_opened"]


def test_completing_the_task_first_cancels_its_timer_job(timer_desk, frozen_clock):
    reference = log_call(timer_desk)
    commands.complete_task(
        timer_desk, commands.CompleteTask(open_task(timer_desk, reference, "First level response").task_id, {}), "alice"
    )
    assert due_jobs(timer_desk) == []
    assert queries.ticket_view(timer_desk, reference).status == "closed"


def test_the_spiffworkflow_timer_reads_our_clock_not_the_wall_clock(timer_desk, frozen_clock):
    """Two hours ahead on the simulated clock, with no time passing for real."""
    reference = log_call(timer_desk)
    frozen_clock.advance(timedelta(hours=2))
    assert commands.fire_due_timers(timer_desk) == 1
    open_task(timer_desk, reference, "Chase the response")


def test_a_failing_handler_names_the_task_and_writes_nothing(sqlite_url, frozen_clock, monkeypatch):
    def explode(uow, task):
        raise RuntimeError("CRM unreachable")

    monkeypatch.setitem(HANDLERS, "explode", explode)
    desk = open_test_desk(sqlite_url, TEST_DIAGRAMS / "failing_handler")
    commands.deploy(desk)
    with pytest.raises(HandlerError) as raised:
        commands.log_call(desk, ANN, "alice")
    message = str(raised.value)
    assert "task Reference" in message
    assert "'explode' failed: RuntimeError: CRM unreachable" in message
    assert "NameError" not in message
    with desk.db.reading() as session:
        assert session.query(Ticket).count() == 0


def test_a_diagram_calling_an_unregistered_handler_cannot_be_deployed(sqlite_url, frozen_clock):
    desk = open_test_desk(sqlite_url, TEST_DIAGRAMS / "failing_handler")
    with pytest.raises(Exception, match="unknown handler 'explode'"):
        commands.deploy(desk)
