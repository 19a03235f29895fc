"""The desk on a phone (issue 20), in a real browser (Chromium, driven by Playwright) at 390 by 844: the
inbox's key columns are on screen without scrolling sideways, and the REST API's docs page keeps its
look under the Content-Security-Policy.

Screenshots land in tests/artifacts/ (not committed)."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot, serving, sign_in

from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.web import create_app

from helpers import log_and_triage, log_call
from web_client import PASSWORD

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}
WORKING_TIME = re.compile(r"^(\d+ h \d{2} min|\d+ min)")


@contextmanager
def phone():
    """A page in a phone-sized browser; any Content-Security-Policy violation fails the test."""
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("console", lambda message: console.append(message.text))
            yield page
        finally:
            browser.close()
    assert [text for text in console if "Content Security Policy" in text] == []


@pytest.fixture
def site(desk):
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    with serving(create_app(desk)) as url, phone() as page:
        yield url, page


def within_the_screen(box: dict) -> bool:
    return box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def no_sideways_scrolling(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_C12_C13_the_inbox_shows_reference_task_and_time_left_on_a_phone(site, desk):
    """An advisor on a phone sees, for each task, the Call Reference, the task and the working time left
    on its SLA clock (C12, C13) without scrolling sideways."""
    url, page = site
    log_call(desk)
    log_and_triage(desk)
    sign_in(page, url, "alice")
    rows = page.locator("#inbox-live tbody tr")
    assert rows.count() == 2
    for index in range(2):
        row = rows.nth(index)
        reference, task, left = row.get_by_role("link").nth(0), row.get_by_role("link").nth(1), row.locator("td").nth(3)
        assert re.fullmatch(r"SUP-2026-00000\d", reference.inner_text())
        assert task.inner_text() in ("Confirm priority", "First level response")
        assert WORKING_TIME.match(left.inner_text()), left.inner_text()
        for cell in (reference, task, left):
            assert cell.is_visible()
            assert within_the_screen(cell.bounding_box()), (cell.inner_text(), cell.bounding_box())
    assert row.get_by_role("button", name="Claim").is_visible()
    assert no_sideways_scrolling(page)
    screenshot(page, "phone-inbox")


def test_the_api_docs_page_keeps_the_desks_look_under_the_policy_on_a_phone(site):
    url, page = site
    page.goto(f"{url}/api/v1/docs")
    page.get_by_text("Log a call (C01, C02)").wait_for()  # Swagger UI ran: its script was allowed
    top = page.locator("header.docs-top")
    assert top.get_by_role("link", name="Support desk").is_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('header.docs-top')).backgroundColor") == (
        "rgb(31, 41, 51)"  # the desk's ink: api-docs.css loaded from /static
    )
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith("system-ui")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/static/favicon.svg")
    assert no_sideways_scrolling(page)
    screenshot(page, "phone-api-docs")
