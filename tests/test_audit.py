"""Audit (C32): the history is a hash chain, replays to what is stored, answers
"what if", and exports for an outside auditor."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from supportdesk.cli import main
from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.oversight import audit, simulation
from supportdesk.engine.store.models import HistoryEvent
from supportdesk.engine.tickets import commands
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.working_time.calendar import WorkingCalendar

from conftest import WORKFLOWS
from helpers import ANN, FIRST_RESPONSE, RESOLUTION, RESOLVED_STRAIGHT_AWAY, delay_for_information, do, log_and_triage

LONDON = WorkingCalendar.default().zone


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def every_path(desk, clock) -> None:
    """One ticket down each path of the charter, across days, weekends and breaches."""
    clock.set(london(2026, 11, 20, 14, 0))  # a Friday
    delayed = log_and_triage(desk, details=replace(ANN, symptom="software_crashes", campaign_at=clock.now() + 5 * H))
    do(desk, delayed, "First level response", FIRST_RESPONSE)
    straight = log_and_triage(desk)
    do(desk, straight, "First level response", RESOLVED_STRAIGHT_AWAY)
    enhancement = log_and_triage(desk, details=replace(ANN, request_kind="enhancement"))
    do(desk, enhancement, "First level response", RESOLVED_STRAIGHT_AWAY)
    advice = log_and_triage(desk, details=replace(ANN, request_kind="advice"))
    clock.set(london(2026, 11, 20, 16, 0))
    delay_for_information(desk, delayed)
    commands.deliver_message(
        desk, commands.DeliverMessage(straight, "feedback", {"rating": 4, "comment": "ok"}), "portal"
    )
    do(desk, advice, "First level response", RESOLVED_STRAIGHT_AWAY)
    do(desk, advice, "Contact the customer with advice", {"advice": "Tuesdays"}, "amy")
    clock.set(london(2026, 11, 23, 10, 0))  # Monday
    commands.deliver_message(desk, commands.DeliverMessage(delayed, "information_received", {}), "mail")
    training = commands.record_training_need(desk, commands.RecordTrainingNeed(delayed, "new_user", ""), "alice")
    escalation = commands.start_escalation(desk, commands.StartEscalation("Slow", call_reference=delayed), "amy")
    do(desk, escalation, "Bring the concern to the Customer Services Manager", {"concern": "Slow"}, "amy")
    for day in (24, 25):  # the resolution deadline passes: breach and daily updates
        clock.set(london(2026, 11, day, 17, 0))
        Worker(desk).run_once()
    do(
        desk,
        delayed,
        "Resolve call (second line)",
        {**RESOLUTION, "next_step": "ask_third_line", "handover_reason": "Known bug?"},
        "sam",
    )
    do(desk, delayed, "Advise second line", {"advice": "Yes"}, "tara")
    do(desk, delayed, "Resolve call (second line)", RESOLUTION, "sam")
    do(desk, training, "Arrange training", {"arrangement": "Course booked"}, "amy")
    clock.set(london(2026, 12, 4, 12, 0))
    Worker(desk).run_once()  # feedback windows close


H = timedelta(hours=1)


def test_C32_every_path_of_the_charter_replays_to_what_is_stored(desk, frozen_clock):
    every_path(desk, frozen_clock)
    references = audit.references(desk)
    assert len(references) == 6
    # One after another on shared scratch stores, as `audit replay --all` does.
    for result in audit.replay_all(desk, references):
        assert result.differences == [], result.reference
    timeline = audit.replay(desk, references[0]).timeline  # one ticket's replay shows its timeline
    assert [row.kind for row in timeline[:2]] == ["call_logged", "reference_assigned"]


def test_C32_simulated_tickets_replay_to_what_is_stored(desk, frozen_clock):
    simulation.simulate(desk, tickets=12, days=6, seed=3, start=london(2026, 11, 9, 0, 0))
    results = list(audit.replay_all(desk, audit.references(desk)))
    assert len(results) >= 12
    assert [r.reference for r in results if not r.same] == []


def test_C32_an_edited_event_is_caught_by_verify_and_by_replay(desk, frozen_clock):
    reference = log_and_triage(desk)
    with desk.db.transaction() as session:
        ticket = find_ticket(session, reference)
        event = session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind="priority_set").one()
        event.payload = event.payload.replace('"Low"', '"High"')  # someone rewrites history
    [broken] = audit.verify(desk)
    assert (broken.reference, broken.kind) == (reference, "priority_set")
    differences = audit.replay(desk, reference).differences
    assert any("priority_set" in d and "High" in d for d in differences)


def test_C32_replaying_all_finds_the_edited_ticket_and_only_it(desk, frozen_clock):
    """Tickets replayed in turn on a shared scratch store meet nothing of the ticket before them."""
    references = [log_and_triage(desk) for _ in range(3)]
    with desk.db.transaction() as session:
        ticket = find_ticket(session, references[1])
        event = session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind="priority_set").one()
        event.payload = event.payload.replace('"Low"', '"High"')
    results = {r.reference: r for r in audit.replay_all(desk, references)}
    assert [r for r in references if not results[r].same] == [references[1]]


def test_C32_a_deleted_event_breaks_the_chain(desk):
    reference = log_and_triage(desk)
    with desk.db.transaction() as session:
        ticket = find_ticket(session, reference)
        session.query(HistoryEvent).filter_by(ticket_id=ticket.id, seq=3).delete()
    [broken] = audit.verify(desk)
    assert broken.seq == 4


def test_C13_C32_what_if_a_closure_day_changes_exactly_the_tickets_that_crossed_it(desk, frozen_clock, tmp_path):
    frozen_clock.set(london(2026, 11, 23, 10, 0))  # Monday: a Low call, due ten working days on
    low = log_and_triage(desk)
    frozen_clock.set(london(2026, 11, 24, 14, 0))  # Tuesday: a High call resolved on Wednesday afternoon
    crossing = log_and_triage(desk, details=replace(ANN, symptom="software_crashes", preparing_campaign=True))
    do(desk, crossing, "First level response", FIRST_RESPONSE)
    frozen_clock.set(london(2026, 11, 25, 15, 0))
    Worker(desk).run_once()
    do(desk, crossing, "Resolve call (second line)", RESOLUTION, "sam")
    frozen_clock.set(london(2026, 11, 26, 9, 0))  # Thursday: a High call resolved the same morning
    after = log_and_triage(desk, details=replace(ANN, symptom="software_crashes", preparing_campaign=True))
    do(desk, after, "First level response", RESOLVED_STRAIGHT_AWAY)

    closed_wednesday = tmp_path / "calendar.toml"
    closed_wednesday.write_text(
        (WORKFLOWS / "calendar.toml").read_text().replace("[closures]", '[closures]\n"2026-11-25" = "Office move"')
    )
    calendar = WorkingCalendar.from_toml(closed_wednesday)
    changes = {r: audit.replay(desk, r, calendar=calendar).outcome_changes for r in (low, crossing, after)}
    assert changes[after] == []
    assert changes[low] == ["resolution: due 2026-12-07T10:00:00+00:00 -> 2026-12-08T10:00:00+00:00; met -> met"]
    assert any(c.startswith("resolution:") and "breached -> met" in c for c in changes[crossing])
    assert audit.replay(desk, crossing).same  # the stored data was not touched
    # Shared out among two processes (the calendar travels to them), the answers are the same.
    in_two = audit.replay_all(desk, [low, crossing, after], calendar=calendar, jobs=2)
    assert {r.reference: r.outcome_changes for r in in_two} == changes


def test_C32_replaying_in_two_processes_finds_what_one_finds(desk, frozen_clock):
    references = [log_and_triage(desk) for _ in range(4)]
    with desk.db.transaction() as session:
        ticket = find_ticket(session, references[2])
        session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind="priority_set").one().actor = "mallory"
    in_one = [(r.reference, r.differences) for r in audit.replay_all(desk, references)]
    in_two = [(r.reference, r.differences) for r in audit.replay_all(desk, references, jobs=2)]
    assert in_two == in_one  # in the same order
    assert [reference for reference, differences in in_one if differences] == [references[2]]


def test_C32_the_export_carries_a_chain_an_outside_tool_can_check(desk):
    reference = log_and_triage(desk)
    exported = json.loads(json.dumps(audit.export(desk, reference)))
    previous = "0" * 64
    for event in exported["events"]:
        content = "\n".join(
            [
                previous,
                str(exported["ticket_id"]),
                str(event["seq"]),
                event["at"],
                event["kind"],
                event["actor"],
                event["payload"],
            ]
        )
        assert event["prev_hash"] == previous
        assert hashlib.sha256(content.encode()).hexdigest() == event["hash"]
        previous = event["hash"]
    assert exported["diagram_version"]["number"] == 1
    assert exported["sla_clocks"]


@pytest.fixture
def cli(desk, monkeypatch):
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(WORKFLOWS))
    return lambda *args: CliRunner().invoke(main, list(args))


def test_C32_the_audit_commands(desk, cli):
    reference = log_and_triage(desk)
    assert cli("audit", "verify").exit_code == 0
    shown = cli("audit", "replay", reference)
    assert shown.exit_code == 0
    assert "Confirm priority" in shown.output
    assert "1 of 1 ticket(s) replay" in shown.output
    with desk.db.transaction() as session:
        event = session.query(HistoryEvent).filter_by(kind="priority_set").one()
        event.actor = "mallory"
    assert cli("audit", "verify").exit_code == 1
    replayed = cli("audit", "replay", "--all")
    assert replayed.exit_code == 1
    assert "DIFFERENT" in replayed.output
    in_two = cli("audit", "replay", "--all", "--jobs", "2")
    assert in_two.exit_code == 1
    assert in_two.output == replayed.output
    assert json.loads(cli("audit", "export", reference).output)["reference"] == reference


def test_C32_audit_replay_all_reproduces_tickets_with_their_conversation(desk, frozen_clock, cli):
    """Issue 19: replies with files, notes, call-backs and portal messages are in the history and replay,
    through the command auditors run."""
    first, second = log_and_triage(desk), log_and_triage(desk)
    frozen_clock.advance(timedelta(minutes=10))
    figures = Upload("figures.csv", b"campaign,sent\nNovember,1200\n", "text/csv")
    conversation.add_reply(desk, conversation.Reply(first, "The **figures**", (figures,)), "alice")
    conversation.add_note(desk, conversation.Note(first, "Known importer bug", (Upload("bug.txt", b"42"),)), "sam")
    conversation.log_call_back(desk, conversation.CallBack(second, "Rang Ann: queued again"), "alice")
    do(desk, second, "First level response", FIRST_RESPONSE)
    commands.deliver_message(
        desk,
        commands.DeliverMessage(second, "call_delayed", {"reason": "information_awaited", "note": "The log"}),
        "sam",
    )
    frozen_clock.advance(timedelta(hours=1))
    portal_message = conversation.PortalMessage(second, ANN.contact_email, "Log attached", (Upload("app.log", b"ok"),))
    conversation.add_portal_message(desk, portal_message)  # re-opens the Delayed call (C24)

    replayed = cli("audit", "replay", "--all")
    assert replayed.exit_code == 0, replayed.output
    assert "2 of 2 ticket(s) replay" in replayed.output
    assert "DIFFERENT" not in replayed.output
