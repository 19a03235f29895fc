"""The auditor's desk (issue 20, C32): the command line's audit in the browser. Verify, replay every ticket
and what if are runs a worker does in the background (``audit_runs.AuditRunner``; here one pass of it
stands for the worker); one ticket's replay is shown at once, with each difference field by field."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import NotAllowed
from supportdesk.engine.oversight import audit_runs
from supportdesk.engine.store.models import AuditRun, HistoryEvent
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.working_time.calendar import WorkingCalendar

from conftest import WORKFLOWS
from helpers import ANN, FIRST_RESPONSE, RESOLUTION, RESOLVED_STRAIGHT_AWAY, do, log_and_triage
from web_client import parse, signed_in, text, token

LONDON = WorkingCalendar.default().zone


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.fixture
def auditor(client):
    return signed_in(client, "audrey")


def edit_event(desk, reference: str, kind: str, change) -> int:
    """Someone rewrites a stored event behind the desk's back; returns its sequence number."""
    with desk.db.transaction() as session:
        ticket = find_ticket(session, reference)
        event = session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind=kind).one()
        change(event)
        return event.seq


def start_run(browser, kind: str, **fields):
    page = browser.get("/audit")
    data = {"csrf_token": token(page), "kind": kind, **fields}
    return browser.post("/audit/runs", data=data, content_type="multipart/form-data")


def run_in_worker(desk) -> int | None:
    """What a worker's audit runner does on its next pass."""
    return audit_runs.AuditRunner(desk, name="test-worker").run_once()


def said(response_or_text) -> str:
    """The page with its whitespace collapsed, as a reader takes in its sentences."""
    page = response_or_text if isinstance(response_or_text, str) else text(response_or_text)
    return " ".join(page.split())


def run_page(browser, response):
    assert response.status_code == 302, text(response)
    return browser.get(response.headers["Location"])


# --- verify ------------------------------------------------------------------------------------------------


def test_C32_verify_shows_every_chain_holding_and_then_the_edited_one(auditor, desk):
    first, second = log_and_triage(desk), log_and_triage(desk)
    asked = start_run(auditor, "verify")
    waiting = run_page(auditor, asked)
    assert "Waiting for a worker to start it." in text(waiting)
    assert 'data-run-status="/audit/runs/1/status"' in text(waiting)  # audit_run.js follows it from there
    run_in_worker(desk)
    done = said(auditor.get(asked.headers["Location"]))
    assert 'data-verdict="holds"' in done
    assert "Every hash chain holds: 2 tickets checked." in done

    seq = edit_event(desk, second, "priority_set", lambda e: setattr(e, "actor", "mallory"))
    run_in_worker(desk)  # nothing queued: nothing done
    again = start_run(auditor, "verify")
    run_in_worker(desk)
    found = said(auditor.get(again.headers["Location"]))
    assert 'data-verdict="broken"' in found
    assert "1 of 2 tickets have a broken hash chain" in found
    assert f'data-broken="{second}"' in found
    assert f'data-broken="{first}"' not in found
    assert f'<td class="number">{seq}</td>' in found
    assert "priority_set" in found


# --- replay ------------------------------------------------------------------------------------------------


def test_C32_replaying_one_ticket_shows_the_edited_field_stored_and_replayed(auditor, desk):
    reference = log_and_triage(desk)
    same = auditor.get(f"/audit/replay?reference={reference}")
    assert same.status_code == 200
    assert f"{reference} replays to what is stored." in said(same)
    assert "Confirm priority" in text(same)  # its timeline

    seq = edit_event(desk, reference, "priority_set", lambda e: setattr(e, "payload", e.payload.replace("Low", "High")))
    page = said(auditor.get(f"/audit/replay?reference={reference.lower()}"))
    assert f"{reference} does not replay to what is stored" in page
    row = f'data-difference="history event {seq} (priority_set)/payload: priority"'
    assert row in page
    after = page[page.index(row) :]
    assert after.index("<del>High</del>") < after.index("<ins>Low</ins>") < after.index("</tr>")


@pytest.mark.parametrize(
    ("asked", "status", "message"),
    [
        ("", 400, "Enter a reference, like SUP-2026-000001"),
        ("SUP-2026-999999", 404, "No ticket with Call Reference &#39;SUP-2026-999999&#39;"),
        ("X" * 40, 400, "A reference is at most 32 characters"),
    ],
)
def test_a_replay_of_no_ticket_says_why_next_to_the_field(auditor, asked, status, message):
    response = auditor.get("/audit/replay", query_string={"reference": asked})
    assert response.status_code == status
    assert f'id="reference-error" role="alert">{message}' in text(response)


def test_C32_replaying_every_ticket_in_the_background_lists_the_one_that_differs(auditor, desk):
    references = [log_and_triage(desk) for _ in range(3)]
    seq = edit_event(desk, references[1], "priority_set", lambda e: setattr(e, "actor", "mallory"))
    asked = start_run(auditor, "replay")
    status_url = asked.headers["Location"] + "/status"
    assert auditor.get(status_url).get_json() == {
        "id": 1,
        "status": "queued",
        "done": 0,
        "total": None,
        "percent": 0,
        "progress": "Waiting for a worker to start it.",
        "finished": False,
    }
    assert run_in_worker(desk) == 1
    status = auditor.get(status_url).get_json()
    assert (status["status"], status["done"], status["total"], status["percent"], status["finished"]) == (
        "done",
        3,
        3,
        100,
        True,
    )
    page = said(auditor.get(asked.headers["Location"]))
    assert "2 of 3 tickets replay to what is stored; 1 does not." in page
    assert f'data-different="{references[1]}"' in page
    assert f'data-different="{references[0]}"' not in page
    assert f'data-difference="history event {seq} (priority_set)/actor"' in page
    assert "<del>mallory</del>" in page
    assert "<ins>alice</ins>" in page


# --- what if -----------------------------------------------------------------------------------------------


def closure_scenario(desk, clock) -> dict[str, str]:
    """As test_audit's: a Low call due ten working days on, a High call breached on Wednesday and resolved
    then, a High call of Thursday resolved the same morning."""
    high = replace(ANN, symptom="software_crashes", preparing_campaign=True)
    clock.set(london(2026, 11, 23, 10, 0))
    low = log_and_triage(desk)
    clock.set(london(2026, 11, 24, 14, 0))
    crossing = log_and_triage(desk, details=high)
    do(desk, crossing, "First level response", FIRST_RESPONSE)
    clock.set(london(2026, 11, 25, 15, 0))
    Worker(desk).run_once()
    do(desk, crossing, "Resolve call (second line)", RESOLUTION, "sam")
    clock.set(london(2026, 11, 26, 9, 0))
    after = log_and_triage(desk, details=high)
    do(desk, after, "First level response", RESOLVED_STRAIGHT_AWAY)
    return {"low": low, "crossing": crossing, "after": after}


def calendar_with_closure(day: str = "2026-11-25") -> bytes:
    shipped = (WORKFLOWS / "calendar.toml").read_text()
    return shipped.replace("[closures]", f'[closures]\n"{day}" = "Office move"').encode()


def test_C13_C32_what_if_a_closure_lists_the_tickets_whose_outcome_would_change(auditor, desk, frozen_clock):
    calls = closure_scenario(desk, frozen_clock)
    asked = start_run(
        auditor,
        "what_if",
        what_if_kind="calendar",
        file=(io.BytesIO(calendar_with_closure()), "closed-wednesday.toml"),
    )
    run_in_worker(desk)
    page = said(run_page(auditor, asked))
    assert "What if: working calendar closed-wednesday.toml" in page
    assert "1 of 3 tickets would change outcome (met or breached); on 1 more only a due moment would move." in page
    outcome = page[page.index('data-what-if="outcome"') : page.index('data-what-if="due"')]
    assert f'data-change="{calls["crossing"]}/resolution"' in outcome
    assert "breached → <strong>met</strong>" in outcome
    due_only = page[page.index('data-what-if="due"') :]
    assert f'data-change="{calls["low"]}/resolution"' in due_only
    assert "07 Dec 2026" in due_only  # due as stored ...
    assert "08 Dec 2026" in due_only  # ... and a working day later under the closure
    assert calls["after"] not in page
    # Nothing stored changed: replaying the crossing ticket still matches.
    assert f"{calls['crossing']} replays to what is stored." in said(
        auditor.get(f"/audit/replay?reference={calls['crossing']}")
    )


def test_C32_what_if_with_a_policy_file(auditor, desk, frozen_clock):
    """A stricter first response target (30 minutes) turns a reply after 40 minutes into a breach."""
    frozen_clock.set(london(2026, 11, 23, 10, 0))
    reference = log_and_triage(desk)
    frozen_clock.set(london(2026, 11, 23, 10, 40))
    do(desk, reference, "First level response", FIRST_RESPONSE)
    policy = (WORKFLOWS / "sla_policy.toml").read_text().replace('target = "1h"', 'target = "30m"', 1)
    asked = start_run(auditor, "what_if", what_if_kind="policy", file=(io.BytesIO(policy.encode()), "strict.toml"))
    run_in_worker(desk)
    page = said(run_page(auditor, asked))
    assert "What if: SLA policy strict.toml" in page
    assert f'data-change="{reference}/first_response"' in page
    assert "met → <strong>breached</strong>" in page


@pytest.mark.parametrize(
    ("kind", "upload", "message"),
    [
        (
            "calendar",
            (b"timezone = 'Mars/Base'\n", "mars.toml"),
            "mars.toml is not a working calendar the desk can use",
        ),
        (
            "calendar",
            (calendar_with_closure("2026-13-01"), "bad-date.toml"),
            "closures.2026-13-01: bad date &#39;2026-13-01&#39;",
        ),
        ("calendar", (b"[closures\n", "broken.toml"), "is not a working calendar the desk can use"),
        ("policy", (b"[first_response]\ntarget = 'soon'\n", "p.toml"), "&#39;soon&#39; is not a target like"),
        ("calendar", (b"\xff\xfe\x00", "binary.toml"), "binary.toml is not a text file (UTF-8 TOML)"),
        ("calendar", (b"#" * (audit_runs.MAX_WHAT_IF_BYTES + 1), "huge.toml"), "a working calendar file is at most"),
        ("calendar", (b"", ""), "Choose a working calendar file (TOML) to upload"),
        ("sundial", (b"x = 1", "x.toml"), "Choose a working calendar or an SLA policy"),
    ],
)
def test_a_bad_what_if_file_gets_a_clear_message_and_starts_nothing(auditor, desk, kind, upload, message):
    content, name = upload
    response = start_run(auditor, "what_if", what_if_kind=kind, file=(io.BytesIO(content), name))
    assert response.status_code == 400
    assert message in said(response)
    with desk.db.reading() as session:
        assert session.query(AuditRun).count() == 0


# --- runs: progress, cancelling, workers that stop or die -----------------------------------------------------


def test_a_cancelled_run_is_never_started(auditor, desk):
    log_and_triage(desk)
    asked = start_run(auditor, "replay")
    page = auditor.get(asked.headers["Location"])
    cancelled = auditor.post(asked.headers["Location"] + "/cancel", data={"csrf_token": token(page)})
    assert cancelled.status_code == 302
    assert run_in_worker(desk) is None
    shown = said(auditor.get(asked.headers["Location"]))
    assert "Audit run 1 is cancelled." in shown
    assert "Cancelled after 0 tickets (cancelled by audrey)." in shown
    assert auditor.get(asked.headers["Location"] + "/status").get_json()["finished"] is True


def test_C32_a_run_whose_worker_died_is_done_by_another_and_the_first_writes_nothing(desk, frozen_clock):
    log_and_triage(desk)
    run_id = audit_runs.request_run(desk, audit_runs.RequestAuditRun("verify"), "audrey")
    dead = audit_runs.AuditRunner(desk, name="dead-worker")
    assert dead._lease() == run_id  # it took the run, then its machine was lost
    assert audit_runs.AuditRunner(desk, name="other").run_once() is None  # leased: not another's yet
    frozen_clock.advance(audit_runs.LEASE + timedelta(seconds=1))
    assert audit_runs.AuditRunner(desk, name="other").run_once() == run_id
    shown = audit_runs.run_view(desk, run_id)
    assert (shown.status, shown.done, shown.findings["broken_count"]) == ("done", 1, 0)
    with pytest.raises(audit_runs._Stopped):  # the first worker, back from the dead, changes nothing
        dead._write_progress(run_id, 1)


def test_a_running_run_cancelled_stops_at_its_next_progress_write(desk):
    log_and_triage(desk)
    run_id = audit_runs.request_run(desk, audit_runs.RequestAuditRun("replay"), "audrey")
    runner = audit_runs.AuditRunner(desk, name="busy")
    assert runner._lease() == run_id
    runner._write_progress(run_id, 0, 1)
    audit_runs.cancel_run(desk, run_id, "audrey")
    with pytest.raises(audit_runs._Stopped):
        runner._write_progress(run_id, 1)
    shown = audit_runs.run_view(desk, run_id)
    assert (shown.status, shown.done, shown.finished) == ("cancelled", 0, True)
    with pytest.raises(NotAllowed):
        audit_runs.cancel_run(desk, run_id, "audrey")


def test_a_stopping_worker_gives_its_run_back_for_another(desk):
    log_and_triage(desk)
    run_id = audit_runs.request_run(desk, audit_runs.RequestAuditRun("replay"), "audrey")
    stopping = audit_runs.AuditRunner(desk, name="stopping")
    stopping.stop()  # SIGTERM arrived: the run goes back to the queue at its first progress write
    assert stopping.run_once() == run_id
    assert audit_runs.run_view(desk, run_id).status == "queued"
    assert run_in_worker(desk) == run_id
    assert audit_runs.run_view(desk, run_id).status == "done"


def test_the_desk_lists_the_runs_newest_first(auditor, desk):
    start_run(auditor, "verify")
    start_run(auditor, "replay")
    run_in_worker(desk)
    page = said(auditor.get("/audit"))
    assert page.index('data-run="2"') < page.index('data-run="1"')
    assert "Done: 0 tickets." in page
    assert "Waiting for a worker to start it." in page


# --- export --------------------------------------------------------------------------------------------------


def test_C32_the_export_downloads_the_history_with_its_hashes(auditor, desk):
    reference = log_and_triage(desk)
    response = auditor.get(f"/audit/export?reference={reference}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert f'attachment; filename="{reference}-history.json"' == response.headers["Content-Disposition"]
    exported = json.loads(response.get_data(as_text=True))
    assert exported["reference"] == reference
    assert [e["seq"] for e in exported["events"]] == list(range(1, len(exported["events"]) + 1))
    assert all(len(e["hash"]) == 64 for e in exported["events"])
    missing = auditor.get("/audit/export?reference=SUP-2026-999999")
    assert missing.status_code == 404
    assert 'id="export-error" role="alert">No ticket with Call Reference' in text(missing)


# --- who may --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "carl", "sam"])
def test_only_auditors_use_the_auditors_desk(client, desk, username):
    reference = log_and_triage(desk)
    run_id = audit_runs.request_run(desk, audit_runs.RequestAuditRun("verify"), "audrey")
    signed_in(client, username)
    for url in (
        "/audit",
        f"/audit/runs/{run_id}",
        f"/audit/runs/{run_id}/status",
        f"/audit/replay?reference={reference}",
        f"/audit/export?reference={reference}",
    ):
        assert client.get(url).status_code == 403, url
    page = client.get("/calls")
    assert client.post("/audit/runs", data={"csrf_token": token(page), "kind": "verify"}).status_code == 403
    assert client.post(f"/audit/runs/{run_id}/cancel", data={"csrf_token": token(page)}).status_code == 403
    assert audit_runs.run_view(desk, run_id).status == "queued"


def test_admin_uses_the_auditors_desk_and_visitors_are_sent_to_sign_in(client, desk):
    assert client.get("/audit").headers["Location"].startswith("/login?next=")
    signed_in(client, "admin")
    assert client.get("/audit").status_code == 200


def test_asking_for_a_run_needs_the_forms_token(auditor):
    assert auditor.post("/audit/runs", data={"kind": "verify"}).status_code == 400


def test_an_unknown_run_is_a_404(auditor):
    assert auditor.get("/audit/runs/99").status_code == 404
    assert auditor.get("/audit/runs/99/status").status_code == 404


def test_the_what_if_form_offers_both_kinds_of_file(auditor):
    form = parse(auditor.get("/audit"))
    assert form.inputs["file"]["type"] == "file"
    assert form.inputs["what_if_kind"]["value"] == "calendar"


@pytest.mark.slow
def test_C32_the_worker_process_does_the_runs_the_desk_asks_for(desk, tmp_path):
    """``supportdesk worker`` runs the audit runner beside its timers: a run asked for is done, and a worker
    stopped with SIGTERM exits cleanly."""
    import os
    import signal
    import subprocess
    import sys
    import time

    log_and_triage(desk)
    run_id = audit_runs.request_run(desk, audit_runs.RequestAuditRun("verify"), "audrey")
    env = {
        **os.environ,
        "SUPPORTDESK_DATABASE_URL": desk.settings.database_url,
        "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "supportdesk.cli", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while audit_runs.run_view(desk, run_id).status != "done" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert audit_runs.run_view(desk, run_id).findings == {"checked": 1, "broken_count": 0, "broken": []}
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output
