"""C31 reports: SLA attainment per period and priority against the goals, the breaches, the CSV,
the page with its chart, and the CLI, on a small scenario checked by hand."""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from supportdesk.cli.report import report as report_command
from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.oversight import reports
from supportdesk.engine.oversight.reports import ALL, Figures, sla_report, sla_report_csv
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION
from supportdesk.web import create_app

from conftest import WORKFLOWS, open_test_desk
from helpers import ANN, RESOLVED_STRAIGHT_AWAY, do, log_and_triage, log_call
from helpers import FIRST_RESPONSE as FIRST_RESPONSE_ANSWER
from helpers import RESOLUTION as RESOLUTION_ANSWER
from web_client import PASSWORD, parse, signed_in, use_quick_password_hashes

LONDON = WorkingCalendar.default().zone
H = timedelta(hours=1)


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


# November and December 2026 are GMT, so London and UTC agree; no bank holiday falls in the scenario.
REPORT_AT = london(2026, 12, 1, 10, 0)  # a Tuesday
WEEK_1, WEEK_2 = date(2026, 11, 23), date(2026, 11, 30)


def build_scenario(desk) -> dict[str, str]:
    """Four calls, hand-checked:

    A  Mon 23 Nov 10:00, Low: answered and resolved at 10:30. First response met, resolution met.
    B  Mon 23 Nov 10:00, High: the first response timer breaches at 11:00; answered at 12:00 (1 h late,
       stopped); never resolved: its 8 working hours ran out Mon 18:00, an open breach at the report's
       moment, 49 working hours late (Tue-Fri 4 x 9.5 h, Mon 30 9.5 h, Tue 1 Dec 08:30-10:00).
    C  Mon 30 Nov 10:00, Medium: answered at 10:20, resolved by second line at 14:00. Both met.
    D  Tue 1 Dec 09:30, Low: not answered yet; its first response is due 10:30, after the report's
       moment, and its resolution is far off: no outcome, counted nowhere.
    """
    clock.set(london(2026, 11, 23, 10, 0))
    a = log_and_triage(desk)
    b = log_and_triage(desk, details=replace(ANN, symptom="software_crashes", campaign_at=london(2026, 11, 23, 13)))
    clock.set(london(2026, 11, 23, 10, 30))
    do(desk, a, "First level response", RESOLVED_STRAIGHT_AWAY)
    clock.set(london(2026, 11, 23, 11, 0, 5))
    assert Worker(desk).run_once() >= 1  # B's first response breach is recorded by its timer
    clock.set(london(2026, 11, 23, 12, 0))
    do(desk, b, "First level response", FIRST_RESPONSE_ANSWER)

    clock.set(london(2026, 11, 30, 10, 0))
    c = log_and_triage(desk, details=replace(ANN, symptom="other", campaign_at=london(2026, 12, 2, 12, 0)))
    clock.set(london(2026, 11, 30, 10, 20))
    do(desk, c, "First level response", FIRST_RESPONSE_ANSWER)
    clock.set(london(2026, 11, 30, 14, 0))
    do(desk, c, "Resolve call (second line)", RESOLUTION_ANSWER, "sam")

    clock.set(london(2026, 12, 1, 9, 30))
    d = log_and_triage(desk)
    clock.set(REPORT_AT)
    Worker(desk).run_once()  # B's resolution breach, and whatever else fell due
    return {"A": a, "B": b, "C": c, "D": d}


@pytest.fixture(scope="module")
def scenario(module_store_url):
    """One desk with the scenario, shared by the tests of this module (driving it is the slow part)."""
    with pytest.MonkeyPatch.context() as patch:
        use_quick_password_hashes(patch)
        desk = open_test_desk(module_store_url("reports"))
        try:
            clock.set(london(2026, 11, 23, 9, 0))
            commands.deploy(desk, actor="test")
            ensure_demo_users(desk, password=PASSWORD)
            references = build_scenario(desk)
        finally:
            clock.use_system_time()
        yield desk, references
        desk.close()


@pytest.fixture(autouse=True)
def at_report_moment():
    clock.set(REPORT_AT)
    yield
    clock.use_system_time()


def figures(report, metric: str, priority: str) -> list[tuple[int, int, int]]:
    """(with an outcome, met, breached) per period, then the total."""
    line = report.line(metric, priority)
    return [(f.with_outcome, f.met, f.breached) for f in (*line.figures, line.total)]


def weekly(desk):
    return sla_report(desk, period="week", start=WEEK_1, end=date(2026, 12, 6))


# --- the figures -------------------------------------------------------------------------------------------


def check_weekly_figures(report, refs) -> None:
    assert [p.first_day for p in report.periods] == [WEEK_1, WEEK_2]
    assert report.goals == {FIRST_RESPONSE: 0.85, RESOLUTION: 0.95}
    assert [(line.metric, line.priority) for line in report.lines] == [
        (FIRST_RESPONSE, ALL),
        (RESOLUTION, "High"),
        (RESOLUTION, "Medium"),
        (RESOLUTION, "Low"),
        (RESOLUTION, ALL),
    ]
    assert figures(report, FIRST_RESPONSE, ALL) == [(2, 1, 1), (1, 1, 0), (3, 2, 1)]
    assert figures(report, RESOLUTION, "High") == [(1, 0, 1), (0, 0, 0), (1, 0, 1)]
    assert figures(report, RESOLUTION, "Medium") == [(0, 0, 0), (1, 1, 0), (1, 1, 0)]
    assert figures(report, RESOLUTION, "Low") == [(1, 1, 0), (0, 0, 0), (1, 1, 0)]
    assert figures(report, RESOLUTION, ALL) == [(2, 1, 1), (1, 1, 0), (3, 2, 1)]  # the charter's 95 % is overall
    first = report.line(FIRST_RESPONSE, ALL)
    assert [f.attainment for f in first.figures] == [0.5, 1.0]
    assert first.below_goal(first.figures[0])
    assert not first.below_goal(first.figures[1])
    assert report.line(RESOLUTION, "Medium").figures[0].attainment is None  # nothing to miss is not 0 %

    [response, resolution] = report.breaches
    assert (response.reference, response.metric, response.priority) == (refs["B"], FIRST_RESPONSE, "High")
    assert local(response.due_at) == london(2026, 11, 23, 11, 0)
    assert local(response.stopped_at) == london(2026, 11, 23, 12, 0)
    assert response.late == H
    assert (resolution.reference, resolution.metric, resolution.priority) == (refs["B"], RESOLUTION, "High")
    assert local(resolution.due_at) == london(2026, 11, 23, 18, 0)
    assert resolution.is_open
    assert resolution.late == 49 * H


def test_C31_weekly_figures_per_priority_and_the_breaches(scenario):
    desk, refs = scenario
    check_weekly_figures(weekly(desk), refs)


def test_C31_monthly_figures_put_each_call_in_the_month_it_was_logged(scenario):
    desk, _ = scenario
    report = sla_report(desk, period="month", start=date(2026, 11, 1), end=date(2026, 12, 31))
    assert [(p.first_day, p.last_day) for p in report.periods] == [
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
    ]
    assert figures(report, FIRST_RESPONSE, ALL) == [(3, 2, 1), (0, 0, 0), (3, 2, 1)]  # D has no outcome yet
    assert figures(report, RESOLUTION, "Low") == [(1, 1, 0), (0, 0, 0), (1, 1, 0)]


def test_C31_the_range_bounds_the_calls_by_the_day_they_were_logged(scenario):
    desk, _refs = scenario
    report = sla_report(desk, period="week", start=WEEK_2, end=WEEK_2)
    assert figures(report, FIRST_RESPONSE, ALL) == [(1, 1, 0), (1, 1, 0)]
    assert report.breaches == ()


def test_C31_a_range_that_cuts_its_first_and_last_weeks_counts_only_the_calls_logged_within_it(scenario):
    # Tue 24 Nov to Mon 30 Nov: A and B (Mon 23) fall before it, D (Tue 1 Dec) after it; C alone is in.
    desk, _ = scenario
    report = sla_report(desk, period="week", start=WEEK_1 + timedelta(days=1), end=WEEK_2)
    assert [p.first_day for p in report.periods] == [WEEK_1, WEEK_2]
    assert figures(report, FIRST_RESPONSE, ALL) == [(0, 0, 0), (1, 1, 0), (1, 1, 0)]
    assert figures(report, RESOLUTION, "Medium") == [(0, 0, 0), (1, 1, 0), (1, 1, 0)]
    assert figures(report, RESOLUTION, "High") == [(0, 0, 0), (0, 0, 0), (0, 0, 0)]
    assert report.breaches == ()


def test_C31_an_open_breach_appears_once_its_due_moment_passes(scenario):
    desk, refs = scenario
    clock.set(london(2026, 12, 1, 10, 45))  # D's first response was due 10:30
    report = weekly(desk)
    assert figures(report, FIRST_RESPONSE, ALL)[1] == (2, 1, 1)
    assert [(b.reference, b.metric, b.is_open, b.late) for b in report.breaches][-1] == (
        refs["D"],
        FIRST_RESPONSE,
        True,
        timedelta(minutes=15),
    )


def test_C31_weeks_start_on_monday_in_london_not_in_utc(desk):
    # Sunday 31 May 23:30 UTC is Monday 1 June 00:30 in London (BST): the June week, not May's.
    clock.set(datetime(2026, 5, 31, 23, 30, tzinfo=UTC))
    assert local(clock.now()) == london(2026, 6, 1, 0, 30)
    reference = log_call(desk)
    clock.set(london(2026, 6, 1, 10, 0))  # its first response was due 09:30 (opening 08:30 + 1 h)
    assert figures(
        sla_report(desk, period="week", start=date(2026, 5, 25), end=date(2026, 5, 31)), FIRST_RESPONSE, ALL
    ) == [(0, 0, 0), (0, 0, 0)]
    june = sla_report(desk, period="week", start=date(2026, 6, 1), end=date(2026, 6, 7))
    assert figures(june, FIRST_RESPONSE, ALL) == [(1, 0, 1), (1, 0, 1)]
    assert [(b.reference, b.late) for b in june.breaches] == [(reference, timedelta(minutes=30))]


def test_C31_periods_and_boundaries_in_london_time():
    assert reports.london_midnight(date(2026, 6, 1)).isoformat() == "2026-05-31T23:00:00+00:00"
    assert reports.london_midnight(date(2026, 12, 1)).isoformat() == "2026-12-01T00:00:00+00:00"
    weeks = reports.periods_between("week", date(2026, 12, 30), date(2027, 1, 5))
    assert [(p.first_day, p.last_day) for p in weeks] == [
        (date(2026, 12, 28), date(2027, 1, 3)),
        (date(2027, 1, 4), date(2027, 1, 10)),
    ]
    months = reports.periods_between("month", date(2026, 12, 15), date(2027, 2, 1))
    assert [p.first_day for p in months] == [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert Figures(3, 1).attainment == 0.75
    assert Figures().attainment is None


def test_C31_the_range_asked_for_is_checked_field_by_field():
    clock.set(REPORT_AT)
    assert reports.requested_range(None, None, None) == ("week", date(2026, 10, 12), date(2026, 12, 1))
    assert reports.requested_range("month", "", "") == ("month", date(2026, 7, 1), date(2026, 12, 1))
    with pytest.raises(InvalidInput) as refused:
        reports.requested_range("year", "2026-01-01", "2026-02-01")
    assert set(refused.value.fields) == {"period"}
    with pytest.raises(InvalidInput) as refused:
        reports.requested_range("week", "2026-13-01", "2026-02-30")
    assert set(refused.value.fields) == {"from", "to"}
    with pytest.raises(InvalidInput) as refused:
        reports.requested_range("week", "2026-03-01", "2026-02-01")
    assert set(refused.value.fields) == {"to"}
    with pytest.raises(InvalidInput) as refused:
        reports.requested_range("week", "2000-01-01", "2026-02-01")
    assert "at most" in refused.value.fields["from"]


def test_C31_the_report_itself_refuses_more_periods_than_a_page_shows(scenario):
    # Its figures are one query per period, joined into one statement: the cap keeps it one a store runs.
    desk, _ = scenario
    assert len(sla_report(desk, period="week", start=date(2024, 8, 19), end=WEEK_2).periods) == reports.MAX_PERIODS
    with pytest.raises(InvalidInput) as refused:
        sla_report(desk, period="week", start=date(2024, 8, 12), end=WEEK_2)
    assert refused.value.fields == {"from": f"Ask for at most {reports.MAX_PERIODS} weeks at once"}


# --- the CSV and the CLI -----------------------------------------------------------------------------------


def csv_sections(text: str) -> tuple[list[dict], list[dict]]:
    figures_part, breaches_part = text.split("\n\n")
    return list(csv.DictReader(io.StringIO(figures_part))), list(csv.DictReader(io.StringIO(breaches_part)))


def test_C31_the_csv_has_the_figures_and_the_breaches(scenario):
    desk, refs = scenario
    rows, breaches = csv_sections(sla_report_csv(weekly(desk)))
    assert len(rows) == 5 * 3  # five lines, two weeks and a total each
    assert rows[0] == {
        "period": "Week of Mon 23 Nov 2026",
        "first_day": "2026-11-23",
        "last_day": "2026-11-29",
        "metric": "first_response",
        "priority": "All",
        "with_outcome": "2",
        "met": "1",
        "breached": "1",
        "attainment": "0.5000",
        "goal": "0.85",
    }
    total = next(r for r in rows if r["period"] == "Total" and r["priority"] == "High")
    assert (total["first_day"], total["last_day"], total["with_outcome"], total["attainment"]) == (
        "2026-11-23",
        "2026-12-06",
        "1",
        "0.0000",
    )
    medium_week_1 = next(r for r in rows if r["priority"] == "Medium" and r["first_day"] == "2026-11-23")
    assert medium_week_1["with_outcome"] == "0"
    assert medium_week_1["attainment"] == ""
    assert breaches == [
        {
            "reference": refs["B"],
            "metric": "first_response",
            "priority": "High",
            "due": "2026-11-23T11:00:00+00:00",
            "stopped": "2026-11-23T12:00:00+00:00",
            "late_working_minutes": "60",
        },
        {
            "reference": refs["B"],
            "metric": "resolution",
            "priority": "High",
            "due": "2026-11-23T18:00:00+00:00",
            "stopped": "open",
            "late_working_minutes": str(49 * 60),
        },
    ]


def test_C31_the_cli_prints_the_same_report_as_a_table_csv_or_json(scenario, monkeypatch):
    desk, refs = scenario
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(WORKFLOWS))
    runner = CliRunner()
    args = ["sla", "--by", "week", "--from", "2026-11-23", "--to", "2026-12-06"]
    as_json = json.loads(runner.invoke(report_command, [*args, "--format", "json"]).output)
    overall = next(line for line in as_json["lines"] if line["metric"] == "resolution" and line["priority"] == "All")
    assert overall["total"] == {"with_outcome": 3, "met": 2, "breached": 1, "attainment": 2 / 3}
    assert [b["reference"] for b in as_json["breaches"]] == [refs["B"], refs["B"]]
    as_csv = runner.invoke(report_command, [*args, "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output == sla_report_csv(weekly(desk))
    as_text = runner.invoke(report_command, args)
    assert as_text.exit_code == 0, as_text.output
    assert "First response (goal 85.0 %)" in as_text.output
    assert "Breaches (2)" in as_text.output
    assert f"{refs['B']}" in as_text.output
    assert "still open" in as_text.output
    refused = runner.invoke(report_command, ["sla", "--from", "2026-12-06", "--to", "2026-11-23"])
    assert refused.exit_code == 1
    assert "end date comes before the start date" in refused.output


# --- the page ----------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """The figure rows (by their data-line), the breach rows and the images of the report page."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.breaches: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr" and attributes.get("data-line"):
            self._row = self.rows.setdefault(attributes["data-line"], [])
        elif tag == "tr" and attributes.get("data-breach"):
            self.breaches.append(attributes["data-breach"])
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attributes.get("src") or "")
        elif tag == "a":
            self.links.append(attributes.get("href") or "")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None


@pytest.fixture
def browser(scenario):
    desk, _ = scenario
    app = create_app(desk, testing=True)
    return app.test_client()


URL = "/reports?period=week&from=2026-11-23&to=2026-12-06"


def test_C31_the_report_page_shows_the_figures_the_chart_and_the_breaches(browser, scenario):
    desk, refs = scenario
    signed_in(browser, "carl")  # customer services manager
    response = browser.get(URL)
    assert response.status_code == 200
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert page.rows["first_response/All/2026-11-23"] == [
        "Week of Mon 23 Nov 2026",
        "All priorities",
        "2",
        "1",
        "1",
        "50.0 %",
    ]
    assert page.rows["resolution/High/2026-11-23"] == ["Week of Mon 23 Nov 2026", "High", "1", "0", "1", "0.0 %"]
    assert page.rows["resolution/Medium/2026-11-23"] == ["", "Medium", "0", "0", "0", "—"]
    assert page.rows["resolution/Medium/2026-11-30"][2:] == ["1", "1", "0", "100.0 %"]
    assert page.rows["first_response/All/total"] == ["All weeks", "All priorities", "3", "2", "1", "66.7 %"]
    assert page.breaches == [f"{refs['B']}/first_response", f"{refs['B']}/resolution"]

    charts = {image.split("?")[0].rsplit("/", 1)[-1]: image for image in page.images}
    assert list(charts) == [
        "first_response.svg",
        "resolution.svg",
        "volume_priority.svg",
        "volume_channel.svg",
        "backlog.svg",
        "satisfaction.svg",
    ]
    first_chart, resolution_chart = charts["first_response.svg"], charts["resolution.svg"]
    assert first_chart.startswith("/reports/chart/first_response.svg?")
    chart = browser.get(first_chart)
    assert chart.status_code == 200
    assert chart.mimetype == "image/svg+xml"
    svg = chart.get_data(as_text=True)
    assert "<svg" in svg
    assert "<script" not in svg
    assert "Goal 85 %" in svg
    assert "default-src 'none'" in chart.headers["Content-Security-Policy"]
    assert "High" in browser.get(resolution_chart).get_data(as_text=True)

    [csv_link] = [link for link in page.links if link.startswith("/reports.csv")]
    download = browser.get(csv_link)
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True) == sla_report_csv(weekly(desk))


def test_C31_a_long_list_of_breaches_is_cut_on_the_page_and_whole_in_the_csv(browser, scenario, monkeypatch):
    desk, refs = scenario
    every = weekly(desk)
    assert every.breach_count == len(every.breaches) == 2
    first = sla_report(desk, period="week", start=every.start, end=every.end, breach_limit=1)
    assert (first.breaches, first.breach_count) == (every.breaches[:1], 2)
    assert first.lines == every.lines
    assert sla_report(desk, period="week", start=every.start, end=every.end, breach_limit=0).breaches == ()

    monkeypatch.setattr("supportdesk.web.reports.BREACHES_SHOWN", 1)
    signed_in(browser, "carl")
    page = _Page()
    response = browser.get(URL)
    page.feed(response.get_data(as_text=True))
    assert page.breaches == [f"{refs['B']}/first_response"]
    assert "The first 1 of 2 breaches" in response.get_data(as_text=True)
    csv_link = next(link for link in page.links if link.startswith("/reports.csv"))
    assert browser.get(csv_link).get_data(as_text=True).count(refs["B"]) == 2  # both breaches


def test_C31_the_auditor_reads_the_report_and_bad_dates_are_shown_by_the_field(browser):
    signed_in(browser, "audrey")
    assert browser.get("/reports").status_code == 200  # the default range
    refused = browser.get("/reports?period=week&from=2026-12-06&to=2026-11-23")
    assert refused.status_code == 400
    assert 'id="to-error">The end date comes before the start date' in refused.get_data(as_text=True)


@pytest.mark.parametrize("url", [URL, "/reports.csv?period=week", "/reports/chart/resolution.svg?period=week"])
def test_C31_first_line_may_not_read_the_report(browser, url):
    signed_in(browser, "alice")
    assert browser.get(url).status_code == 403


def test_C31_signed_out_visitors_are_sent_to_sign_in(browser):
    response = browser.get(URL)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- the production store ----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_C31_the_same_figures_on_postgresql(postgres_url):
    desk = open_test_desk(postgres_url)
    try:
        clock.set(london(2026, 11, 23, 9, 0))
        commands.deploy(desk, actor="test")
        refs = build_scenario(desk)
        check_weekly_figures(weekly(desk), refs)
    finally:
        desk.close()


def test_C31_twenty_calls_with_known_outcomes(desk, frozen_clock):
    """20 High calls on Monday 23 November: every even one answered within the hour (10 of 20),
    the first 15 resolved the same day within 8 working hours, the last 5 on Wednesday, late."""
    from dataclasses import replace as with_

    from helpers import ANN, do, log_and_triage

    high = with_(ANN, symptom="software_crashes", preparing_campaign=True)
    references = []
    for n in range(20):
        frozen_clock.set(london(2026, 11, 23, 9, 0) + n * timedelta(minutes=5))
        references.append(log_and_triage(desk, details=high))
    for n, reference in enumerate(references):
        logged = london(2026, 11, 23, 9, 0) + n * timedelta(minutes=5)
        frozen_clock.set(logged + (timedelta(minutes=30) if n % 2 == 0 else timedelta(hours=2, minutes=30)))
        do(
            desk,
            reference,
            "First level response",
            {"response_method": "phone", "response": "On it", "next_step": "second_line", "handover_reason": "logs"},
        )
    for n, reference in enumerate(references):
        frozen_clock.set(london(2026, 11, 23, 14, n) if n < 15 else london(2026, 11, 25, 10, n))
        do(desk, reference, "Resolve call (second line)", {"next_step": "resolved", "resolution": "Fixed"}, "sam")
    report = sla_report(desk, period="week", start=date(2026, 11, 23), end=date(2026, 11, 29))
    assert figures(report, FIRST_RESPONSE, ALL)[-1] == (20, 10, 10)
    assert figures(report, RESOLUTION, "High")[-1] == (20, 15, 5)
    assert figures(report, RESOLUTION, ALL)[-1] == (20, 15, 5)
    assert report.line(RESOLUTION, ALL).total.attainment == 0.75
    assert sorted(b.reference for b in report.breaches if b.metric == RESOLUTION) == sorted(references[15:])
    assert len([b for b in report.breaches if b.metric == FIRST_RESPONSE]) == 10


# --- issue 20: the range with data, volume, backlog, satisfaction, every table as CSV and JSON, readable charts ---


def test_C31_with_no_dates_the_report_covers_the_last_eight_weeks_that_hold_calls(desk, frozen_clock, client):
    """Calls on the Wednesdays of nine weeks (none in the week of 28 September) and none in the four weeks
    before today: the report opens on the eight latest weeks with calls, 14 September to the last call on
    11 November, not on eight weeks ending today of which four are empty."""
    weeks = [date(2026, 9, 7) + timedelta(weeks=n) for n in range(10) if n != 3]
    for monday in weeks:
        frozen_clock.set(london(monday.year, monday.month, monday.day + 2, 11, 0))
        log_call(desk)
    frozen_clock.set(london(2026, 12, 7, 10, 0))  # a Monday, four weeks after the last call
    assert reports.data_range(desk, "week", date(2026, 12, 7)) == (date(2026, 9, 14), date(2026, 11, 11))
    assert reports.data_range(desk, "month", date(2026, 12, 7)) == (date(2026, 9, 1), date(2026, 11, 11))
    signed_in(client, "carl")
    page = client.get("/reports")
    assert page.status_code == 200
    form = parse(page)
    assert (form.inputs["from"]["value"], form.inputs["to"]["value"]) == ("2026-09-14", "2026-11-11")
    said = " ".join(page.get_data(as_text=True).split())
    assert "the latest 8 weeks that hold calls, with any empty ones between them, to the latest call" in said
    month = parse(client.get("/reports?period=month"))
    assert (month.inputs["from"]["value"], month.inputs["to"]["value"]) == ("2026-09-01", "2026-11-11")
    # Dates asked for are kept, whatever holds data.
    asked = parse(client.get("/reports?period=week&from=2026-11-30&to=2026-12-07"))
    assert (asked.inputs["from"]["value"], asked.inputs["to"]["value"]) == ("2026-11-30", "2026-12-07")


def test_C31_a_young_desk_opens_on_its_first_week_and_an_empty_one_on_the_weeks_to_today(desk, frozen_clock):
    today = date(2026, 11, 25)
    assert reports.data_range(desk, "week", today) == reports.default_range("week", today)  # no calls at all
    frozen_clock.set(london(2026, 11, 17, 10, 0))
    log_call(desk)
    frozen_clock.set(london(2026, 11, 25, 10, 0))
    log_call(desk)
    assert reports.data_range(desk, "week", today) == (date(2026, 11, 16), today)
    # A call logged after the day asked about (a report of the past) is not the newest data.
    assert reports.data_range(desk, "week", date(2026, 11, 20)) == (date(2026, 11, 16), date(2026, 11, 17))


DATA_QUERY = "period=week&from=2026-11-23&to=2026-12-06"


def download(browser, name: str, fmt: str):
    response = browser.get(f"/reports/data/{name}.{fmt}?{DATA_QUERY}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{name}-week-2026-11-23-2026-12-06.{fmt}"'
    )
    return response


def test_C31_every_table_of_the_page_downloads_as_csv_and_json_with_the_same_rows(browser, scenario):
    signed_in(browser, "audrey")
    page = _Page()
    page.feed(browser.get(f"/reports?{DATA_QUERY}").get_data(as_text=True))
    for name in reports.TABLES:
        for fmt in ("csv", "json"):
            assert f"/reports/data/{name}.{fmt}?{DATA_QUERY}" in page.links, (name, fmt)
        as_csv = download(browser, name, "csv")
        assert as_csv.mimetype == "text/csv"
        rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
        as_json = download(browser, name, "json").get_json()
        assert (as_json["table"], as_json["period"], as_json["from"], as_json["to"]) == (
            name,
            "week",
            "2026-11-23",
            "2026-12-06",
        )
        assert list(rows[0]) == as_json["columns"]
        assert len(rows) == len(as_json["rows"])
        for row, data in zip(rows, as_json["rows"], strict=True):
            for column, value in data.items():
                expected = "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
                assert row[column] == expected, (name, column)


def test_C31_the_volume_and_backlog_tables_count_the_scenario(browser, scenario):
    """Week 1: A (Low) and B (High) logged; at its end B is open (A resolved). Week 2: C (Medium) and D (Low);
    now (Tuesday 1 December) B and D are open, C was resolved on Monday."""
    signed_in(browser, "carl")
    volume = list(csv.DictReader(io.StringIO(download(browser, "volume", "csv").get_data(as_text=True))))
    assert [
        (r["first_day"], r["calls"], r["channel_phone"], r["priority_High"], r["priority_Medium"], r["priority_Low"])
        for r in volume
    ] == [
        ("2026-11-23", "2", "2", "1", "0", "1"),
        ("2026-11-30", "2", "2", "0", "1", "1"),
    ]
    backlog = download(browser, "backlog", "json").get_json()["rows"]
    assert [(r["first_day"], r["at"], r["open_calls"]) for r in backlog] == [
        ("2026-11-23", "2026-11-30T00:00:00+00:00", 1),
        ("2026-11-30", "2026-12-01T10:00:00+00:00", 2),  # the week under way: now
    ]
    satisfaction = download(browser, "satisfaction", "json").get_json()["rows"]
    assert [(r["period"], r["ratings"], r["average"]) for r in satisfaction][-1] == ("Total", 0, None)


def test_C27_satisfaction_counts_the_ratings_per_week_they_were_given(desk, frozen_clock):
    """Two calls resolved on Monday 23 November, rated 2 on Tuesday and 5 on Wednesday; a third resolved on
    Monday 30 November, rated 4 on Tuesday 1 December (each within its feedback window)."""
    rated = []
    for monday, ratings in ((23, ((2, 24), (5, 25))), (30, ((4, 1),))):
        for rating, day in ratings:
            frozen_clock.set(london(2026, 11, monday, 10, 0))
            reference = log_and_triage(desk)
            do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
            rated.append((reference, rating, london(2026, 11 if day > 1 else 12, day, 11, 0)))
    for reference, rating, moment in sorted(rated, key=lambda r: r[2]):
        frozen_clock.set(moment)
        commands.deliver_message(desk, commands.DeliverMessage(reference, "feedback", {"rating": rating}), "portal")
    found = reports.satisfaction(desk, period="week", start=date(2026, 11, 23), end=date(2026, 12, 6))
    assert [r.counts for r in found.ratings] == [(0, 1, 0, 0, 1), (0, 0, 0, 1, 0)]
    assert [r.average for r in found.ratings] == [3.5, 4.0]
    assert (found.total.count, round(found.total.average, 4)) == (3, 3.6667)


class _Bars(HTMLParser):
    """The bars of a pygal SVG chart: per x label, (series, x, y, width, height)."""

    def __init__(self):
        super().__init__()
        self.bars: dict[str, list[tuple[int, float, float, float, float]]] = {}
        self._series: int | None = None
        self._rect: tuple | None = None
        self._in_label = False
        self.major_labels: list[str] = []
        self._in_major = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "g" and "series" in classes:
            self._series = int(next(c for c in classes if c.startswith("serie-")).split("-")[1])
        elif tag == "rect" and "tooltip-trigger" in classes:
            self._rect = tuple(float(attributes[k]) for k in ("x", "y", "width", "height"))
        elif tag == "desc" and "x_label" in classes:
            self._in_label = True
        elif tag == "text" and "major" in classes:
            self._in_major = True

    def handle_data(self, data):
        if self._in_label and self._rect is not None and self._series is not None:
            self.bars.setdefault(data, []).append((self._series, *self._rect))
            self._rect = None
        if self._in_major:
            self.major_labels.append(data)

    def handle_endtag(self, tag):
        self._in_label = self._in_label and tag != "desc"
        self._in_major = self._in_major and tag != "text"


def bars(browser, chart: str) -> _Bars:
    response = browser.get(f"/reports/chart/{chart}.svg?{DATA_QUERY}")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "<script" not in svg
    parsed = _Bars()
    parsed.feed(svg)
    return parsed


def test_C31_no_bar_of_a_chart_hides_another(browser, scenario):
    """Attainment: each priority's bar beside the others in its week, the goal a labelled line across.
    Calls logged and ratings: stacked, one on another, never over each other."""
    signed_in(browser, "carl")
    resolution = bars(browser, "resolution")
    assert "95 %" in resolution.major_labels  # the goal line's label
    for week, drawn in resolution.bars.items():
        across = sorted((x, x + width) for _series, x, _y, width, _height in drawn)
        assert all(left_end <= right_start for (_, left_end), (right_start, _) in itertools.pairwise(across)), week
    assert {series for drawn in resolution.bars.values() for series, *_ in drawn} >= {0, 3}  # High ... All
    volume = bars(browser, "volume_priority")
    # High and Low in week 1, Medium and Low in week 2 (the other series draw nothing there).
    assert sum(1 for drawn in volume.bars.values() for *_, height in drawn if height) == 4
    for week, drawn in volume.bars.items():
        upwards = sorted((y, y + height) for _series, _x, y, _width, height in drawn if height)
        assert all(top <= below + 0.01 for (_, top), (below, _) in itertools.pairwise(upwards)), week
    for chart in ("volume_channel", "backlog", "satisfaction", "first_response"):
        bars(browser, chart)
    assert browser.get(f"/reports/chart/pie.svg?{DATA_QUERY}").status_code == 404


def test_C31_a_month_shows_as_bars_not_dots(browser, scenario):
    signed_in(browser, "carl")
    response = browser.get("/reports/chart/resolution.svg?period=month&from=2026-11-01&to=2026-11-30")
    parsed = _Bars()
    parsed.feed(response.get_data(as_text=True))
    [(month, drawn)] = parsed.bars.items()
    assert month == "Nov 2026"
    assert all(width > 20 and height > 0 for _series, _x, _y, width, height in drawn if height)


@pytest.mark.parametrize(
    "url", ["/reports/data/volume.csv?period=week", "/reports/data/backlog.json", "/reports/chart/backlog.svg"]
)
def test_C31_first_line_may_not_read_the_new_tables_or_charts(browser, url):
    signed_in(browser, "alice")
    assert browser.get(url).status_code == 403


def test_C31_an_unknown_table_or_format_is_no_page_and_bad_dates_are_said(browser):
    signed_in(browser, "carl")
    assert browser.get("/reports/data/secrets.csv").status_code == 404
    assert browser.get("/reports/data/volume.xml").status_code == 404
    refused = browser.get("/reports/data/volume.csv?from=2026-12-06&to=2026-11-23")
    assert refused.status_code == 400
    assert "The end date comes before the start date" in refused.get_data(as_text=True)
