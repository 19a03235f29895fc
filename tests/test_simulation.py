"""The simulation: calls through the real diagrams on a simulated clock, seeded, summarised from the queries."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from supportdesk.cli import main
from supportdesk.cli.serve import fill_demo_store
from supportdesk.engine.oversight import simulation
from supportdesk.engine.store.models import Feedback, Ticket
from supportdesk.engine.tickets import commands, history, queries
from supportdesk.engine.working_time.clock import clock
from supportdesk.engine.working_time.sla_policy import Target

from conftest import MONDAY_10AM, open_test_desk

# A seed whose 25 calls over 10 days include breaches and an escalation (see the test that says so).
SEED = 1
REFERENCE = re.compile(r"^(SUP|ESC|TRN)-\d{4}-\d{6}$")
FIRST_EVENTS = {"call": "call_logged", "escalation": "escalation_raised", "training": "training_need_recorded"}


def fresh_desk(store_url, name: str = "desk"):
    desk = open_test_desk(store_url(name))
    commands.deploy(desk, actor="test")
    return desk


@pytest.fixture(scope="module")
def played(module_store_url):
    """One run that several tests only read: 25 calls over the 10 days before Monday 23 Nov 10:00."""
    clock.set(MONDAY_10AM)
    desk = fresh_desk(module_store_url, "simulation")
    summary = simulation.simulate(desk, tickets=25, days=10, seed=SEED)
    yield desk, summary
    desk.close()
    clock.use_system_time()


def all_tickets(desk) -> list[Ticket]:
    with desk.db.reading() as session:
        return list(session.query(Ticket).order_by(Ticket.id))


def views(desk, summary) -> list[queries.TicketView]:
    return [queries.ticket_view(desk, reference) for reference in summary.references]


def test_a_small_run_logs_every_call_with_a_reference_and_a_consistent_history(played, frozen_clock):
    desk, summary = played
    tickets = all_tickets(desk)
    assert [t.reference for t in tickets if t.kind == "call"] == list(summary.references)
    assert summary.tickets == 25
    assert summary.refused == ()
    for ticket in tickets:
        assert REFERENCE.match(ticket.reference), ticket.reference
        events = queries.ticket_view(desk, ticket.reference).history
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].kind == FIRST_EVENTS[ticket.kind]
        moments = [e.at for e in events]
        assert moments == sorted(moments)
        assert summary.start <= moments[0]
        assert moments[-1] <= summary.end
        opened = [e.payload["task_id"] for e in events if e.kind == "task_opened"]
        completed = [e.payload["task_id"] for e in events if e.kind == "task_completed"]
        assert set(completed) <= set(opened)
        assert len(completed) == len(set(completed))
        assert (ticket.status == "closed") == any(e.kind == "call_closed" for e in events)
        with desk.db.reading() as session:
            assert history.first_broken_link(history.events_of(session, ticket.id)) is None


def test_the_summary_is_what_the_queries_show(played, frozen_clock):
    desk, summary = played
    shown = views(desk, summary)
    triaged = Counter(
        next((e.payload["priority"] for e in reversed(v.history) if e.kind == "priority_set"), simulation.NOT_TRIAGED)
        for v in shown
    )
    assert {row.priority: row.calls for row in summary.priorities} == dict(triaged)
    clocks = [(c.metric, c) for v in shown for c in v.clocks]
    for metric, figures in (("first_response", summary.first_response), ("resolution", summary.resolution)):
        mine = [c for m, c in clocks if m == metric]
        assert figures.missed == sum(c.breached for c in mine)
        assert figures.met == sum(c.state == "stopped" and not c.breached for c in mine)
        assert figures.met + figures.missed + figures.pending == len(mine)
        assert figures.goal == desk.sla_policy.goals[metric]
    kinds = Counter(e.kind for v in shown for e in v.history)
    assert summary.breaches == sum(c.breached for _, c in clocks) == kinds["sla_breached"]
    tickets = Counter(t.kind for t in all_tickets(desk))
    assert (summary.escalations, summary.training_requests) == (tickets["escalation"], tickets["training"])
    with desk.db.reading() as session:
        assert summary.feedback == session.query(Feedback).count()
    assert summary.delayed == kinds["call_delayed"]
    assert summary.still_open == sum(v.status in ("open", "delayed") for v in shown)


def test_the_chosen_seed_breaches_targets_and_a_customer_escalates(played, frozen_clock):
    desk, summary = played
    assert summary.breaches >= 1
    assert summary.escalations >= 1
    breached = [v for v in views(desk, summary) if any(c.breached for c in v.clocks)]
    assert breached
    assert all(any(e.kind == "sla_breached" for e in v.history) for v in breached)
    escalation = next(t for t in all_tickets(desk) if t.kind == "escalation")
    assert queries.ticket_view(desk, escalation.reference).history[0].payload["call"] in summary.references


def history_of_store(desk) -> list[tuple]:
    return [
        (t.reference, t.status, [(e.kind, e.actor, e.at) for e in queries.ticket_view(desk, t.reference).history])
        for t in all_tickets(desk)
    ]


def test_the_same_seed_on_fresh_stores_gives_the_same_tickets_and_history(new_store_url, frozen_clock):
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        desk = fresh_desk(new_store_url, name)
        runs.append((simulation.simulate(desk, tickets=8, days=4, seed=seed), history_of_store(desk)))
        desk.close()
    (first, first_history), (second, second_history), (_other, other_history) = runs
    assert first == second
    assert first_history == second_history
    assert other_history != first_history


def test_a_stricter_policy_on_the_same_calls_shows_in_the_figures(new_store_url, frozen_clock):
    """What a process owner does before deploying a policy change: same seed, same calls, compare."""
    as_is, stricter = fresh_desk(new_store_url, "as_is"), fresh_desk(new_store_url, "stricter")
    stricter.sla_policy = replace(stricter.sla_policy, first_response=Target(timedelta(minutes=15)))
    before = simulation.simulate(as_is, tickets=10, days=3, seed=SEED)
    after = simulation.simulate(stricter, tickets=10, days=3, seed=SEED)
    assert before.references == after.references
    assert [t.created_at for t in all_tickets(as_is) if t.kind == "call"] == [
        t.created_at for t in all_tickets(stricter) if t.kind == "call"
    ]
    assert after.first_response.met < before.first_response.met
    assert after.first_response.missed > before.first_response.missed


def test_a_task_the_simulation_does_not_know_is_filled_from_its_form_and_a_refusal_is_reported(desk, monkeypatch):
    """As after a diagram change: fields come from the form; what the engine refuses is reported, not fatal."""
    monkeypatch.setattr(simulation, "DECISIONS", {})
    summary = simulation.simulate(desk, tickets=3, days=2, seed=SEED)
    assert summary.tickets == 3
    kinds = Counter(e.kind for v in views(desk, summary) for e in v.history)
    assert kinds["priority_set"] == 3  # "Confirm priority" needs nothing: an empty form takes the suggestion
    # A first level response needs a resolution or a reason, which a form filled blind does not give.
    assert summary.refused
    assert all("First level response" in refusal for refusal in summary.refused)


def test_the_cli_simulates_on_the_configured_store_and_prints_the_table(new_store_url, frozen_clock):
    url = new_store_url("cli")
    result = CliRunner().invoke(
        main, ["simulate", "--tickets", "5", "--days", "3", "--seed", "2"], env={"SUPPORTDESK_DATABASE_URL": url}
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "deployed diagrams as version 1"
    assert lines[1].startswith("5 calls from Fri 20 Nov 2026 10:00 to Mon 23 Nov 2026 10:00 GMT (seed 2")
    assert lines[2].split() == ["priority", "calls", "first", "response", "resolution", "breaches"]
    assert next(line for line in lines if line.startswith("all")).split()[1] == "5"
    assert any(line.startswith("goal") and "85%" in line and "95%" in line for line in lines)
    assert clock.is_frozen
    assert clock.now() == MONDAY_10AM
    desk = open_test_desk(url)
    assert len([t for t in all_tickets(desk) if t.kind == "call"]) == 5


def test_the_cli_takes_a_start_day_and_gives_the_clock_back_to_the_system(new_store_url):
    clock.use_system_time()
    env = {"SUPPORTDESK_DATABASE_URL": new_store_url("cli")}
    result = CliRunner().invoke(main, ["simulate", "--tickets", "3", "--days", "2", "--start", "2025-03-03"], env=env)
    assert result.exit_code == 0, result.output
    assert "3 calls from Mon 03 Mar 2025 00:00 to Wed 05 Mar 2025 00:00 GMT (seed 1" in result.stdout
    assert not clock.is_frozen
    future = CliRunner().invoke(main, ["simulate", "--tickets", "3", "--start", "2999-01-01"], env=env)
    assert future.exit_code == 2
    assert "cannot come from the future" in future.output


def test_serve_demo_fills_an_empty_store_and_leaves_one_with_tickets_alone(desk, frozen_clock, capsys):
    summary = fill_demo_store(desk, tickets=4, days=2)
    assert summary is not None
    assert summary.tickets == 4
    assert summary.end == MONDAY_10AM
    assert clock.is_frozen
    assert clock.now() == MONDAY_10AM
    assert "demo: simulating 4 calls over the last 2 days" in capsys.readouterr().out
    assert fill_demo_store(desk, tickets=4, days=2) is None
    assert "nothing simulated" in capsys.readouterr().out
    assert len([t for t in all_tickets(desk) if t.kind == "call"]) == 4


def test_a_simulation_moves_its_own_threads_clock_only(new_store_url, frozen_clock):
    """The forecast simulates inside the worker, beside its timers: while a simulation runs in one thread,
    another thread's clock stays where it was (C32: one clock, which tests and simulations set)."""
    desk = open_test_desk(new_store_url("threaded"))
    commands.deploy(desk, actor="test")
    frozen_clock.set(MONDAY_10AM)
    seen: list = []
    summaries: list = []

    def simulate() -> None:
        start = MONDAY_10AM - timedelta(days=5)
        summaries.append(simulation.simulate(desk, tickets=15, days=5, seed=3, start=start))

    runner = threading.Thread(target=simulate)
    runner.start()
    while runner.is_alive():
        seen.append(clock.now())
        time.sleep(0.01)
    runner.join()
    desk.close()
    assert len(seen) > 10
    assert set(seen) == {MONDAY_10AM}
    assert summaries[0].tickets == 15
