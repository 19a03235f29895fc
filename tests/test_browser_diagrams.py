"""The diagrams as people see them (issue 21), in a real browser (Chromium, driven by Playwright): drawn by
bpmn.io's viewer under the desk's Content-Security-Policy, readable at 100 %, with the markers a modeller
shows, where the call is and the path it took, zoom and pan; and the process owner's pages, where each
version's diagrams and what a change would do are drawn.

Screenshots land in tests/artifacts/ (not committed): diagram_ticket_100.png, diagram_ticket_zoomed_in.png,
diagram_ticket_whole.png, diagram_ticket_page.png, diagram_version_1.png, diagram_check_changes.png,
diagram_migration_changes.png.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import ARTIFACTS, chromium_page, require_chromium, screenshot, serving, sign_in

from supportdesk.engine.people import users
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.tickets import commands, queries
from supportdesk.web import create_app

from conftest import WORKFLOWS
from helpers import FIRST_RESPONSE, delay_for_information, do, log_and_triage, log_call
from web_client import PASSWORD

pytestmark = pytest.mark.slow

RENAMED = (
    (WORKFLOWS / "support_call.bpmn")
    .read_text()
    .replace('name="First level response"', 'name="Answer the customer"', 1)
)
# The size a label is drawn at on the screen: its font size times the zoom the viewer applies.
ON_SCREEN_FONT_PX = """id => {
  const text = document.querySelector(`[data-element-id="${id}"] .djs-visual text`);
  return parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
}"""
SHAPE_STYLE = """([id, property]) => getComputedStyle(
  document.querySelector(`[data-element-id="${id}"] .djs-visual > :first-child`))[property]"""
FLOW_STYLE = """([id, property]) => getComputedStyle(
  document.querySelector(`[data-element-id="${id}"] .djs-visual > path`))[property]"""
BLUE, GREEN, AMBER_WASH, GREEN_WASH = "rgb(31, 95, 168)", "rgb(46, 125, 50)", "rgb(255, 242, 204)", "rgb(227, 241, 227)"


@pytest.fixture
def site(desk):
    """The desk in a browser; any Content-Security-Policy violation or script error fails the test."""
    require_chromium()
    ensure_demo_users(desk, password=PASSWORD)
    users.add_user(desk, users.NewUser("pat", PASSWORD, ["process_owner"], "Pat Process"), "test")
    with serving(create_app(desk)) as url, chromium_page() as page:
        problems: list[str] = []

        def console(message) -> None:
            # A browser asks every site for /favicon.ico; whether the desk has one is not this test's business.
            if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
                problems.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        yield url, page
        assert problems == []  # a Content-Security-Policy violation is a console error too


def picture(locator, name: str) -> Path:
    """A screenshot of one part of the page, saved with the others."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    return path


def drawn(figure) -> None:
    figure.scroll_into_view_if_needed()
    figure.page.wait_for_function("f => f.classList.contains('bpmn-drawn')", arg=figure.element_handle())


def centre(box: dict) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def element_box(figure, element_id: str) -> dict:
    return figure.locator(f'[data-element-id="{element_id}"] .djs-visual > :first-child').bounding_box()


def inside(inner: dict, outer: dict, slack: float = 0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


def moved_call(desk) -> str:
    """Triaged (C05), answered and passed to second line (C12, C16), set Delayed for information (C22) and
    re-opened when it came (C24): at second line, with a path behind it."""
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    message = commands.DeliverMessage(reference, "information_received", {"note": "CSV attached"})
    commands.deliver_message(desk, message, "mail")
    return reference


def test_C16_C24_the_ticket_page_draws_its_diagram_readable_at_100_percent_with_where_the_call_is(site, desk):
    url, page = site
    reference = moved_call(desk)
    sign_in(page, url, "sam")
    page.goto(f"{url}/calls/{reference}")
    figure = page.locator(".bpmn-figure")
    drawn(figure)
    canvas = figure.locator(".bpmn-canvas")
    scale = figure.locator(".bpmn-scale")
    assert scale.inner_text() == "100 %"

    # Readable at 100 %: the task it is at, in the middle, its label 12 px on the screen.
    task = element_box(figure, "Task_second_line")
    assert inside(task, canvas.bounding_box())
    assert page.evaluate(ON_SCREEN_FONT_PX, "Task_second_line") >= 11
    # The markers a modeller draws: the X of an exclusive gateway, the + of a parallel one, the clock face
    # (twelve ticks) of a timer event, the user and service task icons.
    assert figure.locator('[data-element-id="Gateway_kind_of_call"] .djs-visual > polygon + path').count() == 1
    assert figure.locator('[data-element-id="Gateway_work_split"] .djs-visual > polygon + path').count() == 1
    assert (
        figure.locator('[data-element-id="Start_resolution_due"] .djs-visual path[transform^="rotate"]').count() == 12
    )
    assert figure.locator('[data-element-id="Task_second_line"] .djs-visual > path').count() >= 3  # the person
    # Flow names, and the slash that marks a gateway's default flow.
    assert figure.locator('[data-element-id="Flow_kind_to_advice_label"] text').text_content() == "Advice"
    assert page.evaluate(FLOW_STYLE, ["Flow_to_second_line", "markerStart"]).startswith("url(")
    assert page.evaluate(FLOW_STYLE, ["Flow_to_third_line_advice", "markerStart"]) == "none"
    # Where the call is (blue, "now"), what it waits for (amber), what it did and the flows it took (green).
    assert page.evaluate(SHAPE_STYLE, ["Task_second_line", "stroke"]) == BLUE
    assert figure.locator(".bpmn-badge.hl-current").inner_text() == "now"
    assert page.evaluate(SHAPE_STYLE, ["Event_call_delayed", "fill"]) == AMBER_WASH
    for done in ("Task_triage", "Task_first_level_response", "Task_set_delayed", "Event_information_received"):
        assert page.evaluate(SHAPE_STYLE, [done, "fill"]) == GREEN_WASH, done
    for flow in ("Flow_to_second_line", "Flow_wait_to_information", "Flow_information_to_progress"):
        assert page.evaluate(FLOW_STYLE, [flow, "stroke"]) == GREEN, flow
    assert page.evaluate(FLOW_STYLE, ["Flow_wait_to_access", "stroke"]) != GREEN  # a branch not taken
    assert figure.locator(".bjs-powered-by").is_visible()  # bpmn.io's watermark, as its licence asks
    picture(figure, "diagram_ticket_100")
    screenshot(page, "diagram_ticket_page")

    figure.get_by_role("button", name="Zoom in").click()
    assert scale.inner_text() == "125 %"
    assert page.evaluate(ON_SCREEN_FONT_PX, "Task_second_line") == pytest.approx(15)
    picture(figure, "diagram_ticket_zoomed_in")
    figure.get_by_role("button", name="Zoom out").click()
    figure.get_by_role("button", name="Zoom out").click()
    assert scale.inner_text() == "80 %"

    figure.get_by_role("button", name="Whole diagram").click()
    assert int(scale.inner_text().split()[0]) < 80
    whole = figure.locator(".djs-container svg .viewport").bounding_box()
    assert inside(whole, canvas.bounding_box(), slack=4)  # every shape on the screen at once (strokes aside)
    picture(figure, "diagram_ticket_whole")

    figure.get_by_role("button", name="Actual size").click()
    figure.get_by_role("button", name="Where the call is now").click()
    assert scale.inner_text() == "100 %"
    before = centre(element_box(figure, "Task_second_line"))
    assert before == pytest.approx(centre(canvas.bounding_box()), abs=2)

    # Pan: drag the diagram by its background.
    x, y = centre(canvas.bounding_box())
    page.mouse.move(x + 250, y + 150)
    page.mouse.down()
    page.mouse.move(x + 50, y + 50, steps=8)
    page.mouse.up()
    after = centre(element_box(figure, "Task_second_line"))
    assert (after[0] - before[0], after[1] - before[1]) == pytest.approx((-200, -100), abs=2)


def test_a_process_owner_sees_each_version_drawn_and_what_a_change_would_do_then_migrates(site, desk):
    url, page = site
    reference = log_call(desk)  # at triage: the task the change renames is still ahead of it
    sign_in(page, url, "pat")
    page.get_by_role("link", name="Diagrams").click()
    page.wait_for_url(f"{url}/admin/versions")
    page.get_by_text("The diagrams of version 1").click()
    versions = page.locator('[data-version-drawings="1"] .bpmn-figure')
    assert versions.count() == 3
    for index in range(3):
        drawn(versions.nth(index))
    assert page.evaluate(ON_SCREEN_FONT_PX, "Task_triage") >= 11
    picture(versions.first, "diagram_version_1")

    page.get_by_label("Diagram files (.bpmn, .dmn)").set_input_files(
        [{"name": "support_call.bpmn", "mimeType": "application/xml", "buffer": RENAMED.encode()}]
    )
    page.get_by_role("button", name="Check", exact=True).click()
    assert "The files pass the check; deploying them makes version 2." in page.locator(".admin-check").inner_text()
    before, after = page.locator(".admin-check .bpmn-figure").all()
    drawn(before)
    drawn(after)
    for side in (before, after):  # the renamed task, in the middle at 100 %, marked changed
        assert side.locator(".bpmn-badge.hl-changed").inner_text() == "changed"
        assert inside(element_box(side, "Task_first_level_response"), side.locator(".bpmn-canvas").bounding_box())
    assert after.locator('[data-element-id="Task_first_level_response"] text').text_content().split() == [
        "Answer",
        "the",
        "customer",
    ]
    assert "changed (name, form" in after.locator(".bpmn-legend").inner_text()
    picture(page.locator(".admin-check"), "diagram_check_changes")

    page.get_by_role("button", name="Deploy as version 2").click()
    assert "Deployed diagrams as version 2" in page.locator(".flash").inner_text()

    page.goto(f"{url}/admin/migration")
    changes = page.locator('[data-changes-from="1"] .bpmn-figure')
    assert changes.count() == 2
    drawn(changes.nth(1))
    assert changes.nth(1).locator(".bpmn-badge.hl-changed").inner_text() == "changed"
    picture(page.locator('[data-changes-from="1"]'), "diagram_migration_changes")
    page.get_by_role("button", name="Migrate the 1 safe ticket to version 2").click()
    assert "Migrated 1 ticket to version 2." in page.locator(".flash").inner_text()
    assert queries.ticket_view(desk, reference).diagram_version == 2
