"""Pages that stay current (issue 20): the change marker the inbox, calls list and ticket page poll,
and what a task form says when someone else claims or does its task, or the call moves on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.people import users
from supportdesk.engine.tickets import changes, commands

from helpers import FIRST_RESPONSE, do, log_and_triage, log_call, open_task
from web_client import PASSWORD, desk_app, hidden, signed_in, text, token, use_quick_password_hashes


@pytest.fixture
def app(desk, monkeypatch):
    use_quick_password_hashes(monkeypatch)
    app = desk_app(desk)
    users.add_user(desk, users.NewUser("fiona", PASSWORD, ["first_line"], "Fiona First"), "admin")
    return app


def as_user(app, username):
    return signed_in(app.test_client(), username)


def test_the_stores_marker_moves_with_every_change_and_a_calls_with_its_own(desk, app):
    alice = as_user(app, "alice")
    first = log_call(desk)
    before = alice.get("/live/changes").get_json()["since"]
    call_before = alice.get(f"/live/changes?call={first}").get_json()["since"]

    other = log_call(desk)
    assert alice.get("/live/changes").get_json()["since"] > before
    assert alice.get(f"/live/changes?call={first}").get_json()["since"] == call_before  # another call's change

    commands.claim_task(desk, commands.ClaimTask(open_task(desk, first, "Confirm priority").task_id), "fiona")
    assert alice.get(f"/live/changes?call={first}").get_json()["since"] > call_before
    answer = alice.get(f"/live/changes?call={other}")
    assert answer.headers["Cache-Control"] == "no-store"
    assert alice.get("/live/changes?call=SUP-2026-999999").status_code == 404


def test_the_marker_is_for_staff_signed_in(desk, app):
    log_call(desk)
    assert app.test_client().get("/live/changes").status_code in (302, 401)
    reference = log_call(desk)
    task_id = open_task(desk, reference, "Confirm priority").task_id
    assert as_user(app, "sam").get(f"/live/tasks/{task_id}").status_code == 200  # any task role may look
    assert as_user(app, "audrey").get(f"/live/tasks/{task_id}").status_code == 403  # no task role


def test_pages_are_drawn_with_the_marker_they_were_read_at(desk, app):
    alice = as_user(app, "alice")
    reference = log_call(desk)
    since = changes.latest_change(desk)
    inbox = text(alice.get("/tasks"))
    assert f'data-live-since="{since}"' in inbox
    assert 'id="inbox-live" data-live-region' in inbox
    page = text(alice.get(f"/calls/{reference}"))
    assert f'data-live-since="{changes.latest_change(desk, reference)}"' in page
    assert f"/live/changes?call={reference}" in page


def test_a_task_form_says_when_someone_else_claims_the_task_before_anyone_types(desk, app):
    reference = log_call(desk)
    task_id = open_task(desk, reference, "Confirm priority").task_id
    alice, fiona = as_user(app, "alice"), as_user(app, "fiona")
    revision = _revision_on_form(alice, task_id)
    assert alice.get(f"/live/tasks/{task_id}?revision={revision}").get_json() == {
        "open": True,
        "blocked": False,
        "message": "",
    }

    fiona.post(f"/tasks/{task_id}/claim", data={"csrf_token": _csrf(fiona, "/tasks")})
    now = alice.get(f"/live/tasks/{task_id}?revision={revision}").get_json()
    assert now["blocked"] is True
    assert now["message"] == (
        "fiona has claimed this task: an answer sent now would be refused unless they release it."
    )
    assert fiona.get(f"/live/tasks/{task_id}").get_json()["blocked"] is False  # her own claim
    assert as_user(app, "admin").get(f"/live/tasks/{task_id}").get_json()["blocked"] is False  # admin may

    form = text(alice.get(f"/tasks/{task_id}"))  # opened after the claim: said before anyone types
    assert "fiona has claimed this task" in form
    assert "data-live-send disabled" in form


def test_a_task_form_says_when_the_task_is_done_or_the_call_changes(desk, app, frozen_clock):
    reference = log_and_triage(desk)
    task_id = open_task(desk, reference, "First level response").task_id
    alice = as_user(app, "alice")
    revision = _revision_on_form(alice, task_id)

    conversation.add_note(desk, conversation.Note(reference, "Rang the customer: no answer"), "sam")
    assert alice.get(f"/live/tasks/{task_id}?revision={revision}").get_json()["message"] == ""  # the form still holds

    frozen_clock.advance(timedelta(days=1))  # C12: the first response falls overdue while the form is open
    Worker(desk).run_once()
    assert alice.get(f"/live/tasks/{task_id}?revision={revision}").get_json()["message"] == (
        "The call has changed since this form was opened: check it before you send (your answers are kept)."
    )
    do(desk, reference, "First level response", FIRST_RESPONSE, actor="sam")
    done = alice.get(f"/live/tasks/{task_id}?revision={revision}").get_json()
    assert done["open"] is False
    assert done["blocked"] is True
    assert done["message"].startswith("sam has done this task at ")
    assert alice.get("/live/tasks/no-such-task").status_code == 404


def _revision_on_form(client, task_id: str) -> int:
    return int(hidden(client.get(f"/tasks/{task_id}"), "revision"))


def _csrf(client, url: str) -> str:
    return token(client.get(url))
