"""Nothing stuck at run time (#21): a live ticket meets a step its diagram cannot take.

Each diagram here is a shipped one, edited so that it fails at run time, and stored with the gate
bypassed (``helpers.deploy_without_the_gate``): how a diagram deployed before the gate knew better, or
with a mistake no gate sees, meets live calls. Whatever door the command came through, it is refused
with what happened (never a 500 nor a traceback), nothing of it is written, the ticket gets an incident
that its page and the admins show, and once a corrected version is deployed and the ticket migrated,
the same command goes on and the incident is resolved.
"""

from __future__ import annotations

import html
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from supportdesk.cli import main as cli
from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import StepFailed
from supportdesk.engine.mail import inbound
from supportdesk.engine.people import api_tokens
from supportdesk.engine.store.models import Job, OutboxMail, Ticket
from supportdesk.engine.tickets import commands, incidents, jobs, migration, queries

from conftest import MONDAY_10AM
from helpers import (
    ANN,
    FIRST_RESPONSE,
    delay_for_information,
    deploy_without_the_gate,
    do,
    log_and_triage,
    open_task,
    open_titles,
    shipped_diagrams,
    with_a_case_uncovered,
    with_condition,
)
from web_client import desk_app, hidden, portal_link, sign_in, text, token

pytestmark = pytest.mark.usefixtures("quick_password_hashes")

FIRST_LINE_NEXT = "Gateway_first_line_next"
# First line's "Resolved?" gateway without its default flow: "Pass to second line" falls through it.
SECOND_LINE_FALLS_THROUGH = 'next_step == "escalate"'
SHIPPED_VERSION = 1  # the ``desk`` fixture deploys the shipped diagrams: the corrected version to go back to


def broken(desk, **edits) -> int:
    """Deploy the shipped diagrams with ``support_call.bpmn`` edited by ``edits`` (gate bypassed)."""
    files = shipped_diagrams()
    files.update(edits)
    return deploy_without_the_gate(desk, files)


def gateway_without_default(desk) -> int:
    files = shipped_diagrams()
    bpmn = with_a_case_uncovered(files["support_call.bpmn"], FIRST_LINE_NEXT, SECOND_LINE_FALLS_THROUGH)
    return broken(desk, **{"support_call.bpmn": bpmn})


def what_is_stored(desk, reference: str) -> tuple:
    """Everything a command could have written about the ticket: its instance and revision, history,
    open tasks, SLA clocks, timer jobs and mail."""
    view = queries.ticket_view(desk, reference)
    with desk.db.reading() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.reference == reference))
        jobs_of = sorted((j.task_id, j.due_at, j.status) for j in session.scalars(select(Job)))
        mail = session.scalar(select(func.count()).select_from(OutboxMail))
        stored = (ticket.state, ticket.revision, ticket.version_id, ticket.status, ticket.updated_at)
    history = [(e.seq, e.kind) for e in view.history]
    tasks = sorted((t.task_id, t.title) for t in view.open_tasks)
    clocks = [(c.metric, c.state, c.due_at, c.breached) for c in view.clocks]
    return stored, history, tasks, clocks, jobs_of, mail


def fixed_and_migrated(desk, reference: str) -> None:
    """The process owner's fix: the corrected (shipped) diagrams deployed again, the ticket moved to them."""
    assert commands.deploy(desk, actor="owner").number == SHIPPED_VERSION
    assert migration.migrate_ticket(desk, reference, SHIPPED_VERSION, "owner").outcome == migration.MIGRATED


def only_incident(desk, reference: str) -> incidents.StepIncidentView:
    [incident] = incidents.of_ticket(desk, reference)
    return incident


# --- the web desk ------------------------------------------------------------------------------------------


def test_C15_a_live_call_at_a_failing_gateway_is_refused_on_the_web_unchanged_and_goes_on_after_a_fix(desk):
    """The must-show road: a diagram whose exclusive gateway lost its default is live; first line passes a
    call to second line through the task form; the answer is a page saying what happened and who was
    told, not a 500; nothing was written; the ticket page and the admin page show the incident; after the
    corrected version is deployed and the ticket migrated, the same form goes on and the incident is resolved."""
    broken_version = gateway_without_default(desk)
    reference = log_and_triage(desk)
    before = what_is_stored(desk, reference)
    browser = desk_app(desk).test_client()
    sign_in(browser, "alice")
    task = open_task(desk, reference, "First level response")
    form = browser.get(f"/tasks/{task.task_id}")

    answer = submit(browser, task.task_id, form, FIRST_RESPONSE)

    assert answer.status_code == 409
    page = words(answer)
    assert "A step of the process failed" in page
    assert "Nothing was saved." in page
    assert f'the step {FIRST_LINE_NEXT} "Resolved?" of diagram version {broken_version} failed' in page
    assert "no condition of its outgoing flows holds" in page
    assert "This is incident 1. The administrators see it under Admin, Mail and jobs" in page
    assert "Traceback" not in page
    assert what_is_stored(desk, reference) == before

    ticket_page = words(browser.get(f"/calls/{reference}"))
    assert "Incident 1: a step of the process failed." in ticket_page
    assert 'Complete "First level response" (Task_first_level_response) (for alice' in ticket_page
    assert "an administrator deploys a corrected version and moves this call to it" in ticket_page
    admin = desk_app(desk).test_client()
    sign_in(admin, "admin")
    listed = words(admin.get("/admin/mail"))
    assert 'id="step-incident-1"' in listed
    assert f'{FIRST_LINE_NEXT} "Resolved?" (version {broken_version})' in listed
    assert "<strong>open</strong>" in listed

    fixed_and_migrated(desk, reference)
    assert "the call now runs on diagram version 1: do it again" in words(browser.get(f"/calls/{reference}"))
    again = submit(browser, task.task_id, browser.get(f"/tasks/{task.task_id}"), FIRST_RESPONSE)

    assert again.status_code == 302
    assert open_titles(desk, reference) == ["Resolve call (second line)"]
    resolved = only_incident(desk, reference)
    assert (resolved.is_open, resolved.resolved_by) == (False, "alice")
    assert "Incident 1, resolved" in text(browser.get(f"/calls/{reference}"))
    row = words(admin.get("/admin/mail")).split('id="step-incident-1"')[1].split("</tr>")[0]
    assert "resolved" in row
    assert "<strong>open</strong>" not in row


def words(response) -> str:
    """The page's text with its line breaks and indents as single spaces, as a person reads it."""
    return " ".join(html.unescape(text(response)).split())


def submit(browser, task_id: str, form, answers: dict):
    fields = {f"field_{key}": value for key, value in answers.items()}
    return browser.post(
        f"/tasks/{task_id}",
        data={
            "csrf_token": token(form),
            "revision": hidden(form, "revision"),
            "reference": hidden(form, "reference"),
            **fields,
        },
    )


def test_the_same_step_failing_again_counts_on_the_open_incident(desk):
    gateway_without_default(desk)
    reference = log_and_triage(desk)
    for _ in range(2):
        with pytest.raises(StepFailed):
            do(desk, reference, "First level response", FIRST_RESPONSE)
    incident = only_incident(desk, reference)
    assert (incident.failures, incident.is_open) == (2, True)


# --- the API -----------------------------------------------------------------------------------------------


def test_C15_the_api_answers_a_failing_step_with_a_409_problem_and_the_same_request_goes_on_after_a_fix(desk):
    gateway_without_default(desk)
    reference = log_and_triage(desk)
    before = what_is_stored(desk, reference)
    client = desk_app(desk).test_client()
    bearer = {"Authorization": f"Bearer {api_tokens.create_token(desk, 'alice', 'tests', by=None)[1]}"}
    task = open_task(desk, reference, "First level response")

    def complete():
        body = {"revision": queries.task_form(desk, task.task_id).revision, "data": FIRST_RESPONSE}
        return client.post(f"/api/v1/tasks/{task.task_id}/complete", json=body, headers=bearer)

    answer = complete()

    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "/api/v1/problems/step-failed"
    assert problem["title"] == "A step of the ticket's process failed"
    assert problem["incident"] == 1
    assert problem["element"] == f'{FIRST_LINE_NEXT} "Resolved?"'
    assert problem["detail"].startswith(f'{reference}: the step {FIRST_LINE_NEXT} "Resolved?" of diagram version 2')
    assert "Nothing was saved; incident 1 is recorded for the administrators" in problem["detail"]
    assert what_is_stored(desk, reference) == before

    fixed_and_migrated(desk, reference)
    assert complete().status_code == 200
    assert not only_incident(desk, reference).is_open


def test_C01_a_call_whose_logging_fails_is_not_logged_and_the_admins_see_who_tried(desk):
    """The decision table the call's logging runs fails on every call: no ticket (its reference was never
    handed out), a 409 problem, and an incident with no ticket saying whose call it was."""
    files = shipped_diagrams()
    files["priority.dmn"] = files["priority.dmn"].replace(
        "<text>request_kind</text>", "<text>request_kind.title_case()</text>", 1
    )
    deploy_without_the_gate(desk, files)
    client = desk_app(desk).test_client()
    bearer = {"Authorization": f"Bearer {api_tokens.create_token(desk, 'alice', 'tests', by=None)[1]}"}
    call = {"contact_name": "Ann Example", "contact_email": "ann@example.com", "account": "Acme Ltd", "summary": "Down"}

    answer = client.post("/api/v1/calls", json=call, headers=bearer)

    assert (answer.status_code, answer.get_json()["type"]) == (409, "/api/v1/problems/step-failed")
    assert "AttributeError: 'str' object has no attribute 'title_case'" in answer.get_json()["detail"]
    with desk.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    [incident] = incidents.listing(desk)
    assert incident.reference is None
    assert incident.element_id == "Task_suggest_priority"
    assert incident.command == 'log a call for Ann Example <ann@example.com> (Acme Ltd): "Down"'
    assert incident.actor == "alice"


# --- the command line --------------------------------------------------------------------------------------


def test_C15_the_cli_says_a_failing_step_in_one_line_exits_1_and_succeeds_after_migrate(desk, sqlite_url):
    gateway_without_default(desk)
    reference = log_and_triage(desk)
    task = open_task(desk, reference, "First level response")
    env = {"SUPPORTDESK_DATABASE_URL": sqlite_url}
    fields = [arg for key, value in FIRST_RESPONSE.items() for arg in ("-f", f"{key}={value}")]

    refused = CliRunner().invoke(cli, ["complete", task.task_id, *fields], env=env)

    assert refused.exit_code == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith(f'error: {reference}: the step {FIRST_LINE_NEXT} "Resolved?" of diagram version 2 failed')
    assert "Traceback" not in refused.output

    assert commands.deploy(desk, actor="owner").number == SHIPPED_VERSION
    moved = CliRunner().invoke(cli, ["migrate", "--to", "1", "--ticket", reference], env=env)
    assert moved.exit_code == 0, moved.output
    done = CliRunner().invoke(cli, ["complete", task.task_id, *fields], env=env)
    assert done.exit_code == 0, done.output
    assert open_titles(desk, reference) == ["Resolve call (second line)"]
    assert not only_incident(desk, reference).is_open


# --- messages: advisors, mail in, the portal (C24) -----------------------------------------------------------

# The Delayed call re-opens through this flow: its condition raises, so every re-opening fails.
REOPENING_FAILS = {"flow": "Flow_progress_to_reopen", "condition": "1 / 0 > 0"}


@pytest.fixture
def delayed_call_that_cannot_reopen(desk) -> str:
    files = shipped_diagrams()
    bpmn = with_condition(files["support_call.bpmn"], REOPENING_FAILS["flow"], REOPENING_FAILS["condition"])
    broken(desk, **{"support_call.bpmn": bpmn})
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    return reference


def test_C24_work_can_progress_failing_is_refused_and_recorded_with_the_expression_that_raised(
    desk, delayed_call_that_cannot_reopen
):
    reference = delayed_call_that_cannot_reopen
    before = what_is_stored(desk, reference)
    with pytest.raises(StepFailed) as raised:
        commands.deliver_message(desk, commands.DeliverMessage(reference, "information_received"), "sam")
    assert raised.value.element_id == "Gateway_work_can_progress"
    assert raised.value.error == "the expression 1 / 0 > 0 raised ZeroDivisionError: division by zero"
    assert what_is_stored(desk, reference) == before
    incident = only_incident(desk, reference)
    assert (incident.command, incident.actor) == ("deliver the message information_received", "sam")


def anns_mail(subject: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        f"{ANN.contact_name} <{ANN.contact_email}>",
        "support@supportdesk.local",
        subject,
    )
    message["Date"] = format_datetime(MONDAY_10AM)
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content("Here it is.")
    return message.as_bytes()


def test_C24_a_mail_that_cannot_reopen_its_call_is_filed_on_it_and_the_call_gets_an_incident(
    desk, delayed_call_that_cannot_reopen
):
    reference = delayed_call_that_cannot_reopen
    receipt = inbound.receive(
        desk, anns_mail(f"RE: {reference} the CSV"), source="test", envelope_from=ANN.contact_email
    )
    assert (receipt.outcome, receipt.reference, receipt.reopened) == ("added", reference, False)
    view = queries.ticket_view(desk, reference)
    assert view.status == "delayed"
    [mail] = [e for e in view.history if e.kind == "mail_received"]
    assert "the step Gateway_work_can_progress" in mail.payload["not_delivered"]
    incident = only_incident(desk, reference)
    assert incident.command.startswith("re-open the call on mail from")


def test_C24_C25_a_portal_message_that_cannot_reopen_the_call_is_refused_in_the_customers_words(
    desk, delayed_call_that_cannot_reopen
):
    reference = delayed_call_that_cannot_reopen
    customer = desk_app(desk).test_client()
    assert customer.get(portal_link(desk, reference)[0]).status_code == 302
    page = customer.get(f"/portal/calls/{reference}")
    data = {"message-body": "Here is the CSV", "message-csrf_token": token(page, form="message")}

    answer = customer.post(f"/portal/calls/{reference}/messages", data=data, content_type="multipart/form-data")

    assert answer.status_code == 409
    shown = text(answer)
    assert "Sorry, we could not take this just now because of a fault on our side; nothing was sent." in shown
    assert "Gateway" not in shown
    assert "incident" not in shown.lower()
    assert "Here is the CSV" in shown  # what they wrote is kept in the form
    assert queries.ticket_view(desk, reference).status == "delayed"
    assert only_incident(desk, reference).actor == "customer:ann@example.com"


# --- timers: the worker's job incidents ----------------------------------------------------------------------


def test_C14_a_timer_whose_path_fails_is_a_job_incident_at_once_naming_the_step(desk, frozen_clock):
    """The resolution clock's timer fires, the breach is to be recorded, and the step after it fails: a
    failure no retry mends, so the job is an incident at once, its error the same one-line account."""
    files = shipped_diagrams()
    broken(
        desk, **{"support_call.bpmn": with_condition(files["support_call.bpmn"], "Flow_updates_to_send", "1 / 0 > 0")}
    )
    reference = log_and_triage(desk, priority="High", override_reason="Launch tomorrow")
    do(desk, reference, "First level response", FIRST_RESPONSE)  # its clock stops: only the resolution's runs
    frozen_clock.advance(timedelta(days=3))

    Worker(desk).run_once()

    [incident] = jobs.incidents_of(desk, reference)
    assert incident.attempts == 1
    assert incident.error == (
        f"{reference}: the step Gateway_daily_updates of diagram version 2 failed: "
        "the expression 1 / 0 > 0 raised ZeroDivisionError: division by zero. Nothing was saved"
    )
    assert incidents.of_ticket(desk, reference) == []  # the worker's incident, not a command's
