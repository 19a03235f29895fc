"""SLA clocks (C12-C14, C21-C24): working time only, paused while Delayed,
re-graded, breached once, and always recomputable from their segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.tickets.sla_clocks import SlaClocks
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla import Segment, compute
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION, PolicyError, SlaPolicy, Target

from conftest import TEST_DIAGRAMS, open_test_desk
from helpers import history_kinds, log_call, open_task

CALENDAR = WorkingCalendar.default()
H = timedelta(hours=1)


def london(*args) -> datetime:
    return datetime(*args, tzinfo=CALENDAR.zone)


@pytest.fixture
def clocks_of(sqlite_url, frozen_clock):
    """Run a block on the SLA clocks of a freshly logged ticket, in one transaction.
    The ticket runs a test diagram that starts no clocks, so each test starts its own."""
    desk = open_test_desk(sqlite_url, TEST_DIAGRAMS / "timer")
    commands.deploy(desk)
    reference = log_call(desk)

    def on_ticket(block):
        with desk.db.transaction() as session:
            clocks = SlaClocks(session, find_ticket(session, reference), CALENDAR, SlaPolicy.default())
            return block(clocks)

    on_ticket.desk = desk
    yield on_ticket
    desk.close()


def test_C12_C13_first_response_clock_of_a_call_logged_on_saturday_is_due_monday_0930(clocks_of):
    saturday = london(2026, 11, 21, 11, 0)
    figures = clocks_of(lambda c: (c.start(FIRST_RESPONSE, None, saturday), c.figures(FIRST_RESPONSE, saturday))[1])
    assert local(figures.due_at) == london(2026, 11, 23, 9, 30)
    assert figures.elapsed == timedelta(0)
    assert figures.remaining == H
    assert not figures.breached


def test_C08_C13_low_call_logged_18_december_is_due_6_january(clocks_of):
    logged = london(2026, 12, 18, 10, 0)
    figures = clocks_of(lambda c: (c.start(RESOLUTION, "Low", logged), c.figures(RESOLUTION, logged))[1])
    assert local(figures.due_at) == london(2027, 1, 6, 10, 0)
    assert figures.budget == 10 * timedelta(hours=9, minutes=30)


def test_C09_C10_enhancement_and_advice_have_no_resolution_clock(clocks_of):
    logged = london(2026, 11, 23, 10, 0)

    def start_both(c):
        return c.start(FIRST_RESPONSE, "Advice", logged), c.start(RESOLUTION, "Advice", logged)

    first, resolution = clocks_of(start_both)
    assert first is not None
    assert resolution is None


def test_C23_paused_over_a_weekend_the_deadline_moves_by_the_working_time_paused(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "High", london(2026, 11, 20, 16, 0))  # Friday
        c.pause(london(2026, 11, 20, 17, 0), "waiting for the customer's data file")
        paused = c.figures(RESOLUTION, london(2026, 11, 23, 10, 0))
        c.resume(london(2026, 11, 23, 11, 0))  # Monday
        return paused, c.figures(RESOLUTION, london(2026, 11, 23, 11, 0))

    paused, resumed = clocks_of(scenario)
    assert paused.state == "paused"
    assert paused.due_at is None
    assert paused.remaining == 7 * H
    assert resumed.state == "running"
    assert local(resumed.due_at) == london(2026, 11, 23, 18, 0)


def test_C23_paused_over_christmas_and_the_substitute_bank_holiday(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "High", london(2026, 12, 24, 9, 0))
        c.pause(london(2026, 12, 24, 10, 0))
        c.resume(london(2026, 12, 29, 9, 0))  # 25th, weekend, 28th (for Boxing Day) all closed
        return c.figures(RESOLUTION, london(2026, 12, 29, 9, 0))

    assert local(clocks_of(scenario).due_at) == london(2026, 12, 29, 16, 0)


def test_C22_C24_high_regraded_medium_while_delayed_then_reopened(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "High", london(2026, 11, 23, 9, 0))
        c.pause(london(2026, 11, 23, 11, 0), "crucial information requested")
        c.regrade("Medium", london(2026, 11, 23, 12, 0), "C22: information not received")
        while_delayed = c.figures(RESOLUTION, london(2026, 11, 23, 15, 0))
        c.resume(london(2026, 11, 24, 10, 0))
        return while_delayed, c.figures(RESOLUTION, london(2026, 11, 24, 10, 0)), c.clock(RESOLUTION).target

    delayed, reopened, target = clocks_of(scenario)
    assert delayed.priority == "Medium"
    assert delayed.remaining == 14 * H
    assert delayed.due_at is None
    assert local(reopened.due_at) == london(2026, 11, 25, 14, 30)
    assert target == "16 working hours"


def test_C14_a_breach_is_recorded_once_dated_at_the_due_moment_and_the_clock_goes_on(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "High", london(2026, 11, 23, 9, 0))
        early = c.record_breach(RESOLUTION, london(2026, 11, 23, 17, 0))  # exactly due: not yet
        first = c.record_breach(RESOLUTION, london(2026, 11, 23, 17, 0, 1))
        second = c.record_breach(RESOLUTION, london(2026, 11, 23, 17, 30))
        clock = c.clock(RESOLUTION)
        return early, first, second, clock.breached_at, clock.state, [s.kind for s in c.segments(clock)]

    early, first, second, breached_at, state, kinds = clocks_of(scenario)
    assert (early, first, second) == (False, True, False)
    assert local(breached_at) == london(2026, 11, 23, 17, 0)  # noticed a second later, breached at 17:00
    assert state == "running"
    assert kinds == ["start", "breach"]


def test_C14_a_clock_stopped_in_time_is_never_breached(clocks_of):
    def scenario(c):
        c.start(FIRST_RESPONSE, None, london(2026, 11, 23, 9, 0))
        c.stop(FIRST_RESPONSE, london(2026, 11, 23, 9, 45))
        return c.record_breach(FIRST_RESPONSE, london(2026, 11, 23, 12, 0)), c.figures(
            FIRST_RESPONSE, london(2026, 11, 24)
        )

    recorded, figures = clocks_of(scenario)
    assert recorded is False
    assert figures.state == "stopped"
    assert not figures.breached
    assert figures.elapsed == timedelta(minutes=45)


def test_C21_regrading_to_a_shorter_target_can_breach_in_the_past(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "Low", london(2026, 11, 23, 9, 0))
        c.regrade("High", london(2026, 11, 24, 12, 0))  # 12h30 already counted: over 8h
        return c.figures(RESOLUTION, london(2026, 11, 24, 12, 0))

    figures = clocks_of(scenario)
    assert figures.breached
    assert local(figures.due_at) == london(2026, 11, 23, 17, 0)
    assert figures.remaining == -timedelta(hours=4, minutes=30)


def test_C32_figures_recomputed_from_the_stored_segments_equal_the_cached_ones(clocks_of):
    def scenario(c):
        c.start(RESOLUTION, "High", london(2026, 11, 20, 16, 0))
        c.pause(london(2026, 11, 20, 17, 0))
        c.regrade("Medium", london(2026, 11, 23, 9, 0))
        c.resume(london(2026, 11, 23, 11, 0))
        clock = c.clock(RESOLUTION)
        return clock, clock.due_at, clock.state, clock.priority

    clock, cached_due, cached_state, cached_priority = clocks_of(scenario)
    clock_id = clock.id  # given by the commit's flush: starting a clock does not flush
    with clocks_of.desk.db.reading() as session:  # a new session: only what was stored
        from supportdesk.engine.store.models import SlaSegment

        rows = session.query(SlaSegment).filter_by(clock_id=clock_id).order_by(SlaSegment.seq).all()
        segments = [
            Segment(
                r.kind, r.at, r.priority, timedelta(seconds=r.budget_seconds) if r.budget_seconds is not None else None
            )
            for r in rows
        ]
    recomputed = compute(segments, CALENDAR, london(2026, 11, 23, 11, 0))
    assert (recomputed.due_at, recomputed.state, recomputed.priority) == (cached_due, cached_state, cached_priority)
    assert local(recomputed.due_at) == london(2026, 11, 24, 16, 30)  # 1h Fri + 7h Mon + 8h Tue = 16h


def test_compute_is_pure_and_ignores_segments_after_now():
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    segments = [Segment("start", start, "High", 8 * H), Segment("stop", start + 2 * H)]
    assert compute(segments, CALENDAR, start + H).state == "running"
    assert compute(segments, CALENDAR, start + H).elapsed == H
    assert compute(segments, CALENDAR, start + 3 * H).elapsed == 2 * H


def test_the_shipped_policy_file_is_the_charter_policy():
    from conftest import WORKFLOWS

    assert SlaPolicy.from_toml(WORKFLOWS / "sla_policy.toml") == SlaPolicy.default()


@pytest.mark.parametrize(("text", "words"), [("8", "not a target"), ("0h", "more than zero"), ("1d2h", "not a target")])
def test_nonsense_targets_are_refused_clearly(text, words):
    with pytest.raises(PolicyError, match=words):
        Target.parse(text)


def test_a_policy_with_an_unknown_priority_names_it(tmp_path):
    path = tmp_path / "sla_policy.toml"
    path.write_text(
        '[first_response]\ntarget="1h"\ngoal=0.85\n[resolution]\ngoal=0.95\n[resolution.targets]\nUrgent="4h"\n'
    )
    with pytest.raises(PolicyError, match=r"sla_policy.toml: resolution.targets: unknown priority Urgent"):
        SlaPolicy.from_toml(path)


def test_C21_to_C24_the_sla_handlers_driven_by_a_diagram(sqlite_url, frozen_clock):
    """Triage High, set Delayed over the weekend, re-graded Medium and re-opened, resolved:
    every handler through real service tasks, every change in the ticket history."""
    desk = open_test_desk(sqlite_url, TEST_DIAGRAMS / "delayed")
    commands.deploy(desk)
    frozen_clock.set(london(2026, 11, 20, 15, 0))  # Friday
    reference = log_call(desk)

    def do(title, **data):
        commands.complete_task(desk, commands.CompleteTask(open_task(desk, reference, title).task_id, data), "alice")

    do("Triage", priority="High")
    frozen_clock.set(london(2026, 11, 20, 16, 0))
    do("Set delayed", delay_reason="C22: waiting for the data file")
    frozen_clock.set(london(2026, 11, 23, 10, 0))  # Monday
    do("Re-open", priority="Medium", regrade_reason="C22: information arrived late")
    frozen_clock.set(london(2026, 11, 23, 12, 0))
    do("Resolve")

    kinds = [k for k in history_kinds(desk, reference) if k.startswith("sla_")]
    # The first response clock, paused at its due moment, is breached the moment it runs again (C14).
    assert kinds == [
        "sla_started",
        "sla_started",
        "sla_paused",
        "sla_paused",
        "sla_regraded",
        "sla_resumed",
        "sla_resumed",
        "sla_breached",
        "sla_stopped",
    ]
    view = queries.ticket_view(desk, reference)
    resolution = next(c for c in view.clocks if c.metric == RESOLUTION)
    # 1h Friday (15:00-16:00) + 2h Monday (10:00-12:00) of Medium's 16h
    assert (resolution.state, resolution.priority, resolution.elapsed) == ("stopped", "Medium", 3 * H)
    assert not resolution.breached
    first = next(c for c in view.clocks if c.metric == FIRST_RESPONSE)
    assert first.state == "running"
    assert first.breached
    desk.close()
