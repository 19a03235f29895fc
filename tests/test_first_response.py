"""C12-C14 on the real diagram: the first level response is guarded by the
first-response clock's working-time deadline; a breach is recorded once and
the call goes on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.util.task import TaskState

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.store.models import Job, SlaClock
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.instances import find_ticket, load_workflow
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE as FIRST_RESPONSE_CLOCK

from helpers import FIRST_RESPONSE, history_kinds, log_and_triage, open_task


def first_response_clock(desk, reference) -> SlaClock:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return session.query(SlaClock).filter_by(ticket_id=ticket.id, metric=FIRST_RESPONSE_CLOCK).one()


def resolution_due(desk, reference):
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return session.query(SlaClock).filter_by(ticket_id=ticket.id, metric="resolution").one().due_at


def timer_jobs(desk) -> list[Job]:
    with desk.db.reading() as session:
        return session.query(Job).filter_by(kind="timer").all()


def test_C12_an_answer_within_the_hour_stops_the_clock_and_its_timer(desk, frozen_clock):
    reference = log_and_triage(desk)
    # Both clocks are watched from the start (C14): the first response's deadline and the resolution's.
    assert sorted(job.due_at for job in timer_jobs(desk)) == [
        frozen_clock.now() + timedelta(hours=1),
        resolution_due(desk, reference),
    ]
    frozen_clock.advance(timedelta(minutes=45))
    commands.complete_task(
        desk, commands.CompleteTask(open_task(desk, reference, "First level response").task_id, FIRST_RESPONSE), "alice"
    )
    clock = first_response_clock(desk, reference)
    assert clock.state == "stopped"
    assert clock.breached_at is None
    assert [job.due_at for job in timer_jobs(desk)] == [resolution_due(desk, reference)]


def test_C12_the_first_public_reply_in_the_conversation_stops_the_clock_and_its_timer(desk, frozen_clock):
    reference = log_and_triage(desk)
    frozen_clock.advance(timedelta(minutes=30))
    conversation.add_note(desk, conversation.Note(reference, "Looking at the import log"), "alice")
    assert first_response_clock(desk, reference).state == "running"  # an internal note answers nobody

    conversation.add_reply(desk, conversation.Reply(reference, "We are on it: the import stopped at row 12"), "alice")
    clock = first_response_clock(desk, reference)
    assert clock.state == "stopped"
    assert clock.stopped_at == frozen_clock.now()
    assert clock.breached_at is None
    assert [job.due_at for job in timer_jobs(desk)] == [resolution_due(desk, reference)]
    # The task is still there for first line to choose the next step; completing it changes no clock.
    frozen_clock.advance(timedelta(hours=2))
    commands.complete_task(
        desk, commands.CompleteTask(open_task(desk, reference, "First level response").task_id, FIRST_RESPONSE), "alice"
    )
    assert first_response_clock(desk, reference).stopped_at == frozen_clock.now() - timedelta(hours=2)
    assert history_kinds(desk, reference).count("sla_stopped") == 1


def test_C12_a_call_back_recorded_in_the_conversation_is_a_first_level_response(desk, frozen_clock):
    reference = log_and_triage(desk)
    frozen_clock.advance(timedelta(minutes=50))
    conversation.log_call_back(desk, conversation.CallBack(reference, "Rang Ann: the campaign is queued"), "alice")
    clock = first_response_clock(desk, reference)
    assert clock.state == "stopped"
    assert clock.breached_at is None


def test_C12_C14_a_reply_after_the_deadline_keeps_the_breach_dated_at_the_deadline(desk, frozen_clock):
    reference = log_and_triage(desk)
    due = first_response_clock(desk, reference).due_at
    frozen_clock.advance(timedelta(hours=3))  # the worker was down: the timer did not fire on time
    conversation.add_reply(desk, conversation.Reply(reference, "Sorry for the wait"), "alice")
    clock = first_response_clock(desk, reference)
    assert clock.state == "stopped"
    assert clock.breached_at == due


def test_C12_C13_a_call_logged_on_saturday_is_due_for_first_response_monday_0930(desk, frozen_clock):
    frozen_clock.set(datetime(2026, 11, 21, 11, 0, tzinfo=UTC))
    reference = log_and_triage(desk)
    assert local(first_response_clock(desk, reference).due_at).strftime("%a %d %b %H:%M") == "Mon 23 Nov 09:30"
    first = min(job.due_at for job in timer_jobs(desk))
    assert local(first).strftime("%a %H:%M") == "Mon 09:30"
    assert queries.ticket_view(desk, reference).status == "open"


def test_C12_C14_a_missed_first_response_is_recorded_once_and_the_call_goes_on(desk, frozen_clock):
    frozen_clock.set(datetime(2026, 11, 20, 17, 30, tzinfo=UTC))  # Friday, 30 minutes before closing
    reference = log_and_triage(desk)
    worker = Worker(desk)
    frozen_clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday: exactly due
    assert worker.run_once() == 0
    frozen_clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 1
    assert worker.run_once() == 0

    assert history_kinds(desk, reference).count("sla_breached") == 1
    clock = first_response_clock(desk, reference)
    # Noticed a second after 09:00, dated at the due moment (C14).
    assert clock.breached_at == frozen_clock.now() - timedelta(seconds=1)
    assert clock.state == "running"
    frozen_clock.advance(timedelta(minutes=10))
    commands.complete_task(
        desk, commands.CompleteTask(open_task(desk, reference, "First level response").task_id, FIRST_RESPONSE), "alice"
    )
    open_task(desk, reference, "Resolve call (second line)")  # the call goes on (C14)
    clock = first_response_clock(desk, reference)
    assert clock.state == "stopped"
    assert clock.breached_at is not None


def test_C12_C32_a_reply_on_one_call_changes_nothing_in_the_next_calls_instance(desk):
    """SpiffWorkflow wires a message-started event subprocess into the process's *spec* the first time a
    message starts one; the desk wires it when it parses (engine/process/event_subprocesses.py), so a call
    logged before any reply and one logged after are the same instance, and replay on a fresh store agrees."""

    def shape(reference):
        with desk.db.reading() as session:
            workflow = load_workflow(session, desk, find_ticket(session, reference).state)
            return Counter((task.task_spec.name, task.state) for task in workflow.get_tasks())

    before = log_and_triage(desk)
    answered = log_and_triage(desk)
    conversation.add_reply(desk, conversation.Reply(answered, "We are on it"), "alice")
    after = log_and_triage(desk)
    assert shape(before) == shape(after)
    assert ("Start_public_reply", TaskState.WAITING) in shape(after)
