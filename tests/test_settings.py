"""Settings from SUPPORTDESK_* variables: defaults, values, and errors that name the variable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from supportdesk.engine.settings import Settings
from supportdesk.engine.store.db import Database


def test_unset_variables_keep_the_defaults():
    settings = Settings.from_env({})
    assert settings.sqlite_synchronous == "full" and settings.smtp_port == 25


def test_a_bad_value_names_its_variable():
    with pytest.raises(ValueError, match="SUPPORTDESK_SMTP_PORT must be a whole number"):
        Settings.from_env({"SUPPORTDESK_SMTP_PORT": "twenty-five"})
    with pytest.raises(ValueError, match="SUPPORTDESK_SQLITE_SYNCHRONOUS must be one of full, normal, off"):
        Settings.from_env({"SUPPORTDESK_SQLITE_SYNCHRONOUS": "sometimes"})


@pytest.mark.parametrize(("chosen", "pragma"), [("full", 2), ("normal", 1), ("off", 0)])
def test_sqlite_commits_wait_for_the_disk_as_configured(tmp_path, chosen, pragma):
    chosen = Settings.from_env({"SUPPORTDESK_SQLITE_SYNCHRONOUS": chosen.upper()}).sqlite_synchronous
    db = Database(f"sqlite:///{tmp_path / 'store.sqlite'}", sqlite_synchronous=chosen)
    try:
        with db.transaction() as session:  # the writing connection, and a reading one
            assert session.execute(text("PRAGMA synchronous")).scalar() == pragma
        with db.reading() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == pragma
    finally:
        db.dispose()
