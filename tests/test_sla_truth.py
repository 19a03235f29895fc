"""C12, C14, C26, C31: every SLA clock is watched from the moment it starts, whatever task the call
is at; its breach is recorded at its due moment, once, and stays through any later re-grade, pause,
re-open or migration; the customer hears of a breach before the resolution, never after it.

The three paths of issue 15, on the real diagrams and a simulated clock, with the worker firing
the timers a moment (``TICK``) after they fall due, as it does in production.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.oversight.reports import ALL, sla_report
from supportdesk.engine.people import api_tokens
from supportdesk.engine.store.models import OutboxMail
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.clock import local
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION

from helpers import (
    ANN,
    RESOLVED_STRAIGHT_AWAY,
    delay_for_information,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
    open_titles,
)
from helpers import FIRST_RESPONSE as HANDED_TO_SECOND_LINE
from helpers import RESOLUTION as RESOLVED
from web_client import desk_app, signed_in, text, use_quick_password_hashes

LONDON = WorkingCalendar.default().zone
TICK = timedelta(milliseconds=500)  # the worker fires a timer this long after it falls due
H = timedelta(hours=1)


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def high_call(desk, clock, moment: datetime) -> str:
    """A High call (C06: the software crashes, a campaign in five hours), logged and triaged at ``moment``."""
    clock.set(moment)
    return log_and_triage(desk, details=replace(ANN, symptom="software_crashes", campaign_at=moment + 5 * H))


def worker_at(desk, clock, moment: datetime) -> int:
    clock.set(moment)
    return Worker(desk).run_once()


def clock_of(desk, reference: str, metric: str) -> queries.ClockView:
    return next(c for c in queries.ticket_view(desk, reference).clocks if c.metric == metric)


def breach_events(desk, reference: str, metric: str) -> list:
    return [e for e in events(desk, reference, "sla_breached") if e.payload["clock"] == metric]


def mail_log(desk, reference: str) -> list[tuple[str, str]]:
    """(template, London moment) of every mail queued for the call, in order."""
    with desk.db.reading() as session:
        rows = session.query(OutboxMail).order_by(OutboxMail.id).all()
    return [(m.template, f"{local(m.created_at):%a %H:%M}") for m in rows if m.subject.startswith(f"[{reference}]")]


def assert_breached_at(desk, reference: str, metric: str, due: datetime) -> None:
    """One breach of ``metric``, dated at ``due``, and its history event written at most a tick later."""
    view = clock_of(desk, reference, metric)
    assert view.breached
    assert local(view.breached_at) == due
    assert [kind for kind, _ in view.segments].count("breach") == 1
    [event] = breach_events(desk, reference, metric)
    assert due <= event.at <= due + TICK
    assert event.payload["due"] == due.isoformat()


def test_C14_C26_a_high_call_nobody_answers_is_breached_at_its_due_moment_and_told_before_it_is_resolved(
    desk, frozen_clock
):
    """Logged and triaged High at 09:00 Monday; nobody gives the first level response. The
    resolution target (17:00) is watched all the same: breached at 17:00, the progress mail
    goes then; answered and resolved Tuesday morning: the resolution mail is the last."""
    reference = high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0))
    assert open_titles(desk, reference) == ["First level response"]

    assert worker_at(desk, frozen_clock, london(2026, 11, 23, 10, 0) + TICK) == 1
    assert_breached_at(desk, reference, FIRST_RESPONSE, london(2026, 11, 23, 10, 0))
    assert worker_at(desk, frozen_clock, london(2026, 11, 23, 16, 59)) == 0
    assert worker_at(desk, frozen_clock, london(2026, 11, 23, 17, 0) + TICK) == 1
    assert_breached_at(desk, reference, RESOLUTION, london(2026, 11, 23, 17, 0))
    assert clock_of(desk, reference, RESOLUTION).state == "running"  # the call goes on (C14)

    frozen_clock.set(london(2026, 11, 24, 9, 0))
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    assert queries.ticket_view(desk, reference).status == "resolved"
    assert worker_at(desk, frozen_clock, london(2026, 11, 24, 17, 0) + TICK) <= 1  # the next day's update: none
    assert mail_log(desk, reference) == [
        ("confirmation", "Mon 09:00"),
        ("first_line_alert", "Mon 10:00"),
        ("progress_update", "Mon 17:00"),
        ("resolution", "Tue 09:00"),
    ]
    kinds = history_kinds(desk, reference)
    assert kinds.index("sla_breached") < kinds.index("call_resolved")
    assert [e.payload["clock"] for e in events(desk, reference, "sla_breached")] == [FIRST_RESPONSE, RESOLUTION]

    report = sla_report(desk, period="week", start=date(2026, 11, 23), end=date(2026, 11, 29))
    assert (report.line(RESOLUTION, "High").total.breached, report.line(RESOLUTION, "High").total.met) == (1, 0)
    assert (report.line(FIRST_RESPONSE, ALL).total.breached, report.line(FIRST_RESPONSE, ALL).total.met) == (1, 0)
    assert [(b.metric, b.priority, local(b.due_at)) for b in report.breaches] == [
        (FIRST_RESPONSE, "High", london(2026, 11, 23, 10, 0)),
        (RESOLUTION, "High", london(2026, 11, 23, 17, 0)),
    ]


def test_C12_C14_a_call_nobody_triages_is_breached_for_first_response_and_first_line_is_alerted(desk, frozen_clock):
    """Logged at 10:00 Monday; nobody confirms its priority. Its first response clock is watched
    from the moment it was logged: breached at 11:00, and first line is alerted then."""
    frozen_clock.set(london(2026, 11, 23, 10, 0))
    reference = log_call(desk)
    assert open_titles(desk, reference) == ["Confirm priority"]
    assert worker_at(desk, frozen_clock, london(2026, 11, 23, 11, 0)) == 0  # exactly due: not yet missed
    assert worker_at(desk, frozen_clock, london(2026, 11, 23, 11, 0) + TICK) == 1
    assert_breached_at(desk, reference, FIRST_RESPONSE, london(2026, 11, 23, 11, 0))
    assert [template for template, _ in mail_log(desk, reference)] == ["confirmation", "first_line_alert"]
    assert open_titles(desk, reference) == ["Confirm priority"]  # the call goes on

    frozen_clock.set(london(2026, 11, 23, 11, 30))
    do(desk, reference, "Confirm priority")
    do(desk, reference, "First level response", HANDED_TO_SECOND_LINE)
    assert len(breach_events(desk, reference, FIRST_RESPONSE)) == 1  # stopped late: still one breach
    report = sla_report(desk, period="week", start=date(2026, 11, 23), end=date(2026, 11, 29))
    assert report.line(FIRST_RESPONSE, ALL).total.breached == 1
    assert [(b.reference, b.metric, local(b.due_at), local(b.stopped_at)) for b in report.breaches] == [
        (reference, FIRST_RESPONSE, london(2026, 11, 23, 11, 0), london(2026, 11, 23, 11, 30))
    ]


def test_C14_a_resolution_clock_that_starts_past_its_target_is_breached_at_its_due_moment(desk, frozen_clock):
    """Triaged High only the next morning: the resolution clock counts from the logging moment, so its
    target (17:00 on the day it was logged) has passed when it starts. The breach is dated then."""
    frozen_clock.set(london(2026, 11, 23, 9, 0))
    reference = log_call(
        desk, details=replace(ANN, symptom="software_crashes", campaign_at=london(2026, 11, 23, 14, 0))
    )
    frozen_clock.set(london(2026, 11, 24, 9, 0))
    do(desk, reference, "Confirm priority")
    view = clock_of(desk, reference, RESOLUTION)
    assert view.priority == "High"
    assert local(view.breached_at) == london(2026, 11, 23, 17, 0)
    assert view.breached_priority == "High"
    [event] = breach_events(desk, reference, RESOLUTION)
    assert event.at == london(2026, 11, 24, 9, 0)
    assert event.payload["due"] == london(2026, 11, 23, 17, 0).isoformat()
    assert worker_at(desk, frozen_clock, london(2026, 11, 24, 9, 0) + TICK) >= 1  # the watch reacts: C26
    assert "progress_update" in [template for template, _ in mail_log(desk, reference)]
    assert len(breach_events(desk, reference, RESOLUTION)) == 1


def test_C14_C22_C24_a_breach_stays_when_the_call_is_delayed_regraded_reopened_and_resolved(
    desk, frozen_clock, monkeypatch
):
    """High, resolution breached at 17:00 Monday; Tuesday it is set Delayed for information (re-graded
    Medium, C22), re-opened when it arrives (C24) and resolved. The breach stays on the clock, the
    ticket page, the API and the report, counted against High, the priority when it happened."""
    use_quick_password_hashes(monkeypatch)
    reference = high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0))
    frozen_clock.set(london(2026, 11, 23, 9, 20))
    do(desk, reference, "First level response", HANDED_TO_SECOND_LINE)
    worker_at(desk, frozen_clock, london(2026, 11, 23, 17, 0) + TICK)
    assert_breached_at(desk, reference, RESOLUTION, london(2026, 11, 23, 17, 0))

    frozen_clock.set(london(2026, 11, 24, 10, 0))
    delay_for_information(desk, reference)
    resolution = clock_of(desk, reference, RESOLUTION)
    assert (resolution.priority, resolution.state, resolution.breached) == ("Medium", "paused", True)
    frozen_clock.set(london(2026, 11, 24, 11, 0))
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "information_received", {"note": "CSV attached"}), "mail"
    )
    frozen_clock.set(london(2026, 11, 24, 12, 0))
    do(desk, reference, "Resolve call (second line)", RESOLVED, "sam")

    resolution = clock_of(desk, reference, RESOLUTION)
    assert (resolution.priority, resolution.state, resolution.breached) == ("Medium", "stopped", True)
    assert (local(resolution.breached_at), resolution.breached_priority) == (london(2026, 11, 23, 17, 0), "High")
    assert len(breach_events(desk, reference, RESOLUTION)) == 1
    report = sla_report(desk, period="week", start=date(2026, 11, 23), end=date(2026, 11, 29))
    high, medium = report.line(RESOLUTION, "High").total, report.line(RESOLUTION, "Medium").total
    assert (high.breached, high.met, medium.breached, medium.met) == (1, 0, 0, 0)
    [breach] = [b for b in report.breaches if b.metric == RESOLUTION]
    assert (breach.reference, breach.priority, local(breach.due_at)) == (reference, "High", london(2026, 11, 23, 17, 0))
    assert local(breach.stopped_at) == london(2026, 11, 24, 12, 0)

    client = desk_app(desk).test_client()  # with the demo users: carl manages customer services
    token = api_tokens.create_token(desk, "carl", "tests", by=None)[1]
    body = client.get(f"/api/v1/tickets/{reference}", headers={"Authorization": f"Bearer {token}"}).get_json()
    [api_clock] = [c for c in body["clocks"] if c["metric"] == RESOLUTION]
    assert (api_clock["breached"], api_clock["breached_priority"], api_clock["priority"]) == (True, "High", "Medium")
    assert api_clock["breached_at"].startswith("2026-11-23T17:00:00")
    breached = client.get("/api/v1/tickets?breached=true", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [row["reference"] for row in breached["items"]] == [reference]
    page = text(signed_in(client, "carl").get(f"/calls/{reference}"))
    assert re.search(
        r'BREACHED</strong> <span class="breach-when">at <time[^>]*>23 Nov 2026, 17:00</time> '
        r"\(then High\)",
        page,
    ), page


def test_C14_the_task_form_shows_the_priority_after_a_regrade(desk, frozen_clock):
    reference = high_call(desk, frozen_clock, london(2026, 11, 23, 9, 0))
    do(desk, reference, "First level response", HANDED_TO_SECOND_LINE)
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "call_delayed", {"reason": "customer_absent"}), "sam"
    )
    commands.deliver_message(desk, commands.DeliverMessage(reference, "customer_back", {}), "sam")
    [task] = queries.ticket_view(desk, reference).open_tasks
    assert queries.task_form(desk, task.task_id).context["priority"] == "Medium"


def test_C14_the_inbox_flags_a_first_response_clock_at_risk_only_in_its_last_quarter(desk, frozen_clock):
    """One working hour to answer: at risk from 10:45 (a quarter left), breached after 11:00."""
    frozen_clock.set(london(2026, 11, 23, 10, 0))
    reference = log_call(desk)

    def urgency_at(moment):
        frozen_clock.set(moment)
        rows = [r for r in queries.open_tasks(desk, ["first_line"]) if r.reference == reference]
        return queries.urgency(desk, rows)[rows[0].task_id]

    assert urgency_at(london(2026, 11, 23, 10, 0)).state == ""  # just logged: not amber
    assert urgency_at(london(2026, 11, 23, 10, 44, 59)).state == ""
    at_risk = urgency_at(london(2026, 11, 23, 10, 45))
    assert (at_risk.state, at_risk.left) == ("at-risk", timedelta(minutes=15))
    assert urgency_at(london(2026, 11, 23, 10, 59)).state == "at-risk"
    assert urgency_at(london(2026, 11, 23, 11, 0, 1)).state == "breached"
    assert clock_of(desk, reference, FIRST_RESPONSE).breached  # the page says so too before the worker runs


def test_C14_C31_the_report_counts_the_clocks_at_risk_now_by_the_same_rule(desk, frozen_clock, client):
    """The report, its page and the API count a clock at risk as the inbox flags it: the last quarter."""
    frozen_clock.set(london(2026, 11, 23, 10, 0))
    log_call(desk)
    week = {"period": "week", "start": date(2026, 11, 23), "end": date(2026, 11, 29)}
    frozen_clock.set(london(2026, 11, 23, 10, 44))
    assert sla_report(desk, **week).at_risk == {FIRST_RESPONSE: 0, RESOLUTION: 0}
    frozen_clock.set(london(2026, 11, 23, 10, 46))
    assert sla_report(desk, **week).at_risk == {FIRST_RESPONSE: 1, RESOLUTION: 0}
    token = api_tokens.create_token(desk, "carl", "tests", by=None)[1]
    body = client.get(
        "/api/v1/reports/sla?period=week&from=2026-11-23&to=2026-11-29", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert body["at_risk"] == {FIRST_RESPONSE: 1, RESOLUTION: 0}
    page = text(signed_in(client, "carl").get("/reports?period=week&from=2026-11-23&to=2026-11-29"))
    assert re.search(r"First response <strong>1</strong>, Resolution <strong>0</strong>", page), page
