"""The calls list in a real browser (Chromium): the search box and the filters fold work with no script of
the page's own under the strict CSP, and on a phone (390 px wide) the key columns stay on screen.

Screenshots land in tests/artifacts/ (not committed).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from browser import chromium_page, require_chromium, screenshot, serving

from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.web import create_app

from helpers import ANN, log_and_triage, log_call
from web_client import PASSWORD

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
KEY_COLUMNS = ("Call Reference", "Status", "Priority", "Summary")


def test_on_a_phone_the_calls_list_searches_and_keeps_its_key_columns_on_screen(desk):
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    rossi = log_and_triage(
        desk,
        details=replace(
            ANN,
            contact_name="Mario Rossi",
            account="Globex Corporation International",
            summary="The scheduled campaign to the whole spring newsletter list stops at forty per cent every time",
        ),
    )
    log_call(desk)
    with serving(create_app(desk)) as url, chromium_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.set_viewport_size(PHONE)
        page.goto(f"{url}/login")
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/tasks")
        page.goto(f"{url}/calls")
        page.get_by_label("Search calls").fill("rossi")
        page.get_by_role("button", name="Search", exact=True).click()
        page.wait_for_url(f"{url}/calls?q=rossi")
        rows = page.locator("table.calls tbody tr")
        assert rows.count() == 1
        assert rossi in rows.first.inner_text()
        for name in KEY_COLUMNS:
            box = page.get_by_role("columnheader", name=name).bounding_box()
            assert box is not None, name
            assert box["x"] >= 0, (name, box)
            assert box["x"] + box["width"] <= PHONE["width"], (name, box)
        assert not page.get_by_role("columnheader", name="Account").is_visible()  # under the summary instead
        assert "Globex Corporation International" in rows.first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing off to the side
        screenshot(page, "calls-phone-search")
        page.get_by_text("Filters and order").click()  # the fold opens without script
        page.get_by_role("checkbox", name="Open", exact=True).check()
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(f"{url}/calls?q=rossi&status=open**")
        assert page.locator("table.calls tbody tr").count() == 1
        screenshot(page, "calls-phone-filters")
    assert [text for text in console if "Content Security Policy" in text] == []
