"""The schema comes from Alembic migrations, and they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from supportdesk.engine import schema
from supportdesk.engine.models import Base

from conftest import open_test_desk


def test_migrations_build_exactly_the_models_on_each_store(any_store_url):
    desk = open_test_desk(any_store_url)
    with desk.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "the models changed without a migration: write one (see engine/migrations)"
    assert schema.is_current(desk.db)
    desk.close()


def test_upgrading_a_current_store_again_changes_nothing(sqlite_url):
    desk = open_test_desk(sqlite_url)
    desk.upgrade_schema()
    assert schema.is_current(desk.db)
    desk.close()


def test_instances_stored_with_their_spec_inside_are_moved_to_process_spec(any_store_url, frozen_clock):
    """Migration 0007 on a store written before it: each state loses its spec (stored once), and the
    tickets go on working, also in a process that meets the spec for the first time."""
    from alembic import command

    from supportdesk.engine import commands
    from supportdesk.engine.desk import Desk
    from supportdesk.engine.models import ProcessSpec, Ticket

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
        assert all('"spec":' in t.state and len(t.state) > 2 * slim[t.reference] for t in session.query(Ticket))
    desk.close()

    again = Desk(desk.settings)  # a new process: nothing cached
    again.upgrade_schema()
    with again.db.reading() as session:
        assert session.query(ProcessSpec).count() == 1
        assert all('"spec":' not in t.state for t in session.query(Ticket))
    do(again, first, "First level response", FIRST_RESPONSE)
    assert open_titles(again, first) == ["Resolve call (second line)"]
    assert open_titles(again, second) == ["First level response"]
    again.close()
