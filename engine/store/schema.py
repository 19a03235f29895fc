"""Creates and upgrades the schema with Alembic migrations (never ``create_all``)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from supportdesk.engine.store.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database) -> None:
    """Bring the store to the newest schema; a no-op when it is there already. The migrations still
    to run commit together, or none does."""
    config = _alembic_config(db)
    with db.engine.connect() as connection, _foreign_keys_unenforced(connection), connection.begin():
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if db.is_sqlite and MigrationContext.configure(connection).get_current_revision() != before:
            _check_foreign_keys(connection)


@contextlib.contextmanager
def _foreign_keys_unenforced(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys unenforced for the block: a migration that rebuilds a table others refer to
    (copy, drop, rename) must run so (https://sqlite.org/lang_altertable.html). The pragma takes effect
    only outside a transaction, so it is set before the block begins one."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = cast(sqlite3.Connection, connection.connection.driver_connection)
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    """Every reference still finds its row, or the migrations roll back."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows referring to none (table, rowid, parent): {broken[:10]}")


def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(_alembic_config(db)).get_current_head()
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head
