"""The web desk through Flask's test client, CSRF tokens and all: sign-in, roles,
logging a call, the task forms the diagram declares, conflicts, London time, SLA
clocks and the actions on a call (Delayed, work can progress, training, escalation)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.calls import REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.tickets.instances import find_ticket
from supportdesk.engine.working_time.clock import clock
from supportdesk.web import create_app

from helpers import (
    ANN,
    FIRST_RESPONSE,
    RESOLVED_STRAIGHT_AWAY,
    do,
    events,
    history_kinds,
    log_and_triage,
    log_call,
    open_task,
)
from web_client import PASSWORD, desk_app, hidden, parse, sign_in, text, token, use_quick_password_hashes

CALL = {
    "contact_name": "Ann Example",
    "contact_email": "ann@example.com",
    "account": "Acme Ltd",
    "summary": "Unable to load data for tomorrow's campaign",
    "channel": "phone",
}
# C06: the software crashes three hours before a campaign (the frozen clock is Monday 10:00 GMT).
HIGH = replace(ANN, symptom="software_crashes", campaign_at=datetime(2026, 11, 23, 13, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    use_quick_password_hashes(monkeypatch)


@pytest.fixture
def web_app(desk):
    return desk_app(desk)


@pytest.fixture
def browser(web_app):
    return web_app.test_client()


def log_call_via_form(browser, **changes):
    page = browser.get("/calls/new")
    return browser.post("/calls/new", data={"csrf_token": token(page), **CALL, **changes})


def act(browser, reference: str, action: str, **fields):
    """Post one of the actions on the ticket page (delayed, progress, training, escalation)."""
    page = browser.get(f"/calls/{reference}")
    data = {f"{action}-{name}": value for name, value in fields.items()}
    return browser.post(f"/calls/{reference}/{action}", data={"csrf_token": token(page), **data})


def answered_high_call(desk) -> str:
    """A High call whose first level response passed it to second line."""
    reference = log_and_triage(desk, details=HIGH)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    return reference


def submit_task(browser, task_id: str, answers: dict, *, page=None):
    """Open the task form (or reuse an opened one) and submit it with its hidden fields."""
    page = page or browser.get(f"/tasks/{task_id}")
    fields = {f"field_{key}": value for key, value in answers.items()}
    return browser.post(
        f"/tasks/{task_id}",
        data={
            "csrf_token": token(page),
            "revision": hidden(page, "revision"),
            "reference": hidden(page, "reference"),
            **fields,
        },
    )


# Signing in -----------------------------------------------------------------------------------------------


def test_sign_in_with_good_credentials_lands_on_the_inbox(browser):
    response = sign_in(browser, "alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    inbox = browser.get("/tasks")
    assert inbox.status_code == 200
    assert "Alice First" in text(inbox)
    assert "Signed in as Alice First." in text(inbox)


@pytest.mark.parametrize(("username", "password"), [("alice", "wrong"), ("nobody", PASSWORD)])
def test_bad_credentials_show_a_clear_error_and_sign_nobody_in(browser, username, password):
    response = sign_in(browser, username, password)
    assert response.status_code == 200
    assert "Unknown username or wrong password." in text(response)
    assert browser.get("/tasks").status_code == 302


@pytest.mark.parametrize(
    "path", ["/tasks", "/tasks?page=2", "/calls", "/calls/new", "/calls/SUP-2026-000001", "/tasks/x"]
)
def test_anonymous_visitors_are_sent_to_sign_in(browser, path):
    response = browser.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_home_page_is_the_inbox(browser):
    assert browser.get("/").headers["Location"] == "/tasks"


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/calls", "/calls"),
        ("https://evil.example/", "/tasks"),
        ("//evil.example/", "/tasks"),
        ("/\\evil.example/", "/tasks"),
    ],
)
def test_sign_in_follows_next_only_to_a_local_path(browser, next_url, landing):
    assert sign_in(browser, "alice", next_url=next_url).headers["Location"] == landing


def test_sign_out_is_a_post_with_a_token(browser):
    sign_in(browser, "alice")
    inbox = browser.get("/tasks")
    response = browser.post("/logout", data={"csrf_token": token(inbox)})
    assert response.status_code == 302
    assert browser.get("/tasks").status_code == 302


# Roles ----------------------------------------------------------------------------------------------------


def test_an_auditor_may_read_calls_but_not_log_one(browser, desk):
    reference = log_call(desk)
    sign_in(browser, "audrey")
    assert browser.get("/calls/new").status_code == 403
    assert "Your role does not allow this page." in text(browser.get("/calls/new"))
    assert browser.get("/calls").status_code == 200
    assert browser.get(f"/calls/{reference}").status_code == 200
    inbox = browser.get("/tasks")
    assert "does no tasks" in text(inbox)
    assert "Log a call" not in text(inbox)


def test_second_line_may_not_open_or_complete_a_first_line_task(browser, desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "sam")
    assert browser.get(f"/tasks/{task.task_id}").status_code == 403
    inbox = browser.get("/tasks")
    assert reference not in text(inbox)
    before = history_kinds(desk, reference)
    response = browser.post(
        f"/tasks/{task.task_id}",
        data={
            "csrf_token": token(inbox),
            "revision": "1",
            "reference": reference,
            "field_response_method": "phone",
            "field_response": "sneaky",
            "field_next_step": "resolved",
            "field_resolution": "sneaky",
        },
    )
    assert response.status_code == 403
    assert history_kinds(desk, reference) == before
    # The ticket page shows the task, without a link to its form.
    ticket = text(browser.get(f"/calls/{reference}"))
    assert "First level response" in ticket
    assert f"/tasks/{task.task_id}" not in ticket


def test_admin_sees_every_role_in_the_inbox_and_may_log_calls(browser, desk):
    reference = log_call(desk)
    sign_in(browser, "admin")
    inbox = text(browser.get("/tasks"))
    assert "Open tasks for every role." in inbox
    assert reference in inbox
    assert browser.get("/calls/new").status_code == 200


# Logging a call -------------------------------------------------------------------------------------------


def test_C01_C05_logging_a_call_through_the_form_puts_confirm_priority_in_the_inbox(browser, desk):
    sign_in(browser, "alice")
    response = log_call_via_form(browser)
    assert response.status_code == 302
    assert response.headers["Location"] == "/calls/SUP-2026-000001"
    ticket = browser.get("/calls/SUP-2026-000001")
    assert "Call logged: SUP-2026-000001" in text(ticket)
    assert "Diagram version" in text(ticket)

    inbox = text(browser.get("/tasks"))
    assert "SUP-2026-000001" in inbox
    assert "Confirm priority" in inbox
    assert "Acme Ltd" in inbox
    assert "Unable to load data for tomorrow&#39;s campaign" in inbox
    assert "23 Nov 2026, 10:00" in inbox
    assert "1 open task." in inbox
    assert queries.ticket_view(desk, "SUP-2026-000001").history[0].actor == "alice"


def test_an_invalid_call_shows_each_message_next_to_its_field_and_logs_nothing(browser, desk):
    sign_in(browser, "alice")
    response = log_call_via_form(browser, contact_name="  ", contact_email="not-an-email")
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'id="contact_name-error">Contact name is required<', page)
    assert 'id="contact_email-error"' in page
    assert 'value="not-an-email"' in page  # what was typed is kept
    assert queries.recent_tickets(desk) == []


def test_logging_a_call_needs_a_deployed_diagram(new_store_url, frozen_clock):
    from supportdesk.engine.desk import Desk
    from supportdesk.engine.settings import Settings
    from supportdesk.handlers import REGISTRY

    empty = Desk(Settings(database_url=new_store_url("empty"), secret_key="test"), REGISTRY)
    empty.upgrade_schema()
    ensure_demo_users(empty, password=PASSWORD)
    browser = create_app(empty, testing=True).test_client()
    sign_in(browser, "alice")
    response = log_call_via_form(browser)
    assert response.status_code == 503
    assert "no support charter diagram is deployed" in text(response)
    empty.close()


def test_what_people_typed_is_escaped(browser, desk):
    sign_in(browser, "alice")
    log_call_via_form(browser, summary="<script>alert(1)</script>")
    for page in ("/calls/SUP-2026-000001", "/calls", "/tasks"):
        body = text(browser.get(page))
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# Task forms -----------------------------------------------------------------------------------------------


def test_the_task_form_is_generated_from_the_diagram_fields(browser, desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    page = browser.get(f"/tasks/{task.task_id}")
    assert page.status_code == 200
    shape = parse(page)
    assert shape.tags["field_response_method"] == "select"
    assert shape.options["field_response_method"] == ["", "email", "phone"]
    assert shape.tags["field_response"] == "textarea"
    assert shape.inputs["field_response"]["maxlength"] == "4000"
    assert "required" in shape.inputs["field_response"]
    assert shape.inputs["revision"]["type"] == "hidden"
    assert shape.options["field_next_step"] == ["", "resolved", "second_line"]
    assert "How the customer was answered" in text(page)
    assert "Reply by email" in text(page)


def test_C05_C12_C16_C27_the_whole_path_through_the_forms_from_triage_to_closed(browser, desk, frozen_clock):
    sign_in(browser, "alice")
    log_call_via_form(browser)
    reference = "SUP-2026-000001"
    triage = open_task(desk, reference, "Confirm priority")
    assert submit_task(browser, triage.task_id, {"priority": "", "override_reason": ""}).status_code == 302
    first = open_task(desk, reference, "First level response")
    frozen_clock.advance(timedelta(minutes=20))
    response = submit_task(
        browser,
        first.task_id,
        {
            "response_method": "email",
            "response": "Replied by email",
            "next_step": "second_line",
            "handover_reason": "Needs the import logs",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{reference}"
    assert "First level response completed on" in text(browser.get(response.headers["Location"]))

    browser.post("/logout", data={"csrf_token": token(browser.get("/tasks"))})
    sign_in(browser, "sam")
    resolve = open_task(desk, reference, "Resolve call (second line)")
    assert resolve.title in text(browser.get("/tasks"))
    response = submit_task(
        browser, resolve.task_id, {"next_step": "resolved", "resolution": "Import file had a stray BOM"}
    )
    assert response.status_code == 302
    view = queries.ticket_view(desk, reference)
    assert view.status == "resolved"
    assert view.open_tasks == []
    completed = [row for row in view.history if row.kind == "task_completed"]
    assert [row.actor for row in completed] == ["alice", "alice", "sam"]
    assert completed[1].payload["data"]["next_step"] == "second_line"

    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "feedback", {"rating": 5, "comment": "Thanks"}), "portal"
    )
    page = text(browser.get(f"/calls/{reference}"))
    assert queries.ticket_view(desk, reference).status == "closed"
    assert "The desk closed the call: resolved" in page
    assert "No open tasks." in page
    assert 'status-closed">closed<' in page


def test_an_invalid_task_form_shows_the_field_message_and_changes_nothing(browser, desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    before = queries.ticket_view(desk, reference)
    response = submit_task(browser, task.task_id, {"response_method": "pigeon", "response": ""})
    assert response.status_code == 400
    page = text(response)
    assert 'id="field_response-error">What the customer was told is required<' in page
    assert "How the customer was answered must be one of: email, phone" in page
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history
    assert after.revision == before.revision
    assert open_task(desk, reference, "First level response").task_id == task.task_id


def test_a_stale_submission_is_refused_with_409_and_changes_nothing(browser, desk, frozen_clock):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    opened = browser.get(f"/tasks/{task.task_id}")
    _someone_else_changes(desk, reference)
    before = queries.ticket_view(desk, reference)

    answers = {**RESOLVED_STRAIGHT_AWAY, "response": "Called back"}
    response = submit_task(browser, task.task_id, answers, page=opened)
    assert response.status_code == 409
    assert f"ticket {reference} changed since you opened it" in text(response)
    assert "Called back" in text(response)  # the answers are kept for a deliberate resubmit
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history
    assert after.revision == before.revision

    # The form shown with the conflict carries the current revision: resubmitting it works.
    assert submit_task(browser, task.task_id, answers, page=response).status_code == 302


def _someone_else_changes(desk, reference: str) -> None:
    """Another writer touches the ticket, which moves its revision on."""
    clock.advance(timedelta(minutes=1))
    with desk.db.transaction() as session:
        find_ticket(session, reference).updated_at = clock.now()


def test_submitting_a_completed_task_again_is_a_409_and_changes_nothing(browser, desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    opened = browser.get(f"/tasks/{task.task_id}")
    answers = {**RESOLVED_STRAIGHT_AWAY, "response": "Called back"}
    assert submit_task(browser, task.task_id, answers, page=opened).status_code == 302
    before = queries.ticket_view(desk, reference)

    again = submit_task(browser, task.task_id, answers, page=opened)
    assert again.status_code == 409
    assert "First level response on SUP-2026-000001 was already completed by alice at 23 Nov 2026, 10:00" in text(again)
    assert queries.ticket_view(desk, reference) == before


def test_an_unknown_task_or_call_is_a_404_page(browser):
    sign_in(browser, "alice")
    page = browser.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert page.status_code == 404
    assert "this task is no longer open" in text(page)
    unknown_post = browser.post(
        "/tasks/00000000-0000-0000-0000-000000000000",
        data={"csrf_token": token(page), "revision": "1", "reference": "SUP-2026-000009"},
    )
    assert unknown_post.status_code == 404
    missing = browser.get("/calls/SUP-2026-999999")
    assert missing.status_code == 404
    assert "no ticket with Call Reference" in text(missing)


# CSRF -----------------------------------------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused(browser, desk):
    sign_in(browser, "alice")
    response = browser.post("/calls/new", data=CALL)
    assert response.status_code == 400
    assert "no valid security token" in text(response)
    assert queries.recent_tickets(desk) == []

    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    before = history_kinds(desk, reference)
    response = browser.post(
        f"/tasks/{task.task_id}",
        data={"revision": "1", "field_response_method": "phone", "field_response": "Called back"},
    )
    assert response.status_code == 400
    assert history_kinds(desk, reference) == before


def test_sign_in_without_a_csrf_token_is_refused(browser):
    assert browser.post("/login", data={"username": "alice", "password": PASSWORD}).status_code == 400
    assert browser.get("/tasks").status_code == 302


# Time and pages -------------------------------------------------------------------------------------------


def test_ticket_history_is_shown_in_london_time_gmt_in_winter(browser, desk, frozen_clock):
    clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    reference = log_call(desk)
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert "26 Nov 2026, 10:00" in page
    assert "The desk assigned the Call Reference SUP-2026-000001" in page
    assert "The desk opened the task “Confirm priority” for First line" in page


def test_ticket_history_is_shown_in_london_time_bst_in_summer(browser, desk, frozen_clock):
    clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    reference = log_call(desk)
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert "01 Jul 2026, 10:00" in page
    assert not re.search(r">[^<]*09:00", page)  # UTC only in machine-readable datetime attributes
    assert "01 Jul 2026, 10:00" in text(browser.get("/tasks"))


def test_the_inbox_pages_by_25_with_a_count(browser, desk, frozen_clock):
    for _ in range(26):
        frozen_clock.advance(timedelta(minutes=1))  # oldest first, so the 26th call is alone on page 2
        commands.log_call(desk, ANN, "alice")
    sign_in(browser, "alice")
    first = text(browser.get("/tasks"))
    assert "26 open tasks." in first
    assert "Page 1 of 2" in first
    assert first.count('href="/tasks/') == 25
    second = text(browser.get("/tasks?page=2"))
    assert second.count('href="/tasks/') == 1
    assert "SUP-2026-000026" in second
    assert "No tasks on this page." in text(browser.get("/tasks?page=9"))


def test_recent_calls_list_links_to_each_ticket(browser, desk):
    references = [log_call(desk) for _ in range(2)]
    sign_in(browser, "sam")
    page = text(browser.get("/calls"))
    for reference in references:
        assert f'href="/calls/{reference}"' in page


# Logging a call: what the priority table needs (C05-C11) ------------------------------------------------


def test_the_log_call_form_offers_the_engine_vocabularies(browser):
    sign_in(browser, "alice")
    page = browser.get("/calls/new")
    shape = parse(page)
    assert shape.options["symptom"] == list(SYMPTOMS)
    assert shape.options["request_kind"] == list(REQUEST_KINDS)
    assert shape.inputs["licence_type"]["type"] == "radio"
    assert shape.inputs["campaign_at"]["type"] == "datetime-local"
    assert shape.inputs["preparing_campaign"]["type"] == "checkbox"
    for words in ("The software crashes", "A request for a product enhancement", "On-premise", "Telephone"):
        assert words in text(page)


def test_C05_C06_a_crash_three_hours_before_a_campaign_is_suggested_high_on_confirm_priority(browser, desk):
    sign_in(browser, "alice")
    response = log_call_via_form(
        browser,
        symptom="software_crashes",
        campaign_at="2026-11-23T13:00",
        licence_type="on_premise",
        request_kind="problem",
    )
    assert response.status_code == 302
    reference = "SUP-2026-000001"
    logged = events(desk, reference, "call_logged")[0].payload
    assert logged["campaign_at"] == "2026-11-23T13:00:00+00:00"  # London time; GMT in November
    assert (logged["symptom"], logged["licence_type"], logged["preparing_campaign"]) == (
        "software_crashes",
        "on_premise",
        False,
    )
    assert "Confirm priority" in text(browser.get("/tasks"))

    triage = open_task(desk, reference, "Confirm priority")
    page = text(browser.get(f"/tasks/{triage.task_id}"))
    assert "Suggested priority: High — C06: a campaign within 24 hours is blocked" in page
    assert submit_task(browser, triage.task_id, {"priority": "", "override_reason": ""}).status_code == 302
    ticket = text(browser.get(f"/calls/{reference}"))
    assert "<dt>Priority</dt><dd>High</dd>" in ticket
    assert "The software crashes" in ticket
    assert "On-premise" in ticket
    assert "23 Nov 2026, 13:00" in ticket


def test_C06_a_blocked_preparation_of_a_future_campaign_is_suggested_high(browser, desk):
    sign_in(browser, "alice")
    log_call_via_form(browser, symptom="cannot_load_data", preparing_campaign="y")
    triage = open_task(desk, "SUP-2026-000001", "Confirm priority")
    page = text(browser.get(f"/tasks/{triage.task_id}"))
    assert "Suggested priority: High — C06: the preparation of a future campaign is blocked" in page


def test_the_campaign_moment_is_read_as_london_time_in_summer(browser, desk, frozen_clock):
    clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))  # 10:00 BST
    sign_in(browser, "alice")
    log_call_via_form(browser, campaign_at="2026-07-01T13:00", symptom="campaign_wont_send")
    logged = events(desk, "SUP-2026-000001", "call_logged")[0].payload
    assert datetime.fromisoformat(logged["campaign_at"]) == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert "01 Jul 2026, 13:00" in text(browser.get("/calls/SUP-2026-000001"))
    triage = open_task(desk, "SUP-2026-000001", "Confirm priority")
    assert "Suggested priority: High" in text(browser.get(f"/tasks/{triage.task_id}"))


def test_without_a_campaign_the_call_is_suggested_low(browser, desk):
    sign_in(browser, "alice")
    log_call_via_form(browser, campaign_at="")
    assert events(desk, "SUP-2026-000001", "call_logged")[0].payload["campaign_at"] is None
    triage = open_task(desk, "SUP-2026-000001", "Confirm priority")
    assert "Suggested priority: Low — C08, C11" in text(browser.get(f"/tasks/{triage.task_id}"))
    assert "None scheduled" in text(browser.get("/calls/SUP-2026-000001"))


def test_an_unreadable_campaign_moment_is_refused_beside_the_other_errors(browser, desk):
    sign_in(browser, "alice")
    response = log_call_via_form(browser, campaign_at="next tuesday", contact_name="", symptom="gremlins")
    assert response.status_code == 400
    page = text(response)
    assert 'id="campaign_at-error">Enter the campaign&#39;s date and time' in page
    assert 'id="contact_name-error">Contact name is required<' in page
    assert 'id="symptom-error">Symptom must be one of:' in page
    assert 'value="next tuesday"' in page
    assert queries.recent_tickets(desk) == []


def test_C05_a_priority_other_than_the_suggestion_needs_a_reason(browser, desk):
    reference = log_call(desk)  # suggested Low
    triage = open_task(desk, reference, "Confirm priority")
    sign_in(browser, "alice")
    before = queries.ticket_view(desk, reference)
    refused = submit_task(browser, triage.task_id, {"priority": "High", "override_reason": ""})
    assert refused.status_code == 400
    assert "Say why you chose High rather than the suggested Low" in text(refused)
    assert queries.ticket_view(desk, reference).history == before.history
    accepted = submit_task(browser, triage.task_id, {"priority": "High", "override_reason": "Board demo today"})
    assert accepted.status_code == 302
    assert "<dt>Priority</dt><dd>High</dd>" in text(browser.get(f"/calls/{reference}"))


# Task forms show what the task needs to know ---------------------------------------------------------------


def test_C16_C17_each_line_sees_why_the_call_came_to_it(browser, desk):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    sign_in(browser, "sam")
    second = open_task(desk, reference, "Resolve call (second line)")
    page = text(browser.get(f"/tasks/{second.task_id}"))
    assert "Hand-over reason or question: Needs the import logs" in page
    assert "Priority: Low" in page
    submit_task(browser, second.task_id, {"next_step": "ask_third_line", "handover_reason": "Is the BOM check on?"})

    sign_in(browser, "tara")
    advise = open_task(desk, reference, "Advise second line")
    assert "Hand-over reason or question: Is the BOM check on?" in text(browser.get(f"/tasks/{advise.task_id}"))
    assert submit_task(browser, advise.task_id, {"advice": "Turn on strict BOM checks"}).status_code == 302

    sign_in(browser, "sam")
    again = open_task(desk, reference, "Resolve call (second line)")
    assert "Advice from third line: Turn on strict BOM checks" in text(browser.get(f"/tasks/{again.task_id}"))


# SLA clocks on the ticket page (C12-C14) -----------------------------------------------------------------


def test_C12_C13_the_ticket_page_shows_the_sla_clocks_in_london_time(browser, desk):
    reference = log_and_triage(desk, details=HIGH)
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert "<dt>Priority</dt><dd>High</dd>" in page
    assert "<dt>Status</dt><dd>Open</dd>" in page
    assert "1 working hour" in page
    assert "23 Nov 2026, 11:00" in page
    assert "8 working hours" in page
    assert "23 Nov 2026, 18:00" in page
    assert "<td>8 h 00 min</td>" in page
    assert "BREACHED" not in page


def test_C14_a_breached_clock_is_highlighted_and_the_call_goes_on(browser, desk, frozen_clock):
    reference = log_and_triage(desk, details=HIGH)
    frozen_clock.advance(timedelta(hours=2))  # the first response was due at 11:00
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert page.count('class="breached"') == 1
    assert "BREACHED" in page
    assert "overdue by 1 h 00 min" in page
    assert "<td>2 h 00 min</td>" in page
    assert "First level response" in page


# Actions on a call -----------------------------------------------------------------------------------------


def test_C22_C23_C24_an_advisor_sets_a_call_delayed_then_says_work_can_progress(browser, desk):
    reference = answered_high_call(desk)
    sign_in(browser, "sam")
    page = browser.get(f"/calls/{reference}")
    assert "delayed-csrf_token" in parse(page).inputs  # each action form carries its own token
    assert "Set Delayed" in text(page)
    assert "Work can progress" not in text(page)

    response = act(browser, reference, "delayed", reason="information_awaited", note="Asked for the CSV")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{reference}"
    page = browser.get(f"/calls/{reference}")
    body = text(page)
    assert f"{reference} is Delayed" in body
    assert queries.ticket_view(desk, reference).status == "delayed"
    assert "<dt>Priority</dt><dd>Medium</dd>" in body  # C23: High is re-graded
    assert "none while paused" in body
    assert "Sam Second set the call Delayed: Asked for the CSV" in body
    assert "Work can progress" in body
    assert "Set Delayed</button>" not in body
    # The message that answers the delay is offered first.
    assert re.search(r'checked[^>]*value="information_received"|value="information_received"[^>]*checked', body)

    response = act(browser, reference, "progress", message="information_received", note="CSV attached")
    assert response.status_code == 302
    assert "The information has arrived" in text(browser.get(f"/calls/{reference}"))
    assert queries.ticket_view(desk, reference).status == "open"
    assert events(desk, reference, "message_received")[-1].payload == {
        "message": "information_received",
        "payload": {"note": "CSV attached"},
    }
    assert events(desk, reference, "call_delayed")[0].actor == "sam"


def test_C21_access_refused_on_a_saas_call_is_refused_clearly_and_changes_nothing(browser, desk):
    reference = answered_high_call(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, "sam")
    response = act(browser, reference, "delayed", reason="access_refused", note="No VPN")
    assert response.status_code == 409
    page = text(response)
    assert "Nothing was changed." in page
    assert "C21: only an on-premise call waits for access to the customer&#39;s environment" in page
    assert 'value="No VPN"' in page  # the answers are kept
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history
    assert after.revision == before.revision
    assert after.status == "open"


def test_C21_access_refused_on_an_on_premise_call_delays_it(browser, desk):
    reference = log_and_triage(desk, details=replace(HIGH, licence_type="on_premise"))
    do(desk, reference, "First level response", FIRST_RESPONSE)
    sign_in(browser, "tara")
    assert act(browser, reference, "delayed", reason="access_refused").status_code == 302
    page = text(browser.get(f"/calls/{reference}"))
    assert re.search(r'checked[^>]*value="access_granted"|value="access_granted"[^>]*checked', page)
    assert act(browser, reference, "progress", message="access_granted").status_code == 302
    assert queries.ticket_view(desk, reference).status == "open"


def test_a_call_cannot_be_set_delayed_before_its_first_level_response(browser, desk):
    reference = log_and_triage(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, "alice")
    response = act(browser, reference, "delayed", reason="information_awaited")
    assert response.status_code == 409
    assert "Nothing was changed." in text(response)
    assert f"Ticket {reference} is not waiting for the message &#39;call_delayed&#39;" in text(response)
    assert queries.ticket_view(desk, reference) == before


def test_work_cannot_progress_on_a_call_that_is_not_delayed(browser, desk):
    reference = answered_high_call(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, "sam")
    response = act(browser, reference, "progress", message="customer_back")
    assert response.status_code == 409
    assert "is not waiting for the message" in text(response)
    bogus = act(browser, reference, "progress", message="feedback")  # only the C24 messages re-open
    assert bogus.status_code == 400
    assert "Choose what happened" in text(bogus)
    assert queries.ticket_view(desk, reference) == before


def test_C19_C20_recording_a_training_need_links_the_training_ticket_both_ways(browser, desk):
    reference = log_and_triage(desk)
    sign_in(browser, "alice")
    response = act(browser, reference, "training", need="new_user", notes="Two new marketers")
    assert response.status_code == 302
    page = text(browser.get(f"/calls/{reference}"))
    assert "Training need recorded: TRN-2026-000001." in page
    assert 'href="/calls/TRN-2026-000001"' in page
    assert "A new or replacement user should attend the training course (C20)" in page
    training = text(browser.get("/calls/TRN-2026-000001"))
    assert f'href="/calls/{reference}"' in training
    assert "Two new marketers" in training
    assert "Record training need" not in training  # actions belong to calls
    assert open_task(desk, "TRN-2026-000001", "Arrange training").role == "account_manager"


def test_an_unknown_training_need_is_refused_beside_its_field(browser, desk):
    reference = log_and_triage(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, "alice")
    response = act(browser, reference, "training", need="juggling")
    assert response.status_code == 400
    assert 'id="training-need-error">Need must be one of: more_training, new_user<' in text(response)
    assert queries.ticket_view(desk, reference) == before
    assert [t.reference for t in queries.recent_tickets(desk)] == [reference]


def test_C28_an_account_manager_starts_an_escalation_from_the_call(browser, desk):
    reference = log_and_triage(desk)
    sign_in(browser, "amy")
    page = text(browser.get(f"/calls/{reference}"))
    assert "Start escalation" in page
    assert "Set Delayed" not in page
    assert "Record training need" not in page
    refused = act(browser, reference, "escalation", concern="  ")
    assert refused.status_code == 400
    assert 'id="escalation-concern-error">The concern is required<' in text(refused)
    assert [t.reference for t in queries.recent_tickets(desk)] == [reference]

    response = act(browser, reference, "escalation", concern="Nobody called me <b>back</b>")
    assert response.status_code == 302
    page = text(browser.get(f"/calls/{reference}"))
    assert "Escalation started: ESC-2026-000001." in page
    assert 'href="/calls/ESC-2026-000001"' in page
    escalation = text(browser.get("/calls/ESC-2026-000001"))
    assert f'href="/calls/{reference}"' in escalation
    assert "Nobody called me &lt;b&gt;back&lt;/b&gt;" in escalation
    assert "<b>back</b>" not in escalation
    assert events(desk, reference, "escalation_started")[0].actor == "amy"


@pytest.mark.parametrize(
    ("username", "action", "fields"),
    [
        ("audrey", "delayed", {"reason": "information_awaited"}),
        ("audrey", "escalation", {"concern": "Unhappy"}),
        ("dev", "training", {"need": "new_user"}),
        ("amy", "delayed", {"reason": "customer_absent"}),
        ("carl", "progress", {"message": "customer_back"}),
    ],
)
def test_only_advisors_act_on_a_call_and_others_get_403(browser, desk, username, action, fields):
    reference = answered_high_call(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, username)
    assert act(browser, reference, action, **fields).status_code == 403
    assert queries.ticket_view(desk, reference) == before
    assert len(queries.recent_tickets(desk)) == 1


def test_an_auditor_sees_the_call_without_actions(browser, desk):
    reference = answered_high_call(desk)
    sign_in(browser, "audrey")
    page = text(browser.get(f"/calls/{reference}"))
    assert "Service levels" in page
    assert "<h2>Actions</h2>" not in page


def test_an_action_without_a_csrf_token_is_refused(browser, desk):
    reference = answered_high_call(desk)
    before = queries.ticket_view(desk, reference)
    sign_in(browser, "sam")
    response = browser.post(f"/calls/{reference}/delayed", data={"delayed-reason": "information_awaited"})
    assert response.status_code == 400
    assert "no valid security token" in text(response)
    assert queries.ticket_view(desk, reference) == before


def test_an_action_on_an_unknown_call_is_a_404(browser):
    sign_in(browser, "admin")
    response = act(browser, "SUP-2026-999999", "training", need="new_user")
    assert response.status_code == 404
    assert "no ticket with Call Reference" in text(response)


def test_the_ticket_page_draws_where_the_call_is_and_its_clocks(browser, desk, frozen_clock):
    reference = log_and_triage(desk)
    frozen_clock.advance(timedelta(hours=2))  # past the first response deadline
    Worker(desk).run_once()
    sign_in(browser, "alice")
    page = browser.get(f"/calls/{reference}").get_data(as_text=True)
    # Drawn in the browser by bpmn.io's viewer (tests/test_browser_diagrams.py), from the version's file, with
    # where the call is and has been in a data attribute for the page's script.
    assert 'data-source="/diagrams/1/support_call.bpmn"' in page
    marks = json.loads(html.unescape(re.search(r"data-marks='([^']*)'", page).group(1)))
    assert marks["hl-current"] == ["Task_first_level_response"]
    assert "Task_triage" in marks["hl-done"]
    assert "Flow_triage_to_set_priority" in marks["hl-taken"]
    assert "Start_resolution_due" in marks["hl-waiting"]  # C14: the resolution clock is watched
    assert 'class="timeline"' in page
    assert 'class="span running"' in page
    assert 'class="mark breach"' in page  # the first response breach, drawn on its clock
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # scripts only from /static: the CSP runs no other


def test_claim_and_release_from_the_inbox_show_who_is_on_a_task(browser, desk):
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    inbox = browser.get("/tasks")
    response = browser.post(f"/tasks/{task.task_id}/claim", data={"csrf_token": token(inbox)})
    assert response.status_code == 302
    page = text(browser.get("/tasks"))
    assert "You have claimed First level response." in page
    assert "Release" in page
    assert open_task(desk, reference, "First level response").claimed_by == "alice"
    assert browser.post(f"/tasks/{task.task_id}/claim").status_code == 400  # no token, no change
    response = browser.post(f"/tasks/{task.task_id}/release", data={"csrf_token": token(inbox)})
    assert "First level response is back in the queue." in text(browser.get(response.headers["Location"]))
    assert open_task(desk, reference, "First level response").claimed_by is None


def test_the_inbox_puts_the_most_urgent_deadline_first_and_flags_breaches(browser, desk, frozen_clock):
    low = log_and_triage(desk)  # no campaign: Low, first response due in 1 h
    frozen_clock.advance(timedelta(minutes=30))
    high = log_and_triage(
        desk, details=replace(ANN, symptom="software_crashes", campaign_at=frozen_clock.now() + timedelta(hours=3))
    )
    sign_in(browser, "alice")
    page = browser.get("/tasks").get_data(as_text=True)
    assert page.index(low) < page.index(high)  # both first responses: the older deadline first
    assert "30 min" in text(browser.get("/tasks"))
    assert "at risk" not in text(browser.get("/tasks"))
    frozen_clock.advance(timedelta(minutes=20))  # 10 of its 60 minutes left: the last quarter (C14)
    assert "10 min" in text(browser.get("/tasks"))
    assert "at risk" in text(browser.get("/tasks"))
    frozen_clock.advance(timedelta(minutes=25))  # the first call's first response is now 15 min late
    rows = text(browser.get("/tasks"))
    assert "overdue by 15 min" in rows
    assert '<tr class="breached">' in rows
    assert "BREACHED" in rows


def test_the_ticket_page_lists_the_mail_sent_and_says_it_waits_without_smtp(browser, desk):
    reference = log_call(desk)
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert f"[{reference}] We have logged your call" in page
    assert "kept in the outbox: no SMTP server is configured" in page
