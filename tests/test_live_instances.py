"""Instances kept live between commands (``LiveInstances``): a command on a ticket this process saved
last skips reading its state, and that never shows: a command that rolls back leaves nothing of what it
did to the instance, another process moving the ticket on is seen, and data that would not read back as
it was written is read from the store."""

from __future__ import annotations

import contextlib

import pytest

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError
from supportdesk.engine.oversight import audit
from supportdesk.engine.tickets import commands
from supportdesk.engine.tickets.instances import find_ticket, load_workflow
from supportdesk.engine.tickets.unit_of_work import joining
from supportdesk.handlers import REGISTRY

from conftest import open_test_desk
from helpers import FIRST_RESPONSE, RESOLUTION, do, log_and_triage, log_call, open_task, open_titles


@pytest.fixture
def desks(any_store_url, frozen_clock):
    """Two desks on one store: two processes' worth of live instances."""
    first = open_test_desk(any_store_url)
    commands.deploy(first, actor="test")
    second = Desk(first.settings, REGISTRY)
    yield first, second
    first.close()
    second.close()


def _state(desk, reference: str) -> str:
    with desk.db.reading() as session:
        return find_ticket(session, reference).state


def _as_stored(desk, reference: str) -> str:
    """The ticket's instance read from its state and written again: what a fresh process would hold."""
    state = _state(desk, reference)
    with desk.db.reading() as session:
        return desk.process_engine.dumps(load_workflow(session, desk, state))


def test_c05_the_next_command_takes_the_instance_live_and_saves_what_a_fresh_read_would(desks):
    """C05 (triage then first response): the second command runs on the instance the first kept."""
    desk, _ = desks
    live = desk.process_engine.live
    reference = log_and_triage(desk)
    hits = live.hits
    do(desk, reference, "First level response", FIRST_RESPONSE)
    assert live.hits == hits + 1
    assert open_titles(desk, reference) == ["Resolve call (second line)"]
    assert _state(desk, reference) == _as_stored(desk, reference)


def test_a_command_rolled_back_after_running_the_instance_leaves_nothing_of_it_live(desks):
    """The triage ran on the live instance, then the transaction failed: the call still waits for its
    triage, and confirming it again runs from the stored state."""
    desk, _ = desks
    reference = log_call(desk)
    before = _state(desk, reference)

    @contextlib.contextmanager
    def failing_commit(_session):
        yield
        raise RuntimeError("the store went away before the commit")

    with pytest.raises(RuntimeError), joining(failing_commit):
        do(desk, reference, "Confirm priority")
    assert _state(desk, reference) == before
    assert open_titles(desk, reference) == ["Confirm priority"]
    assert len(desk.process_engine.live) == 0
    misses = desk.process_engine.live.misses
    do(desk, reference, "Confirm priority")
    assert desk.process_engine.live.misses == misses + 1
    assert open_titles(desk, reference) == ["First level response"]


def test_another_process_moving_the_ticket_on_is_seen_by_this_one(desks):
    """Process one keeps the instance after triage; process two does the first response; process one
    then sees the second-line task (it reads the state, not its stale live instance)."""
    first, second = desks
    reference = log_and_triage(first)
    do(second, reference, "First level response", FIRST_RESPONSE)
    misses = first.process_engine.live.misses
    do(first, reference, "Resolve call (second line)", RESOLUTION, actor="sam")
    assert first.process_engine.live.misses == misses + 1
    assert open_titles(first, reference) == []
    assert _state(first, reference) == _as_stored(first, reference)


def test_a_form_made_stale_by_another_process_is_refused_and_nothing_live_is_used(desks):
    """Process one opened the first response at the triage's revision; process two completed it; process
    one's form is refused (nothing saved), and its next command runs on the state process two saved."""
    first, second = desks
    reference = log_and_triage(first)
    task = open_task(first, reference, "First level response")
    with first.db.reading() as session:
        revision = find_ticket(session, reference).revision
    commands.claim_task(first, commands.ClaimTask(task.task_id), "alice")  # the instance is not touched
    do(second, reference, "First level response", FIRST_RESPONSE, actor="alice")
    with pytest.raises(ConflictError):
        commands.complete_task(
            first, commands.CompleteTask(task.task_id, FIRST_RESPONSE, expected_revision=revision), "alice"
        )
    assert open_titles(first, reference) == ["Resolve call (second line)"]
    do(first, reference, "Resolve call (second line)", RESOLUTION, actor="sam")
    assert open_titles(first, reference) == []
    assert _state(first, reference) == _as_stored(first, reference)


def test_data_that_would_not_read_back_as_written_is_not_kept_live(desk):
    """A set in the instance's data is stored as a list: the next command reads the list, as a
    command in any other process would, not the set."""
    reference = log_and_triage(desk)
    engine = desk.process_engine
    with desk.db.reading() as session:
        workflow = load_workflow(session, desk, _state(desk, reference))
    engine.dumps(workflow)
    assert engine.round_trips()
    workflow.data["labels"] = {"urgent"}
    engine.dumps(workflow)
    assert not engine.round_trips()
    workflow.data["labels"] = ["urgent"]
    engine.dumps(workflow)
    assert engine.round_trips()
    workflow.data[7] = "a key that is not a string"
    engine.dumps(workflow)
    assert not engine.round_trips()


def test_tickets_run_on_live_instances_replay_exactly(desks):
    """The audit replays every ticket from its history, reading no live instance: the same outcome."""
    desk, _ = desks
    references = [log_and_triage(desk) for _ in range(3)]
    for reference in references[:2]:
        do(desk, reference, "First level response", FIRST_RESPONSE)
    do(desk, references[0], "Resolve call (second line)", RESOLUTION, actor="sam")
    assert desk.process_engine.live.hits >= 5
    for reference in references:
        result = audit.replay(desk, reference)
        assert result.same, result.differences
