"""The walking skeleton through the command line, in real subprocesses,
and a second process continuing a ticket the first left half-way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import WORKFLOWS

pytestmark = pytest.mark.slow

SUPPORTDESK = [sys.executable, "-m", "supportdesk.cli"]


@pytest.fixture
def run(tmp_path, new_store_url):
    env = {**os.environ, "SUPPORTDESK_DATABASE_URL": new_store_url("cli"), "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS)}

    def run(*args: str, expect: int = 0, workflows: Path = WORKFLOWS) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*SUPPORTDESK, *args],
            env={**env, "SUPPORTDESK_WORKFLOWS_DIR": str(workflows)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == expect, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    return run


def only_task_id(run, role: str = "first_line") -> str:
    lines = run("tasks", "--role", role).stdout.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0].split()[0]


def log_call(run) -> str:
    return run(
        "log-call",
        "--name",
        "Ann Example",
        "--email",
        "ann@example.com",
        "--account",
        "Acme Ltd",
        "--summary",
        "Campaign won't send",
        "--as",
        "alice",
    ).stdout.strip()


def test_C01_C03_the_skeleton_path_through_the_cli(run):
    assert run("deploy").stdout.strip() == "deployed diagrams as version 1"
    assert run("deploy").stdout.strip() == "diagrams unchanged: version 1 stays active"
    reference = log_call(run)
    assert reference.startswith("SUP-")

    triage = only_task_id(run)
    run("complete", triage, "--as", "alice")  # take the suggested priority
    first = only_task_id(run)
    assert first != triage
    run(
        "complete",
        first,
        "-f",
        "response_method=email",
        "-f",
        "response=Replied with a workaround",
        "-f",
        "next_step=resolved",
        "-f",
        "resolution=Sender domain re-verified",
        "--as",
        "bob",
    )
    run("message", reference, "feedback", "-f", "rating=4", "-f", "comment=Fine")

    shown = run("show", reference).stdout
    assert f"{reference}  [closed]  Campaign won't send" in shown
    assert "open tasks: none" in shown
    assert "SLA first response: 1 working hour, stopped" in shown
    for kind in (
        "call_logged",
        "reference_assigned",
        "priority_set",
        "task_completed",
        "call_resolved",
        "feedback_received",
        "call_closed",
    ):
        assert kind in shown
    assert "bob" in shown
    assert "Sender domain re-verified" in shown
    assert run("tasks").stdout.strip() == "no open tasks"


def test_cli_errors_are_one_clear_line_with_an_exit_status(run):
    run("deploy")
    reference = log_call(run)
    run("complete", only_task_id(run))
    task = only_task_id(run)
    invalid = run("complete", task, "-f", "response_method=fax", expect=1)
    assert "response_method: How the customer was answered must be one of: email, phone" in invalid.stderr
    assert "Traceback" not in invalid.stderr
    answer = (
        "-f",
        "response_method=phone",
        "-f",
        "response=Called",
        "-f",
        "next_step=second_line",
        "-f",
        "handover_reason=Needs logs",
    )
    run("complete", task, *answer)
    conflict = run("complete", task, *answer, expect=3)
    assert conflict.stderr.startswith("conflict: this task was already completed")
    missing = run("show", "SUP-2026-424242", expect=1)
    assert missing.stderr.strip() == "error: no ticket with Call Reference 'SUP-2026-424242'"
    assert reference in run("show", reference).stdout


def test_a_broken_diagram_is_refused_by_the_cli_and_the_old_version_keeps_serving(run, tmp_path: Path):
    run("deploy")
    bad = tmp_path / "bad"
    shutil.copytree(WORKFLOWS, bad)
    text = (
        (WORKFLOWS / "support_call.bpmn")
        .read_text()
        .replace('targetRef="Task_set_priority" />', 'targetRef="Task_gone" />')
    )
    (bad / "support_call.bpmn").write_text(text)
    refused = run("deploy", "--dir", str(bad), expect=1)
    assert "support_call.bpmn:" in refused.stderr
    assert "Flow_triage_to_set_priority" in refused.stderr
    assert log_call(run).startswith("SUP-")


def test_restart_safety_a_second_process_continues_a_ticket_left_half_way(run):
    """Each CLI call is a new process on the same store: the first logs the call
    and answers it, a later one (after the first has exited) resolves it."""
    run("deploy")
    reference = log_call(run)
    run("complete", only_task_id(run))
    run(
        "complete",
        only_task_id(run),
        "-f",
        "response_method=phone",
        "-f",
        "response=On it",
        "-f",
        "next_step=second_line",
        "-f",
        "handover_reason=Needs the server logs",
    )
    # A new process, with nothing in memory from the ones before.
    run("complete", only_task_id(run, "second_line"), "-f", "next_step=resolved", "-f", "resolution=Fixed")
    assert f"{reference}  [resolved]" in run("show", reference).stdout


def test_nonsense_in_the_calendar_file_stops_the_desk_with_a_clear_message(run, tmp_path: Path):
    folder = tmp_path / "wf"
    shutil.copytree(WORKFLOWS, folder)
    calendar = folder / "calendar.toml"
    calendar.write_text(calendar.read_text().replace('monday = ["08:30-18:00"]', 'monday = ["18:00-08:30"]'))
    refused = run("deploy", "--dir", str(folder), expect=1, workflows=folder)
    assert refused.stderr.startswith("error: ")
    assert "calendar.toml" in refused.stderr
    assert "opening_hours.monday" in refused.stderr
    assert "Traceback" not in refused.stderr
