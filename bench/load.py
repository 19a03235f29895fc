"""Item 9 (a support team's morning under load) and item 10 (commands/s with 1, 2, 4, 8 clients).

    python bench/load.py [--quick] [--only 9|10] [--json FILE]

The production set-up of the README, on loopback: a fresh PostgreSQL database, gunicorn web processes
(one per CPU, four threads each), two ``supportdesk worker`` processes, ``supportdesk mail-server`` for
inbound mail, and an SMTP server in this process (aiosmtpd, as the tests use) that the workers deliver
to. Locust (``bench/load_users.py``) runs headless in a subprocess, bounded in users and seconds.

Item 9 runs each kind of person alone, one user, then the mix at 50 users; meanwhile calls logged here
on a clock an hour back have their first-response timers fall due, for the workers to fire. Then it
waits for the workers to finish, and checks the store: every acknowledged command exactly once, no
due job left, no timer fired twice, every mail in the outbox delivered exactly once, ``audit verify`` and
``audit replay --all`` hold. Item 10 runs ``CommandClient`` (API commands back to back) with 1, 2, 4
and 8 users.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from measures import Result
from sqlalchemy import func, select
from workers import create_database, drop_database, postgres_available

from supportdesk.engine.desk import Desk
from supportdesk.engine.people import api_tokens, portal_access, users
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import (
    HistoryEvent,
    IdempotencyKey,
    InboundMail,
    Job,
    Message,
    OutboxMail,
    Ticket,
)
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.clock import clock
from supportdesk.handlers import REGISTRY

log = logging.getLogger("bench")
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PASSWORD = "kettle window orbit 42"  # noqa: S105  (every load-test user's, within the password policy)
SUPPORT_ADDRESS = "support@supportdesk.local"
SINGLE_USER_CLASSES = ("Advisor", "Customer", "ApiClient")
MIX = ("Advisor", "Customer", "ApiClient", "MailSender")


@dataclass(frozen=True)
class LoadSizes:
    single_seconds: int  # each kind of person alone, one user
    users: int
    mix_seconds: int
    ramp_per_second: int
    timer_calls: int  # calls whose first-response timers fall due during the mix
    concurrency_seconds: int  # item 10, each level
    seed_calls: int


# The users start over the first part of the mix (people do not all sign in in one second), and the
# figures count from when the last has started.
QUICK = LoadSizes(
    single_seconds=20,
    users=50,
    mix_seconds=90,
    ramp_per_second=2,
    timer_calls=30,
    concurrency_seconds=15,
    seed_calls=30,
)
FULL = LoadSizes(
    single_seconds=40,
    users=50,
    mix_seconds=180,
    ramp_per_second=1,
    timer_calls=90,
    concurrency_seconds=30,
    seed_calls=60,
)
CONCURRENCY_LEVELS = (1, 2, 4, 8)
WARM_UP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """The SMTP server the workers deliver to: every Message-ID it accepted, in order."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.message_ids.append(line.split(":", 1)[1].strip())
                break
        return "250 OK"

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


@dataclass
class Desks:
    """The running desk: its store, its processes and the files they log to."""

    url: str
    folder: Path
    env: dict
    web_port: int
    mail_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, name: str) -> None:
        commands_by_name = {
            "web": [
                str(BIN / "gunicorn"),
                "--workers",
                str(os.cpu_count() or 1),
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--graceful-timeout",
                "10",
                # Idle connections kept longer than anyone's pause between actions (a proxy's usual 60 s): with
                # gunicorn's 2 s, a request sent as the server closes the idle connection is reset.
                "--keep-alive",
                "75",
                "supportdesk.web:create_app()",
            ],
            "worker-1": [sys.executable, "-m", "supportdesk.cli", "worker"],
            "worker-2": [sys.executable, "-m", "supportdesk.cli", "worker"],
            "mail-server": [sys.executable, "-m", "supportdesk.cli", "mail-server"],
        }
        output = (self.folder / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            commands_by_name[name],
            env=self.env,
            cwd=self.folder,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a SIGKILL reaches gunicorn's workers too
        )

    def start_all(self) -> None:
        for name in ("web", "worker-1", "worker-2", "mail-server"):
            self.start(name)
        self.wait_until_serving()

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for port in (self.web_port, self.mail_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"nothing listens on {port}: see the logs in {self.folder}") from None
                    time.sleep(0.2)
        time.sleep(1)  # the workers LISTEN

    def kill(self, name: str) -> None:
        """SIGKILL, no warning: the process and its children (gunicorn's workers) die mid-request."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "supportdesk.cli", *args],
            env=self.env,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextlib.contextmanager
def production_desk(folder: Path, sink: MailSink):
    """A fresh PostgreSQL store with the diagrams, the people and a few calls, and the desk's processes."""
    url = create_database("supportdesk_load")
    web_port, mail_port = free_port(), free_port()
    env = {
        **os.environ,
        "SUPPORTDESK_DATABASE_URL": url,
        "SUPPORTDESK_SECRET_KEY": "load-test",
        "SUPPORTDESK_SMTP_HOST": "127.0.0.1",
        "SUPPORTDESK_SMTP_PORT": str(sink.port),
        "SUPPORTDESK_MAIL_SERVER_HOST": "127.0.0.1",
        "SUPPORTDESK_MAIL_SERVER_PORT": str(mail_port),
        "SUPPORTDESK_SUPPORT_ADDRESS": SUPPORT_ADDRESS,
        "SUPPORTDESK_PORTAL_URL": f"http://127.0.0.1:{web_port}/portal",
        "SUPPORTDESK_SIGN_IN_ADDRESS_ATTEMPTS": "100000",  # every user signs in from 127.0.0.1
    }
    desks = Desks(url, folder, env, web_port, mail_port)
    try:
        yield desks
    finally:
        desks.stop_all()
        drop_database(url)


def open_engine_desk(url: str) -> Desk:
    return Desk(Settings(database_url=url, secret_key="load-test", support_address=SUPPORT_ADDRESS), REGISTRY)


def prepare(desks: Desks, sizes: LoadSizes) -> Path:
    """Schema, diagrams, people (advisors, an API client), calls, portal links; the locust fixture file."""
    desk = open_engine_desk(desks.url)
    try:
        desk.upgrade_schema()
        commands.deploy(desk, actor="load")
        advisors = [(f"advisor{n:02d}", ["first_line"]) for n in range(16)] + [
            (f"second{n:02d}", ["second_line"]) for n in range(4)
        ]
        for username, roles in [*advisors, ("phone-system", ["first_line"])]:
            users.add_user(desk, users.NewUser(username, PASSWORD, roles, username.title()), "load")
        _, api_token = api_tokens.create_token(desk, "phone-system", "load test", by=None)
        customers = []
        for n in range(sizes.seed_calls):
            details = commands.CallDetails(
                contact_name=f"Customer {n}",
                contact_email=f"customer{n}@example.com",
                account="Acme Ltd",
                summary=f"The campaign import stopped at row {n}",
            )
            reference = commands.log_call(desk, details, "load")
            with desk.db.transaction() as session:
                token = portal_access.issue_token(session, details.contact_email, clock.now())
            customers.append({"reference": reference, "token": token, "email": details.contact_email})
    finally:
        desk.close()
    fixture = desks.folder / "fixture.json"
    fixture.write_text(
        json.dumps(
            {
                "advisors": [{"username": u, "roles": r} for u, r in advisors],
                "password": PASSWORD,
                "api_token": api_token,
                "customers": customers,
                "support_address": SUPPORT_ADDRESS,
                "mail_port": desks.mail_port,
            }
        )
    )
    return fixture


def _a_past_working_morning() -> datetime:
    """10:00 UTC on a weekday at least a week ago (working hours in London, winter or summer)."""
    day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=7)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


class TimerFeed:
    """Calls logged here on a clock a week back (from a thread of this process), spread over the mix:
    each has its SLA timers due already, so the workers fire them during the mix."""

    def __init__(self, url: str, calls: int, seconds: float):
        self.url, self.calls, self.seconds = url, calls, seconds
        self.references: list[str] = []
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        desk = open_engine_desk(self.url)
        try:
            for n in range(self.calls):
                time.sleep(self.seconds / self.calls)
                clock.set(_a_past_working_morning())
                reference = commands.log_call(
                    desk,
                    commands.CallDetails(
                        contact_name="Tim Er",
                        contact_email=f"timer{n}@example.com",
                        account="Acme Ltd",
                        summary="Nothing loads since this morning",
                        symptom="cannot_load_data",
                    ),
                    "load",
                )
                self.references.append(reference)
        except BaseException as exc:  # noqa: BLE001  (reported by join, in the main thread)
            self.error = exc
        finally:
            clock.use_system_time()
            desk.close()


def run_locust(
    desks: Desks, fixture: Path, acks: Path, classes, users: int, seconds: int, ramp: int, name: str, *, fast=False
):
    """Locust, headless, on loopback; returns its per-endpoint statistics (rows of its CSV). Its figures
    start once every user has started (``--reset-stats``): the ramp, with its sign-ins, is not in them.
    ``fast``: short think times (the one-user runs, for more samples of each page)."""
    prefix = desks.folder / name
    env = {**os.environ, "SUPPORTDESK_LOAD_FIXTURE": str(fixture), "SUPPORTDESK_LOAD_ACKS": str(acks)}
    env["SUPPORTDESK_LOAD_PACE"] = "fast" if fast else "people"
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(BENCH / "load_users.py"),
            "--headless",
            "--host",
            desks.base_url,
            "--users",
            str(users),
            "--spawn-rate",
            str(ramp),
            "--run-time",
            f"{seconds}s",
            "--stop-timeout",
            "30",
            "--csv",
            str(prefix),
            "--only-summary",
            "--reset-stats",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
            *classes,
        ],
        env=env,
        cwd=desks.folder,
        stdout=(desks.folder / f"{name}.locust.log").open("w"),
        stderr=subprocess.STDOUT,
        timeout=seconds + 300,
        check=True,
    )
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as stats:
        rows = [row for row in csv.DictReader(stats) if row["Name"] != "Aggregated"]
    return {f"{row['Type']} {row['Name']}": _endpoint(row) for row in rows}


def _endpoint(row: dict) -> dict:
    return {
        "requests": int(row["Request Count"]),
        "errors": int(row["Failure Count"]),
        "p50_ms": _ms(row["50%"]),
        "p95_ms": _ms(row["95%"]),
        "p99_ms": _ms(row["99%"]),
    }


def _ms(cell: str) -> float:
    """A percentile from locust's CSV: "N/A" (or nothing) when the endpoint had no request counted."""
    return 0.0 if cell in ("", "N/A") else float(cell)


def read_acks(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def drain(desks: Desks, timeout: float = 300) -> None:
    """Until no job is due and no mail waits to go out (the workers caught up)."""
    desk = open_engine_desk(desks.url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            with desk.db.reading() as session:
                due = session.scalar(
                    select(func.count()).select_from(Job).where(Job.status == "pending", Job.due_at <= now)
                )
                queued = session.scalar(
                    select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "queued")
                )
            if not due and not queued:
                return
            time.sleep(1)
        raise TimeoutError(f"the workers left {due} due jobs and {queued} mails after {timeout} s")
    finally:
        desk.close()


def check_store(desks: Desks, acks: list[dict], sink: MailSink, timer_calls: list[str]) -> dict:
    """Counts of what is wrong (each should be 0) and of what was checked."""
    desk = open_engine_desk(desks.url)
    found: Counter = Counter()
    try:
        with desk.db.reading() as session:
            events = [
                (kind, actor, json.loads(payload))
                for kind, actor, payload in session.execute(
                    select(HistoryEvent.kind, HistoryEvent.actor, HistoryEvent.payload).where(
                        HistoryEvent.kind.in_(("task_completed", "task_claimed"))
                    )
                )
            ]
            completions = Counter(p.get("task_id") for k, _, p in events if k == "task_completed")
            claims = Counter((p.get("task_id"), a) for k, a, p in events if k == "task_claimed")
            bodies = Counter(token for body in session.scalars(select(Message.body)) for token in _tokens(body))
            keys = {row.key: row for row in session.scalars(select(IdempotencyKey))}
            summaries = Counter(session.scalars(select(Ticket.summary)))
            inbound = Counter(session.scalars(select(InboundMail.message_id)))
            for ack in acks:
                kind = ack["kind"]
                if kind == "complete" or (kind == "command" and ack["what"] == "complete"):
                    count = completions[ack["task_id"]]
                elif kind == "claim":
                    count = claims[(ack["task_id"], ack["actor"])]
                elif kind in ("reply", "portal_message"):
                    count = bodies[ack["token"]]
                elif kind == "api_call":  # one call per key, however often it was sent
                    calls = sum(n for summary, n in summaries.items() if f"({ack['key']})" in summary)
                    count = calls if ack["key"] in keys else 0
                elif kind == "mail":
                    count = inbound[ack["message_id"]]
                else:
                    count = 1 if _ticket_exists(session, ack["reference"]) else 0
                found["checked"] += 1
                found["lost"] += count == 0
                found["doubled"] += count > 1
            found["api_retries_answered_again"] = sum(
                n - 1 for n in Counter(a["key"] for a in acks if a["kind"] == "api_call").values()
            )
            fired = Counter(
                (ticket_id, json.loads(p).get("element"), json.loads(p).get("due_at"))
                for ticket_id, p in session.execute(
                    select(HistoryEvent.ticket_id, HistoryEvent.payload).where(HistoryEvent.kind == "timer_fired")
                )
            )
            found["timers_fired"] = sum(fired.values())
            found["timers_fired_twice"] = sum(n - 1 for n in fired.values() if n > 1)
            waiting = session.scalars(
                select(Ticket.reference)
                .join(HistoryEvent, HistoryEvent.ticket_id == Ticket.id)
                .where(Ticket.reference.in_(timer_calls), HistoryEvent.kind == "timer_fired")
            ).all()
            found["fed_timers_not_fired"] = len(set(timer_calls) - set(waiting))
            now = datetime.now(UTC)
            found["jobs_due_left"] = session.scalar(
                select(func.count()).select_from(Job).where(Job.status == "pending", Job.due_at <= now)
            )
            found["job_incidents"] = session.scalar(
                select(func.count()).select_from(Job).where(Job.status != "pending")
            )
            sent = Counter(session.scalars(select(OutboxMail.message_id).where(OutboxMail.status == "sent")))
            found["mail_not_sent"] = session.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status != "sent")
            )
    finally:
        desk.close()
    received = Counter(sink.message_ids)
    found["mails_sent"] = sum(sent.values())
    found["mail_lost"] = sum(1 for mid in sent if received[mid] == 0)
    found["mail_doubled"] = sum(n - 1 for n in received.values() if n > 1)
    verify = desks.cli("audit", "verify")
    replay = desks.cli("audit", "replay", "--all")
    found["audit_verify_failed"] = int(verify.returncode != 0)
    found["audit_replay_failed"] = int(replay.returncode != 0)
    if verify.returncode or replay.returncode:
        log.warning(
            "audit: %s %s", verify.stdout[-2000:] + verify.stderr[-2000:], replay.stdout[-2000:] + replay.stderr[-2000:]
        )
    return dict(found)


def _tokens(body: str) -> list[str]:
    """The 32-hex-digit tokens the load test's people write in their messages."""
    return [word.strip("().") for word in body.split() if len(word.strip("().")) == 32]


def _ticket_exists(session, reference: str) -> bool:
    return session.scalar(select(func.count()).select_from(Ticket).where(Ticket.reference == reference)) == 1


# --- the items --------------------------------------------------------------------------------------------


def morning(desks: Desks, sizes: LoadSizes, sink: MailSink) -> dict:
    """Item 9: a warm-up, each kind of person alone, then the mix at ``sizes.users``; the store checked."""
    fixture = desks.folder / "fixture.json"
    acks = desks.folder / "acks.jsonl"
    # Every web process reads the diagrams' specs and fills its caches on its first requests: not measured.
    run_locust(desks, fixture, acks, MIX, 4, WARM_UP_SECONDS, 4, "warm-up")
    single: dict[str, dict] = {}
    for name in SINGLE_USER_CLASSES:
        single.update(run_locust(desks, fixture, acks, [name], 1, sizes.single_seconds, 1, f"single-{name}", fast=True))
    feed = TimerFeed(desks.url, sizes.timer_calls, sizes.mix_seconds * 0.8)
    feed.start()
    before = len(read_acks(acks))
    started = time.monotonic()
    mix = run_locust(desks, fixture, acks, MIX, sizes.users, sizes.mix_seconds, sizes.ramp_per_second, "mix")
    mix_wall = time.monotonic() - started
    feed.join()
    acknowledged = read_acks(acks)
    drain(desks)
    found = check_store(desks, acknowledged, sink, feed.references)
    return {
        "single": single,
        "mix": mix,
        "found": found,
        "mix_commands": len(acknowledged) - before,
        "mix_wall": mix_wall,
    }


def page_ratios(single: dict, mix: dict) -> dict[str, float]:
    """Per page (GET, seen in both runs): p95 with the mix's users over p95 with one user."""
    return {
        name: mix[name]["p95_ms"] / max(single[name]["p95_ms"], 1.0)
        for name in single
        if name.startswith("GET ") and name in mix and single[name]["requests"] and mix[name]["requests"]
    }


def concurrency(desks: Desks, sizes: LoadSizes) -> dict[int, float]:
    """Item 10: acknowledged commands per second with 1, 2, 4 and 8 clients sending them back to back."""
    fixture = desks.folder / "fixture.json"
    rates = {}
    for clients in CONCURRENCY_LEVELS:
        acks = desks.folder / f"commands-{clients}.jsonl"
        run_locust(
            desks, fixture, acks, ["CommandClient"], clients, sizes.concurrency_seconds, clients, f"clients-{clients}"
        )
        rates[clients] = len(read_acks(acks)) / sizes.concurrency_seconds
    return rates


def run(sizes: LoadSizes, folder: Path, items=(9, 10)) -> list:
    """The results of items 9 and 10 (as bench/measures.Result), on one production set-up."""
    problem = postgres_available()
    if problem:
        raise RuntimeError(f"items 9 and 10 need PostgreSQL: {problem}")
    load = round(os.getloadavg()[0], 2)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    with MailSink() as sink, production_desk(folder, sink) as desks:
        prepare(desks, sizes)
        desks.start_all()
        if 9 in items:
            results.append(_morning_result(morning(desks, sizes, sink), sizes, load))
        if 10 in items:
            rates = concurrency(desks, sizes)
            results.append(
                Result(
                    "concurrency",
                    "10. PostgreSQL, commands/s with 4 clients vs 1",
                    rates[4],
                    rates[1],
                    rates[4] / rates[1],
                    ">= 1.6",
                    rates[4] / rates[1] >= 1.6,
                    "commands/s",
                    {
                        **{f"commands_per_second_{n}_clients": rate for n, rate in rates.items()},
                        "web_processes": os.cpu_count(),
                        "seconds_per_level": sizes.concurrency_seconds,
                        "load_average_1min_at_start": load,
                    },
                )
            )
    return results


def _morning_result(outcome: dict, sizes: LoadSizes, load: float):
    found, mix, single = outcome["found"], outcome["mix"], outcome["single"]
    ratios = page_ratios(single, mix)
    errors = sum(endpoint["errors"] for endpoint in mix.values()) + sum(e["errors"] for e in single.values())
    wrong = {key: found.get(key, 0) for key in WRONG}
    worst_page = max(ratios, key=ratios.__getitem__, default=None)
    worst = ratios[worst_page] if worst_page else 0.0
    # Nothing measured or nothing checked is not a pass.
    met = bool(ratios) and found.get("checked", 0) > 0 and errors == 0 and not any(wrong.values()) and worst <= 5
    details = {
        "users": sizes.users,
        "mix_seconds": sizes.mix_seconds,
        "errors": errors,
        "commands_acknowledged_in_mix": outcome["mix_commands"],
        "commands_per_second_in_mix": outcome["mix_commands"] / outcome["mix_wall"],
        **{f"found_{key}": value for key, value in found.items()},
        "worst_page": worst_page,
        "p95_ratio_by_page": {name: round(r, 2) for name, r in ratios.items()},
        "mix": mix,
        "single_user": single,
        "load_average_1min_at_start": load,
    }
    return Result(
        "morning_load",
        f"9. Load: worst page p95, {sizes.users} users vs 1",
        mix[worst_page]["p95_ms"] if worst_page else 0.0,
        max(single[worst_page]["p95_ms"], 1.0) if worst_page else 0.0,
        worst,
        "<= 5 per page; 0 errors, 0 lost/doubled",
        met,
        "ms",
        details,
    )


# Each must be 0 (``check_store``).
WRONG = (
    "lost",
    "doubled",
    "timers_fired_twice",
    "fed_timers_not_fired",
    "jobs_due_left",
    "job_incidents",
    "mail_not_sent",
    "mail_lost",
    "mail_doubled",
    "audit_verify_failed",
    "audit_replay_failed",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="9 or 10 (both by default)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the logs and locust's CSV files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    folder = Path(tempfile.mkdtemp(prefix="supportdesk-load-"))
    items = tuple(int(n) for n in args.only.split(",")) if args.only else (9, 10)
    try:
        results = run(QUICK if args.quick else FULL, folder, items)
    finally:
        if args.keep:
            log.info("logs kept in %s", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    figures = {r.key: r.as_json() for r in results}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
