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
