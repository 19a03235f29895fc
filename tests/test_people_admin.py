"""People admin (issue 20): an admin disables and enables accounts and resets passwords, on the users page
and the command line. A disabled person's session and API tokens stop at their next request; a reset
password is a temporary one that only lets its owner choose a new one; the last admin who can sign in
stays; every change is recorded with who made it and when; nobody but an admin may do any of it."""

from __future__ import annotations

import base64
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from click.testing import CliRunner

from supportdesk.cli import main
from supportdesk.engine import admin
from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.people import api_tokens, users
from supportdesk.web import create_app

from conftest import open_test_desk
from web_client import PASSWORD, demo_users, sign_in, signed_in, text, token

pytestmark = pytest.mark.usefixtures("quick_password_hashes")
API = "/api/v1"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def app(desk):
    demo_users(desk)
    return create_app(desk, testing=True)


def is_signed_in(client) -> bool:
    return client.get("/tasks").status_code == 200


def bearer(client, secret: str, path: str = "/me"):
    return client.get(API + path, headers={"Authorization": f"Bearer {secret}"})


def basic(client, username: str, password: str):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return client.post(API + "/tokens", json={"name": "script"}, headers={"Authorization": f"Basic {credentials}"})


def post_on_users_page(admin, path: str, **data):
    page = admin.get("/admin/users")
    return admin.post(path, data={"csrf_token": token(page), **data})


def disable_on_the_page(admin, username: str):
    """The admin's road: "Disable the account…" on the users page, then the confirming page's button."""
    listed = text(admin.get("/admin/users"))
    assert f'href="/admin/users/{username}/disable"' in listed
    confirm = admin.get(f"/admin/users/{username}/disable")
    assert confirm.status_code == 200
    assert "signed out everywhere at once" in text(confirm)
    return admin.post(f"/admin/users/{username}/disable", data={"csrf_token": token(confirm)})


def user_row(page: str, username: str) -> str:
    return re.search(rf'<tr data-user="{username}".*?</tr>', page, re.S).group(0)


def flashed(client) -> str:
    return text(client.get("/admin/users"))


def run(desk, monkeypatch, *args: str):
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(desk.settings.workflows_dir))
    return CliRunner().invoke(main, ["users", *args])


# --- disabling and enabling ------------------------------------------------------------------------------------


def test_disabling_stops_a_live_session_and_an_api_token_at_their_next_request(desk, app):
    alice = signed_in(app.test_client(), "alice")
    _, secret = api_tokens.create_token(desk, "alice", "phone system", by=None)
    assert is_signed_in(alice)
    assert bearer(app.test_client(), secret).status_code == 200

    admin = signed_in(app.test_client(), "admin")
    assert disable_on_the_page(admin, "alice").status_code == 302
    page = flashed(admin)
    assert "alice is disabled: signed out everywhere, and their API tokens are refused." in page
    assert re.search(
        r'data-state="disabled"><strong>Disabled</strong> 23 Nov 2026, 10:00 by admin', user_row(page, "alice")
    )

    assert alice.get("/tasks").headers["Location"].startswith("/login")  # the very next click
    refused = bearer(app.test_client(), secret)
    assert refused.status_code == 401
    assert "The account alice is disabled" in refused.get_json()["detail"]
    again = sign_in(app.test_client(), "alice")
    assert again.status_code == 403
    assert "The account alice is disabled: ask an admin to enable it again." in text(again)
    assert basic(app.test_client(), "alice", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "alice", "not her password").status_code == 200  # says nothing more


def test_enabling_again_lets_them_sign_in_and_their_token_works_again(desk, app):
    _, secret = api_tokens.create_token(desk, "sam", "CRM sync", by=None)
    admin = signed_in(app.test_client(), "admin")
    disable_on_the_page(admin, "sam")
    assert sign_in(app.test_client(), "sam").status_code == 403

    answer = post_on_users_page(admin, "/admin/users/sam/enable")
    assert answer.status_code == 302
    page = flashed(admin)
    assert "sam is enabled again and can sign in." in page
    assert 'data-state="active">Active' in user_row(page, "sam")
    assert is_signed_in(signed_in(app.test_client(), "sam"))
    assert bearer(app.test_client(), secret).get_json()["username"] == "sam"


def test_the_overview_counts_only_who_can_sign_in(desk, app):
    admin = signed_in(app.test_client(), "admin")
    disable_on_the_page(admin, "tara")
    assert "7 users can sign in." in text(admin.get("/admin"))


# --- resetting a password --------------------------------------------------------------------------------------


def temporary_password(page: str, username: str) -> str:
    shown = re.search(rf'data-temporary-for="{username}">.*?<code class="secret">([^<]+)</code>', page, re.S)
    return shown.group(1)


def test_a_reset_password_must_be_replaced_at_the_next_sign_in_and_the_old_one_stops_working(desk, app):
    sam = signed_in(app.test_client(), "sam")
    admin = signed_in(app.test_client(), "admin")
    answer = post_on_users_page(admin, "/admin/users/sam/reset-password")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"  # shown this once, kept by no cache
    temporary = temporary_password(text(answer), "sam")
    assert "Shown this once" in text(answer)
    assert temporary not in flashed(admin)  # not on the page again
    assert "new password due at next sign-in" in user_row(flashed(admin), "sam")

    assert not is_signed_in(sam)  # the reset ended his session
    assert "Unknown username or wrong password." in text(sign_in(app.test_client(), "sam", PASSWORD))
    refused = basic(app.test_client(), "sam", temporary)  # the API takes no temporary password
    assert refused.status_code == 401
    assert "was reset: sign in on the web desk and choose a new one first" in refused.get_json()["detail"]

    browser = app.test_client()
    answer = sign_in(browser, "sam", temporary, next_url="/calls")
    assert answer.headers["Location"] == "/login/new-password"
    assert not is_signed_in(browser)  # the temporary password opens nothing else
    page = browser.get("/login/new-password")
    assert "an administrator reset your password" in text(page)
    data = {"csrf_token": token(page), "new_password": NEW_PASSWORD, "repeated": NEW_PASSWORD}
    chosen = browser.post("/login/new-password", data=data)
    assert chosen.headers["Location"] == "/calls"  # where he was going
    assert "Your new password is set." in text(browser.get("/calls"))
    assert is_signed_in(browser)

    assert "Unknown username or wrong password." in text(sign_in(app.test_client(), "sam", temporary))
    assert sign_in(app.test_client(), "sam", NEW_PASSWORD).status_code == 302
    assert "new password due" not in user_row(flashed(admin), "sam")


def test_a_second_reset_while_choosing_sends_the_person_back_to_sign_in(desk, app):
    first = users.reset_password(desk, users.ResetPassword("sam"), "admin")
    browser = app.test_client()
    sign_in(browser, "sam", first.password)
    page = browser.get("/login/new-password")
    users.reset_password(desk, users.ResetPassword("sam"), "admin")
    data = {"csrf_token": token(page), "new_password": NEW_PASSWORD, "repeated": NEW_PASSWORD}
    assert browser.post("/login/new-password", data=data).headers["Location"] == "/login"
    assert users.verify_password(desk, "sam", NEW_PASSWORD) is None


def test_with_two_factor_the_code_comes_before_the_new_password(desk, app, frozen_clock):
    person = users.get_person(desk, users.verify_password(desk, "alice", PASSWORD).id)
    secret = users.new_totp_secret()
    users.enable_two_factor(desk, person, secret, pyotp.TOTP(secret).at(frozen_clock.now()))
    reset = users.reset_password(desk, users.ResetPassword("alice"), "admin")
    browser = app.test_client()
    assert sign_in(browser, "alice", reset.password).headers["Location"] == "/login/code"
    assert browser.get("/login/new-password").headers["Location"] == "/login"  # no skipping the code
    sign_in(browser, "alice", reset.password)
    frozen_clock.advance(timedelta(seconds=30))
    page = browser.get("/login/code")
    sent = browser.post(
        "/login/code", data={"csrf_token": token(page), "code": pyotp.TOTP(secret).at(frozen_clock.now())}
    )
    assert sent.headers["Location"] == "/login/new-password"
    assert not is_signed_in(browser)


# --- the last admin ---------------------------------------------------------------------------------------------


def test_the_last_admin_is_neither_disabled_nor_loses_the_role_and_nobody_disables_themselves(desk, app, monkeypatch):
    admin = signed_in(app.test_client(), "admin")
    assert 'href="/admin/users/admin/disable"' not in user_row(flashed(admin), "admin")  # not offered
    post_on_users_page(admin, "/admin/users/admin/disable")
    assert "Not changed: you cannot disable your own account: ask another admin" in flashed(admin)
    post_on_users_page(admin, "/admin/users/admin/roles", roles=["first_line"])
    assert "Not changed: admin is the last admin who can sign in: make someone else an admin first" in flashed(admin)
    refused = run(desk, monkeypatch, "disable", "admin")
    assert refused.exit_code == 1
    assert "admin is the last admin who can sign in" in refused.output
    assert is_signed_in(admin)

    users.add_user(desk, users.NewUser("zed", PASSWORD, ["admin"]), "admin")
    zed = signed_in(app.test_client(), "zed")
    assert disable_on_the_page(zed, "admin").status_code == 302
    assert not is_signed_in(admin)
    with pytest.raises(NotAllowed, match="zed is the last admin who can sign in"):
        users.set_roles(desk, users.ChangeRoles("zed", ["auditor"]), "cli:root")
    assert users.set_roles(desk, users.ChangeRoles("admin", ["auditor"]), "zed").roles == ("auditor",)  # disabled


# --- who may ----------------------------------------------------------------------------------------------------


def test_a_non_admin_gets_403_for_every_people_admin_action(desk, app):
    carl = signed_in(app.test_client(), "carl")  # customer services manager
    csrf = token(carl.get("/calls"))
    assert carl.get("/admin/users/sam/disable").status_code == 403
    for action in ("disable", "enable", "reset-password", "roles", "two-factor-off"):
        answer = carl.post(f"/admin/users/sam/{action}", data={"csrf_token": csrf, "roles": ["admin"]})
        assert answer.status_code == 403, action
    assert users.verify_password(desk, "sam", PASSWORD).roles == ("second_line",)
    assert users.recent_changes(desk, username="sam")[0].change == "added"


def test_a_form_without_its_csrf_token_changes_nothing(desk, app):
    admin = signed_in(app.test_client(), "admin")
    assert admin.post("/admin/users/sam/disable").status_code == 400
    assert admin.post("/admin/users/sam/reset-password").status_code == 400
    assert users.verify_password(desk, "sam", PASSWORD).disabled is False


def test_an_unknown_person_is_a_404_page_not_an_error(app):
    admin = signed_in(app.test_client(), "admin")
    assert admin.get("/admin/users/nobody/disable").status_code == 404
    answer = post_on_users_page(admin, "/admin/users/nobody/disable")
    assert answer.status_code == 404
    assert "No user &#39;nobody&#39;" in text(answer)


# --- the record and the command line ----------------------------------------------------------------------------


def test_every_change_is_recorded_with_who_made_it_and_when(desk, app, frozen_clock, monkeypatch):
    admin = signed_in(app.test_client(), "admin")
    post_on_users_page(admin, "/admin/users/tara/roles", roles=["third_line", "auditor"])
    disable_on_the_page(admin, "tara")
    post_on_users_page(admin, "/admin/users/tara/enable")
    post_on_users_page(admin, "/admin/users/tara/reset-password")
    frozen_clock.advance(timedelta(minutes=5))
    assert run(desk, monkeypatch, "two-factor-off", "tara").exit_code == 0  # it was off: nothing to record
    assert run(desk, monkeypatch, "disable", "tara").exit_code == 0

    changes = [(c.change, c.actor, c.at.strftime("%H:%M")) for c in users.recent_changes(desk, username="tara")]
    actor = changes[0][1]
    assert actor.startswith("cli")
    assert changes == [
        ("disabled", actor, "10:05"),
        ("password_reset", "admin", "10:00"),
        ("enabled", "admin", "10:00"),
        ("disabled", "admin", "10:00"),
        ("roles_changed", "admin", "10:00"),
        ("added", "desk", "10:00"),
    ]
    page = flashed(admin)
    assert re.search(
        r"<td>23 Nov 2026, 10:00</td><td>tara</td>\s*"
        r"<td>Roles changed: Third line → Third line, Auditor</td><td>admin</td>",
        page,
    )


def test_the_command_line_disables_enables_resets_and_lists_the_state(desk, app, monkeypatch):
    assert run(desk, monkeypatch, "disable", "sam").output.startswith("sam is disabled")
    listed = run(desk, monkeypatch, "list").output
    assert re.search(r"^sam\tsecond_line\ttwo-factor off\tdisabled 23 Nov 2026, 10:00 by cli", listed, re.M)
    assert re.search(r"^alice\tfirst_line\ttwo-factor off\tactive$", listed, re.M)
    assert sign_in(app.test_client(), "sam").status_code == 403
    assert run(desk, monkeypatch, "enable", "sam").exit_code == 0

    reset = run(desk, monkeypatch, "reset-password", "sam")
    assert reset.exit_code == 0
    temporary = reset.stdout.strip()
    assert users.password_problem(temporary, "sam") is None
    assert re.search(r"^sam\t.*\tactive, new password due$", run(desk, monkeypatch, "list").output, re.M)
    assert sign_in(app.test_client(), "sam", temporary).headers["Location"] == "/login/new-password"

    refused = run(desk, monkeypatch, "disable", "nobody")
    assert (refused.exit_code, refused.output.strip()) == (1, "error: No user 'nobody'")


def test_the_command_line_and_the_page_refuse_a_new_user_in_the_same_words(desk, app, monkeypatch):
    """NewUser is validated once, whichever door it came through."""
    refused = run(desk, monkeypatch, "add", "new one", "--role", "auditor", "--password", NEW_PASSWORD)
    assert refused.exit_code == 1
    assert "username: A username is 1 to 100 letters, digits or . _ @ -" in refused.output
    with pytest.raises(InvalidInput) as everything:
        users.add_user(desk, users.NewUser(" new one", "short", ["boss"], email="nope"), "admin")
    assert set(everything.value.fields) == {"username", "email", "roles", "password"}


def test_two_admins_disabling_each_other_at_once_leave_one_who_can_sign_in(any_store_url, frozen_clock):
    """The rows are locked in one order: the second disabling waits for the first and then sees it."""
    desk = open_test_desk(any_store_url)
    demo_users(desk)
    users.add_user(desk, users.NewUser("zed", PASSWORD, ["admin"]), "admin")
    start = threading.Barrier(2)

    def disable(username: str, actor: str) -> str:
        start.wait()
        try:
            users.disable_user(desk, users.DisableUser(username), actor)
        except NotAllowed as refused:
            return str(refused)
        return "disabled"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(disable, ["admin", "zed"], ["zed", "admin"]))
    assert outcomes.count("disabled") == 1
    refused = next(outcome for outcome in outcomes if outcome != "disabled")
    assert "is the last admin who can sign in" in refused
    admins = [row.person for row in admin.list_users(desk) if "admin" in row.person.roles]
    assert [person.disabled for person in admins] in ([False, True], [True, False])
    desk.close()
