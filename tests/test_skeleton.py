"""The walking skeleton through the Python API: log (C01), reference (C03),
first level response (C12), resolve (C15), closed; all on the store."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from supportdesk.engine.errors import ConflictError, Forbidden, InvalidInput, NoActiveVersion, NotFound
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.history import events_of, first_broken_link
from supportdesk.engine.tickets.instances import find_ticket

from helpers import (
    ANN,
    FIRST_RESPONSE,
    RESOLVED_STRAIGHT_AWAY,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
    open_task,
    open_titles,
)


def test_C01_C03_C12_C15_a_phone_call_resolved_straight_away_runs_from_logged_to_closed(desk, frozen_clock):
    reference = log_call(desk)
    assert reference == "SUP-2026-000001"
    assert open_titles(desk, reference) == ["Confirm priority"]
    do(desk, reference, "Confirm priority")
    first = open_task(desk, reference, "First level response")
    assert first.role == "first_line"

    frozen_clock.advance(timedelta(minutes=20))
    commands.complete_task(desk, commands.CompleteTask(first.task_id, RESOLVED_STRAIGHT_AWAY), "alice")
    view = queries.ticket_view(desk, reference)
    assert view.status == "resolved"
    assert view.open_tasks == []

    frozen_clock.advance(timedelta(hours=2))
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "feedback", {"rating": 5, "comment": "Quick and kind"}), "portal"
    )
    view = queries.ticket_view(desk, reference)
    assert view.status == "closed"
    assert view.closed_at == frozen_clock.now()
    kinds = [e.kind for e in view.history]
    assert kinds[:3] == ["call_logged", "reference_assigned", "sla_started"]
    assert kinds[-3:] == ["message_received", "feedback_received", "call_closed"]
    completed = [e for e in view.history if e.kind == "task_completed"]
    assert completed[1].actor == "alice"
    assert completed[1].payload["data"]["next_step"] == "resolved"
    assert completed[1].at == view.created_at + timedelta(minutes=20)
    assert view.history[0].payload["diagram_version"] == 1


def test_C03_references_count_up_per_year(desk, frozen_clock):
    assert [log_call(desk) for _ in range(3)] == ["SUP-2026-000001", "SUP-2026-000002", "SUP-2026-000003"]
    frozen_clock.advance(timedelta(days=40))  # into 2027
    assert log_call(desk) == "SUP-2027-000001"


def test_C03_references_are_unique_when_calls_are_logged_concurrently(any_store_url, frozen_clock):
    from conftest import open_test_desk

    desk = open_test_desk(any_store_url)
    commands.deploy(desk)
    references: list[str] = []
    errors: list[Exception] = []
    start = threading.Barrier(6)

    def advisor():
        start.wait()
        for _ in range(5):
            try:
                references.append(log_call(desk))
            except Exception as exc:  # noqa: BLE001  (collected: the assertion below names it)
                errors.append(exc)

    threads = [threading.Thread(target=advisor) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    desk.close()
    assert errors == []
    assert sorted(references) == [f"SUP-2026-{n:06d}" for n in range(1, 31)]


def test_two_concurrent_completions_of_one_task_one_wins_one_conflicts(any_store_url, frozen_clock):
    from conftest import open_test_desk

    desk = open_test_desk(any_store_url)
    commands.deploy(desk)
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def advisor(name):
        start.wait()
        try:
            outcomes.append(commands.complete_task(desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE), name))
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=advisor, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(conflicts) == 1
    assert outcomes.count(reference) == 1
    assert "already completed by" in str(conflicts[0])
    completions = [e for e in events(desk, reference, "task_completed") if e.payload["task_id"] == task.task_id]
    assert len(completions) == 1
    desk.close()


def test_a_stale_revision_is_refused_and_writes_nothing(desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    seen = queries.ticket_view(desk, reference)
    other = log_call(desk)  # an unrelated ticket changes nothing on ours
    assert other != reference
    with pytest.raises(ConflictError, match="changed since you opened it"):
        commands.complete_task(
            desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE, expected_revision=seen.revision - 1), "alice"
        )
    assert queries.ticket_view(desk, reference).history == seen.history


def test_invalid_form_data_names_the_field_and_writes_nothing(desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    before = queries.ticket_view(desk, reference)
    with pytest.raises(InvalidInput) as raised:
        commands.complete_task(
            desk, commands.CompleteTask(task.task_id, {"response_method": "pigeon", "response": ""}), "alice"
        )
    assert set(raised.value.fields) == {"response_method", "response", "next_step"}
    assert "must be one of: email, phone" in raised.value.fields["response_method"]
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history
    assert after.revision == before.revision


def test_C02_a_call_without_contact_details_is_refused(desk):
    bad = commands.CallDetails(contact_name=" ", contact_email="not-an-email", account="Acme", summary="x")
    with pytest.raises(InvalidInput) as raised:
        commands.log_call(desk, bad, "alice")
    assert set(raised.value.fields) == {"contact_name", "contact_email"}
    assert queries.recent_tickets(desk) == []


def test_unknown_task_and_unknown_reference_are_not_found(desk):
    with pytest.raises(NotFound):
        commands.complete_task(desk, commands.CompleteTask("00000000-0000-0000-0000-000000000000", {}), "alice")
    with pytest.raises(NotFound, match="SUP-2026-999999"):
        queries.ticket_view(desk, "SUP-2026-999999")


def test_logging_a_call_before_any_deploy_says_what_to_do(sqlite_url, frozen_clock):
    from conftest import open_test_desk

    desk = open_test_desk(sqlite_url)
    with pytest.raises(NoActiveVersion, match="supportdesk deploy"):
        commands.log_call(desk, ANN, "alice")


def test_C32_history_is_a_hash_chain_that_shows_an_edit(desk):
    reference = log_call(desk)
    with desk.db.transaction() as session:
        events = events_of(session, find_ticket(session, reference).id)
        assert first_broken_link(events) is None
        events[1].payload = '{"reference":"SUP-2026-000099"}'
        session.flush()
        assert first_broken_link(events_of(session, events[0].ticket_id)).seq == 2


def test_C15_a_task_is_done_only_by_the_role_of_its_lane(desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    with pytest.raises(Forbidden, match="First level response is a task for First line"):
        commands.complete_task(desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE, roles=["second_line"]), "sam")
    assert history_kinds(desk, reference).count("task_completed") == 1  # only the triage
    commands.complete_task(desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE, roles=["first_line"]), "alice")


def test_C02_call_details_longer_than_the_store_allows_are_refused_by_field(desk):
    long = commands.CallDetails(contact_name="Ann", contact_email="ann@example.com", account="Acme", summary="x" * 501)
    with pytest.raises(InvalidInput) as raised:
        commands.log_call(desk, long, "alice")
    assert raised.value.fields == {"summary": "Summary allows at most 500 characters"}


def test_a_claimed_task_is_done_by_its_claimant_until_released(desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    commands.claim_task(desk, commands.ClaimTask(task.task_id, roles=["first_line"]), "alice")
    assert open_task(desk, reference, "First level response").claimed_by == "alice"
    with pytest.raises(ConflictError, match="already claimed by alice"):
        commands.claim_task(desk, commands.ClaimTask(task.task_id, roles=["first_line"]), "bob")
    with pytest.raises(ConflictError, match="claimed by alice"):
        commands.complete_task(desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE, roles=["first_line"]), "bob")
    with pytest.raises(Forbidden, match="only they or an admin"):
        commands.release_task(desk, commands.ReleaseTask(task.task_id, roles=["first_line"]), "bob")
    commands.release_task(desk, commands.ReleaseTask(task.task_id, roles=["first_line"]), "alice")
    commands.claim_task(desk, commands.ClaimTask(task.task_id, roles=["first_line"]), "bob")
    commands.complete_task(desk, commands.CompleteTask(task.task_id, FIRST_RESPONSE, roles=["first_line"]), "bob")
    kinds = history_kinds(desk, reference)
    assert kinds.count("task_claimed") == 2
    assert kinds.count("task_released") == 1
