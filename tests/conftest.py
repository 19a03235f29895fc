"""Shared fixtures: a frozen clock, a desk on a fresh store, a fresh PostgreSQL database.

The whole suite runs on PostgreSQL with ``SUPPORTDESK_TEST_STORE=postgres``: then the
``sqlite_url`` fixture (and ``desk`` and everything built on it) gives a PostgreSQL
store instead, one database for the session, migrated once and emptied before each
test (TRUNCATE), dropped at the end. ``.ci/run`` runs the suite both ways.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from browser import chromium_page, require_chromium, serving

from supportdesk.engine.desk import Desk
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import Base
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.clock import clock
from supportdesk.handlers import REGISTRY
from supportdesk.web import create_app

from web_client import PASSWORD, desk_app, use_quick_password_hashes

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "workflows"
TEST_DIAGRAMS = Path(__file__).resolve().parent / "diagrams"
# A Monday, 10:00 in London (GMT): inside working hours.
MONDAY_10AM = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POSTGRES_ADMIN_URL = os.environ.get(
    "SUPPORTDESK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# "sqlite" (the default) or "postgres": the store behind the `sqlite_url` fixture.
TEST_STORE = os.environ.get("SUPPORTDESK_TEST_STORE", "sqlite")
if TEST_STORE not in ("sqlite", "postgres"):
    raise pytest.UsageError(f"SUPPORTDESK_TEST_STORE must be sqlite or postgres, not {TEST_STORE!r}")


@pytest.fixture
def frozen_clock():
    clock.set(MONDAY_10AM)
    yield clock
    clock.use_system_time()


def open_test_desk(url: str, workflows: Path = WORKFLOWS) -> Desk:
    desk = Desk(Settings(database_url=url, workflows_dir=workflows, secret_key="test-secret"), REGISTRY)
    desk.upgrade_schema()
    return desk


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    """The test's own empty store: a SQLite file, or in PostgreSQL mode the session's database, emptied."""
    if TEST_STORE == "postgres":
        url, engine = request.getfixturevalue("session_postgres")
        _empty(engine)
        return url
    return f"sqlite:///{tmp_path / 'desk.sqlite'}"


@pytest.fixture
def desk(sqlite_url, frozen_clock):
    """A desk on a fresh SQLite store with the shipped diagrams deployed."""
    desk = open_test_desk(sqlite_url)
    commands.deploy(desk, actor="test")
    yield desk
    desk.close()


@pytest.fixture
def quick_password_hashes(monkeypatch):
    """Cheap password hashes (a real one costs a second per user); a module asks for it with
    ``pytestmark = pytest.mark.usefixtures("quick_password_hashes")``."""
    use_quick_password_hashes(monkeypatch)


@pytest.fixture
def app(desk, quick_password_hashes):
    """The web desk on ``desk``, with its demo users."""
    return desk_app(desk)


@pytest.fixture
def client(app):
    """A browser (Flask's test client) on ``app``."""
    return app.test_client()


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]


def _require_postgres() -> None:
    """Without a server the test is skipped, except under CI=true, where a
    missing server is a failure: CI must test the production store."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {problem}")
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}: {problem}")


def _create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database, dropped afterwards (skipped without a server, unless CI=true)."""
    _require_postgres()
    url = _create_database("supportdesk_test")
    yield url
    _drop_database(url)


@pytest.fixture
def new_store_url(tmp_path):
    """Makes more empty stores for one test (several stores, a store for a subprocess): SQLite
    files, or in PostgreSQL mode fresh databases, dropped afterwards. ``new_store_url("name")``."""
    yield from _store_maker(tmp_path)


@pytest.fixture(scope="module")
def module_store_url(tmp_path_factory):
    """``new_store_url`` for a store that the tests of a module share."""
    yield from _store_maker(tmp_path_factory.mktemp("stores"))


def _store_maker(folder):
    made: list[str] = []

    def make(name: str = "store") -> str:
        if TEST_STORE == "sqlite":
            return f"sqlite:///{folder / f'{name}.sqlite'}"
        _require_postgres()
        made.append(_create_database("supportdesk_test"))
        return made[-1]

    yield make
    for url in made:
        _drop_database(url)


@pytest.fixture(scope="session")
def session_postgres():
    """PostgreSQL mode: one database for the whole run, migrated once; (its URL, an engine to empty it)."""
    _require_postgres()
    url = _create_database("supportdesk_suite")
    open_test_desk(url).close()  # the migrations, once
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    yield url, engine
    engine.dispose()
    _drop_database(url)


def _empty(engine: sa.Engine) -> None:
    """Every table emptied and its ids restarted (the schema and alembic_version stay): as fresh as a new store."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        # A test that left a transaction open would otherwise hang the next one here.
        connection.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_url(request, tmp_path) -> str:
    """Run a test on the embedded store and on the production one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.sqlite'}"
    return request.getfixturevalue("postgres_url")


# --- a browser on the desk (tests/browser.py) -------------------------------------------------------


@pytest.fixture
def site(desk):
    """The desk in a browser; any Content-Security-Policy violation fails the test."""
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    with serving(create_app(desk)) as url, chromium_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        yield url, page
        assert [text for text in console if "Content Security Policy" in text] == []
