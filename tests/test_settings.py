"""Settings from SUPPORTDESK_* variables: defaults, values, and errors that name the variable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from supportdesk.engine.settings import Settings
from supportdesk.engine.store.db import SQLITE_READ_CACHE_KIB, Database


def test_unset_variables_keep_the_defaults():
    settings = Settings.from_env({})
    assert settings.sqlite_synchronous == "full"
    assert settings.smtp_port == 25


def test_a_bad_value_names_its_variable():
    with pytest.raises(ValueError, match="SUPPORTDESK_SMTP_PORT must be a whole number"):
        Settings.from_env({"SUPPORTDESK_SMTP_PORT": "twenty-five"})
    with pytest.raises(ValueError, match="SUPPORTDESK_SQLITE_SYNCHRONOUS must be one of full, normal, off"):
        Settings.from_env({"SUPPORTDESK_SQLITE_SYNCHRONOUS": "sometimes"})


WHOLE_NUMBERS = [
    "SMTP_PORT",
    "SMTP_TIMEOUT",
    "SMTP_MAX_ATTEMPTS",
    "MAIL_SERVER_PORT",
    "MAX_MESSAGE_BYTES",
    "MAX_ATTACHMENT_BYTES",
    "MAX_REQUEST_BYTES",
    "SIGN_IN_ATTEMPTS",
    "SIGN_IN_ADDRESS_ATTEMPTS",
    "SIGN_IN_LOCKOUT_MINUTES",
    "PORTAL_LINK_DAYS",
]


@pytest.mark.parametrize("name", [f"SUPPORTDESK_{name}" for name in WHOLE_NUMBERS])
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1_000", "²"])
def test_every_whole_number_setting_names_itself_when_it_is_not_one(name, value):
    with pytest.raises(ValueError, match=f"^{name} must be a whole number, not '{value}'$"):
        Settings.from_env({name: f" {value} "})


def test_flags_and_counts_say_what_they_want():
    with pytest.raises(ValueError, match=r"^SUPPORTDESK_SMTP_STARTTLS must be true or false, not 'maybe'$"):
        Settings.from_env({"SUPPORTDESK_SMTP_STARTTLS": "Maybe"})
    with pytest.raises(ValueError, match=r"^SUPPORTDESK_SIGN_IN_ATTEMPTS must be at least 1$"):
        Settings.from_env({"SUPPORTDESK_SIGN_IN_ATTEMPTS": "0"})


def test_values_are_trimmed_and_blank_ones_keep_the_defaults():
    settings = Settings.from_env(
        {
            "SUPPORTDESK_SMTP_PORT": " 587 ",
            "SUPPORTDESK_SMTP_STARTTLS": "YES",
            "SUPPORTDESK_SQLITE_SYNCHRONOUS": " ",
            "SUPPORTDESK_SECURE_COOKIES": "",
            "SUPPORTDESK_SMTP_PASSWORD": " kept as given ",
        }
    )
    assert (settings.smtp_port, settings.smtp_starttls, settings.sqlite_synchronous) == (587, True, "full")
    assert settings.secure_cookies is None
    assert settings.smtp_password == " kept as given "


def test_a_given_mapping_is_read_instead_of_the_process_environment(monkeypatch):
    monkeypatch.setenv("SUPPORTDESK_SMTP_PORT", "2525")
    assert Settings.from_env({}).smtp_port == 25
    assert Settings.from_env().smtp_port == 2525


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


def test_sqlite_reading_connections_cache_a_calls_lists_pages_and_commands_keep_the_default(tmp_path):
    """Lists and reports read hundreds of tickets' pages: their connections cache 16 MiB (issue 23)."""
    db = Database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        with db.reading() as session:
            assert session.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_READ_CACHE_KIB == -16_384
        with db.transaction() as session:
            assert session.execute(text("PRAGMA cache_size")).scalar() == -2000  # SQLite's own default
    finally:
        db.dispose()
