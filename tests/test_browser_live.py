"""Live queues in a real browser (issue 20): two advisors in two browser contexts, and a customer on
the portal; what one does shows on the others' open pages within seconds, without a reload.

Screenshots land in tests/artifacts/ (not committed)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot, serving, sign_in

from supportdesk.engine.people import users
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.web import create_app

from helpers import log_and_triage, log_call
from web_client import PASSWORD, portal_link

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

SOON_MS = 5_000  # "within a few seconds": the pages poll every three


@contextmanager
def browsers(count: int):
    """``count`` separate browser contexts (separate cookies: separate people), each with a page;
    any Content-Security-Policy violation on any of them fails the test."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            pages = []
            for _ in range(count):
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.set_default_timeout(15_000)
                page.on("console", lambda message: console.append(message.text))
                pages.append(page)
            yield pages
        finally:
            browser.close()
    assert [text for text in console if "Content Security Policy" in text] == []


def mark_unreloaded(page) -> None:
    """A flag in the page's own memory: gone if the page is reloaded."""
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


@pytest.fixture
def desk_with_two_advisors(desk, monkeypatch):
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    users.add_user(desk, users.NewUser("fiona", PASSWORD, ["first_line"], "Fiona First"), "admin")
    return desk


def test_a_claim_by_one_advisor_shows_on_the_others_inbox_and_open_form_without_a_reload(desk_with_two_advisors):
    desk = desk_with_two_advisors
    reference = log_call(desk)
    with serving(create_app(desk)) as url, browsers(2) as (alice, fiona):
        sign_in(alice, url, "alice")
        sign_in(fiona, url, "fiona")
        form = alice.context.new_page()  # alice also has the task's form open, before she types
        alice_row = alice.get_by_role("row").filter(has_text=reference)
        form.goto(f"{url}/tasks")
        form.get_by_role("row").filter(has_text=reference).get_by_role("link", name="Confirm priority").click()
        form.wait_for_url(f"{url}/tasks/*")
        for page in (alice, form):
            mark_unreloaded(page)
        expect(form.locator("#task-now")).to_be_hidden()

        fiona.get_by_role("row").filter(has_text=reference).get_by_role("button", name="Claim").click()
        fiona.wait_for_url(f"{url}/tasks")

        expect(alice_row.get_by_role("cell", name="fiona")).to_be_visible(timeout=SOON_MS)
        expect(alice_row.get_by_role("button", name="Claim")).to_have_count(0)
        expect(form.locator("#task-now")).to_have_text(
            "fiona has claimed this task: an answer sent now would be refused unless they release it.",
            timeout=SOON_MS,
        )
        expect(form.get_by_role("button", name="Complete confirm priority")).to_be_disabled()
        for page in (alice, form):
            assert_not_reloaded(page)
        screenshot(alice, "live-inbox-claimed-by-another")
        screenshot(form, "live-form-claimed-by-another")

        # Fiona gives it back: alice's form is hers to send again.
        fiona.get_by_role("row").filter(has_text=reference).get_by_role("button", name="Release").click()
        expect(form.locator("#task-now")).to_be_hidden(timeout=SOON_MS)
        expect(form.get_by_role("button", name="Complete confirm priority")).to_be_enabled()
        expect(alice_row.get_by_role("button", name="Claim")).to_be_visible(timeout=SOON_MS)


def test_C25_a_customers_portal_message_appears_on_the_advisors_open_ticket_page(desk_with_two_advisors):
    desk = desk_with_two_advisors
    reference = log_and_triage(desk)
    portal_path, _ = portal_link(desk, reference)
    with serving(create_app(desk)) as url, browsers(2) as (alice, customer):
        sign_in(alice, url, "alice")
        alice.goto(f"{url}/calls/{reference}")
        alice.get_by_label("Reply (Markdown").fill("Half a reply, still being typed")  # kept: never redrawn
        history_rows = alice.locator("#history-live tbody tr").count()
        mark_unreloaded(alice)

        customer.goto(f"{url}{portal_path}")
        customer.goto(f"{url}/portal/calls/{reference}")
        customer.get_by_label("Your message").fill("The import failed again at 10:02.")
        customer.get_by_role("button", name="Send to our support team").click()
        customer.locator(".entries").filter(has_text="The import failed again").wait_for()

        expect(alice.locator("#thread-live")).to_contain_text("The import failed again at 10:02.", timeout=SOON_MS)
        expect(alice.locator("#history-live tbody tr")).to_have_count(history_rows + 1, timeout=SOON_MS)
        expect(alice.get_by_label("Reply (Markdown")).to_have_value("Half a reply, still being typed")
        assert_not_reloaded(alice)
        screenshot(alice, "live-ticket-page-customer-wrote")
