"""Worker processes (``python -m supportdesk.cli worker``) on the system clock, and what they used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

WORKER_COMMAND = [sys.executable, "-m", "supportdesk.cli", "worker"]
POSTGRES_ADMIN_URL = os.environ.get(
    "SUPPORTDESK_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


class Workers:
    """``count`` worker processes on the store at ``url``, each logging to a file of its own."""

    def __init__(self, url: str, folder: Path, count: int, name: str = "worker"):
        env = {**os.environ, "SUPPORTDESK_DATABASE_URL": url, "SUPPORTDESK_SECRET_KEY": "bench"}
        self.logs = [folder / f"{name}-{n}.log" for n in range(count)]
        self.processes = [
            subprocess.Popen(WORKER_COMMAND, env=env, cwd=folder, stdout=log.open("w"), stderr=subprocess.STDOUT)
            for log in self.logs
        ]

    def wait_until_started(self, timeout: float = 120.0, settle: float = 2.0) -> None:
        """Until each has said it started (then ``settle`` seconds more: LISTEN connects, first pass done)."""
        deadline = time.monotonic() + timeout
        for process, log in zip(self.processes, self.logs, strict=True):
            while "worker " not in log.read_text():
                if process.poll() is not None:
                    raise RuntimeError(f"the worker exited with {process.returncode}: {log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no worker started within {timeout} s: {log.read_text()[-2000:]}")
                time.sleep(0.05)
        time.sleep(settle)

    def peak_rss_mb(self, n: int = 0) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        return _status_kb(self.processes[n].pid, "VmHWM") / 1024

    def cpu_seconds(self, n: int = 0) -> float:
        """User and system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.processes[n].pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def machine_cpu() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How busy all the machine's CPUs were between two readings of ``machine_cpu`` (1.0: all of them)."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise LookupError(f"{key} not in /proc/{pid}/status")


def postgres_available() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except sa.exc.OperationalError as exc:
        return str(exc).splitlines()[0]


def create_database(prefix: str = "supportdesk_bench") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)')
    admin.dispose()
