"""Connections and transactions, for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from supportdesk.engine.settings import SQLITE_SYNCHRONOUS

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The page cache of each connection that reads for pages, lists and reports (KiB; SQLite fills it as it
# reads, up to this). SQLite's default, 2 MiB, holds about 500 pages: on a store of 100 000 tickets a
# calls list that reads a few hundred tickets by id (a surname, breached today) read most of them from
# the operating system again on every request. Commands touch one ticket: their connections keep the default.
SQLITE_READ_CACHE_KIB = 16_384


def _configure_sqlite(engine: Engine, *, immediate: bool, synchronous: str) -> None:
    """WAL lets readers run beside the one writer; ``BEGIN IMMEDIATE`` makes a
    writing transaction take the write lock before it reads, so two commands
    on one ticket queue up instead of failing on a stale snapshot. ``synchronous``:
    see ``Settings.sqlite_synchronous``."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        if not immediate:  # the reading engine
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_READ_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(url: str, *, immediate: bool, synchronous: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _configure_sqlite(engine, immediate=immediate, synchronous=synchronous)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One store: a session factory for reading and one for changing state."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "full") -> None:
        if sqlite_synchronous not in SQLITE_SYNCHRONOUS:  # it goes into a PRAGMA as text
            raise ValueError(
                f"sqlite_synchronous is one of {', '.join(SQLITE_SYNCHRONOUS)}, not {sqlite_synchronous!r}"
            )
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _make_engine(url, immediate=False, synchronous=sqlite_synchronous)
        self.write_engine = (
            _make_engine(url, immediate=True, synchronous=sqlite_synchronous) if self.is_sqlite else self.engine
        )
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: everything in the block commits, or nothing does."""
        with self._write_sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only look at the store (queries for pages and reports)."""
        with self._read_sessions() as session:
            yield session

    @property
    def shown_url(self) -> str:
        """The store's URL for logs and messages, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
        self.write_engine.dispose()
