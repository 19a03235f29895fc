"""The manager's board and the auditor's desk in a real browser (Chromium, driven by Playwright): each role
lands on its page, the board's figures open the calls behind them, a replay shows the difference an edit
of the store made, and a run in the background is followed on its page until its findings show.

Screenshots land in tests/artifacts/ (not committed): board.png, board-phone.png, auditor-desk.png,
auditor-replay.png, auditor-run.png."""

from __future__ import annotations

import pytest
from browser import screenshot, sign_in
from test_board import build_desk

from supportdesk.engine.oversight.audit_runs import AuditRunner
from supportdesk.engine.store.models import HistoryEvent
from supportdesk.engine.tickets.instances import find_ticket

from helpers import log_and_triage

pytestmark = pytest.mark.slow


def test_C14_C31_the_manager_lands_on_the_board_and_its_figures_open_the_calls_behind_them(site, desk, frozen_clock):
    calls = build_desk(desk, frozen_clock)
    url, page = site
    sign_in(page, url, "carl", "/board")
    assert page.get_by_role("heading", name="Board").is_visible()
    breached = page.locator("[data-figure=breached] a.figure")
    assert breached.inner_text() == "2"
    assert page.locator("[data-cell='second_line/Medium'] a").inner_text() == "1"
    assert page.locator("[data-attainment=first_response] .share").inner_text() == "33.3 %"
    assert page.locator(f"[data-breach='{calls['late']}/first_response']").is_visible()
    screenshot(page, "board")

    breached.click()
    page.wait_for_url(f"{url}/calls?status=open&status=delayed&breached=true")
    page.go_back()
    page.get_by_role("link", name=calls["late"]).first.click()
    page.wait_for_url(f"{url}/calls/{calls['late']}")

    page.goto(f"{url}/board")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the figures still read
    assert page.locator("[data-figure=open] a.figure").is_visible()
    screenshot(page, "board-phone")


def test_C32_the_auditor_lands_on_the_desk_and_a_replay_shows_an_edited_event(site, desk):
    reference = log_and_triage(desk)
    with desk.db.transaction() as session:  # someone rewrites history in the store
        ticket = find_ticket(session, reference)
        event = session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind="priority_set").one()
        event.payload = event.payload.replace('"Low"', '"High"')
    url, page = site
    sign_in(page, url, "audrey", "/audit")
    screenshot(page, "auditor-desk")
    page.get_by_label("One ticket, now").fill(reference)
    page.get_by_role("button", name="Replay this ticket").click()
    page.wait_for_url(f"{url}/audit/replay?reference={reference}")
    assert "does not replay to what is stored" in page.locator("[data-verdict]").inner_text()
    row = page.locator("tr[data-difference$='(priority_set)/payload: priority']")
    assert row.locator("td.stored").inner_text() == "High"
    assert row.locator("td.replayed").inner_text() == "Low"
    screenshot(page, "auditor-replay")


def test_C32_a_run_in_the_background_is_followed_on_its_page_until_its_findings_show(site, desk):
    references = [log_and_triage(desk) for _ in range(3)]
    with desk.db.transaction() as session:
        ticket = find_ticket(session, references[1])
        session.query(HistoryEvent).filter_by(ticket_id=ticket.id, kind="priority_set").one().actor = "mallory"
    url, page = site
    sign_in(page, url, "audrey", "/audit")
    page.get_by_role("button", name="Replay every ticket").click()
    page.wait_for_url(f"{url}/audit/runs/1")
    assert page.locator("[data-run-state]").inner_text() == "queued"
    runner = AuditRunner(desk, name="browser-test-worker")  # the worker, starting after the page asked
    thread = runner.start_in_thread()
    try:
        # No reload by the test: the page's script follows the run and shows the findings when it is done.
        page.wait_for_selector("[data-verdict=different]", timeout=30_000)
    finally:
        runner.stop()
        thread.join(timeout=30)
    assert page.locator("progress").get_attribute("value") == "100"
    assert page.locator(f"[data-different='{references[1]}']").is_visible()
    assert page.locator(f"[data-different='{references[0]}']").count() == 0
    screenshot(page, "auditor-run")
