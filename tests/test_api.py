"""The REST API (/api/v1) through Flask's test client: bearer tokens, the web desk's roles, problem
details for every error (400, 401, 403, 404, 405, 409, 422), idempotent creates, cursor pages, the
OpenAPI 3.1 description generated from the code, and the docs page under the strict CSP."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openapi_spec_validator import validate

from supportdesk.cli.report import as_json
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.oversight import reports
from supportdesk.engine.people import api_tokens, idempotency
from supportdesk.engine.people.users import ensure_demo_users
from supportdesk.engine.store.models import ApiToken, IdempotencyKey, Ticket, User
from supportdesk.engine.tickets import commands, queries
from supportdesk.web import create_app

from helpers import ANN, FIRST_RESPONSE, delay_for_information, do, log_and_triage, log_call, open_task
from web_client import PASSWORD, desk_app, sign_in, use_quick_password_hashes

PREFIX = "/api/v1"
CALL = {
    "contact_name": "Ann Example",
    "contact_email": "ann@example.com",
    "account": "Acme Ltd",
    "summary": "Unable to load data for tomorrow's campaign",
}


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    use_quick_password_hashes(monkeypatch)


@pytest.fixture
def api_app(desk):
    return desk_app(desk)


@pytest.fixture
def client(api_app):
    return api_app.test_client()


class Caller:
    """The API as one person calls it: their bearer token on every request."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.open(PREFIX + path, method=method, headers={**auth, **(headers or {})}, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def as_(desk, client):
    """``as_("alice")``: the API with a token of alice's (one per person, made on first use)."""
    made: dict[str, str] = {}

    def caller(username: str) -> Caller:
        if username not in made:
            made[username] = api_tokens.create_token(desk, username, "tests", by=None)[1]
        return Caller(client, made[username])

    return caller


def problem(response, status: int, kind: str) -> dict:
    """The response is a problem of ``kind`` with the stable shape; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == f"/api/v1/problems/{kind}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def ticket_count(desk) -> int:
    with desk.db.reading() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Ticket))


# Signing in ------------------------------------------------------------------------------------------------


def test_without_a_token_the_api_answers_401_with_a_challenge(client):
    response = Caller(client, None).get("/tickets")
    body = problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="supportdesk"'
    assert "Bearer" in body["detail"]


def test_an_unknown_or_revoked_token_is_401(desk, client, as_):
    problem(Caller(client, "sdk_not-a-token").get("/me"), 401, "unauthenticated")
    problem(Caller(client, "just words").get("/me"), 401, "unauthenticated")
    alice = as_("alice")
    assert alice.get("/me").status_code == 200
    token_id = alice.get("/tokens").get_json()["items"][0]["id"]
    assert alice.delete(f"/tokens/{token_id}").get_json()["active"] is False
    response = alice.get("/me")
    problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_signed_in_browser_session_does_not_open_the_api_and_the_api_sets_no_cookie(client, as_):
    assert sign_in(client, "admin").status_code == 302
    assert client.get("/tasks").status_code == 200  # the browser is signed in to the web desk
    problem(client.get(f"{PREFIX}/me"), 401, "unauthenticated")
    problem(client.post(f"{PREFIX}/calls", json=CALL), 401, "unauthenticated")
    response = as_("alice").post("/calls", json=CALL)  # no CSRF token, no cookie needed
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


def test_me_says_who_the_token_signs_in(as_):
    assert as_("sam").get("/me").get_json() == {
        "username": "sam",
        "display_name": "Sam Second",
        "email": "sam@supportdesk.example",
        "roles": ["second_line"],
    }


def test_a_role_taken_away_is_taken_from_the_persons_tokens_at_once(desk, as_):
    alice = as_("alice")
    assert alice.post("/calls", json=CALL).status_code == 201
    with desk.db.transaction() as session:
        session.execute(sa.update(User).where(User.username == "alice").values(roles=["auditor"]))
    problem(alice.post("/calls", json=CALL), 403, "forbidden")


# Tokens ------------------------------------------------------------------------------------------------------


def test_a_person_makes_a_token_that_is_shown_once_and_stored_hashed(desk, client, as_):
    alice = as_("alice")
    response = alice.post("/tokens", json={"name": "CRM sync"})
    assert response.status_code == 201
    made = response.get_json()
    assert made["username"] == "alice"
    assert made["name"] == "CRM sync"
    assert made["active"] is True
    token = made["token"]
    assert token.startswith("sdk_")
    assert len(token) > 40
    assert Caller(client, token).get("/me").get_json()["username"] == "alice"
    listed = alice.get("/tokens").get_json()["items"]
    assert {t["name"] for t in listed} == {"tests", "CRM sync"}
    assert all("token" not in t for t in listed)
    with desk.db.reading() as session:
        row = session.get(ApiToken, made["id"])
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used_at is not None  # it was used above
        stored = json.dumps([list(r) for r in session.execute(sa.text("SELECT * FROM api_token"))], default=str)
    assert token not in stored


def test_the_first_token_can_be_made_with_username_and_password(client):
    response = client.post(f"{PREFIX}/tokens", json={"name": "phone system"}, auth=("alice", PASSWORD))
    assert response.status_code == 201
    assert Caller(client, response.get_json()["token"]).get("/me").get_json()["username"] == "alice"
    problem(client.post(f"{PREFIX}/tokens", json={"name": "x"}, auth=("alice", "wrong")), 401, "unauthenticated")
    # A password opens nothing else.
    problem(client.get(f"{PREFIX}/me", auth=("alice", PASSWORD)), 401, "unauthenticated")


def test_only_an_admin_manages_other_peoples_tokens(as_):
    alice, admin = as_("alice"), as_("admin")
    problem(alice.post("/tokens", json={"name": "x", "username": "sam"}), 403, "forbidden")
    made = admin.post("/tokens", json={"name": "for sam", "username": "sam"})
    assert made.status_code == 201
    assert made.get_json()["username"] == "sam"
    problem(alice.get("/tokens?username=sam"), 403, "forbidden")
    assert [t["name"] for t in admin.get("/tokens?username=sam").get_json()["items"]] == ["for sam"]
    problem(alice.delete(f"/tokens/{made.get_json()['id']}"), 403, "forbidden")
    revoked = admin.delete(f"/tokens/{made.get_json()['id']}")
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_by"] == "admin"
    problem(admin.delete("/tokens/9999"), 404, "not-found")
    problem(admin.post("/tokens", json={"name": "x", "username": "nobody"}), 404, "not-found")
    assert problem(alice.post("/tokens", json={"name": " "}), 400, "invalid-input")["errors"] == {
        "name": "Say what the token is for, e.g. 'CRM sync'"
    }


def test_the_command_line_creates_lists_and_revokes_tokens(desk, sqlite_url, client, monkeypatch):
    from supportdesk.cli.tokens import token

    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    created = runner.invoke(token, ["create", "alice", "--name", "CRM sync"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert Caller(client, secret).get("/me").status_code == 200
    listed = runner.invoke(token, ["list", "alice"])
    assert "CRM sync" in listed.output
    assert "active" in listed.output
    assert secret not in listed.output
    token_id = listed.output.split("\t")[0]
    assert runner.invoke(token, ["revoke", token_id]).exit_code == 0
    problem(Caller(client, secret).get("/me"), 401, "unauthenticated")
    assert runner.invoke(token, ["create", "nobody", "--name", "x"]).exit_code == 1


# Logging a call ---------------------------------------------------------------------------------------------


def test_first_line_logs_a_call_and_reads_it_back_where_it_points(desk, as_):
    alice = as_("alice")
    response = alice.post(
        "/calls", json={**CALL, "symptom": "software_crashes", "campaign_at": "2026-11-23T13:00:00+00:00"}
    )
    assert response.status_code == 201
    created = response.get_json()
    assert created == {
        "reference": "SUP-2026-000001",
        "kind": "call",
        "status": "open",
        "priority": None,
        "parent_reference": None,
        "created_at": "2026-11-23T10:00:00+00:00",
    }
    assert response.headers["Location"] == f"{PREFIX}/tickets/SUP-2026-000001"
    ticket = alice.get(response.headers["Location"].removeprefix(PREFIX)).get_json()
    assert ticket["account"] == "Acme Ltd"
    assert ticket["status"] == "open"
    assert queries.ticket_view(desk, "SUP-2026-000001").history[0].actor == "alice"
    assert [t["title"] for t in ticket["open_tasks"]] == ["Confirm priority"]
    # C06: the engine's table suggests High for a crash three hours before a campaign.
    form = alice.get(f"/tasks/{ticket['open_tasks'][0]['task_id']}").get_json()
    assert form["context"]["suggested_priority"] == "High"


def test_a_call_is_refused_field_by_field_as_the_web_form_refuses_it(desk, as_):
    alice = as_("alice")
    body = problem(
        alice.post("/calls", json={**CALL, "contact_email": "not an address", "summary": " "}), 400, "invalid-input"
    )
    with pytest.raises(InvalidInput) as engine:
        commands.CallDetails(**{**CALL, "contact_email": "not an address", "summary": " "}).validated()
    assert body["errors"] == engine.value.fields
    assert set(body["errors"]) == {"contact_email", "summary"}
    assert problem(alice.post("/calls", json={**CALL, "channel": "fax"}), 400, "invalid-input")["errors"] == {
        "channel": "Channel must be one of: phone, email"
    }
    # The shape: missing and unknown keys, wrong types, a campaign without a time zone, a body that is not JSON.
    missing = {key: value for key, value in CALL.items() if key != "account"}
    assert set(problem(alice.post("/calls", json=missing), 400, "invalid-input")["errors"]) == {"account"}
    assert set(problem(alice.post("/calls", json={**CALL, "colour": "red"}), 400, "invalid-input")["errors"]) == {
        "colour"
    }
    assert set(
        problem(alice.post("/calls", json={**CALL, "preparing_campaign": "perhaps"}), 400, "invalid-input")["errors"]
    ) == {"preparing_campaign"}
    assert set(
        problem(alice.post("/calls", json={**CALL, "campaign_at": "2026-12-01T09:00"}), 400, "invalid-input")["errors"]
    ) == {"campaign_at"}
    assert (
        "_body"
        in problem(alice.post("/calls", data="{not json", content_type="application/json"), 400, "invalid-input")[
            "errors"
        ]
    )
    assert ticket_count(desk) == 0


def test_only_first_line_and_admin_log_calls(as_):
    for username in ("audrey", "sam", "amy", "carl"):
        body = problem(as_(username).post("/calls", json=CALL), 403, "forbidden")
        assert "first line" in body["detail"]
    assert as_("admin").post("/calls", json=CALL).status_code == 201


# Idempotency keys -------------------------------------------------------------------------------------------


def test_a_retried_call_with_the_same_idempotency_key_is_logged_once(desk, as_):
    alice = as_("alice")
    key = {"Idempotency-Key": "0b6c3f0e-call-1"}
    first = alice.post("/calls", json=CALL, headers=key)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    retry = alice.post("/calls", json=dict(reversed(list(CALL.items()))), headers=key)  # same body, keys reordered
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_data() == first.get_data()
    assert retry.headers["Location"] == first.headers["Location"]
    assert ticket_count(desk) == 1
    # Without a key, or with another key, a second call is a second call.
    assert alice.post("/calls", json=CALL).get_json()["reference"] == "SUP-2026-000002"
    assert (
        alice.post("/calls", json=CALL, headers={"Idempotency-Key": "other"}).get_json()["reference"]
        == "SUP-2026-000003"
    )
    # Keys are per person: bob's "0b6c3f0e-call-1" is not alice's.
    assert as_("admin").post("/calls", json=CALL, headers=key).get_json()["reference"] == "SUP-2026-000004"


def test_the_same_idempotency_key_with_another_request_is_refused_and_nothing_is_done(desk, as_):
    alice = as_("alice")
    key = {"Idempotency-Key": "k-1"}
    assert alice.post("/calls", json=CALL, headers=key).status_code == 201
    body = problem(
        alice.post("/calls", json={**CALL, "summary": "Something else"}, headers=key), 422, "idempotency-key-reused"
    )
    assert "k-1" in body["detail"]
    problem(
        alice.post("/escalations", json={"concern": "x", "call_reference": "SUP-2026-000001"}, headers=key),
        422,
        "idempotency-key-reused",
    )
    assert ticket_count(desk) == 1
    assert set(
        problem(alice.post("/calls", json=CALL, headers={"Idempotency-Key": ""}), 400, "invalid-input")["errors"]
    ) == {"Idempotency-Key"}


def test_a_refused_request_keeps_no_key_so_the_corrected_retry_runs(desk, as_):
    alice = as_("alice")
    key = {"Idempotency-Key": "k-2"}
    problem(alice.post("/calls", json={**CALL, "contact_email": "nope"}, headers=key), 400, "invalid-input")
    assert alice.post("/calls", json=CALL, headers=key).status_code == 201
    assert ticket_count(desk) == 1


def test_a_retry_racing_the_first_request_rolls_back_its_call_and_answers_the_first(desk, as_, monkeypatch):
    """Both requests looked for the key before either committed: the second's call and key are written in
    one transaction, the unique (user, key) stops it, and it answers with the first's stored answer."""
    alice = as_("alice")
    key = {"Idempotency-Key": "race"}
    first = alice.post("/calls", json=CALL, headers=key)
    real_stored = idempotency._stored
    looks = []

    def missed_the_first_time(*args):
        looks.append(args)
        return None if len(looks) == 1 else real_stored(*args)

    monkeypatch.setattr(idempotency, "_stored", missed_the_first_time)
    second = alice.post("/calls", json=CALL, headers=key)
    assert len(looks) == 2  # looked, ran, hit the key's constraint, looked again
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_data() == first.get_data()
    assert ticket_count(desk) == 1
    # The loser's call rolled back whole, its reference number too.
    monkeypatch.setattr(idempotency, "_stored", real_stored)
    assert alice.post("/calls", json=CALL).get_json()["reference"] == "SUP-2026-000002"
    with desk.db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1


# Reading and listing tickets ---------------------------------------------------------------------------------


def test_a_ticket_shows_its_clocks_with_due_and_remaining_working_time_tasks_and_public_history(
    desk, as_, frozen_clock
):
    reference = log_and_triage(desk)  # Low: resolution in 10 working days; first response in 1 working hour
    frozen_clock.set(datetime(2026, 11, 23, 10, 20, tzinfo=UTC))
    ticket = as_("carl").get(f"/tickets/{reference}").get_json()
    assert (ticket["status"], ticket["priority"], ticket["kind"]) == ("open", "Low", "call")
    clocks = {c["metric"]: c for c in ticket["clocks"]}
    first = clocks["first_response"]
    assert first["due_at"] == "2026-11-23T11:00:00+00:00"
    assert (first["state"], first["breached"]) == ("running", False)
    assert (first["elapsed_seconds"], first["remaining_seconds"]) == (20 * 60, 40 * 60)
    assert clocks["resolution"]["priority"] == "Low"
    assert clocks["resolution"]["target"]
    assert [t["title"] for t in ticket["open_tasks"]] == ["First level response"]
    assert ticket["open_tasks"][0]["role"] == "first_line"
    kinds = [event["kind"] for event in ticket["history"]]
    assert kinds[:2] == ["call_logged", "priority_set"]
    assert "task_completed" not in kinds
    assert "sla_started" not in kinds
    assert ticket["history"][0]["detail"] == ANN.summary
    frozen_clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    first = {c["metric"]: c for c in as_("carl").get(f"/tickets/{reference}").get_json()["clocks"]}["first_response"]
    assert first["breached"] is True
    assert first["remaining_seconds"] == -3600


def test_an_unknown_ticket_is_404(as_):
    body = problem(as_("alice").get("/tickets/SUP-2026-999999"), 404, "not-found")
    assert "SUP-2026-999999" in body["detail"]


def test_tickets_are_listed_a_page_at_a_time_in_the_order_they_changed(desk, as_, frozen_clock):
    references = []
    for minute in range(5):
        frozen_clock.set(datetime(2026, 11, 23, 10, minute, tzinfo=UTC))
        references.append(log_call(desk))
    frozen_clock.set(datetime(2026, 11, 23, 10, 30, tzinfo=UTC))
    do(desk, references[1], "Confirm priority")  # changed last: comes last
    expected = [references[i] for i in (0, 2, 3, 4, 1)]
    carl, seen, cursor, pages = as_("carl"), [], None, 0
    while True:
        response = carl.get("/tickets", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        page = response.get_json()
        seen += [item["reference"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            assert "Link" not in response.headers
            break
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        assert parse_qs(urlsplit(link[1 : link.index(">")]).query)["cursor"] == [cursor]
    assert seen == expected
    assert pages == 3
    item = carl.get("/tickets", query_string={"limit": 1}).get_json()["items"][0]
    assert item["reference"] == references[0]
    assert item["updated_at"] == "2026-11-23T10:00:00+00:00"
    assert item["breached"] is False
    assert item["kind"] == "call"


def test_tickets_are_filtered_by_status_priority_kind_account_breach_and_last_change(desk, as_, frozen_clock):
    old = log_and_triage(desk)  # Low, 10:00; its first response is due 11:00
    frozen_clock.set(datetime(2026, 11, 23, 11, 30, tzinfo=UTC))
    other = log_call(desk, details=replace(ANN, account="Globex"))
    escalation = commands.start_escalation(
        desk, commands.StartEscalation("Nobody called back", call_reference=old), "amy"
    )
    carl = as_("carl")

    def listed(**query) -> list[str]:
        response = carl.get("/tickets", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [item["reference"] for item in response.get_json()["items"]]

    assert listed(priority="Low") == [old]
    assert listed(account="Globex") == [other]
    assert listed(kind="escalation") == [escalation]
    assert listed(status="open", kind="call") == [old, other]
    assert listed(breached="true") == [old]  # its first response runs past 11:00
    assert listed(breached="false") == [other, escalation]
    assert listed(updated_since="2026-11-23T11:15:00+00:00") == [other, escalation]
    assert listed(updated_since="2026-11-23T11:45:00Z") == []
    errors = problem(
        carl.get("/tickets", query_string={"status": "lost", "limit": 0, "updated_since": "yesterday"}),
        400,
        "invalid-input",
    )["errors"]
    assert set(errors) == {"status", "limit", "updated_since"}
    assert problem(carl.get("/tickets?breach=true"), 400, "invalid-input")["errors"] == {"breach": "Unknown field."}
    assert problem(carl.get("/tickets?cursor=bm90IGEgY3Vyc29y"), 400, "invalid-input")["errors"] == {
        "cursor": "Pass next_cursor from the previous page, unchanged"
    }


# Messages and escalations ------------------------------------------------------------------------------------


def _delayed_call(desk) -> str:
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    assert queries.ticket_view(desk, reference).status == "delayed"
    return reference


def test_C24_information_received_reopens_a_delayed_call(desk, as_):
    reference = _delayed_call(desk)
    response = as_("sam").post(
        f"/tickets/{reference}/messages", json={"message": "information_received", "note": "The CSV arrived"}
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "open"
    received = [e for e in queries.ticket_view(desk, reference).history if e.kind == "message_received"]
    assert received[-1].payload == {"message": "information_received", "payload": {"note": "The CSV arrived"}}
    assert received[-1].actor == "sam"


def test_a_message_the_ticket_is_not_waiting_for_is_422_and_changes_nothing(desk, as_):
    reference = log_call(desk)
    revision = queries.ticket_view(desk, reference).revision
    body = problem(
        as_("alice").post(f"/tickets/{reference}/messages", json={"message": "customer_back"}), 422, "not-allowed"
    )
    assert "not waiting for the message 'customer_back'" in body["detail"]
    assert queries.ticket_view(desk, reference).revision == revision


def test_messages_are_checked_and_sent_by_advisors_only(desk, as_):
    reference = _delayed_call(desk)
    assert set(
        problem(
            as_("sam").post(f"/tickets/{reference}/messages", json={"message": "call_closed"}), 400, "invalid-input"
        )["errors"]
    ) == {"message"}
    problem(as_("audrey").post(f"/tickets/{reference}/messages", json={"message": "access_granted"}), 403, "forbidden")
    problem(as_("sam").post("/tickets/SUP-2026-999999/messages", json={"message": "customer_back"}), 404, "not-found")


def test_C28_an_account_manager_starts_an_escalation_linked_to_the_call(desk, as_):
    reference = log_call(desk)
    amy = as_("amy")
    key = {"Idempotency-Key": "esc-1"}
    response = amy.post(
        "/escalations", json={"concern": "Nobody called back", "call_reference": reference}, headers=key
    )
    assert response.status_code == 201
    created = response.get_json()
    assert (created["kind"], created["parent_reference"]) == ("escalation", reference)
    assert created["reference"].startswith("ESC-")
    assert response.headers["Location"] == f"{PREFIX}/tickets/{created['reference']}"
    again = amy.post("/escalations", json={"concern": "Nobody called back", "call_reference": reference}, headers=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == created
    assert ticket_count(desk) == 2
    escalation = amy.get(f"/tickets/{created['reference']}").get_json()
    assert escalation["parent_reference"] == reference
    assert escalation["contact_email"] == "ann@example.com"


def test_escalations_are_checked(desk, as_):
    problem(as_("audrey").post("/escalations", json={"concern": "x"}), 403, "forbidden")
    assert problem(
        as_("amy").post("/escalations", json={"concern": "  ", "call_reference": log_call(desk)}), 400, "invalid-input"
    )["errors"] == {"concern": "The concern is required"}
    problem(
        as_("amy").post("/escalations", json={"concern": "x", "call_reference": "SUP-2026-999999"}), 404, "not-found"
    )
    # Without a call: the contact is named, and checked as a call's would be.
    assert set(problem(as_("amy").post("/escalations", json={"concern": "x"}), 400, "invalid-input")["errors"]) >= {
        "contact_name",
        "contact_email",
        "account",
    }
    standalone = as_("amy").post(
        "/escalations",
        json={
            "concern": "Unhappy with the product",
            "contact_name": "Bo",
            "contact_email": "bo@example.com",
            "account": "Initech",
        },
    )
    assert standalone.status_code == 201
    assert standalone.get_json()["parent_reference"] is None


# Tasks --------------------------------------------------------------------------------------------------------


def test_open_tasks_for_a_role(desk, as_):
    reference = log_call(desk)
    items = as_("alice").get("/tasks", query_string={"role": "first_line"}).get_json()["items"]
    assert [(t["reference"], t["title"], t["role"]) for t in items] == [(reference, "Confirm priority", "first_line")]
    assert items[0]["due_at"] == "2026-11-23T11:00:00+00:00"
    assert as_("alice").get("/tasks").get_json()["items"] == items  # all her roles
    assert as_("sam").get("/tasks").get_json()["items"] == []
    assert as_("audrey").get("/tasks").get_json()["items"] == []  # no lane is an auditor's
    assert as_("admin").get("/tasks?role=first_line").get_json()["items"] == items
    problem(as_("sam").get("/tasks?role=first_line"), 403, "forbidden")
    assert set(problem(as_("alice").get("/tasks?role=chef"), 400, "invalid-input")["errors"]) == {"role"}


def test_a_task_shows_its_form_as_the_diagram_declares_it(desk, as_):
    task = open_task(desk, log_call(desk), "Confirm priority")
    form = as_("alice").get(f"/tasks/{task.task_id}").get_json()
    assert form["task"]["title"] == "Confirm priority"
    assert form["revision"] == queries.ticket_view(desk, task.reference).revision
    fields = {field["id"]: field for field in form["fields"]}
    assert fields["priority"]["type"] == "enum"
    assert {"value": "High", "label": "High (8 working hours)"} in fields["priority"]["options"]
    assert fields["override_reason"]["constraints"] == {"maxlength": "1000"}
    assert form["context"]["suggested_priority"] == "Low"
    problem(as_("sam").get(f"/tasks/{task.task_id}"), 403, "forbidden")
    problem(as_("alice").get("/tasks/00000000-0000-0000-0000-000000000000"), 404, "not-found")


def test_completing_a_task_with_form_data(desk, as_):
    reference = log_call(desk)
    task = open_task(desk, reference, "Confirm priority")
    revision = queries.ticket_view(desk, reference).revision
    response = as_("alice").post(
        f"/tasks/{task.task_id}/complete",
        json={"data": {"priority": "Medium", "override_reason": "Their campaign moved"}, "revision": revision},
    )
    assert response.status_code == 200
    ticket = response.get_json()
    assert ticket["priority"] == "Medium"
    assert [t["title"] for t in ticket["open_tasks"]] == ["First level response"]
    completed = [e for e in queries.ticket_view(desk, reference).history if e.kind == "task_completed"]
    assert completed[0].actor == "alice"
    assert completed[0].payload["data"] == {"priority": "Medium", "override_reason": "Their campaign moved"}


def test_task_data_is_refused_exactly_as_the_web_form_refuses_it(desk, as_):
    task = open_task(desk, log_call(desk), "Confirm priority")
    alice = as_("alice")
    bad = {"priority": "Urgent", "colour": "red"}
    body = problem(alice.post(f"/tasks/{task.task_id}/complete", json={"data": bad}), 400, "invalid-input")
    with pytest.raises(InvalidInput) as engine:
        commands.complete_task(desk, commands.CompleteTask(task.task_id, bad, roles=["first_line"]), "alice")
    assert body["errors"] == engine.value.fields
    assert set(body["errors"]) == {"priority", "_form"}
    too_long = problem(
        alice.post(f"/tasks/{task.task_id}/complete", json={"data": {"override_reason": "x" * 1001}}),
        400,
        "invalid-input",
    )
    assert too_long["errors"] == {"override_reason": "Why a different priority allows at most 1000 characters"}
    assert problem(
        alice.post(f"/tasks/{task.task_id}/complete", json={"data": {"priority": ["High"]}}), 400, "invalid-input"
    )["errors"] == {"priority": "A form value is a string, a number, a boolean or null"}
    assert set(
        problem(
            alice.post(f"/tasks/{task.task_id}/complete", json={"data": {}, "revision": "3"}), 400, "invalid-input"
        )["errors"]
    ) == {"revision"}
    assert open_task(desk, task.reference, "Confirm priority").task_id == task.task_id  # still open


def test_a_stale_or_double_completion_is_409_and_saves_nothing(desk, as_):
    reference = log_call(desk)
    task = open_task(desk, reference, "Confirm priority")
    alice = as_("alice")
    stale = queries.ticket_view(desk, reference).revision - 1
    body = problem(alice.post(f"/tasks/{task.task_id}/complete", json={"revision": stale}), 409, "conflict")
    assert "changed since you opened it" in body["detail"]
    assert open_task(desk, reference, "Confirm priority").task_id == task.task_id
    assert alice.post(f"/tasks/{task.task_id}/complete", json={}).status_code == 200
    revision = queries.ticket_view(desk, reference).revision
    again = problem(as_("admin").post(f"/tasks/{task.task_id}/complete", json={}), 409, "conflict")
    assert "already completed by alice" in again["detail"]
    assert queries.ticket_view(desk, reference).revision == revision


def test_a_task_of_another_lane_is_403_and_an_unknown_one_404(desk, as_):
    task = open_task(desk, log_call(desk), "Confirm priority")
    body = problem(as_("sam").post(f"/tasks/{task.task_id}/complete", json={}), 403, "forbidden")
    assert "task for First line" in body["detail"]
    problem(as_("audrey").post(f"/tasks/{task.task_id}/complete", json={}), 403, "forbidden")
    problem(as_("alice").post("/tasks/00000000-0000-0000-0000-000000000000/complete", json={}), 404, "not-found")


# Accounts ------------------------------------------------------------------------------------------------------


def test_an_account_manager_manages_accounts(desk, as_):
    amy = as_("amy")
    response = amy.post(
        "/accounts",
        json={"name": "Acme Ltd", "account_manager": "amy", "licence_type": "saas"},
        headers={"Idempotency-Key": "acct-1"},
    )
    assert response.status_code == 201
    account = response.get_json()
    assert (account["name"], account["account_manager"], account["updated_by"]) == ("Acme Ltd", "amy", "amy")
    assert response.headers["Location"] == f"{PREFIX}/accounts/Acme%20Ltd"
    retry = amy.post(
        "/accounts",
        json={"name": "Acme Ltd", "account_manager": "amy", "licence_type": "saas"},
        headers={"Idempotency-Key": "acct-1"},
    )
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    problem(amy.post("/accounts", json={"name": "Acme Ltd"}), 409, "conflict")
    assert amy.post("/accounts", json={"name": "Globex"}).status_code == 201
    assert as_("alice").get("/accounts/Acme Ltd").get_json() == account
    changed = as_("admin").patch("/accounts/Globex", json={"account_manager": "amy", "licence_type": "on_premise"})
    assert changed.status_code == 200
    assert changed.get_json()["licence_type"] == "on_premise"
    cleared = amy.patch("/accounts/Globex", json={"licence_type": None}).get_json()
    assert (cleared["licence_type"], cleared["account_manager"]) == (None, "amy")
    assert [a["name"] for a in as_("audrey").get("/accounts").get_json()["items"]] == ["Acme Ltd", "Globex"]
    assert [a["name"] for a in amy.get("/accounts?account_manager=amy").get_json()["items"]] == ["Acme Ltd", "Globex"]
    assert amy.get("/accounts?account_manager=sam").get_json()["items"] == []


def test_accounts_are_checked(desk, as_):
    amy = as_("amy")
    problem(as_("alice").post("/accounts", json={"name": "Acme Ltd"}), 403, "forbidden")
    problem(as_("alice").patch("/accounts/Acme Ltd", json={}), 403, "forbidden")
    errors = problem(
        amy.post("/accounts", json={"name": "Acme Ltd", "account_manager": "alice", "licence_type": "perpetual"}),
        400,
        "invalid-input",
    )["errors"]
    assert errors == {
        "account_manager": "alice does not have the Account manager role",
        "licence_type": "Licence type must be one of: saas, on_premise",
    }
    assert problem(amy.post("/accounts", json={"name": "  "}), 400, "invalid-input")["errors"] == {
        "name": "Name is required"
    }
    problem(amy.get("/accounts/Nobody Ltd"), 404, "not-found")
    problem(amy.patch("/accounts/Nobody Ltd", json={"account_manager": None}), 404, "not-found")
    assert set(
        problem(amy.patch("/accounts/Nobody Ltd", json={"name": "Renamed"}), 400, "invalid-input")["errors"]
    ) == {"name"}


# The SLA report ------------------------------------------------------------------------------------------------


def test_the_sla_report_is_the_clis_report(desk, as_, frozen_clock):
    log_and_triage(desk)
    frozen_clock.set(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # its first response is breached
    log_call(desk)
    response = as_("carl").get("/reports/sla", query_string={"period": "week", "from": "2026-11-01"})
    assert response.status_code == 200
    period, start, end = reports.requested_range("week", "2026-11-01", None)
    assert response.get_json() == as_json(reports.sla_report(desk, period=period, start=start, end=end))
    assert response.get_json()["breaches"][0]["metric"] == "first_response"
    assert as_("audrey").get("/reports/sla").status_code == 200
    problem(as_("alice").get("/reports/sla"), 403, "forbidden")
    assert problem(as_("carl").get("/reports/sla?from=2026-13-01&period=fortnight"), 400, "invalid-input")[
        "errors"
    ] == {"period": "The period is one of: week, month"}
    assert set(problem(as_("carl").get("/reports/sla?from=2026-13-01"), 400, "invalid-input")["errors"]) == {"from"}


# The description, the docs, and everything else ---------------------------------------------------------------


def test_the_openapi_description_is_valid_3_1_and_describes_every_api_endpoint(api_app, client):
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    documented = {
        (path, method.upper())
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = set()
    for rule in api_app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX) and not rule.endpoint.startswith(("api_docs.", "api-docs.")):
            path = rule.rule.replace("<path:", "<").replace("<int:", "<").replace("<", "{").replace(">", "}")
            served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert "401" in operation["responses"], (path, method)
    problem_schema = spec["components"]["responses"]["UNAUTHORIZED"]["content"]["application/problem+json"]
    assert problem_schema["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    log = spec["paths"][f"{PREFIX}/calls"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in log["parameters"])
    assert {"400", "401", "403", "422"} <= set(log["responses"])
    assert set(spec["paths"][f"{PREFIX}/tasks/{{task_id}}/complete"]["post"]["responses"]) >= {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
    }


def test_the_docs_page_links_the_description_and_runs_under_the_strict_policy(client):
    page = client.get(f"{PREFIX}/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="{PREFIX}/openapi.json"' in html
    assert f'data-spec-url="{PREFIX}/openapi.json"' in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "<script>" not in html
    assert "style=" not in html
    assert "https://" not in html
    assert 'href="/static/favicon.svg"' in html  # the desk's own icon and look around Swagger UI
    assert 'href="/static/api-docs.css"' in html
    for src in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"{PREFIX}/docs/assets/{src}")
        assert asset.status_code == 200
        assert len(asset.data) > 1000
    assert client.get(f"{PREFIX}/docs/start.js").mimetype == "text/javascript"
    problem(client.get(f"{PREFIX}/docs/assets/swagger-editor.js"), 404, "not-found")


def test_other_api_addresses_answer_with_problems_and_the_web_keeps_its_pages(client, as_):
    problem(client.get(f"{PREFIX}/nothing/here"), 404, "not-found")
    response = as_("alice").request("PUT", "/calls", json=CALL)
    problem(response, 405, "method-not-allowed")
    assert response.headers["Allow"] == "POST"
    assert client.get("/nothing/here").mimetype == "text/html"  # the web desk's own 404 page


def test_an_unexpected_failure_is_a_500_problem_that_says_nothing_of_the_cause(desk, monkeypatch):
    ensure_demo_users(desk)
    client = create_app(desk).test_client()  # not testing: errors are answered, not raised
    token = api_tokens.create_token(desk, "carl", "tests", by=None)[1]

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database password is hunter2")

    monkeypatch.setattr(queries, "ticket_view", broken)
    body = problem(Caller(client, token).get("/tickets/SUP-2026-000001"), 500, "internal-error")
    assert "hunter2" not in json.dumps(body)


def test_a_token_records_when_it_was_last_used_to_the_minute(desk, client, frozen_clock):
    ensure_demo_users(desk)
    _info, token = api_tokens.create_token(desk, "alice", "tests", by=None)
    caller = Caller(client, token)
    caller.get("/me")
    frozen_clock.set(frozen_clock.now() + timedelta(seconds=30))
    caller.get("/me")
    assert api_tokens.list_tokens(desk, username="alice", by=None)[0].last_used_at == datetime(
        2026, 11, 23, 10, 0, tzinfo=UTC
    )
    frozen_clock.set(frozen_clock.now() + timedelta(minutes=2))
    caller.get("/me")
    assert api_tokens.list_tokens(desk, username="alice", by=None)[0].last_used_at == frozen_clock.now()
