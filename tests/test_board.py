"""The customer services manager's board (issue 20): open calls per tier and priority, breached and at risk
now, attainment month to date against the goals (C31), today's breaches, the calls waiting longest,
escalations open (C28) and satisfaction (C27), each figure a link to the calls behind it; the manager and
the auditor land on their own pages after signing in.

The figures are checked on calls driven through the commands on a frozen clock, and counted by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.oversight import board
from supportdesk.engine.oversight.reports import NOT_TRIAGED
from supportdesk.engine.tickets import commands
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION

from helpers import ANN, RESOLVED_STRAIGHT_AWAY, delay_for_information, do, log_and_triage, log_call
from helpers import FIRST_RESPONSE as ANSWERED_TO_SECOND_LINE
from web_client import sign_in, signed_in, text

LONDON = WorkingCalendar.default().zone
HIGH = replace(ANN, symptom="software_crashes", preparing_campaign=True)  # C06: suggested High


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


NOW = london(2026, 11, 23, 10, 40)  # a Monday in November (GMT)


def build_desk(desk, clock) -> dict[str, str]:
    """Six tickets, by hand:

    regraded   Mon 16 Nov 10:00, High; answered 11:30 (first response due 11:00: late), to second line; its
               8 working hours ran out Mon 18:00 (breached under High); Tue 17 10:00 Delayed for information,
               re-graded Medium (C22, C23). Open, second line, Medium, waiting on the customer; two breached
               clocks, counted once, under High.
    resolved   Mon 23 08:45, Low, resolved at the first response 09:00, rated 4 at 09:05. Not open.
    late       Mon 23 09:00, Low; answered 10:30 (due 10:00: a breach today), to second line. Open, Low.
    risky      Mon 23 09:50, Low; its first response is due 10:50: at 10:40 a sixth of its hour is left, at
               risk (a quarter or less). Open, first line.
    escalation Mon 23 10:31, about ``late``: its own ticket (ESC-...), open.
    untriaged  Mon 23 10:35, not triaged yet. Open, first line, its first response due 11:35.
    """
    clock.set(london(2026, 11, 16, 10, 0))
    regraded = log_and_triage(desk, details=HIGH)
    clock.set(london(2026, 11, 16, 11, 30))
    do(desk, regraded, "First level response", ANSWERED_TO_SECOND_LINE)
    clock.set(london(2026, 11, 17, 9, 0))
    Worker(desk).run_once()  # the resolution breach, at Mon 18:00, under High
    clock.set(london(2026, 11, 17, 10, 0))
    delay_for_information(desk, regraded)

    clock.set(london(2026, 11, 23, 8, 45))
    resolved = log_and_triage(desk)
    clock.set(london(2026, 11, 23, 9, 0))
    do(desk, resolved, "First level response", RESOLVED_STRAIGHT_AWAY)
    late = log_and_triage(desk)
    clock.set(london(2026, 11, 23, 9, 5))
    commands.deliver_message(desk, commands.DeliverMessage(resolved, "feedback", {"rating": 4, "comment": "ok"}), "x")
    clock.set(london(2026, 11, 23, 9, 50))
    risky = log_and_triage(desk)
    clock.set(london(2026, 11, 23, 10, 30))
    do(desk, late, "First level response", ANSWERED_TO_SECOND_LINE)
    clock.set(london(2026, 11, 23, 10, 31))
    escalation = commands.start_escalation(desk, commands.StartEscalation("Too slow", call_reference=late), "amy")
    clock.set(london(2026, 11, 23, 10, 35))
    untriaged = log_call(desk)
    clock.set(NOW)
    return {
        "regraded": regraded,
        "resolved": resolved,
        "late": late,
        "risky": risky,
        "escalation": escalation,
        "untriaged": untriaged,
    }


@pytest.fixture
def calls(desk, frozen_clock):
    return build_desk(desk, frozen_clock)


def test_C14_C31_the_board_counts_open_calls_by_tier_and_priority(desk, calls):
    shown = board.manager_board(desk)
    assert shown.open_total == 4  # regraded, late, risky, untriaged; not the resolved call nor the escalation
    assert shown.open_calls == {
        ("second_line", "Medium"): 1,
        ("second_line", "Low"): 1,
        ("first_line", "Low"): 1,
        ("first_line", NOT_TRIAGED): 1,
    }
    assert shown.tiers == ("first_line", "second_line")
    assert shown.priorities == ("High", "Medium", "Low", NOT_TRIAGED)
    assert shown.open_by_tier == {"first_line": 2, "second_line": 2}
    assert shown.open_by_priority == {"Medium": 1, "Low": 2, NOT_TRIAGED: 1}
    assert shown.waiting_on_customer == 1
    assert shown.escalations_open == 1


def test_C14_a_breached_call_counts_once_under_the_priority_it_breached_under(desk, calls):
    """The re-graded call breached both clocks while High; it is Medium now, and counts once, under High.
    The late call breached only its first response: under its own priority, Low."""
    shown = board.manager_board(desk)
    assert shown.breached == {"High": 1, "Low": 1}
    assert shown.breached_total == 2
    assert shown.at_risk == {"Low": 1}  # the risky call, a sixth of its hour left


def test_C31_attainment_month_to_date_against_the_goals(desk, calls):
    """First response: resolved met; regraded and late breached; risky and untriaged have no outcome yet.
    Resolution: resolved met (Low), regraded breached (High); the others still run."""
    first, resolution = board.manager_board(desk).attainment
    assert (first.metric, first.goal, first.figures.met, first.figures.breached) == (FIRST_RESPONSE, 0.85, 1, 2)
    assert first.below_goal
    assert (resolution.metric, resolution.goal, resolution.figures.met, resolution.figures.breached) == (
        RESOLUTION,
        0.95,
        1,
        1,
    )
    assert resolution.figures.attainment == 0.5


def test_C14_todays_breaches_the_oldest_waiting_and_satisfaction(desk, calls, frozen_clock):
    shown = board.manager_board(desk)
    assert [(b.reference, b.metric, b.priority, b.stopped_at is None) for b in shown.todays_breaches] == [
        (calls["late"], FIRST_RESPONSE, "Low", False)
    ]
    assert shown.todays_breaches[0].due_at == london(2026, 11, 23, 10, 0)
    # Waiting at the desk (not on the customer), the longest first: since their current task opened.
    assert [(w.reference, w.task, w.tier) for w in shown.oldest_waiting] == [
        (calls["risky"], "First level response", "first_line"),
        (calls["late"], "Resolve call (second line)", "second_line"),
        (calls["untriaged"], "Confirm priority", "first_line"),
    ]
    assert (shown.satisfaction.count, shown.satisfaction.average) == (1, 4.0)

    # At 11:40 the risky call's first response (due 10:50) and the untriaged one's (due 11:35) have breached
    # too: today, still running (open breaches no timer has recorded yet count as the report counts them).
    frozen_clock.set(london(2026, 11, 23, 11, 40))
    later = board.manager_board(desk)
    assert [(b.reference, b.stopped_at is None) for b in later.todays_breaches] == [
        (calls["late"], False),
        (calls["risky"], True),
        (calls["untriaged"], True),
    ]
    assert later.breached == {"High": 1, "Low": 2, NOT_TRIAGED: 1}
    assert later.at_risk == {}
    # The next day, yesterday's breaches are not today's.
    frozen_clock.set(london(2026, 11, 24, 9, 0))
    assert board.manager_board(desk).todays_breaches == ()


def test_C31_a_new_month_starts_the_attainment_again(desk, calls, frozen_clock):
    frozen_clock.set(london(2026, 12, 1, 9, 0))
    shown = board.manager_board(desk)
    assert shown.month_start.isoformat() == "2026-12-01"
    assert [a.figures.with_outcome for a in shown.attainment] == [0, 0]
    assert shown.satisfaction.count == 0
    assert shown.open_total == 4  # the open calls are still open


# --- the page ------------------------------------------------------------------------------------------------


class _Cells(HTMLParser):
    """The board's figures: the text and link of each element with a data-cell or data-figure."""

    def __init__(self):
        super().__init__()
        self.cells: dict[str, tuple[str, str | None]] = {}
        self._open: list[str] = []
        self._text: dict[str, list[str]] = {}
        self._href: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("data-cell") or attributes.get("data-figure")
        if name:
            self._open.append(name)
            self._text[name] = []
        elif tag == "a" and self._open and self._open[-1] not in self._href:
            self._href[self._open[-1]] = attributes.get("href") or ""

    def handle_data(self, data):
        for name in self._open:
            self._text[name].append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "li") and self._open:
            name = self._open.pop()
            self.cells[name] = (" ".join("".join(self._text[name]).split()), self._href.get(name))


def cells(response) -> dict[str, tuple[str, str | None]]:
    parser = _Cells()
    parser.feed(text(response))
    return parser.cells


def query(url: str | None) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url or "")
    return parts.path, parse_qs(parts.query)


def test_C14_C31_the_board_page_shows_each_figure_as_a_link_to_the_calls_behind_it(client, desk, calls):
    signed_in(client, "carl")
    response = client.get("/board")
    assert response.status_code == 200
    shown = cells(response)
    assert shown["second_line/Medium"][0] == "1"
    assert query(shown["second_line/Medium"][1]) == (
        "/calls",
        {"status": ["open", "delayed"], "role": ["second_line"], "priority": ["Medium"]},
    )
    assert shown["first_line/Not triaged"][0] == "1"
    assert query(shown["first_line/Not triaged"][1])[1]["priority"] == ["none"]
    assert shown["first_line/High"] == ("0", None)  # nothing to open
    assert shown["breached/High"][0] == "1"
    assert query(shown["breached/High"][1]) == (
        "/calls",
        {"status": ["open", "delayed"], "breached": ["true"], "breached_priority": ["High"]},
    )
    assert shown["breached/Medium"] == ("0", None)  # the re-graded call is Medium now, but breached under High
    assert query(shown["at-risk/Low"][1])[1] == {
        "status": ["open", "delayed"],
        "at_risk": ["true"],
        "priority": ["Low"],
    }
    assert shown["open"][0].startswith("4 open calls")
    assert shown["breached"][0].startswith("2 breached now")
    assert shown["waiting-on-customer"][0].startswith("1 waiting on the customer")
    assert query(shown["waiting-on-customer"][1]) == ("/calls", {"waiting": ["customer"]})
    assert query(shown["escalations"][1])[1] == {"kind": ["escalation"], "status": ["open", "delayed"]}
    assert shown["satisfaction"][0].startswith("4.0 satisfaction this month (of 5, 1 rating)")
    assert query(shown["satisfaction"][1]) == (
        "/reports",
        {"period": ["month"], "from": ["2026-11-01"], "to": ["2026-11-23"]},
    )
    page = text(response)
    assert 'href="/calls?breached_on=2026-11-23"' in page
    assert f'data-breach="{calls["late"]}/first_response"' in page
    assert f'data-waiting="{calls["risky"]}"' in page
    assert "33.3 %" in page  # the first response month to date: 1 of 3, against 85 %
    assert "50.0 %" in page  # the resolution: 1 of 2, against 95 %


def test_the_manager_and_the_auditor_land_on_their_own_pages(client):
    """Sign-in and the home address (/) open the page of the person's role."""
    assert sign_in(client, "carl").headers["Location"] == "/board"
    assert client.get("/").headers["Location"] == "/board"
    client.post("/logout", data={"csrf_token": _token(client)})
    assert sign_in(client, "audrey").headers["Location"] == "/audit"
    assert client.get("/").headers["Location"] == "/audit"
    client.post("/logout", data={"csrf_token": _token(client)})
    assert sign_in(client, "alice").headers["Location"] == "/tasks"
    assert client.get("/").headers["Location"] == "/tasks"
    client.post("/logout", data={"csrf_token": _token(client)})
    assert sign_in(client, "carl", next_url="/calls").headers["Location"] == "/calls"  # asked for a page: that one


def _token(client) -> str:
    from web_client import token

    return token(client.get("/account"))


@pytest.mark.parametrize(("username", "status"), [("alice", 403), ("audrey", 403), ("sam", 403), ("admin", 200)])
def test_only_the_customer_services_manager_reads_the_board(client, username, status):
    signed_in(client, username)
    assert client.get("/board").status_code == status


def test_a_visitor_is_sent_to_sign_in_from_the_board(client):
    response = client.get("/board")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_board_of_an_empty_desk(client, desk):
    signed_in(client, "carl")
    page = text(client.get("/board"))
    assert "No open calls." in page
    assert "No breach today." in page
    assert "No rating given this month yet." in page


def test_C31_the_board_counts_what_the_report_counts_on_simulated_weeks(desk, frozen_clock):
    """The board's attainment is the C31 report's month (one rule, never a second), and its open calls are
    the calls the ticket list finds open or delayed."""
    from supportdesk.engine.oversight import audit, reports, simulation
    from supportdesk.engine.tickets import queries

    simulation.simulate(desk, tickets=25, days=10, seed=5, start=london(2026, 11, 9, 0, 0))
    frozen_clock.set(london(2026, 11, 20, 16, 0))
    shown = board.manager_board(desk)
    month = reports.sla_report(desk, period="month", start=shown.month_start, end=shown.today)
    assert [a.figures for a in shown.attainment] == [
        month.line(m, reports.ALL).total for m in (FIRST_RESPONSE, RESOLUTION)
    ]
    assert sum(a.figures.with_outcome for a in shown.attainment) > 0
    views = [queries.ticket_view(desk, reference) for reference in audit.references(desk)]
    open_calls = [v for v in views if v.kind == "call" and v.status in board.OPEN_STATUSES]
    assert shown.open_total == len(open_calls) > 0
    # The ticket page's clocks (computed from their segments) agree with the board's SQL on what is breached.
    assert shown.breached_total == sum(1 for v in open_calls if any(c.breached for c in v.clocks)) > 0
