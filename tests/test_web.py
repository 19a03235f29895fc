"""The web desk through Flask's test client, CSRF tokens and all: sign-in, roles,
logging a call, the task forms the diagram declares, conflicts, and London time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from werkzeug.security import generate_password_hash

from supportdesk.engine import commands, queries, users
from supportdesk.engine.clock import clock
from supportdesk.engine.instances import find_ticket
from supportdesk.engine.users import ensure_demo_users
from supportdesk.web import create_app

from helpers import ANN, history_kinds, log_call, open_task

PASSWORD = "demo"
CALL = {"contact_name": "Ann Example", "contact_email": "ann@example.com", "account": "Acme Ltd",
        "summary": "Unable to load data for tomorrow's campaign", "channel": "phone"}


class _Inputs(HTMLParser):
    """The named inputs, selects and textareas of a page, for reading tokens and form shapes."""

    def __init__(self):
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.tags: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag in ("input", "select", "textarea") and name:
            self.inputs.setdefault(name, attributes)
            self.tags.setdefault(name, tag)
        if tag == "select":
            self._select = name
            self.options[name] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(attributes.get("value"))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def parse(response) -> _Inputs:
    parser = _Inputs()
    parser.feed(response.get_data(as_text=True))
    return parser


def token(response) -> str:
    return parse(response).inputs["csrf_token"]["value"]


def hidden(response, name: str) -> str:
    return parse(response).inputs[name]["value"]


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """The demo users' passwords hashed with a cheap method: a real one costs a second per test.
    Checking reads the method from the stored hash, so signing in still goes through werkzeug."""
    monkeypatch.setattr(users, "generate_password_hash",
                        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"))


@pytest.fixture
def web_app(desk):
    ensure_demo_users(desk)
    return create_app(desk, testing=True)


@pytest.fixture
def browser(web_app):
    return web_app.test_client()


def sign_in(browser, username: str, password: str = PASSWORD, next_url: str | None = None):
    url = "/login" if next_url is None else f"/login?next={next_url}"
    page = browser.get(url)
    return browser.post(url, data={"csrf_token": token(page), "username": username, "password": password})


def log_call_via_form(browser, **changes):
    page = browser.get("/calls/new")
    return browser.post("/calls/new", data={"csrf_token": token(page), **CALL, **changes})


def submit_task(browser, task_id: str, answers: dict, *, page=None):
    """Open the task form (or reuse an opened one) and submit it with its hidden fields."""
    page = page or browser.get(f"/tasks/{task_id}")
    fields = {f"field_{key}": value for key, value in answers.items()}
    return browser.post(f"/tasks/{task_id}", data={"csrf_token": token(page), "revision": hidden(page, "revision"),
                                                   "reference": hidden(page, "reference"), **fields})


# Signing in -----------------------------------------------------------------------------------------------

def test_sign_in_with_good_credentials_lands_on_the_inbox(browser):
    response = sign_in(browser, "alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    inbox = browser.get("/tasks")
    assert inbox.status_code == 200
    assert "Alice First" in text(inbox)
    assert "Signed in as Alice First." in text(inbox)


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("nobody", "demo")])
def test_bad_credentials_show_a_clear_error_and_sign_nobody_in(browser, username, password):
    response = sign_in(browser, username, password)
    assert response.status_code == 200
    assert "Unknown username or wrong password." in text(response)
    assert browser.get("/tasks").status_code == 302


@pytest.mark.parametrize("path", ["/tasks", "/tasks?page=2", "/calls", "/calls/new", "/calls/SUP-2026-000001",
                                  "/tasks/x"])
def test_anonymous_visitors_are_sent_to_sign_in(browser, path):
    response = browser.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_the_home_page_is_the_inbox(browser):
    assert browser.get("/").headers["Location"] == "/tasks"


@pytest.mark.parametrize("next_url, landing", [
    ("/calls", "/calls"),
    ("https://evil.example/", "/tasks"),
    ("//evil.example/", "/tasks"),
    ("/\\evil.example/", "/tasks"),
])
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
    reference = log_call(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "sam")
    assert browser.get(f"/tasks/{task.task_id}").status_code == 403
    inbox = browser.get("/tasks")
    assert reference not in text(inbox)
    before = history_kinds(desk, reference)
    response = browser.post(f"/tasks/{task.task_id}", data={
        "csrf_token": token(inbox), "revision": "1", "reference": reference,
        "field_response_method": "phone", "field_response": "sneaky"})
    assert response.status_code == 403
    assert history_kinds(desk, reference) == before
    # The ticket page shows the task, without a link to its form.
    ticket = text(browser.get(f"/calls/{reference}"))
    assert "First level response" in ticket and f"/tasks/{task.task_id}" not in ticket


def test_admin_sees_every_role_in_the_inbox_and_may_log_calls(browser, desk):
    reference = log_call(desk)
    sign_in(browser, "admin")
    inbox = text(browser.get("/tasks"))
    assert "Open tasks for every role." in inbox and reference in inbox
    assert browser.get("/calls/new").status_code == 200


# Logging a call -------------------------------------------------------------------------------------------

def test_C01_logging_a_call_through_the_form_puts_its_first_level_response_in_the_inbox(browser, desk):
    sign_in(browser, "alice")
    response = log_call_via_form(browser)
    assert response.status_code == 302
    assert response.headers["Location"] == "/calls/SUP-2026-000001"
    ticket = browser.get("/calls/SUP-2026-000001")
    assert "Call logged: SUP-2026-000001" in text(ticket)
    assert "Diagram version" in text(ticket)

    inbox = text(browser.get("/tasks"))
    assert "SUP-2026-000001" in inbox
    assert "First level response" in inbox
    assert "Acme Ltd" in inbox and "Unable to load data for tomorrow&#39;s campaign" in inbox
    assert "23 Nov 2026 10:00 GMT" in inbox
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


def test_logging_a_call_needs_a_deployed_diagram(tmp_path, frozen_clock):
    from supportdesk.engine.desk import Desk
    from supportdesk.engine.settings import Settings

    empty = Desk(Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}", secret_key="test"))
    empty.upgrade_schema()
    ensure_demo_users(empty)
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
    reference = log_call(desk)
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
    assert "How the customer was answered" in text(page) and "Reply by email" in text(page)


def test_C12_C15_first_level_response_and_resolve_through_the_forms_close_the_call(browser, desk, frozen_clock):
    reference = log_call(desk)
    sign_in(browser, "alice")
    first = open_task(desk, reference, "First level response")
    frozen_clock.advance(timedelta(minutes=20))
    response = submit_task(browser, first.task_id, {"response_method": "email", "response": "Replied by email"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/calls/{reference}"
    assert "First level response completed on" in text(browser.get(response.headers["Location"]))

    resolve = open_task(desk, reference, "Resolve call")
    response = submit_task(browser, resolve.task_id, {"resolution": "Import file had a stray BOM"})
    assert response.status_code == 302

    view = queries.ticket_view(desk, reference)
    assert view.status == "closed" and view.open_tasks == []
    completed = [row for row in view.history if row.kind == "task_completed"]
    assert completed[0].payload["data"] == {"response_method": "email", "response": "Replied by email"}
    assert {row.actor for row in completed} == {"alice"}
    page = text(browser.get(f"/calls/{reference}"))
    assert "Call closed" in page and "No open tasks." in page


def test_an_invalid_task_form_shows_the_field_message_and_changes_nothing(browser, desk):
    reference = log_call(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    before = queries.ticket_view(desk, reference)
    response = submit_task(browser, task.task_id, {"response_method": "pigeon", "response": ""})
    assert response.status_code == 400
    page = text(response)
    assert 'id="field_response-error">What the customer was told is required<' in page
    assert "How the customer was answered must be one of: email, phone" in page
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history and after.revision == before.revision
    assert open_task(desk, reference, "First level response").task_id == task.task_id


def test_a_stale_submission_is_refused_with_409_and_changes_nothing(browser, desk, frozen_clock):
    reference = log_call(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    opened = browser.get(f"/tasks/{task.task_id}")
    _someone_else_changes(desk, reference)
    before = queries.ticket_view(desk, reference)

    answers = {"response_method": "phone", "response": "Called back"}
    response = submit_task(browser, task.task_id, answers, page=opened)
    assert response.status_code == 409
    assert f"ticket {reference} changed since you opened it" in text(response)
    assert "Called back" in text(response)  # the answers are kept for a deliberate resubmit
    after = queries.ticket_view(desk, reference)
    assert after.history == before.history and after.revision == before.revision

    # The form shown with the conflict carries the current revision: resubmitting it works.
    assert submit_task(browser, task.task_id, answers, page=response).status_code == 302


def _someone_else_changes(desk, reference: str) -> None:
    """Another writer touches the ticket, which moves its revision on."""
    clock.advance(timedelta(minutes=1))
    with desk.db.transaction() as session:
        find_ticket(session, reference).updated_at = clock.now()


def test_submitting_a_completed_task_again_is_a_409_and_changes_nothing(browser, desk):
    reference = log_call(desk)
    task = open_task(desk, reference, "First level response")
    sign_in(browser, "alice")
    opened = browser.get(f"/tasks/{task.task_id}")
    answers = {"response_method": "phone", "response": "Called back"}
    assert submit_task(browser, task.task_id, answers, page=opened).status_code == 302
    before = queries.ticket_view(desk, reference)

    again = submit_task(browser, task.task_id, answers, page=opened)
    assert again.status_code == 409
    assert "First level response on SUP-2026-000001 was already completed by alice at 23 Nov 2026 10:00 GMT" \
        in text(again)
    assert queries.ticket_view(desk, reference) == before


def test_an_unknown_task_or_call_is_a_404_page(browser):
    sign_in(browser, "alice")
    page = browser.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert page.status_code == 404 and "this task is no longer open" in text(page)
    unknown_post = browser.post("/tasks/00000000-0000-0000-0000-000000000000",
                                data={"csrf_token": token(page), "revision": "1", "reference": "SUP-2026-000009"})
    assert unknown_post.status_code == 404
    missing = browser.get("/calls/SUP-2026-999999")
    assert missing.status_code == 404 and "no ticket with Call Reference" in text(missing)


# CSRF -----------------------------------------------------------------------------------------------------

def test_a_post_without_a_csrf_token_is_refused(browser, desk):
    sign_in(browser, "alice")
    response = browser.post("/calls/new", data=CALL)
    assert response.status_code == 400
    assert "no valid security token" in text(response)
    assert queries.recent_tickets(desk) == []

    reference = log_call(desk)
    task = open_task(desk, reference, "First level response")
    before = history_kinds(desk, reference)
    response = browser.post(f"/tasks/{task.task_id}", data={
        "revision": "1", "field_response_method": "phone", "field_response": "Called back"})
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
    assert "26 Nov 2026 10:00 GMT" in page
    assert "Call Reference assigned" in page and "Task opened" in page


def test_ticket_history_is_shown_in_london_time_bst_in_summer(browser, desk, frozen_clock):
    clock.set(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))
    reference = log_call(desk)
    sign_in(browser, "alice")
    page = text(browser.get(f"/calls/{reference}"))
    assert "01 Jul 2026 10:00 BST" in page
    assert not re.search(r">[^<]*09:00", page)  # UTC only in machine-readable datetime attributes
    assert "01 Jul 2026 10:00 BST" in text(browser.get("/tasks"))


def test_the_inbox_pages_by_25_with_a_count(browser, desk, frozen_clock):
    for _ in range(26):
        frozen_clock.advance(timedelta(minutes=1))  # oldest first, so the 26th call is alone on page 2
        commands.log_call(desk, ANN, "alice")
    sign_in(browser, "alice")
    first = text(browser.get("/tasks"))
    assert "26 open tasks." in first and "Page 1 of 2" in first
    assert first.count('href="/tasks/') == 25
    second = text(browser.get("/tasks?page=2"))
    assert second.count('href="/tasks/') == 1 and "SUP-2026-000026" in second
    assert "No tasks on this page." in text(browser.get("/tasks?page=9"))


def test_recent_calls_list_links_to_each_ticket(browser, desk):
    references = [log_call(desk) for _ in range(2)]
    sign_in(browser, "sam")
    page = text(browser.get("/calls"))
    for reference in references:
        assert f'href="/calls/{reference}"' in page
