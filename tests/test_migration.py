"""Process owners change the process: open tickets move to a new diagram version, their SLA
deadlines and waiting timers kept, or are refused (untouched) with the reason."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from supportdesk.cli.migrate import migrate as migrate_command
from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import NotAllowed, NotFound
from supportdesk.engine.oversight import audit
from supportdesk.engine.store.models import Job, WorkTask
from supportdesk.engine.tickets import commands, migration, queries
from supportdesk.engine.tickets.instances import find_ticket, timer_due, waiting_timers
from supportdesk.engine.tickets.sla_clocks import SlaClocks

from conftest import WORKFLOWS
from helpers import (
    FIRST_RESPONSE,
    RESOLUTION,
    RESOLVED_STRAIGHT_AWAY,
    delay_for_information,
    do,
    edited,
    events,
    log_and_triage,
    log_call,
    open_task,
    open_titles,
)
from web_client import desk_app, text, token, use_quick_password_hashes
from web_client import signed_in as signed_in_client

SHIPPED = (WORKFLOWS / "support_call.bpmn").read_text()


def cut(text: str, pattern: str) -> str:
    """``text`` without the one block that ``pattern`` (a regular expression) matches."""
    found = re.findall(pattern, text, flags=re.S)
    assert len(found) == 1, f"{pattern!r} should match once, matched {len(found)}"
    return text.replace(found[0], "")


# Version 2: first line checks its answer before the outcome is recorded (with its layout,
# so it deploys without a warning).
WITH_CHECK = edited(
    SHIPPED,
    (
        "<bpmn:flowNodeRef>Task_first_level_response</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_first_level_response</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>Task_check_answer</bpmn:flowNodeRef>",
    ),
    (
        '    <bpmn:serviceTask id="Task_check_first_line_outcome"',
        '    <bpmn:userTask id="Task_check_answer" name="Check the answer" camunda:formKey="check_answer">\n'
        "      <bpmn:documentation>First line reads its answer again before it goes out.</bpmn:documentation>\n"
        "      <bpmn:incoming>Flow_response_to_outcome</bpmn:incoming>\n"
        "      <bpmn:outgoing>Flow_check_answer_to_outcome</bpmn:outgoing>\n"
        "    </bpmn:userTask>\n"
        '    <bpmn:serviceTask id="Task_check_first_line_outcome"',
    ),
    (
        "<bpmn:incoming>Flow_response_to_outcome</bpmn:incoming>\n      <bpmn:outgoing>Flow_outcome_to_stop_clock",
        "<bpmn:incoming>Flow_check_answer_to_outcome</bpmn:incoming>\n      <bpmn:outgoing>Flow_outcome_to_stop_clock",
    ),
    (
        'sourceRef="Task_first_level_response" targetRef="Task_check_first_line_outcome" />',
        'sourceRef="Task_first_level_response" targetRef="Task_check_answer" />\n'
        '    <bpmn:sequenceFlow id="Flow_check_answer_to_outcome" sourceRef="Task_check_answer" '
        'targetRef="Task_check_first_line_outcome" />',
    ),
    (
        '<bpmndi:BPMNShape id="Task_check_first_line_outcome_di"',
        '<bpmndi:BPMNShape id="Task_check_answer_di" bpmnElement="Task_check_answer">\n'
        '        <dc:Bounds x="1184" y="575" width="100" height="80" />\n'
        "      </bpmndi:BPMNShape>\n"
        '      <bpmndi:BPMNShape id="Task_check_first_line_outcome_di"',
    ),
    (
        '<bpmndi:BPMNEdge id="Flow_response_to_outcome_di" bpmnElement="Flow_response_to_outcome">\n'
        '        <di:waypoint x="1094" y="655" />\n'
        '        <di:waypoint x="1094" y="810" />\n'
        "      </bpmndi:BPMNEdge>",
        '<bpmndi:BPMNEdge id="Flow_response_to_outcome_di" bpmnElement="Flow_response_to_outcome">\n'
        '        <di:waypoint x="1144" y="615" />\n'
        '        <di:waypoint x="1184" y="615" />\n'
        "      </bpmndi:BPMNEdge>\n"
        '      <bpmndi:BPMNEdge id="Flow_check_answer_to_outcome_di" bpmnElement="Flow_check_answer_to_outcome">\n'
        '        <di:waypoint x="1234" y="655" />\n'
        '        <di:waypoint x="1234" y="730" />\n'
        '        <di:waypoint x="1094" y="730" />\n'
        '        <di:waypoint x="1094" y="810" />\n'
        "      </bpmndi:BPMNEdge>",
    ),
)

# A version without third-line advice: second line resolves or passes the call on.
WITHOUT_ADVICE = edited(
    SHIPPED,
    ("        <bpmn:flowNodeRef>Task_third_line_advice</bpmn:flowNodeRef>\n", ""),
    ("      <bpmn:outgoing>Flow_to_third_line_advice</bpmn:outgoing>\n", ""),
    ("      <bpmn:incoming>Flow_advice_back_to_second_line</bpmn:incoming>\n", ""),
    (
        '    <bpmn:sequenceFlow id="Flow_advice_back_to_second_line" sourceRef="Task_third_line_advice" '
        'targetRef="Task_second_line" />\n',
        "",
    ),
)
for _pattern in (
    r'    <bpmn:userTask id="Task_third_line_advice".*?</bpmn:userTask>\n',
    r'    <bpmn:sequenceFlow id="Flow_to_third_line_advice".*?</bpmn:sequenceFlow>\n',
    r'      <bpmndi:BPMNShape id="Task_third_line_advice_di".*?</bpmndi:BPMNShape>\n',
    r'      <bpmndi:BPMNEdge id="Flow_to_third_line_advice_di".*?</bpmndi:BPMNEdge>\n',
    r'      <bpmndi:BPMNEdge id="Flow_advice_back_to_second_line_di".*?</bpmndi:BPMNEdge>\n',
):
    WITHOUT_ADVICE = cut(WITHOUT_ADVICE, _pattern)

# Feedback is awaited three working days instead of five: the timer itself changed.
SHORTER_FEEDBACK_WINDOW = edited(SHIPPED, ("working_days_from_now(5)", "working_days_from_now(3)"))
# Version 2: first line notes why a call is delayed before its clocks pause (a step after an element
# every open call waits at from its start).
NOTE_THE_DELAY = edited(
    SHIPPED,
    (
        "<bpmn:flowNodeRef>Task_first_level_response</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_first_level_response</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>Task_note_the_delay</bpmn:flowNodeRef>",
    ),
    ("<bpmn:outgoing>Flow_delayed_to_regrade</bpmn:outgoing>", "<bpmn:outgoing>Flow_delayed_to_note</bpmn:outgoing>"),
    (
        '<bpmn:serviceTask id="Task_set_delayed"',
        '<bpmn:userTask id="Task_note_the_delay" name="Note the delay" camunda:formKey="note_the_delay">\n'
        "      <bpmn:incoming>Flow_delayed_to_note</bpmn:incoming>\n"
        "      <bpmn:outgoing>Flow_delayed_to_regrade</bpmn:outgoing>\n"
        "    </bpmn:userTask>\n"
        '    <bpmn:serviceTask id="Task_set_delayed"',
    ),
    (
        '<bpmn:sequenceFlow id="Flow_delayed_to_regrade" sourceRef="Event_call_delayed"',
        '<bpmn:sequenceFlow id="Flow_delayed_to_note" sourceRef="Event_call_delayed" '
        'targetRef="Task_note_the_delay" />\n'
        '    <bpmn:sequenceFlow id="Flow_delayed_to_regrade" sourceRef="Task_note_the_delay"',
    ),
    (
        "    </bpmndi:BPMNPlane>",
        '      <bpmndi:BPMNShape id="Task_note_the_delay_di" bpmnElement="Task_note_the_delay">\n'
        '        <dc:Bounds x="20" y="20" width="100" height="80" />\n'
        "      </bpmndi:BPMNShape>\n"
        '      <bpmndi:BPMNEdge id="Flow_delayed_to_note_di" bpmnElement="Flow_delayed_to_note">\n'
        '        <di:waypoint x="0" y="60" />\n'
        '        <di:waypoint x="20" y="60" />\n'
        "      </bpmndi:BPMNEdge>\n"
        "    </bpmndi:BPMNPlane>",
    ),
)
RENAMED_TRIAGE = edited(SHIPPED, ('name="Confirm priority"', 'name="Confirm the priority"'))


def deploy(desk, tmp_path, text: str, name: str) -> int:
    folder = tmp_path / name
    shutil.copytree(WORKFLOWS, folder)
    (folder / "support_call.bpmn").write_text(text)
    result = commands.deploy(desk, folder, actor="owner")
    assert result.outcome == "deployed", result.warnings
    assert result.warnings == ()
    return result.number


def london(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)  # November and December: London is on GMT


# --- what must not move -----------------------------------------------------------------------------


def sla_clocks(desk, reference: str) -> dict:
    with desk.db.reading() as session:
        clocks = SlaClocks(session, find_ticket(session, reference), desk.calendar, desk.sla_policy)
        return {
            c.metric: {
                "state": c.state,
                "priority": c.priority,
                "due_at": c.due_at,
                "breached_at": c.breached_at,
                "stopped_at": c.stopped_at,
                "segments": [(s.kind, s.at, s.priority, s.budget) for s in clocks.segments(c)],
            }
            for c in clocks.clocks()
        }


def timer_jobs(desk, reference: str) -> dict[str, datetime]:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return {
            job.task_id: job.due_at
            for job in session.scalars(select(Job).where(Job.ticket_id == ticket.id, Job.kind == "timer"))
        }


def waiting(desk, reference: str) -> dict[str, datetime]:
    """The instance's own view: each waiting timer's element and absolute due moment."""
    with desk.db.reading() as session:
        workflow = desk.process_engine.loads(find_ticket(session, reference).state)
    return {task.task_spec.bpmn_id: timer_due(task) for task, _due in waiting_timers(workflow)}


def inbox_rows(desk, reference: str) -> set[tuple]:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return {
            (row.id, row.element_id, row.title, row.role, row.claimed_by)
            for row in session.scalars(select(WorkTask).where(WorkTask.ticket_id == ticket.id))
        }


def stored(desk, reference: str) -> tuple:
    with desk.db.reading() as session:
        ticket = find_ticket(session, reference)
        return ticket.version_id, ticket.revision, ticket.state


def fired(desk, reference: str) -> list[tuple[str, str]]:
    return [(e.payload["element"], e.payload["due_at"]) for e in events(desk, reference, "timer_fired")]


# --- the first demonstration -----------------------------------------------------------------


def test_tickets_waiting_at_several_points_move_to_a_version_with_a_new_step_and_keep_every_due_moment(
    desk, frozen_clock, tmp_path
):
    # Monday: a High call whose resolution target passes overnight: daily progress updates follow.
    breached = log_call(desk)
    do(desk, breached, "Confirm priority", {"priority": "High", "override_reason": "Campaign tomorrow"})
    do(desk, breached, "First level response", FIRST_RESPONSE)
    frozen_clock.set(london(2026, 11, 24, 9, 0))  # Tuesday
    Worker(desk).run_once()
    # Its resolution was breached (daily updates wait); its first response clock stopped: that watch waits forever.
    assert set(waiting(desk, breached)) == {"Event_next_working_day", "Start_first_response_due"}

    at_triage = log_call(desk)
    at_response = log_and_triage(desk)
    at_second_line = log_and_triage(desk)
    do(desk, at_second_line, "First level response", FIRST_RESPONSE)
    commands.claim_task(
        desk, commands.ClaimTask(open_task(desk, at_second_line, "Resolve call (second line)").task_id), "sam"
    )
    awaiting_feedback = log_and_triage(desk)
    do(desk, awaiting_feedback, "First level response", RESOLVED_STRAIGHT_AWAY)
    delayed = log_and_triage(desk)
    do(desk, delayed, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, delayed)
    escalation = commands.start_escalation(
        desk, commands.StartEscalation("Nobody called back", call_reference=at_second_line), "amy"
    )
    tickets = [breached, at_triage, at_response, at_second_line, awaiting_feedback, delayed, escalation]

    frozen_clock.set(london(2026, 11, 24, 9, 30))
    assert deploy(desk, tmp_path, WITH_CHECK, "v2") == 2
    before = {
        ref: (sla_clocks(desk, ref), timer_jobs(desk, ref), waiting(desk, ref), inbox_rows(desk, ref))
        for ref in tickets
    }
    never = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # the clocks stopped: their watches wait for nothing
    assert waiting(desk, awaiting_feedback) == {
        "Gateway_feedback": london(2026, 12, 1, 9, 0),
        "Start_first_response_due": never,
        "Start_resolution_due": never,
    }
    assert waiting(desk, at_response)["Start_first_response_due"] == london(2026, 11, 24, 10, 0)

    # Later (re-evaluating now would give other moments): first the dry run, which changes nothing.
    frozen_clock.set(london(2026, 11, 24, 9, 45))
    report = {r.reference: r for r in migration.plan(desk, 2)}
    assert set(report) == set(tickets)
    assert {r.outcome for r in report.values()} == {migration.SAFE}, [r.reasons for r in report.values()]
    assert report[at_response].changes.added == ("Task_check_answer",)
    assert report[at_response].at == (
        "Customer answered",
        "First level response",
        "First response due",
        "First response overdue",
        "Public reply or call-back",
        "Resolution target missed",
        "Resolution target reached",
    )  # the SLA watches, and the watch for the first public reply (C12)
    feedback_timer = next(t for t in report[awaiting_feedback].timers if t.element == "Gateway_feedback")
    assert (feedback_timer.was, feedback_timer.due, feedback_timer.re_evaluated) == (
        london(2026, 12, 1, 9, 0),
        london(2026, 12, 1, 9, 0),
        False,
    )
    assert report[escalation].changes == migration.DiagramChanges()
    assert {ref: stored(desk, ref)[0] for ref in tickets} == dict.fromkeys(tickets, 1)

    results = migration.migrate(desk, 2, actor="pat")
    assert [(r.reference, r.outcome) for r in results] == [(ref, migration.MIGRATED) for ref in tickets]

    for ref in tickets:
        assert queries.ticket_view(desk, ref).diagram_version == 2
        clocks, jobs, timers, rows = before[ref]
        assert sla_clocks(desk, ref) == clocks, ref  # segments, due moments, breaches
        assert timer_jobs(desk, ref) == jobs, ref  # the same timers, due at the same moments
        assert waiting(desk, ref) == timers, ref
        assert inbox_rows(desk, ref) == rows, ref  # same task ids, titles and claims
        (moved,) = events(desk, ref, "ticket_migrated")
        assert (moved.at, moved.actor) == (london(2026, 11, 24, 9, 45), "pat")
        assert (moved.payload["from"], moved.payload["to"], moved.payload["by"]) == (1, 2, "pat")
    assert events(desk, at_response, "ticket_migrated")[0].payload["changed"]["added"] == ["Task_check_answer"]
    assert "Task_check_answer" in queries.ticket_diagram(desk, at_response).bpmn_xml

    # They continue on the new path.
    do(desk, at_response, "First level response", FIRST_RESPONSE)
    assert open_titles(desk, at_response) == ["Check the answer"]
    do(desk, at_response, "Check the answer")
    assert open_titles(desk, at_response) == ["Resolve call (second line)"]
    do(desk, at_triage, "Confirm priority")
    do(desk, at_triage, "First level response", RESOLVED_STRAIGHT_AWAY)
    assert open_titles(desk, at_triage) == ["Check the answer"]
    assert sla_clocks(desk, at_triage)["first_response"]["state"] == "running"  # stops once checked (new path)
    do(desk, at_triage, "Check the answer")
    assert sla_clocks(desk, at_triage)["first_response"]["state"] == "stopped"
    do(desk, at_second_line, "Resolve call (second line)", RESOLUTION, "sam")
    commands.deliver_message(desk, commands.DeliverMessage(delayed, "information_received", {}), "mail")
    assert sla_clocks(desk, delayed)["resolution"]["state"] == "running"
    do(desk, escalation, "Bring the concern to the Customer Services Manager", {"concern": "No call back"}, "amy")

    # The waiting timers fire at their original moments, not re-evaluated at the migration.
    frozen_clock.set(london(2026, 11, 25, 9, 1))  # Wednesday: the next working day after Tuesday 09:00
    Worker(desk).run_once()
    assert ("Event_next_working_day", "2026-11-25T09:00:00+00:00") in fired(desk, breached)
    frozen_clock.set(london(2026, 12, 1, 8, 59))
    Worker(desk).run_once()
    assert queries.ticket_view(desk, awaiting_feedback).status == "resolved"  # feedback still awaited
    frozen_clock.set(london(2026, 12, 1, 9, 1))
    Worker(desk).run_once()
    assert ("Gateway_feedback", "2026-12-01T09:00:00+00:00") in fired(desk, awaiting_feedback)
    assert queries.ticket_view(desk, awaiting_feedback).status == "closed"

    # The audit replays them across the migration to what is stored.
    every = audit.references(desk)  # the migrated tickets among the others, as `audit replay --all` meets them
    assert {r.reference: r.differences for r in audit.replay_all(desk, every)} == {ref: [] for ref in every}


# --- the second demonstration ----------------------------------------------------------------


def test_a_version_removing_the_element_a_ticket_is_in_is_refused_for_that_ticket_with_the_reason(
    desk, frozen_clock, tmp_path
):
    at_second_line = log_and_triage(desk)
    do(desk, at_second_line, "First level response", FIRST_RESPONSE)
    at_advice = log_and_triage(desk)
    do(desk, at_advice, "First level response", FIRST_RESPONSE)
    do(
        desk,
        at_advice,
        "Resolve call (second line)",
        {**RESOLUTION, "next_step": "ask_third_line", "handover_reason": "Known bug?"},
    )
    assert open_titles(desk, at_advice) == ["Advise second line"]
    advised = log_and_triage(desk)
    do(desk, advised, "First level response", FIRST_RESPONSE)
    do(
        desk,
        advised,
        "Resolve call (second line)",
        {**RESOLUTION, "next_step": "ask_third_line", "handover_reason": "Known bug?"},
    )
    do(desk, advised, "Advise second line", {"advice": "Yes, fixed in 4.2"})
    untouched = {ref: stored(desk, ref) for ref in (at_advice, advised)}
    assert deploy(desk, tmp_path, WITHOUT_ADVICE, "v2") == 2

    report = {r.reference: r for r in migration.plan(desk, 2)}
    assert report[at_second_line].outcome == migration.SAFE
    assert report[at_advice].outcome == migration.UNSAFE
    assert report[at_advice].reasons == (
        "the ticket is at \u201cAdvise second line\u201d (Task_third_line_advice), which version 2 no longer has",
    )
    assert report[advised].outcome == migration.UNSAFE
    assert any(
        "has done \u201cAdvise second line\u201d (Task_third_line_advice)" in reason
        for reason in report[advised].reasons
    )
    assert report[at_advice].changes.removed == ("Task_third_line_advice",)

    results = {r.reference: r for r in migration.migrate(desk, 2, actor="pat")}
    assert results[at_second_line].outcome == migration.MIGRATED
    assert results[at_advice].outcome == results[advised].outcome == migration.UNSAFE
    for ref in (at_advice, advised):
        assert stored(desk, ref) == untouched[ref]  # version, revision and instance untouched
        assert events(desk, ref, "ticket_migrated") == []
    with pytest.raises(NotAllowed, match="Task_third_line_advice"):
        migration.migrate_ticket(desk, at_advice, 2, "pat")
    do(desk, at_advice, "Advise second line", {"advice": "Still on version 1"})
    assert open_titles(desk, at_advice) == ["Resolve call (second line)"]


def test_a_timer_already_due_or_fired_before_the_migration_keeps_its_moment(desk, frozen_clock, tmp_path):
    """A breached first response (its branch ended) and one whose timer fell due while the worker was
    behind: both move, and the overdue timer fires as due at its own moment, on the new version."""
    breached = log_and_triage(desk)
    frozen_clock.set(london(2026, 11, 23, 11, 5))
    Worker(desk).run_once()  # the first response of `breached` is overdue: breach recorded, first line alerted
    lagging = log_and_triage(desk)  # its first response is due at 12:05
    frozen_clock.set(london(2026, 11, 23, 12, 30))  # ... and the worker has not fired it yet
    deploy(desk, tmp_path, WITH_CHECK, "v2")

    assert [r.outcome for r in migration.migrate(desk, 2, actor="pat")] == [migration.MIGRATED] * 2
    assert waiting(desk, lagging)["Start_first_response_due"] == london(2026, 11, 23, 12, 5)
    Worker(desk).run_once()
    assert fired(desk, lagging) == [("Start_first_response_due", "2026-11-23T12:05:00+00:00")]
    assert sla_clocks(desk, lagging)["first_response"]["breached_at"] is not None
    for ref in (breached, lagging):
        do(desk, ref, "First level response", FIRST_RESPONSE)
        assert open_titles(desk, ref) == ["Check the answer"]
        assert audit.replay(desk, ref).differences == [], ref


def test_a_call_waiting_at_an_element_takes_the_new_versions_path_on_from_it(desk, frozen_clock, tmp_path):
    """C21: a call with second line waits for "Call delayed". Moved to a version with a new step after
    that wait, the call takes the new step when it is delayed: its path on from where it waits is the
    new version's, not the one predicted on version 1."""
    at_response = log_and_triage(desk)
    do(desk, at_response, "First level response", FIRST_RESPONSE)
    due = waiting(desk, at_response)
    deploy(desk, tmp_path, NOTE_THE_DELAY, "v2")

    (result,) = migration.migrate(desk, 2, actor="pat")
    assert result.outcome == migration.MIGRATED, result.reasons
    assert waiting(desk, at_response) == due

    delay_for_information(desk, at_response)
    assert "Note the delay" in open_titles(desk, at_response)
    assert queries.ticket_view(desk, at_response).status == "open"  # not Delayed until the note is done
    do(desk, at_response, "Note the delay")
    assert queries.ticket_view(desk, at_response).status == "delayed"
    assert audit.replay(desk, at_response).differences == []


# --- what "changed" means -----------------------------------------------------------------------------


def test_a_timer_the_new_version_changed_is_evaluated_again_and_the_dry_run_says_so(desk, frozen_clock, tmp_path):
    awaiting_feedback = log_and_triage(desk)
    do(desk, awaiting_feedback, "First level response", RESOLVED_STRAIGHT_AWAY)
    at_response = log_and_triage(desk)
    assert waiting(desk, awaiting_feedback)["Gateway_feedback"] == london(2026, 11, 30, 10, 0)
    deploy(desk, tmp_path, SHORTER_FEEDBACK_WINDOW, "v2")
    frozen_clock.set(london(2026, 11, 23, 12, 0))

    (plan,) = migration.plan(desk, 2, reference=awaiting_feedback)
    assert plan.outcome == migration.SAFE
    assert plan.changes.changed == ("Gateway_feedback",)
    moved = {t.element: t for t in plan.timers}
    assert (moved["Gateway_feedback"].was, moved["Gateway_feedback"].due, moved["Gateway_feedback"].re_evaluated) == (
        london(2026, 11, 30, 10, 0),
        london(2026, 11, 26, 12, 0),
        True,
    )  # three working days from the migration
    assert moved["Start_resolution_due"].re_evaluated is False
    response_due = waiting(desk, at_response)

    migration.migrate(desk, 2, actor="pat")
    assert waiting(desk, awaiting_feedback)["Gateway_feedback"] == london(2026, 11, 26, 12, 0)
    assert london(2026, 11, 26, 12, 0) in timer_jobs(desk, awaiting_feedback).values()
    assert waiting(desk, at_response) == response_due  # its timer did not change: kept
    (event,) = events(desk, awaiting_feedback, "ticket_migrated")
    assert {
        "element": "Gateway_feedback",
        "was": "2026-11-30T10:00:00+00:00",
        "due": "2026-11-26T12:00:00+00:00",
        "re_evaluated": True,
    } in event.payload["timers"]


def test_a_changed_element_the_ticket_has_done_or_is_at_is_refused(desk, frozen_clock, tmp_path):
    at_triage = log_call(desk)
    past_triage = log_and_triage(desk)
    escalation = commands.start_escalation(desk, commands.StartEscalation("Slow", call_reference=past_triage), "amy")
    deploy(desk, tmp_path, RENAMED_TRIAGE, "v2")
    report = {r.reference: r for r in migration.plan(desk, 2)}
    assert report[at_triage].reasons == (
        "the ticket is at \u201cConfirm priority\u201d (Task_triage), which version 2 changes (its name)",
    )
    assert report[past_triage].reasons == (
        "the ticket has done \u201cConfirm priority\u201d (Task_triage), which version 2 changes (its name)",
    )
    assert report[escalation].outcome == migration.SAFE  # its own process did not change
    assert report[at_triage].changes.changed == ("Task_triage",)


def test_a_version_without_the_tickets_process_is_refused_and_one_already_there_is_left_alone(
    desk, frozen_clock, tmp_path
):
    reference = log_call(desk)
    training = commands.record_training_need(desk, commands.RecordTrainingNeed(reference, "new_user", ""), "alice")
    folder = tmp_path / "v2"
    shutil.copytree(WORKFLOWS, folder)
    (folder / "training.bpmn").unlink()
    commands.deploy(desk, folder, actor="owner")
    report = {r.reference: r for r in migration.plan(desk, 2)}
    assert report[training].reasons == ("version 2 has no process 'training'",)
    assert report[reference].outcome == migration.SAFE
    migration.migrate(desk, 2, reference=reference, actor="pat")
    assert [r.outcome for r in migration.plan(desk, 2, reference=reference)] == [migration.ALREADY]
    assert [r.reference for r in migration.plan(desk, 2)] == [training]  # --all: tickets on other versions
    with pytest.raises(NotFound):
        migration.plan(desk, 7)


# --- the command line and the admin page ------------------------------------------------------------------


@pytest.fixture
def cli(desk, sqlite_url, monkeypatch):
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(WORKFLOWS))

    def run(*args: str, expect: int = 0) -> str:
        result = CliRunner().invoke(migrate_command, list(args))
        assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
        return result.output

    return run


def test_supportdesk_migrate_dry_run_then_migrate(desk, frozen_clock, tmp_path, cli):
    at_response = log_and_triage(desk)
    at_advice = log_and_triage(desk)
    do(desk, at_advice, "First level response", FIRST_RESPONSE)
    do(
        desk,
        at_advice,
        "Resolve call (second line)",
        {**RESOLUTION, "next_step": "ask_third_line", "handover_reason": "Known bug?"},
    )
    deploy(desk, tmp_path, WITHOUT_ADVICE, "v2")

    assert "give --ticket REF, or --all" in cli("--to", "2", expect=2)
    shown = cli("--to", "2", "--all", "--dry-run", expect=1)
    assert f"{at_response} (support_call) version 1 -> 2: safe" in shown
    assert "timer First response due (Start_first_response_due): due Mon 23 Nov 2026 11:00 GMT, kept" in shown
    assert f"{at_advice} (support_call) version 1 -> 2: UNSAFE, left untouched" in shown
    assert "because the ticket is at \u201cAdvise second line\u201d (Task_third_line_advice)" in shown
    assert "support_call 1 -> 2: removed Task_third_line_advice" in shown
    assert shown.strip().endswith(
        "dry run, nothing changed: 2 ticket(s) for version 2: 1 safe, 1 unsafe (left untouched)"
    )
    assert queries.ticket_view(desk, at_response).diagram_version == 1

    done = cli("--to", "2", "--ticket", at_response, "--as", "owner")
    assert f"{at_response} (support_call) version 1 -> 2: migrated" in done
    assert queries.ticket_view(desk, at_response).diagram_version == 2
    assert events(desk, at_response, "ticket_migrated")[0].actor == "owner"
    assert f"{at_response}: already on version 2" in cli("--to", "2", "--ticket", at_response)
    assert "no diagram version 9" in cli("--to", "9", "--all", expect=1)


@pytest.fixture
def signed_in(desk, monkeypatch):
    """A browser signed in as ``username`` on an app with the migration page."""
    use_quick_password_hashes(monkeypatch)
    app = desk_app(desk)
    return lambda username: signed_in_client(app.test_client(), username)  # a fresh browser for each person


def test_the_admin_page_shows_versions_a_dry_run_and_migrates_the_safe_tickets(desk, frozen_clock, tmp_path, signed_in):
    at_response = log_and_triage(desk)
    at_advice = log_and_triage(desk)
    do(desk, at_advice, "First level response", FIRST_RESPONSE)
    do(
        desk,
        at_advice,
        "Resolve call (second line)",
        {**RESOLUTION, "next_step": "ask_third_line", "handover_reason": "Known bug?"},
    )
    deploy(desk, tmp_path, WITHOUT_ADVICE, "v2")

    assert signed_in("alice").get("/admin/migration").status_code == 403
    browser = signed_in("admin")
    page = browser.get("/admin/migration")
    shown = text(page)
    assert page.status_code == 200
    row_v1 = re.search(r'<tr data-version="1".*?</tr>', shown, re.S).group(0)
    assert '<td class="number">2</td>' in row_v1
    assert "support_call</code>: 2" in row_v1
    assert "Dry run: to version 2" in shown
    assert re.search(rf'<tr data-ticket="{at_advice}" class="breached">.*?Task_third_line_advice', shown, re.S)
    assert re.search(rf'<tr data-ticket="{at_response}">.*?First response due: 23 Nov 2026, 11:00, kept', shown, re.S)
    assert "Migrate the 1 safe ticket to version 2" in shown

    assert browser.post("/admin/migration", data={"to": "2"}).status_code == 400  # no CSRF token
    answer = browser.post("/admin/migration", data={"to": "2", "csrf_token": token(page)})
    assert answer.status_code == 302
    assert "Migrated 1 ticket to version 2. 1 left untouched" in text(browser.get(answer.headers["Location"]))
    assert queries.ticket_view(desk, at_response).diagram_version == 2
    assert queries.ticket_view(desk, at_advice).diagram_version == 1
    assert events(desk, at_response, "ticket_migrated")[0].actor == "admin"
    assert browser.get("/admin/migration?to=5").status_code == 404


def test_a_call_started_on_version_2_replays_with_its_own_version_number(desk, frozen_clock, tmp_path):
    """A replay deploys each version under its own number, so what the history names matches."""
    deploy(desk, tmp_path, WITH_CHECK, "v2")
    reference = log_and_triage(desk)
    assert events(desk, reference, "call_logged")[0].payload["diagram_version"] == 2
    assert audit.replay(desk, reference).differences == []
