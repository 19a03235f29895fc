"""Trust at the edges (issue 16): input no person would send is refused with a 400 problem (the API),
a 400 page or form error (the web desk), or a clear error and a non-zero exit (the CLI), before any
work is done: never a 500, never seconds of CPU. Each case is one a probe found answering 500.

On PostgreSQL (``SUPPORTDESK_TEST_STORE=postgres``) the NUL-byte cases are the ones that matter:
PostgreSQL refuses to store a NUL, where SQLite stored it.
"""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from supportdesk.cli import main as cli
from supportdesk.engine.bounds import MAX_JSON_DEPTH, MAX_REPORT_YEARS
from supportdesk.engine.desk import Desk
from supportdesk.engine.oversight import reports
from supportdesk.engine.people import api_tokens
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import Account, ApiToken, IdempotencyKey, Ticket
from supportdesk.engine.tickets import commands
from supportdesk.handlers import REGISTRY
from supportdesk.web.api.schemas import CallIn

from conftest import WORKFLOWS
from helpers import log_call, open_task
from web_client import desk_app, signed_in, text, token

PREFIX = "/api/v1"
CALL = {
    "contact_name": "Ann Example",
    "contact_email": "ann@example.com",
    "account": "Acme Ltd",
    "summary": "Unable to load data for tomorrow's campaign",
}
TOO_BIG = 2**63  # one past what SQLite's 64-bit integers hold
TOO_BIG_FOR_POSTGRES = 2**31  # one past PostgreSQL's INTEGER, the id columns' type


pytestmark = pytest.mark.usefixtures("quick_password_hashes")


@pytest.fixture
def bearer(desk, app):
    """The admin's API token (admin passes every role check), as headers."""
    return {"Authorization": f"Bearer {api_tokens.create_token(desk, 'admin', 'tests', by=None)[1]}"}


def refused(response, status: int = 400) -> dict:
    """The answer is a problem with ``status``; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    return body


def count(desk, model) -> int:
    with desk.db.reading() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def cursor_of(moment: str, ticket_id) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment, ticket_id]).encode()).decode().rstrip("=")


# --- whole numbers, moments, cursors ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tasks", "/accounts"])
@pytest.mark.parametrize("offset", [TOO_BIG, 10**20, 1_000_001])
def test_an_offset_past_any_page_is_a_400_not_an_overflow(client, bearer, path, offset):
    body = refused(client.get(f"{PREFIX}{path}?offset={offset}", headers=bearer))
    assert set(body["errors"]) == {"offset"}
    assert client.get(f"{PREFIX}{path}?offset=1000000", headers=bearer).status_code == 200


@pytest.mark.parametrize("ticket_id", [TOO_BIG, TOO_BIG_FOR_POSTGRES, -1, True])
def test_a_cursor_whose_ticket_id_no_store_holds_is_a_400(client, bearer, ticket_id):
    body = refused(
        client.get(f"{PREFIX}/tickets?cursor={cursor_of('2026-11-23T10:00:00+00:00', ticket_id)}", headers=bearer)
    )
    assert set(body["errors"]) == {"cursor"}


def test_a_cursor_with_a_moment_past_the_desk_range_or_deeply_nested_is_a_400(client, bearer):
    refused(client.get(f"{PREFIX}/tickets?cursor={cursor_of('9999-12-31T23:59:59-23:59', 1)}", headers=bearer))
    deep = base64.urlsafe_b64encode(b"[" * 140 + b"]" * 140).decode()  # within the cursor's 200 characters
    refused(client.get(f"{PREFIX}/tickets?cursor={deep}", headers=bearer))


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
)
def test_updated_since_out_of_the_desk_range_is_a_400(client, bearer, moment):
    body = refused(client.get(f"{PREFIX}/tickets", query_string={"updated_since": moment}, headers=bearer))
    assert body["errors"] == {"updated_since": "Enter a moment between 1970-01-01 and 2199-12-31"}


def test_updated_since_in_range_still_filters(desk, client, bearer):
    log_call(desk)
    assert (
        len(
            client.get(
                f"{PREFIX}/tickets", query_string={"updated_since": "1970-01-01T00:00:00Z"}, headers=bearer
            ).get_json()["items"]
        )
        == 1
    )
    assert (
        client.get(
            f"{PREFIX}/tickets", query_string={"updated_since": "2199-12-31T00:00:00Z"}, headers=bearer
        ).get_json()["items"]
        == []
    )


def test_a_campaign_moment_out_of_range_is_a_400_and_logs_nothing(desk, client, bearer):
    body = refused(
        client.post(f"{PREFIX}/calls", json={**CALL, "campaign_at": "9999-12-31T23:59:59-23:59"}, headers=bearer)
    )
    assert set(body["errors"]) == {"campaign_at"}
    assert count(desk, Ticket) == 0


def test_a_revision_no_store_holds_is_a_400(desk, client, bearer):
    task = open_task(desk, log_call(desk), "Confirm priority").task_id
    body = refused(
        client.post(f"{PREFIX}/tasks/{task}/complete", json={"data": {}, "revision": TOO_BIG}, headers=bearer)
    )
    assert set(body["errors"]) == {"revision"}


def test_an_integer_id_in_the_address_past_64_bits_is_no_page(client, bearer):
    assert refused(client.delete(f"{PREFIX}/tokens/{TOO_BIG}", headers=bearer), 404)["type"].endswith("not-found")
    assert refused(client.delete(f"{PREFIX}/tokens/{'9' * 5000}", headers=bearer), 404)
    assert refused(client.delete(f"{PREFIX}/tokens/{TOO_BIG_FOR_POSTGRES}", headers=bearer), 404)
    assert refused(client.delete(f"{PREFIX}/tokens/{2**31 - 1}", headers=bearer), 404)["detail"] == (
        f"No API token {2**31 - 1}"
    )  # the largest id is looked up, and found missing


# --- the report's range ----------------------------------------------------------------------------------


@pytest.fixture
def report_work_forbidden(monkeypatch):
    """Fails the test if the engine starts listing the report's periods: refusals come before any work."""

    def listing(*_args):
        raise AssertionError("the range was not refused before the engine listed its periods")

    monkeypatch.setattr(reports, "periods_between", listing)


OUT_OF_RANGE = "Enter a date between 1970-01-01 and 2199-12-31"
TOO_LONG = f"A report covers at most {MAX_REPORT_YEARS} years: ask for a shorter range"


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        ("0001-01-01", "9999-12-31", {"from": OUT_OF_RANGE, "to": OUT_OF_RANGE}),
        ("2026-01-01", "9999-12-31", {"to": OUT_OF_RANGE}),
        ("", "9999-12-31", {"to": OUT_OF_RANGE}),
        ("2000-01-01", "2026-11-23", {"from": TOO_LONG}),
        ("1970-01-01", "", {"from": TOO_LONG}),
        ("", "2199-12-31", {"from": TOO_LONG}),
    ],
)
def test_a_report_range_out_of_bounds_is_refused_before_any_work(
    client, bearer, report_work_forbidden, start, end, errors
):
    for period in ("week", "month"):
        body = refused(
            client.get(
                f"{PREFIX}/reports/sla", query_string={"period": period, "from": start, "to": end}, headers=bearer
            )
        )
        assert body["errors"] == errors


def test_a_report_of_ten_years_by_month_is_still_answered(client, bearer):
    answer = client.get(
        f"{PREFIX}/reports/sla",
        query_string={"period": "month", "from": "2016-12-01", "to": "2026-11-23"},
        headers=bearer,
    )
    assert answer.status_code == 200
    assert len(answer.get_json()["lines"][0]["periods"]) == 120


@pytest.mark.parametrize("path", ["/reports", "/reports.csv", "/reports/chart/first_response.svg"])
def test_the_report_page_csv_and_chart_refuse_a_range_of_ten_thousand_years(client, report_work_forbidden, path):
    signed_in(client, "carl")  # the customer services manager
    answer = client.get(path, query_string={"period": "week", "from": "0001-01-01", "to": "9999-12-31"})
    assert answer.status_code == 400
    if path == "/reports":
        assert "Enter a date between 1970-01-01 and 2199-12-31" in text(answer)
    too_long = client.get(path, query_string={"period": "month", "from": "2001-01-01", "to": "2026-01-01"})
    assert too_long.status_code == 400
    if path != "/reports/chart/first_response.svg":
        assert f"A report covers at most {MAX_REPORT_YEARS} years" in text(too_long)


def test_the_cli_report_refuses_a_range_of_ten_thousand_years(sqlite_url, frozen_clock, report_work_forbidden):
    result = CliRunner().invoke(
        cli,
        ["report", "sla", "--from", "0001-01-01", "--to", "9999-12-31"],
        env={"SUPPORTDESK_DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 1, result.output
    assert "from: Enter a date between 1970-01-01 and 2199-12-31" in result.output
    result = CliRunner().invoke(
        cli,
        ["report", "sla", "--by", "month", "--from", "2000-01-01", "--to", "2026-11-23"],
        env={"SUPPORTDESK_DATABASE_URL": sqlite_url},
    )
    assert result.exit_code == 1, result.output
    assert f"from: A report covers at most {MAX_REPORT_YEARS} years" in result.output


# --- JSON bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 1_000, MAX_JSON_DEPTH + 1])
def test_json_nested_too_deep_is_a_400(desk, client, bearer, depth):
    body = refused(
        client.post(
            f"{PREFIX}/calls", data="[" * depth + "]" * depth, headers={**bearer, "Content-Type": "application/json"}
        )
    )
    assert body["errors"] == {"_body": f"JSON may nest objects and lists at most {MAX_JSON_DEPTH} deep"}
    deep_data = {"data": json.loads('{"a":' * (depth - 1) + "1" + "}" * (depth - 1))} if depth < 900 else None
    if deep_data is not None:  # deep inside a body the schema would take (a task form's data)
        refused(client.post(f"{PREFIX}/tasks/x/complete", json=deep_data, headers=bearer))


def test_json_as_deep_as_allowed_is_read(client, bearer):
    data = '{"data": ' + '{"a":' * (MAX_JSON_DEPTH - 1) + "1" + "}" * (MAX_JSON_DEPTH - 1) + "}"
    answer = client.post(
        f"{PREFIX}/tasks/no-such-task/complete", data=data, headers={**bearer, "Content-Type": "application/json"}
    )
    # Read: then the task form's own check refuses an object as a field's value.
    assert refused(answer)["errors"] == {"a": "A form value is a string, a number, a boolean or null"}


@pytest.mark.parametrize("raw", ['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"'])
def test_a_lone_surrogate_in_json_is_a_400_naming_the_field(desk, client, bearer, raw):
    data = json.dumps({**CALL})[:-1] + f', "contact_name": {raw}' + "}"
    body = refused(client.post(f"{PREFIX}/calls", data=data, headers={**bearer, "Content-Type": "application/json"}))
    assert list(body["errors"]) == ["contact_name"]
    assert "lone surrogate" in body["errors"]["contact_name"]
    assert count(desk, Ticket) == 0


def test_a_lone_surrogate_in_a_key_or_a_task_forms_value_is_a_400(client, bearer):
    body = refused(
        client.post(
            f"{PREFIX}/tasks/x/complete",
            data='{"data": {"note": "\\ud800"}}',
            headers={**bearer, "Content-Type": "application/json"},
        )
    )
    assert list(body["errors"]) == ["data.note"]
    body = refused(
        client.post(f"{PREFIX}/calls", data='{"\\ud800": 1}', headers={**bearer, "Content-Type": "application/json"})
    )
    assert list(body["errors"]) == ["\ufffd"]  # the key is named, without its unstorable character
    assert "lone surrogate" in body["errors"]["\ufffd"]


def test_a_body_that_is_not_utf8_is_a_400(client, bearer):
    body = refused(
        client.post(
            f"{PREFIX}/calls", data=b'{"summary": "\xff"}', headers={**bearer, "Content-Type": "application/json"}
        )
    )
    assert body["errors"] == {"_body": "Invalid JSON body."}


def test_the_schemas_refuse_unstorable_text_themselves():
    with pytest.raises(Exception, match="NUL") as caught:
        CallIn().load({**CALL, "summary": "a\x00b"})
    assert caught.value.messages == {"summary": ["Remove the NUL character (\\u0000): text cannot hold it"]}
    with pytest.raises(Exception, match="At most 10000 characters"):
        CallIn().load({**CALL, "summary": "x" * 10_001})


# --- NUL bytes (PostgreSQL cannot store them) ------------------------------------------------------------

NUL = "a\x00b"


@pytest.mark.parametrize("field", ["summary", "account", "contact_name", "contact_email"])
def test_a_nul_in_a_call_is_a_400_naming_the_field_and_logs_nothing(desk, client, bearer, field):
    body = refused(client.post(f"{PREFIX}/calls", json={**CALL, field: NUL}, headers=bearer))
    assert body["errors"] == {field: "Remove the NUL character (\\u0000): text cannot hold it"}
    assert count(desk, Ticket) == 0


def test_a_nul_in_the_idempotency_key_is_a_400_and_stores_nothing(desk, client, bearer):
    body = refused(client.post(f"{PREFIX}/calls", json=CALL, headers={**bearer, "Idempotency-Key": NUL}))
    assert list(body["errors"]) == ["header Idempotency-Key"]
    assert count(desk, Ticket) == 0
    assert count(desk, IdempotencyKey) == 0


def test_a_nul_in_a_token_name_is_a_400_and_makes_no_token(desk, client, bearer):
    before = count(desk, ApiToken)
    body = refused(client.post(f"{PREFIX}/tokens", json={"name": NUL}, headers=bearer))
    assert list(body["errors"]) == ["name"]
    assert count(desk, ApiToken) == before


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "POST",
            "/escalations",
            {"json": {"concern": NUL, "contact_name": "Ann", "contact_email": "a@example.com", "account": "Acme Ltd"}},
        ),
        ("POST", "/escalations", {"json": {"concern": "Unhappy", "call_reference": NUL}}),
        ("POST", "/accounts", {"json": {"name": NUL}}),
        ("POST", "/accounts", {"json": {"name": "Acme Ltd", "account_manager": NUL}}),
        ("PATCH", "/accounts/Acme Ltd", {"json": {"account_manager": NUL}}),
        ("POST", "/tasks/x/complete", {"json": {"data": {"note": NUL}}}),
        ("POST", "/tickets/SUP-2026-000001/messages", {"json": {"message": "information_received", "note": NUL}}),
        ("GET", "/tickets", {"query_string": {"account": NUL}}),
        ("GET", "/tickets", {"query_string": {"cursor": NUL}}),
        ("GET", "/accounts", {"query_string": {"account_manager": NUL}}),
        ("GET", "/tokens", {"query_string": {"username": NUL}}),
        ("GET", "/reports/sla", {"query_string": {"from": NUL}}),
        ("GET", "/tickets/SUP%00", {}),
        ("GET", "/tasks/a%00b", {}),
        ("GET", "/accounts/a%00b", {}),
    ],
)
def test_a_nul_anywhere_in_an_api_request_is_a_400(desk, client, bearer, method, path, kwargs):
    body = refused(client.open(PREFIX + path, method=method, headers=bearer, **kwargs))
    assert any("NUL" in message for message in body["errors"].values()), body
    assert count(desk, Ticket) == 0
    assert count(desk, Account) == 0


def test_a_nul_in_the_basic_credentials_is_a_400(client):
    credentials = base64.b64encode(b"ad\x00min:demo").decode()
    body = refused(
        client.post(f"{PREFIX}/tokens", json={"name": "first"}, headers={"Authorization": f"Basic {credentials}"})
    )
    assert body["type"].endswith("invalid-input")


def test_a_nul_in_an_unknown_api_address_is_a_400_problem_too(client):
    refused(client.get(f"{PREFIX}/nothing%00here"))


# --- body size ---------------------------------------------------------------------------------------------


def test_a_30_mb_body_is_refused_with_413_before_it_is_read(desk, client, bearer, monkeypatch):
    from supportdesk.web.api import base

    monkeypatch.setattr(base._Parser, "_raw_load_json", lambda *_: pytest.fail("the body was read"))
    body = refused(
        client.post(
            f"{PREFIX}/calls", data=b"x" * (30 * 1024 * 1024), headers={**bearer, "Content-Type": "application/json"}
        ),
        413,
    )
    assert body["detail"] == "The request body is larger than the 4 MiB this desk accepts."


def test_the_request_size_limit_is_a_setting(sqlite_url, frozen_clock):
    assert Settings().max_request_bytes == 4 * 1024 * 1024
    assert Settings.from_env({"SUPPORTDESK_MAX_REQUEST_BYTES": "2000"}).max_request_bytes == 2000
    desk = Desk(
        Settings(database_url=sqlite_url, workflows_dir=WORKFLOWS, secret_key="t", max_request_bytes=2000), REGISTRY
    )
    desk.upgrade_schema()
    commands.deploy(desk, actor="test")
    try:
        client = desk_app(desk).test_client()
        headers = {"Authorization": f"Bearer {api_tokens.create_token(desk, 'admin', 't', by=None)[1]}"}
        answer = client.post(f"{PREFIX}/calls", json={**CALL, "summary": "x" * 2000}, headers=headers)
        assert refused(answer, 413)["detail"] == "The request body is larger than the 2000 bytes this desk accepts."
        assert client.post(f"{PREFIX}/calls", json=CALL, headers=headers).status_code == 201
        signed_in(client, "alice")
        page = client.get("/calls/new")
        answer = client.post("/calls/new", data={"csrf_token": token(page), **CALL, "summary": "x" * 3000})
        assert answer.status_code == 413
        assert "larger than the 2000 bytes" in text(answer)
    finally:
        desk.close()


# --- the web desk --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["summary", "account", "contact_name"])
def test_the_log_a_call_form_refuses_a_nul_with_a_400_page_and_logs_nothing(desk, client, field):
    signed_in(client, "alice")
    page = client.get("/calls/new")
    answer = client.post("/calls/new", data={"csrf_token": token(page), **CALL, field: NUL})
    assert answer.status_code == 400
    assert "cannot be stored" in text(answer)
    assert field in text(answer)
    assert count(desk, Ticket) == 0


def test_the_log_a_call_form_refuses_a_campaign_moment_out_of_range(desk, client):
    signed_in(client, "alice")
    page = client.get("/calls/new")
    answer = client.post("/calls/new", data={"csrf_token": token(page), **CALL, "campaign_at": "9999-12-31T23:59"})
    assert answer.status_code == 400
    assert "Enter a moment between 1970-01-01 and 2199-12-31" in text(answer)
    assert count(desk, Ticket) == 0


def test_a_nul_in_a_web_address_query_or_sign_in_is_a_400_page(client):
    answer = client.post("/login", data={"username": NUL, "password": "demo"})
    assert answer.status_code == 400
    assert "cannot be stored" in text(answer)
    signed_in(client, "alice")
    assert client.get("/calls/SUP%00").status_code == 400
    assert client.get("/tasks", query_string={"page": NUL}).status_code == 400


def test_a_task_form_revision_of_other_digits_is_refused_not_a_500(desk, client):
    task = open_task(desk, log_call(desk), "Confirm priority").task_id
    signed_in(client, "alice")
    page = client.get(f"/tasks/{task}")
    for revision in ("²", "9" * 30):
        answer = client.post(f"/tasks/{task}", data={"csrf_token": token(page), "revision": revision})
        assert answer.status_code == 400
        assert "The form lost its revision" in text(answer)


def test_the_inbox_page_past_any_page_is_no_overflow(client):
    signed_in(client, "alice")
    for page in (str(2**63), "9" * 30, "-3"):
        assert client.get("/tasks", query_string={"page": page}).status_code == 200


def test_web_ids_past_64_bits_are_no_page(client):
    signed_in(client, "admin")
    page = client.get("/admin/mail")
    for path in (
        f"/admin/incidents/{TOO_BIG}/retry",
        f"/admin/mail/{TOO_BIG_FOR_POSTGRES}/retry",
        f"/admin/mail/quarantine/{TOO_BIG}/release",
        f"/admin/incidents/{TOO_BIG_FOR_POSTGRES}/retry",
    ):
        assert client.post(path, data={"csrf_token": token(page)}).status_code == 404


# --- diagrams that are not UTF-8 ---------------------------------------------------------------------------


LATIN_1 = (
    (WORKFLOWS / "priority.dmn")
    .read_text(encoding="utf-8")
    .replace("<definitions", "<!-- caf\u00e9 --><definitions", 1)
    .encode("latin-1")
)


def test_deploying_a_diagram_that_is_not_utf8_from_the_cli_names_the_file(tmp_path, sqlite_url, frozen_clock):
    folder = tmp_path / "workflows"
    folder.mkdir()
    for path in WORKFLOWS.iterdir():
        if path.suffix in (".bpmn", ".dmn"):
            (folder / path.name).write_bytes(path.read_bytes())
    (folder / "priority.dmn").write_bytes(LATIN_1)
    result = CliRunner().invoke(cli, ["deploy", "--dir", str(folder)], env={"SUPPORTDESK_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"error: {folder / 'priority.dmn'}: not UTF-8 text" in result.output
    assert "save the diagram as UTF-8" in result.output


def test_uploading_a_diagram_that_is_not_utf8_is_a_form_error_and_version_1_keeps_serving(desk, client):
    import io

    signed_in(client, "admin")
    page = client.get("/admin/versions")
    answer = client.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"csrf_token": token(page), "files": [(io.BytesIO(LATIN_1), "priority.dmn")]},
    )
    assert answer.status_code == 400
    assert "priority.dmn: not UTF-8 text" in text(answer)
    from supportdesk.engine import admin

    assert [v.number for v in admin.list_versions(desk) if v.active] == [1]


def test_an_api_address_that_matches_no_rule_answers_a_problem_not_a_page(client, bearer):
    # A newline in an account's name: werkzeug's path converter matches none, the API's catch-all neither.
    body = refused(client.get(f"{PREFIX}/accounts/a%0Ab", headers=bearer), 404)
    assert body["type"].endswith("not-found")
    assert refused(client.patch(f"{PREFIX}/accounts/a%0Ab", json={}, headers=bearer), 404)
    assert client.get("/calls/a%0Ab").mimetype == "text/html"  # the web desk keeps its page
