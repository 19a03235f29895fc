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
