"""Process insight (issue 21): for process owners, per element of a version's diagram, the tickets there
now, the tickets that passed it in a period, the median working time they spent there (working hours of
the desk's calendar only: 08:30-18:00 Monday to Friday, London) and the SLA breaches that happened while
they were there, drawn on the diagram and in a table with a CSV.

Real calls are driven through the commands on the frozen clock; every figure below follows from the clock's
moves. The week: Monday 23 to Friday 27 November 2026, then Monday 30 (London is on GMT: UTC = London)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from supportdesk.engine.oversight import insight
from supportdesk.engine.people import users
from supportdesk.engine.working_time.clock import clock

from helpers import FIRST_RESPONSE, delay_for_information, deploy_without_the_gate, do, log_call, shipped_diagrams
from web_client import PASSWORD, desk_app, signed_in, text

pytestmark = pytest.mark.usefixtures("quick_password_hashes")


def at(day: int, hour: int, minute: int = 0) -> None:
    """Move the frozen clock to ``day`` November 2026, London time (GMT in November)."""
    moment = datetime(2026, 11, day, hour, minute, tzinfo=UTC)
    assert moment >= clock.now(), "the clock only moves forward"
    clock.set(moment)


def week_of_calls(desk) -> dict[str, str]:
    """Three calls, each first response target 1 working hour from logging (C12), triaged (C05) and answered
    (C15) at moments chosen so the working time differs from the time on the wall:

    * quick: logged Mon 10:00, triaged 10:30 (30 min at triage); its first response falls due at 11:00 while
      it waits at First level response (a breach there, C14); answered Tue 08:45: 7 h 30 Monday + 15 min
      Tuesday = 7 h 45 at First level response (the night does not count). Then at second line.
    * slow: logged Mon 10:00, triaged 16:00 (6 h at triage); due 11:00 while at triage: a breach there.
    * weekend: logged Fri 17:00, triaged Mon 30 09:00: 1 h Friday + 30 min Monday = 1 h 30 at triage (the
      weekend does not count); due Fri 18:00 while at triage: a breach there."""
    at(23, 10)
    quick, slow = log_call(desk), log_call(desk)
    at(23, 10, 30)
    do(desk, quick, "Confirm priority")
    at(23, 16)
    do(desk, slow, "Confirm priority")
    at(24, 8, 45)
    do(desk, quick, "First level response", FIRST_RESPONSE)
    at(27, 17)
    weekend = log_call(desk)
    at(30, 9)
    do(desk, weekend, "Confirm priority")
    return {"quick": quick, "slow": slow, "weekend": weekend}


def figures(desk, start: str = "", end: str = "") -> dict[str, insight.ElementFigures]:
    found = insight.insight(desk, insight.requested(desk, None, None, start, end))
    return {f.element.id: f for f in found.elements}


def test_C05_C12_C14_per_task_the_calls_there_now_passed_median_working_time_and_breaches(desk):
    """C05, C12, C14: at triage three calls passed, in 30 min, 6 h and 1 h 30 of working time (the last across
    a weekend): the median is 1 h 30; the two first responses that fell due there are its breaches. At First
    level response one passed in 7 h 45 (across a night), one breach; two calls are there now."""
    week_of_calls(desk)
    found = figures(desk, "2026-11-23", "2026-11-30")

    triage, answer, second = found["Task_triage"], found["Task_first_level_response"], found["Task_second_line"]
    assert (triage.there_now, triage.passed, triage.breaches) == (0, 3, 2)
    assert sorted(triage.working_times) == [timedelta(minutes=30), timedelta(hours=1, minutes=30), timedelta(hours=6)]
    assert triage.median_working == timedelta(hours=1, minutes=30)
    assert (answer.there_now, answer.passed, answer.breaches) == (2, 1, 1)
    assert answer.median_working == timedelta(hours=7, minutes=45)
    assert (second.there_now, second.passed, second.median_working, second.breaches) == (1, 0, None, 0)
    # Each first response clock's timer fired when its due moment had passed (the watch's start event).
    assert found["Start_first_response_due"].passed == 3
    assert found["Start_first_response_due"].there_now is None  # a watch, not a place a call stands


def test_C14_a_breach_is_put_at_the_task_the_call_was_at_when_its_due_moment_passed(desk):
    """C14: the same first response target (1 working hour) breached by two calls, one still at triage when it
    fell due, the other already waiting at First level response: each breach goes to its own call's task. The
    second is open (no command nor worker has recorded it yet): counted as the SLA report counts it."""
    at(23, 10)
    early, late = log_call(desk), log_call(desk)
    at(23, 10, 15)
    do(desk, early, "Confirm priority")  # at First level response from 10:15; due at 11:00
    at(23, 11, 30)
    do(desk, late, "Confirm priority")  # at triage until 11:30; due at 11:00
    found = figures(desk, "2026-11-23", "2026-11-23")
    assert found["Task_triage"].breaches == 1
    assert found["Task_first_level_response"].breaches == 1
    assert found["Task_second_line"].breaches == 0


def test_the_period_counts_only_the_passes_and_breaches_in_it(desk):
    """Only Monday 30: triage was passed once (the weekend call, 1 h 30), no breach came due that day, and
    nothing passed First level response; the calls there now are there whatever the period."""
    week_of_calls(desk)
    found = figures(desk, "2026-11-30", "2026-11-30")
    triage, answer = found["Task_triage"], found["Task_first_level_response"]
    assert (triage.passed, triage.median_working, triage.breaches) == (1, timedelta(hours=1, minutes=30), 0)
    assert (answer.passed, answer.median_working, answer.breaches, answer.there_now) == (0, None, 0, 2)
    # The first week alone: the two Monday triages (30 min and 6 h: the median is their mean, 3 h 15).
    first_week = figures(desk, "2026-11-23", "2026-11-29")["Task_triage"]
    assert (first_week.passed, first_week.median_working) == (2, timedelta(hours=3, minutes=15))
    assert first_week.breaches == 2  # Monday 11:00 (slow) and Friday 18:00 (weekend, still at triage)


def test_C22_a_delayed_call_waits_at_the_event_based_gateway_and_the_delay_is_a_pass_of_its_event(desk):
    """C22: set Delayed for information, the call is at second line still and waits for the customer's answer
    (the event-based gateway); the message that set it Delayed is a pass of "Call delayed"."""
    at(23, 10)
    reference = log_call(desk)
    do(desk, reference, "Confirm priority")
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    found = figures(desk)
    assert found["Gateway_wait_for_progress"].there_now == 1
    assert found["Gateway_wait_for_progress"].element.name.startswith("Waits for: Access granted")
    assert found["Event_call_delayed"].passed == 1
    assert found["Task_second_line"].there_now == 1


def test_each_version_counts_its_own_tickets_and_the_active_one_is_shown_first(desk):
    """A call on version 1, then a new version deployed (its first task renamed) and a call on it: the
    default is the active version with its one call; version 1, asked for, has its own."""
    at(23, 10)
    old = log_call(desk)
    files = shipped_diagrams()
    files["support_call.bpmn"] = files["support_call.bpmn"].replace('name="Confirm priority"', 'name="Check priority"')
    assert deploy_without_the_gate(desk, files) == 2
    at(23, 10, 20)
    new = log_call(desk)
    at(23, 11)
    do(desk, old, "Confirm priority")
    do(desk, new, "Check priority")

    active = insight.insight(desk, insight.requested(desk, None, None, None, None))
    assert (active.version, active.active_version, active.versions, active.tickets) == (2, 2, (2, 1), 1)
    triage = next(f for f in active.elements if f.element.id == "Task_triage")
    assert (triage.element.name, triage.passed, triage.median_working) == ("Check priority", 1, timedelta(minutes=40))
    first = insight.insight(desk, insight.requested(desk, "1", None, None, None))
    triage = next(f for f in first.elements if f.element.id == "Task_triage")
    assert (first.tickets, triage.element.name, triage.passed, triage.median_working) == (
        1,
        "Confirm priority",
        1,
        timedelta(hours=1),
    )


# --- the page -------------------------------------------------------------------------------------------


@pytest.fixture
def web(desk):
    app = desk_app(desk)
    users.add_user(desk, users.NewUser("pat", PASSWORD, ["process_owner"], "Pat Process"), "test")
    return app


def rows(page) -> dict[str, list[str]]:
    """The figures table as a process owner reads it: per element id, its cells' text."""
    table = re.search(r'<table class="insight-table">(.*?)</table>', text(page), re.S).group(1)
    found = {}
    for element, cells in re.findall(r'<tr data-element="([^"]+)">(.*?)</tr>', table, re.S):
        found[element] = [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
            for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        ]
    return found


def test_C05_C12_the_process_owner_sees_the_figures_on_the_diagram_and_in_the_table(desk, web):
    week_of_calls(desk)
    client = signed_in(web.test_client(), "pat")
    page = client.get("/process/insight?from=2026-11-23&to=2026-11-30")
    assert page.status_code == 200
    table = rows(page)
    #                                   element, kind, now, passed, median, all passes, breaches
    assert table["Task_triage"][1:] == ["user task", "0", "3", "1 h 30 min", "8 h 00 min", "2"]
    assert table["Task_first_level_response"][1:] == ["user task", "2", "1", "7 h 45 min", "7 h 45 min", "1"]
    assert table["Start_first_response_due"][1:] == ["timer event", "—", "3", "—", "—", "—"]
    # The diagram carries the same figures for its badges, and where the working time went (its scale).
    canvas = re.search(r"data-figures='([^']+)'", text(page)).group(1)
    drawn = json.loads(unescape(canvas))
    assert drawn["Task_triage"] == {"now": 0, "passed": 3, "median": "1 h 30 min", "breaches": 2}
    marks = json.loads(unescape(re.search(r"data-marks='([^']+)'", text(page)).group(1)))
    assert marks["heat-4"] == ["Task_first_level_response", "Task_triage"]  # 7 h 45 and 8 h of working time

    by_breaches = rows(client.get("/process/insight?from=2026-11-23&to=2026-11-30&sort=breaches"))
    assert list(by_breaches)[:2] == ["Task_triage", "Task_first_level_response"]

    download = client.get("/process/insight.csv?from=2026-11-23&to=2026-11-30&sort=median")
    assert download.status_code == 200
    assert (
        'filename="process-insight-v1-support_call-2026-11-23-2026-11-30.csv"'
        in download.headers["Content-Disposition"]
    )
    lines = list(csv.DictReader(io.StringIO(text(download))))
    assert [line["element_id"] for line in lines[:2]] == ["Task_first_level_response", "Task_triage"]
    assert lines[1] == {
        "element_id": "Task_triage",
        "element": "Confirm priority",
        "kind": "user task",
        "there_now": "0",
        "passed": "3",
        "median_working_minutes": "90",
        "total_working_minutes": "480",
        "breaches_while_there": "2",
        "left_uncompleted": "0",
    }


def test_the_page_without_dates_covers_the_weeks_with_calls_up_to_today(desk, web):
    week_of_calls(desk)
    page = signed_in(web.test_client(), "pat").get("/process/insight")
    assert page.status_code == 200
    assert 'name="from" value="2026-11-23"' in text(page)
    assert 'name="to" value="2026-11-30"' in text(page)
    assert rows(page)["Task_triage"][3] == "3"


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("version=seven", "version", "A version is a number like 3, not &#39;seven&#39;"),
        ("version=9", "version", "There is no version 9; the versions are 1"),
        ("file=other.bpmn", "file", "The version&#39;s process files are escalation.bpmn, support_call.bpmn"),
        ("from=2026-02-30", "from", "Enter a date like 2026-11-23"),
        ("from=2026-11-30&to=2026-11-23", "to", "The end date comes before the start date"),
    ],
)
def test_a_bad_choice_is_refused_with_the_field_named_never_a_500(web, query, field, words):
    client = signed_in(web.test_client(), "pat")
    for address in ("/process/insight", "/process/insight.csv"):
        page = client.get(f"{address}?{query}")
        assert page.status_code == 400
        assert f'<p class="field-error" id="{field}-error">{words}' in text(page)


def test_only_process_owners_and_admins_see_process_insight(web):
    """First line (and any other role) is refused; a process owner and an admin see it, linked from the
    navigation and the versions page."""
    assert signed_in(web.test_client(), "alice").get("/process/insight").status_code == 403
    assert signed_in(web.test_client(), "alice").get("/process/insight.csv").status_code == 403
    assert signed_in(web.test_client(), "carl").get("/process/insight").status_code == 403
    assert signed_in(web.test_client(), "admin").get("/process/insight").status_code == 200
    owner = signed_in(web.test_client(), "pat")
    assert 'href="/process/insight">Process insight</a>' in text(owner.get("/admin/versions"))
    assert web.test_client().get("/process/insight").status_code == 302  # anonymous: to sign-in
