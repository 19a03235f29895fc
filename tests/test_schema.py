"""The schema comes from Alembic migrations, and they match the models."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from supportdesk.engine.store import schema, search_index
from supportdesk.engine.store.models import Base

from conftest import open_test_desk
from helpers import delay_for_information


def test_migrations_build_exactly_the_models_on_each_store(any_store_url):
    desk = open_test_desk(any_store_url)
    with desk.db.engine.connect() as connection:
        # The search index's own structures (an FTS5 table, a GIN index) are the database's, not the models'.
        context = MigrationContext.configure(connection, opts={"include_name": search_index.in_models})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "the models changed without a migration: write one (see engine/store/migrations)"
    assert schema.is_current(desk.db)
    desk.close()


def test_upgrading_a_current_store_again_changes_nothing(sqlite_url):
    desk = open_test_desk(sqlite_url)
    desk.upgrade_schema()
    assert schema.is_current(desk.db)
    desk.close()


# A process spec written out inside a state (a subprocess's own "spec" names its spec: a string).
SPEC_INSIDE = re.compile(r'"spec":\s*\{')


def test_instances_stored_with_their_spec_inside_are_moved_to_process_spec(any_store_url, frozen_clock):
    """Migration 0007 on a store written before it: each state loses its spec (stored once), and the
    tickets go on working, also in a process that meets the spec for the first time."""
    from alembic import command

    from supportdesk.engine.desk import Desk
    from supportdesk.engine.store.models import ProcessSpec, Ticket
    from supportdesk.engine.tickets import commands
    from supportdesk.handlers import REGISTRY

    from helpers import FIRST_RESPONSE, do, log_and_triage, open_titles

    desk = open_test_desk(any_store_url)
    commands.deploy(desk, actor="test")
    first, second = log_and_triage(desk), log_and_triage(desk)
    with desk.db.reading() as session:
        slim = {t.reference: len(t.state) for t in session.query(Ticket)}
    with desk.db.engine.begin() as connection:  # back to 0006: the specs go back inside the states
        config = schema._alembic_config(desk.db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    with desk.db.reading() as session:
        assert all(SPEC_INSIDE.search(t.state) and len(t.state) > 2 * slim[t.reference] for t in session.query(Ticket))
    desk.close()

    again = Desk(desk.settings, REGISTRY)  # a new process: nothing cached
    again.upgrade_schema()
    with again.db.reading() as session:
        assert session.query(ProcessSpec).count() == 1
        assert not any(SPEC_INSIDE.search(t.state) for t in session.query(Ticket))
    do(again, first, "First level response", FIRST_RESPONSE)
    assert open_titles(again, first) == ["Resolve call (second line)"]
    assert open_titles(again, second) == ["First level response"]
    again.close()


def test_C14_migration_0008_gives_old_breaches_their_priority_then_and_keeps_them_through_a_regrade(
    any_store_url, frozen_clock
):
    """A store written before 0008: a High call breached, then Delayed (re-graded Medium). After the
    upgrade its clock reads breached, counted against High, with the budget of its current target."""
    from dataclasses import replace
    from datetime import date, datetime, timedelta

    from alembic import command
    from sqlalchemy import update

    from supportdesk.engine.background.worker import Worker
    from supportdesk.engine.desk import Desk
    from supportdesk.engine.oversight.reports import sla_report
    from supportdesk.engine.store.models import SlaClock, SlaSegment
    from supportdesk.engine.tickets import commands, queries
    from supportdesk.handlers import REGISTRY

    from helpers import ANN, FIRST_RESPONSE, do, log_and_triage

    desk = open_test_desk(any_store_url)
    commands.deploy(desk, actor="test")
    moment = frozen_clock.now()
    high = log_and_triage(
        desk, details=replace(ANN, symptom="software_crashes", campaign_at=moment + timedelta(hours=5))
    )
    do(desk, high, "First level response", FIRST_RESPONSE)
    frozen_clock.set(moment + timedelta(days=1))
    Worker(desk).run_once()
    delay_for_information(desk, high)
    with desk.db.engine.begin() as connection:  # back to 0007, and the breach as the desk wrote it then
        connection.execute(update(SlaSegment).where(SlaSegment.kind == "breach").values(priority=None))
        config = schema._alembic_config(desk.db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    desk.close()

    again = Desk(desk.settings, REGISTRY)
    again.upgrade_schema()
    resolution = next(c for c in queries.ticket_view(again, high).clocks if c.metric == "resolution")
    assert (resolution.priority, resolution.state, resolution.breached) == ("Medium", "paused", True)
    with again.db.reading() as session:
        row = session.query(SlaClock).filter_by(metric="resolution").one()
        assert (row.breached_priority, row.budget_seconds) == ("High", 16 * 3600)
    report = sla_report(again, period="week", start=date(2026, 11, 16), end=date(2026, 12, 6))
    assert report.line("resolution", "High").total.breached == 1
    assert isinstance(row.breached_at, datetime)
    again.close()


def test_migration_0019_moves_the_instance_to_the_end_of_the_ticket_row_and_every_ticket_works_on(
    tmp_path, frozen_clock
):
    """A SQLite store written at 0018 (the instance in the middle of the row): after the upgrade every
    ticket reads as before with ``state`` last, references between tables are enforced again, and the
    calls go on; the calls list's queue of a priority by deadline has its index."""
    import sqlite3

    import pytest
    from alembic import command
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from supportdesk.engine.desk import Desk
    from supportdesk.engine.settings import Settings
    from supportdesk.engine.store.models import WorkTask
    from supportdesk.engine.tickets import commands, queries
    from supportdesk.handlers import REGISTRY

    from conftest import WORKFLOWS
    from helpers import FIRST_RESPONSE, do, log_and_triage, open_titles

    path = tmp_path / "desk.sqlite"
    settings = Settings(database_url=f"sqlite:///{path}", workflows_dir=WORKFLOWS, secret_key="test-secret")
    old = Desk(settings, REGISTRY)
    config = schema._alembic_config(old.db)
    with old.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0018")
    commands.deploy(old, actor="test")
    calls = [log_and_triage(old) for _ in range(3)]
    do(old, calls[0], "First level response", FIRST_RESPONSE)
    before = {reference: queries.ticket_view(old, reference) for reference in calls}
    old.close()

    def columns() -> list[str]:
        with sqlite3.connect(path) as raw:
            return [row[1] for row in raw.execute("PRAGMA table_info(ticket)")]

    assert columns().index("state") < columns().index("created_at")
    desk = Desk(settings, REGISTRY)
    desk.upgrade_schema()
    assert columns()[-1] == "state"
    assert len(columns()) == 21
    assert schema.is_current(desk.db)
    assert {reference: queries.ticket_view(desk, reference) for reference in calls} == before
    orphan = {"id": "orphan", "ticket_id": 999_999, "element_id": "x", "title": "x", "role": "x"}
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), desk.db.transaction() as session:  # enforced again
        session.execute(insert(WorkTask).values(**orphan, created_at=frozen_clock.now()))
    do(desk, calls[1], "First level response", FIRST_RESPONSE)
    assert open_titles(desk, calls[1]) == ["Resolve call (second line)"]
    with sqlite3.connect(path) as raw:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM ticket WHERE status = 'open' AND priority = 'High'"
            " ORDER BY next_due_at, id LIMIT 50"
        ).fetchall()
    assert "ix_ticket_status_priority_next_due_at_id" in str(plan)
    with sqlite3.connect(path) as raw:  # the reports' range holds what they list of each call
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT reference, priority FROM ticket WHERE kind = 'call' AND created_at >= '2026'"
        ).fetchall()
    assert "COVERING INDEX ix_ticket_kind_created_priority_reference" in str(plan)
    desk.close()
