"""What people click, in a real browser (Chromium, driven by Playwright).

Screenshots of the pages land in tests/artifacts/ (not committed).
"""

from __future__ import annotations

import pytest
from browser import screenshot, sign_in

from supportdesk.engine.tickets import queries

from helpers import open_task

pytestmark = pytest.mark.slow


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_C01_C05_C16_a_call_from_logging_to_resolution_through_the_browser(site, desk):
    url, page = site
    sign_in(page, url, "alice")
    page.get_by_role("link", name="Log a call").click()
    page.get_by_label("Contact name").fill("Ann Example")
    page.get_by_label("Contact email").fill("ann@example.com")
    page.get_by_label("Account").fill("Acme Ltd")
    page.get_by_label("Summary").fill("The campaign won't send")
    page.get_by_label("What blocks the customer").select_option("campaign_wont_send")
    page.get_by_role("button", name="Log the call").click()
    page.wait_for_url(f"{url}/calls/SUP-2026-000001")
    reference = "SUP-2026-000001"

    page.get_by_role("link", name="Inbox").click()
    row = page.get_by_role("row").filter(has_text=reference)
    assert "Confirm priority" in row.inner_text()
    screenshot(page, "inbox")
    row.get_by_role("link", name="Confirm priority").click()

    # Triage: a different priority without a reason is refused, next to the field.
    page.get_by_label("Priority (leave blank").select_option("High")
    page.get_by_role("button", name="Complete").click()
    assert "Say why you chose High rather than the suggested Low" in page.content()
    page.get_by_label("Why a different priority").fill("Their board demo is at noon")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{url}/calls/{reference}")

    page.get_by_role("link", name="First level response").click()
    page.get_by_label("How the customer was answered").select_option("phone")
    page.get_by_label("What the customer was told").fill("Called back: we are on it")
    page.get_by_label("Next", exact=True).select_option("second_line")
    page.get_by_label("Why second line is needed").fill("Sending is blocked server-side")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{url}/calls/{reference}")
    sign_out(page)

    sign_in(page, url, "sam")
    page.get_by_role("row").filter(has_text=reference).get_by_role("link", name="Resolve call (second line)").click()
    page.get_by_label("Next", exact=True).select_option("resolved")
    page.get_by_label("Resolution (when resolved)").fill("Unblocked the sending queue")
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{url}/calls/{reference}")
    assert "Resolved" in page.locator("dl.facts").first.inner_text()
    screenshot(page, "ticket")

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    screenshot(page, "ticket-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_out(page)
    sign_in(page, url, "carl")
    page.get_by_role("link", name="Reports").click()
    assert page.locator("img[src*='/reports/chart/']").count() >= 1
    screenshot(page, "report")

    view = queries.ticket_view(desk, reference)
    assert view.status == "resolved"
    assert view.priority == "High"
    assert [e.actor for e in view.history if e.kind == "task_completed"] == ["alice", "alice", "sam"]


def test_a_second_line_advisor_cannot_open_a_first_line_task_in_the_browser(site, desk):
    from helpers import log_and_triage

    url, page = site
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(page, url, "sam")
    response = page.goto(f"{url}/tasks/{task.task_id}")
    assert response.status == 403
    assert "Your role does not allow this page." in page.content()


def test_C25_the_customer_opens_the_link_from_the_confirmation_and_sees_only_their_own_call(site, desk):
    from dataclasses import replace

    from test_portal import portal_link

    from helpers import ANN, log_call

    url, page = site
    ann = log_call(desk)
    zed = log_call(desk, details=replace(ANN, contact_email="zed@other.example", summary="Zed's own trouble"))
    page.goto(url + portal_link(desk, ann)[0])
    rows = page.get_by_role("row").all_inner_texts()
    assert len(rows) == 2
    assert ann in rows[1]
    assert zed not in " ".join(rows)
    page.get_by_role("link", name=ann).click()
    assert "Our support team is working on your call." in page.content()
    screenshot(page, "portal")

    page.goto(url + portal_link(desk, zed)[0])  # the second customer's link, in the same browser
    assert ann not in page.content()
    assert zed in page.content()
    assert page.goto(f"{url}/portal/calls/{ann}").status == 404
