"""Where a persisted command's time goes: item 1's lifecycle, phase by phase.

    python bench/profile_command.py [--lifecycles 40] [--postgres] [--cprofile FILE]

Runs item 1's High call (``bench/lifecycle.py``) through the desk and times, per command, the phases
around SpiffWorkflow: reading the instance (``ProcessEngine.loads``), the engine's own work (the
command's steps less loading and saving), writing it (``ProcessEngine.dumps``), the commit, and the
SQL statements sent (counted, and their time at the driver). What is left is SQLAlchemy's ORM and the
desk's own Python (history, SLA clocks, projections). Prints a table (bench/README.md keeps one).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from lifecycle import COMMANDS_PER_LIFECYCLE, open_desk, persisted_lifecycle, sqlite_desk
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import SessionTransaction

from supportdesk.engine.process.spiff import DeskScriptEngine, ProcessEngine
from supportdesk.engine.tickets import instances

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


class Phases:
    """Seconds spent in each phase, and statements sent, over the run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.statements = 0
        self._inner: list[float] = []  # per open phase: the time its inner phases took

    @contextlib.contextmanager
    def timing(self, name: str):
        """Exclusive time: a phase inside another (a handler in the engine's steps) is its own."""
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            spent = time.perf_counter() - start
            self.seconds[name] += spent - self._inner.pop()
            if self._inner:
                self._inner[-1] += spent

    def wrap(self, owner, name: str, phase: str) -> None:
        function = getattr(owner, name)
        phases = self

        def timed(*args, **kwargs):
            with phases.timing(phase):
                return function(*args, **kwargs)

        setattr(owner, name, timed)


def instrument(desk, phases: Phases) -> None:
    phases.wrap(ProcessEngine, "loads", "load (deserialise)")
    phases.wrap(ProcessEngine, "dumps", "save (serialise + JSON)")
    phases.wrap(instances, "_run", "SpiffWorkflow steps (less handlers)")  # the catch-up and the steps after the input
    phases.wrap(DeskScriptEngine, "run_handler", "handlers (service tasks: history, SLA, mail)")
    phases.wrap(SessionTransaction, "commit", "flush + commit")
    for engine in {desk.db.engine, desk.db.write_engine}:

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            conn.info["sent_at"] = time.perf_counter()
            phases.statements += 1

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            phases.seconds["SQL at the driver"] += time.perf_counter() - conn.info.pop("sent_at")


def postgres_desk():
    name = f"bench_profile_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return open_desk(POSTGRES.rsplit("/", 1)[0] + f"/{name}"), admin, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lifecycles", type=int, default=40)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (else SQLite, as item 1)")
    parser.add_argument("--cprofile", type=Path, help="also write a cProfile of the measured run here")
    args = parser.parse_args()
    admin = name = None
    desk = postgres_desk() if args.postgres else sqlite_desk(Path(tempfile.mkdtemp()))
    if args.postgres:
        desk, admin, name = desk
    try:
        persisted_lifecycle(desk)  # warm
        phases = Phases()
        instrument(desk, phases)
        profile = cProfile.Profile() if args.cprofile else None
        start = time.perf_counter()
        if profile:
            profile.enable()
        for _ in range(args.lifecycles):
            persisted_lifecycle(desk)
        if profile:
            profile.disable()
            profile.dump_stats(args.cprofile)
        total = time.perf_counter() - start
        print(report(phases, total, args.lifecycles * COMMANDS_PER_LIFECYCLE))
    finally:
        desk.close()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(phases: Phases, total: float, commands: int) -> str:
    per = {name: seconds * 1000 / commands for name, seconds in phases.seconds.items()}
    command_ms = total * 1000 / commands
    # "SQL at the driver" overlaps the phases it happened in (the commit's COMMIT, the handlers' writes).
    accounted = sum(ms for name, ms in per.items() if name != "SQL at the driver")
    lines = ["| phase | ms per command | share |", "|---|---|---|"]
    for name, ms in sorted(per.items(), key=lambda row: -row[1]):
        lines.append(f"| {name} | {ms:.2f} | {ms / command_ms:.0%} |")
    rest = command_ms - accounted
    lines.append(f"| the rest (ORM, history, SLA clocks, queries) | {rest:.2f} | {rest / command_ms:.0%} |")
    lines.append(f"| **a command in all** | {command_ms:.2f} | 100% |")
    lines.append(f"\nSQL statements per command: {phases.statements / commands:.1f} ({commands} commands)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
