"""Shared fixtures: a frozen clock, a desk on a fresh store, a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from supportdesk.engine import commands
from supportdesk.engine.clock import clock
from supportdesk.engine.desk import Desk
from supportdesk.engine.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "workflows"
TEST_DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
# A Monday, 10:00 in London (GMT): inside working hours.
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POSTGRES_ADMIN_URL = os.environ.get("SUPPORTDESK_TEST_POSTGRES",
                                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def frozen_clock():
    clock.set(MONDAY_10AM)
    yield clock
    clock.use_system_time()


def open_test_desk(url: str, workflows: Path = WORKFLOWS) -> Desk:
    desk = Desk(Settings(database_url=url, workflows_dir=workflows, secret_key="test-secret"))
    desk.upgrade_schema()
    return desk


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'desk.sqlite'}"


@pytest.fixture
def desk(sqlite_url, frozen_clock):
    """A desk on a fresh SQLite store with the shipped diagrams deployed."""
    desk = open_test_desk(sqlite_url)
    commands.deploy(desk, actor="test")
    yield desk
    desk.close()


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database, dropped afterwards.

    Without a server the test is skipped, except under CI=true, where a
    missing server is a failure: CI must test the production store.
    """
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {problem}")
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}: {problem}")
    name = f"supportdesk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_url(request, tmp_path) -> str:
    """Run a test on the embedded store and on the production one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.sqlite'}"
    return request.getfixturevalue("postgres_url")
