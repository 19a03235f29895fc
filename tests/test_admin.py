"""Administration pages: the deployed versions with their warnings and open tickets, deploying uploaded
diagrams (refused with file, line and element id, the active version untouched), and the users."""

from __future__ import annotations

import io
import re

import pytest

from supportdesk.engine import admin
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.people.users import authenticate
from supportdesk.engine.tickets import queries

from conftest import WORKFLOWS
from helpers import log_call
from web_client import desk_app, signed_in, text, token, use_quick_password_hashes

SHIPPED = (WORKFLOWS / "support_call.bpmn").read_text()
SHIPPED_FILES = ["escalation.bpmn", "priority.dmn", "support_call.bpmn", "training.bpmn"]
RENAMED = SHIPPED.replace('name="First level response"', 'name="Answer the customer"', 1)
BROKEN = SHIPPED.replace('targetRef="Task_set_priority" />', 'targetRef="Task_nowhere" />', 1)
# Deploys, but a modeller would not show the triage task: a lint warning.
UNDRAWN = re.sub(r'\s*<bpmndi:BPMNShape id="Task_triage_di".*?</bpmndi:BPMNShape>', "", SHIPPED, count=1, flags=re.S)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    use_quick_password_hashes(monkeypatch)


@pytest.fixture
def browser(desk):
    return desk_app(desk).test_client()


def upload(browser, *files: tuple[str, str], with_token: bool = True):
    page = browser.get("/admin/versions")
    data = {"files": [(io.BytesIO(content.encode()), name) for name, content in files]}
    if with_token:
        data["csrf_token"] = token(page)
    return browser.post("/admin/versions", data=data, content_type="multipart/form-data")


def version_row(page_text: str, number: int) -> str:
    return re.search(rf'<tr data-version="{number}".*?</tr>', page_text, re.S).group(0)


def active_number(desk) -> int:
    return next(v.number for v in admin.list_versions(desk) if v.active)


# --- versions ----------------------------------------------------------------------------------------------


def test_the_versions_page_lists_version_1_active_with_its_files_and_no_warnings(browser, desk):
    log_call(desk)
    signed_in(browser, "admin")
    page = browser.get("/admin/versions")
    assert page.status_code == 200
    row = version_row(text(page), 1)
    assert "active" in row
    assert "test" in row
    assert all(f"<code>{name}</code>" in row for name in SHIPPED_FILES)
    assert re.search(r'<td class="number">1</td>', row)  # one open ticket runs on it
    assert "<td>No warnings</td>" in row
    assert 'class="warnings"' not in row
    [version] = admin.list_versions(desk)
    assert (version.number, version.active, version.warnings, version.open_tickets) == (1, True, (), 1)


def test_uploading_a_changed_diagram_deploys_version_2_keeping_the_other_files(browser, desk):
    old_ticket = log_call(desk)
    signed_in(browser, "admin")
    answer = upload(browser, ("support_call.bpmn", RENAMED))
    assert answer.status_code == 302
    page = browser.get(answer.headers["Location"])
    assert "Deployed diagrams as version 2." in text(page)
    assert "active" in version_row(text(page), 2)
    assert "active" not in version_row(text(page), 1)
    assert all(f"<code>{name}</code>" in version_row(text(page), 2) for name in SHIPPED_FILES)
    new_ticket = log_call(desk)
    assert queries.ticket_view(desk, new_ticket).diagram_version == 2
    assert queries.ticket_view(desk, old_ticket).diagram_version == 1
    [v2, v1] = admin.list_versions(desk)
    assert (v2.deployed_by, v2.open_tickets, v1.open_tickets) == ("admin", 1, 1)


def test_uploading_the_same_files_again_is_reported_unchanged(browser, desk):
    signed_in(browser, "admin")
    answer = upload(browser, ("support_call.bpmn", SHIPPED), ("priority.dmn", (WORKFLOWS / "priority.dmn").read_text()))
    assert answer.status_code == 302
    assert "Diagrams unchanged: version 1 stays active." in text(browser.get("/admin/versions"))
    assert len(admin.list_versions(desk)) == 1


def test_a_broken_diagram_is_refused_with_its_element_and_line_and_version_1_keeps_serving(browser, desk):
    signed_in(browser, "admin")
    answer = upload(browser, ("support_call.bpmn", BROKEN))
    assert answer.status_code == 400
    shown = text(answer)
    assert "Not deployed:" in shown
    [problem] = re.findall(r'<tr class="problem-error">.*?</tr>', shown, re.S)
    assert "targetRef=&#39;Task_nowhere&#39; names no element" in problem
    assert "<td><code>support_call.bpmn</code></td>" in problem
    line = line_of(BROKEN, 'id="Flow_triage_to_set_priority"')
    assert f'<td class="number">{line}</td>' in problem
    assert "<code>Flow_triage_to_set_priority</code>" in problem
    assert [v.number for v in admin.list_versions(desk)] == [1]
    assert queries.ticket_view(desk, log_call(desk)).diagram_version == 1


def test_a_diagram_that_deploys_with_warnings_lists_them_by_its_version(browser, desk):
    signed_in(browser, "admin")
    answer = upload(browser, ("support_call.bpmn", UNDRAWN))
    assert answer.status_code == 302
    page = text(browser.get("/admin/versions"))
    assert "Deployed diagrams as version 2 (1 warning, listed below)." in page
    row = version_row(page, 2)
    line = line_of(UNDRAWN, 'id="Task_triage"')
    assert f"<code>support_call.bpmn:{line}</code> element <code>Task_triage</code>" in row
    assert "not drawn" in row
    assert 'class="warnings"' not in version_row(page, 1)


def test_an_upload_without_the_csrf_token_is_refused(browser, desk):
    signed_in(browser, "admin")
    answer = upload(browser, ("support_call.bpmn", RENAMED), with_token=False)
    assert answer.status_code == 400
    assert "security token" in text(answer)
    assert [v.number for v in admin.list_versions(desk)] == [1]


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([("notes.txt", "hello")], "only .bpmn and .dmn files"),
        ([("support_call.bpmn", RENAMED), ("support_call.bpmn", SHIPPED)], "was chosen twice"),
        ([], "Choose one or more .bpmn or .dmn files"),
    ],
)
def test_what_cannot_be_a_diagram_is_refused_by_the_file_field(browser, desk, files, words):
    signed_in(browser, "admin")
    answer = upload(browser, *files)
    assert answer.status_code == 400
    assert re.search(rf'class="field-error" id="files-error">[^<]*{re.escape(words)}', text(answer))
    assert [v.number for v in admin.list_versions(desk)] == [1]


def test_deploy_uploaded_takes_the_file_name_not_the_path_and_refuses_what_is_not_utf8(desk):
    result = admin.deploy_uploaded(desk, [("C:\\models\\support_call.bpmn", RENAMED.encode())], "admin")
    assert (result.number, result.outcome) == (2, "deployed")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        admin.deploy_uploaded(desk, [("support_call.bpmn", "é".encode("latin-1"))], "admin")
    assert active_number(desk) == 2


# --- users -------------------------------------------------------------------------------------------------


def add_user(browser, **fields):
    page = browser.get("/admin/users")
    data = {
        "csrf_token": token(page),
        "username": "",
        "display_name": "",
        "email": "",
        "password": "",
        "roles": [],
        **fields,
    }
    return browser.post("/admin/users", data=data)


def test_the_admin_adds_a_user_who_can_then_sign_in(browser, desk):
    signed_in(browser, "admin")
    page = browser.get("/admin/users")
    assert page.status_code == 200
    assert '<tr data-user="carl">' in text(page)
    answer = add_user(
        browser,
        username="zoe",
        display_name="Zoe Second",
        email="Zoe@Example.com",
        password="s3cret long passphrase",
        roles=["second_line", "auditor"],
    )
    assert answer.status_code == 302
    listed = text(browser.get("/admin/users"))
    assert "Added zoe (Second line, Auditor)." in listed
    assert re.search(
        r'<tr data-user="zoe">\s*<td>zoe</td>\s*<td>Zoe Second</td>\s*<td>zoe@example.com</td>\s*'
        r"<td>Second line, Auditor</td>",
        listed,
    )
    assert authenticate(desk, "zoe", "s3cret long passphrase").roles == ("second_line", "auditor")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"username": "carl", "password": "long enough phrase", "roles": ["auditor"]}, "username", "exists already"),
        ({"username": "new one", "password": "long enough phrase", "roles": ["auditor"]}, "username", "A username is"),
        ({"username": "newbie", "password": "abc", "roles": ["auditor"]}, "password", "The password is too short"),
        ({"username": "newbie", "password": "long enough phrase"}, "roles", "Unknown role(s) (none given)"),
        ({"username": "newbie", "password": "long enough phrase", "roles": ["boss"]}, "roles", "Unknown role(s) boss"),
        ({"username": "newbie", "password": "long enough phrase", "roles": ["auditor"], "email": "nope"}, "email", "@"),
    ],
)
def test_a_user_that_cannot_be_added_is_refused_by_the_field(browser, desk, fields, field, words):
    signed_in(browser, "admin")
    answer = add_user(browser, **fields)
    assert answer.status_code == 400
    assert re.search(
        rf'class="field-error" id="{field}-error">[^<]*{re.escape(words)}', text(answer).replace("&#39;", "'")
    ), text(answer)
    assert authenticate(desk, "newbie", "long enough phrase") is None


# --- who may -----------------------------------------------------------------------------------------------


def test_only_the_admin_may_see_the_admin_pages(browser):
    for username in ("alice", "carl", "audrey"):  # first line, customer services manager, auditor
        signed_in(browser, username)
        assert [browser.get(url).status_code for url in ("/admin", "/admin/versions", "/admin/users")] == [403] * 3
    signed_out = browser.post("/logout", data={"csrf_token": token(browser.get("/calls"))})
    assert signed_out.status_code == 302
    assert "/login" in browser.get("/admin").headers["Location"]


def test_a_non_admin_may_not_deploy_or_add_users(browser, desk):
    signed_in(browser, "carl")
    page = browser.get("/calls")  # any page with the sign-out form carries a token
    answer = browser.post(
        "/admin/versions",
        content_type="multipart/form-data",
        data={"csrf_token": token(page), "files": [(io.BytesIO(RENAMED.encode()), "support_call.bpmn")]},
    )
    assert answer.status_code == 403
    assert (
        browser.post(
            "/admin/users",
            data={"csrf_token": token(page), "username": "x", "password": "long enough phrase", "roles": ["admin"]},
        ).status_code
        == 403
    )
    assert [v.number for v in admin.list_versions(desk)] == [1]
    assert authenticate(desk, "x", "long enough phrase") is None


def test_the_overview_links_to_versions_and_users(browser, desk):
    log_call(desk)
    signed_in(browser, "admin")
    page = text(browser.get("/admin"))
    assert "Version <strong>1</strong> is active, of 1 deployed." in page
    assert "1 ticket running (not yet finished)." in page
    assert "8 users can sign in." in page
    assert 'href="/admin/versions"' in page
    assert 'href="/admin/users"' in page


def test_failed_and_quarantined_mail_are_shown_to_the_admin_and_can_be_retried(browser, desk):
    from supportdesk.engine.mail import inbound
    from supportdesk.engine.store.models import OutboxMail

    log_call(desk)
    with desk.db.transaction() as session:
        mail = session.query(OutboxMail).one()
        mail.status, mail.attempts, mail.last_error = "failed", 12, "550 mailbox unavailable"
    inbound.quarantine(desk, b"\\x00not a mail", "test", "robot@example.com", "cannot be parsed")
    signed_in(browser, "admin")
    page = browser.get("/admin/mail")
    assert "550 mailbox unavailable" in text(page)
    assert "cannot be parsed" in text(page)
    assert "robot@example.com" in text(page)
    response = browser.post(f"/admin/mail/{mail.id}/retry", data={"csrf_token": token(page)})
    assert response.status_code == 302
    with desk.db.reading() as session:
        assert session.get(OutboxMail, mail.id).status == "queued"
    signed_in(browser, "alice")
    assert browser.get("/admin/mail").status_code == 403
