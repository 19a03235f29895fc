"""Process insight in a real browser (Chromium, driven by Playwright; issue 21): the process owner opens it
from the navigation and sees, drawn by bpmn.io's viewer under the desk's Content-Security-Policy, badges
over each element (tickets there now, passed, median working time, breaches while there) and the elements
filled by where the working time went. The screenshot lands in tests/artifacts/process-insight.png."""

from __future__ import annotations

import pytest
from browser import ARTIFACTS, chromium_page, require_chromium, serving
from test_process_insight import week_of_calls

from supportdesk.engine.people import users
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.web import create_app

from web_client import PASSWORD

pytestmark = pytest.mark.slow

# The fill of an element's shape, and the badges over it (bpmn-js puts overlays in a container per element).
SHAPE_FILL = (
    """id => getComputedStyle(document.querySelector(`[data-element-id="${id}"] .djs-visual > :first-child`)).fill"""
)
HOTTEST_FILL = "rgb(255, 164, 88)"  # heat-4 (diagram.css)


def badges(figure, element_id: str) -> list[str]:
    return figure.locator(f'.djs-overlays[data-container-id="{element_id}"] .bpmn-figure-badge').all_inner_texts()


def test_C05_C12_C14_the_process_owner_sees_the_figures_drawn_on_the_diagram(desk):
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    users.add_user(desk, users.NewUser("pat", PASSWORD, ["process_owner"], "Pat Process"), "test")
    week_of_calls(desk)
    with serving(create_app(desk)) as url, chromium_page() as page:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{url}/login")
        page.get_by_label("Username").fill("pat")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Process insight").click()
        page.wait_for_url(f"{url}/process/insight")
        figure = page.locator(".bpmn-figure")
        figure.scroll_into_view_if_needed()
        page.wait_for_function("f => f.classList.contains('bpmn-drawn')", arg=figure.element_handle())

        assert badges(figure, "Task_triage") == ["3 passed", "2 breaches", "1 h 30 min"]
        assert badges(figure, "Task_first_level_response") == ["2 now", "1 passed", "1 breach", "7 h 45 min"]
        assert badges(figure, "Task_second_line") == ["1 now"]
        assert badges(figure, "Start_first_response_due") == ["3 passed"]
        assert badges(figure, "Task_third_line_resolve") == []  # nothing there, nothing passed: no badge
        assert page.evaluate(SHAPE_FILL, "Task_triage") == HOTTEST_FILL
        assert page.evaluate(SHAPE_FILL, "Task_second_line") != HOTTEST_FILL
        # Shown first around where most time goes, at 100 %, each badge inside the canvas.
        canvas = figure.locator(".bpmn-canvas").bounding_box()
        badge = figure.locator('.djs-overlays[data-container-id="Task_triage"] .bpmn-figures-above').bounding_box()
        assert figure.locator(".bpmn-scale").inner_text() == "100 %"
        assert canvas["y"] <= badge["y"]
        assert badge["y"] + badge["height"] <= canvas["y"] + canvas["height"]
        ARTIFACTS.mkdir(exist_ok=True)
        figure.screenshot(path=str(ARTIFACTS / "process-insight.png"))
        page.screenshot(path=str(ARTIFACTS / "process-insight-page.png"), full_page=True)
        assert problems == []  # a Content-Security-Policy violation is a console error too
