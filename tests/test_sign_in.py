"""Trust at the edges (issue 16): throttled sign-in on the form and the API, equal work for unknown users,
the password policy, sessions that end on the server, two-factor sign-in, and no known first password."""

from __future__ import annotations

import base64
import re
import statistics
import time
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from click.testing import CliRunner
from werkzeug.security import generate_password_hash

from supportdesk.cli import main
from supportdesk.cli.serve import seed_first_users
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.people import throttle, users
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import SignInFailure, User
from supportdesk.web import create_app

from web_client import PASSWORD, desk_app, sign_in, signed_in, text, token

API = "/api/v1"


pytestmark = pytest.mark.usefixtures("quick_password_hashes")


@pytest.fixture
def browser(app):
    return app.test_client()


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def with_cookie(app, value: str):
    """A second browser holding a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief


def is_signed_in(client) -> bool:
    return client.get("/tasks").status_code == 200


# --- throttling ------------------------------------------------------------------------------------------------


def test_sixty_wrong_guesses_on_the_form_then_the_right_password_is_refused_until_the_lockout_ends(
    browser, frozen_clock
):
    for guess in range(60):
        answer = sign_in(browser, "alice", f"wrong guess {guess}")
        assert answer.status_code in (200, 429)
    refused = sign_in(browser, "alice", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins: try again in 15 minutes" in text(refused)
    assert int(refused.headers["Retry-After"]) == 15 * 60
    assert not is_signed_in(browser)
    frozen_clock.advance(timedelta(minutes=15, seconds=1))
    assert sign_in(browser, "alice", PASSWORD).status_code == 302


def test_the_account_is_held_back_after_ten_failures_and_only_the_failures_count(desk, browser, frozen_clock):
    for guess in range(9):
        assert sign_in(browser, "alice", f"wrong {guess}").status_code == 200
        frozen_clock.advance(timedelta(seconds=10))
    assert sign_in(browser, "alice", "wrong 10").status_code == 200  # the tenth failure is still checked
    frozen_clock.advance(timedelta(minutes=5))
    answer = sign_in(browser, "alice", PASSWORD)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) == 10 * 60
    # Another account from another address is not held back.
    other = create_app(desk, testing=True).test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(other, "sam").status_code == 302


def test_sixty_wrong_guesses_by_basic_auth_then_the_right_password_is_a_429_problem(desk, app):
    client = app.test_client()
    for guess in range(60):
        answer = client.post(f"{API}/tokens", json={"name": "x"}, auth=("alice", f"wrong {guess}"))
        assert answer.status_code in (401, 429)
    refused = client.post(f"{API}/tokens", json={"name": "x"}, auth=("alice", PASSWORD))
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["type"].endswith("/too-many-attempts")
    assert body["status"] == 429
    assert "try again in 15 minutes" in body["detail"]
    assert int(refused.headers["Retry-After"]) == 15 * 60


def test_one_address_guessing_many_accounts_is_held_back(desk, frozen_clock):
    users.ensure_demo_users(desk, password=PASSWORD)
    desk.settings = replace(desk.settings, sign_in_address_attempts=20)
    for guess in range(20):  # two guesses each for ten (unknown) accounts: no account reaches its limit
        assert users.verify_password(desk, f"user{guess // 2}", "wrong", address="198.51.100.9") is None
    with pytest.raises(throttle.TooManyAttempts):
        users.verify_password(desk, "alice", PASSWORD, address="198.51.100.9")
    assert users.verify_password(desk, "alice", PASSWORD, address="198.51.100.10").username == "alice"


def test_failures_shared_by_web_processes_live_in_the_store_and_old_ones_go(desk, frozen_clock):
    users.ensure_demo_users(desk, password=PASSWORD)
    for _ in range(3):
        users.verify_password(desk, "alice", "wrong", address="203.0.113.1")
    with desk.db.reading() as session:
        assert session.query(SignInFailure).filter_by(account="alice").count() == 3
    frozen_clock.advance(timedelta(minutes=16))
    users.verify_password(desk, "Alice", "wrong", address="203.0.113.1")  # usernames count case-blind
    with desk.db.reading() as session:
        assert [f.account for f in session.query(SignInFailure)] == ["alice"]


def test_unknown_and_known_users_cost_the_same_to_check(desk, monkeypatch):
    """User enumeration by timing: a real hash costs the same for an unknown username (a dummy is checked)."""
    monkeypatch.setattr(
        users, "generate_password_hash", lambda password: generate_password_hash(password, method="pbkdf2:sha256:60000")
    )
    users.add_user(desk, users.NewUser("known", PASSWORD, ["first_line"]), "test")
    desk.settings = replace(desk.settings, sign_in_attempts=1000, sign_in_address_attempts=1000)

    def median(username: str) -> float:
        times = []
        for _ in range(7):
            started = time.perf_counter()
            assert users.verify_password(desk, username, "not the password", address="192.0.2.1") is None
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    for warm_up in ("known", "nobody"):  # the dummy hash is made once, at the first unknown username
        median(warm_up)
    known, unknown = median("known"), median("nobody")
    assert max(known, unknown) / min(known, unknown) < 2, (known, unknown)


# --- the password policy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short pw", "too short: at least 12 characters"),
        ("password1234", "list of commonly used passwords"),
        ("qwertyuiopasdf", "list of commonly used passwords"),
        ("x" * 257, "too long: at most 256"),
        ("zoe-zoe-zoe-zoe-1", "must not contain the username"),
    ],
)
def test_short_common_and_obvious_passwords_are_refused_naming_the_field(desk, password, words):
    with pytest.raises(InvalidInput) as refused:
        users.add_user(desk, users.NewUser("zoe-zoe", password, ["first_line"]), "test")
    assert words in refused.value.fields["password"]
    assert set(refused.value.fields) == {"password"}


def test_a_long_uncommon_password_without_composition_rules_is_accepted(desk):
    assert (
        users.add_user(desk, users.NewUser("zoe", "all lower case words here", ["first_line"]), "test").username
        == "zoe"
    )


def test_the_command_line_refuses_a_common_password(desk, monkeypatch):
    monkeypatch.setenv("SUPPORTDESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("SUPPORTDESK_WORKFLOWS_DIR", str(desk.settings.workflows_dir))
    result = CliRunner().invoke(main, ["users", "add", "zoe", "--role", "first_line", "--password", "password1234"])
    assert result.exit_code == 1
    assert "password: The password is on a list of commonly used passwords" in result.output
    result = CliRunner().invoke(main, ["users", "add", "zoe", "--role", "first_line", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["users", "password", "zoe", "--password", "too short"])
    assert result.exit_code == 1
    assert "password: The password is too short" in result.output


def change_password(client, current: str, new: str):
    page = client.get("/account")
    return client.post("/account", data={"csrf_token": token(page), "current_password": current, "new_password": new})


def test_a_person_changes_their_password_within_the_policy(desk, browser):
    signed_in(browser, "alice")
    refused = change_password(browser, PASSWORD, "password1234")
    assert refused.status_code == 400
    assert re.search(r'id="new_password-error">The password is on a list of commonly used', text(refused))
    wrong = change_password(browser, "not it at all", "a brand new passphrase")
    assert wrong.status_code == 400
    assert 'id="current_password-error">This is not your current password' in text(wrong)
    assert change_password(browser, PASSWORD, "a brand new passphrase").status_code == 302
    assert is_signed_in(browser)  # this session goes on
    assert users.verify_password(desk, "alice", "a brand new passphrase").username == "alice"


# --- sessions ---------------------------------------------------------------------------------------------------


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(app, browser):
    signed_in(browser, "alice")
    copied = session_cookie(browser)
    thief = with_cookie(app, copied)
    assert is_signed_in(thief)  # a copy works while the session does
    browser.post("/logout", data={"csrf_token": token(browser.get("/calls"))})
    assert not is_signed_in(browser)
    assert not is_signed_in(with_cookie(app, copied))


def test_a_new_password_ends_the_other_sessions(app, browser):
    signed_in(browser, "alice")
    other = signed_in(app.test_client(), "alice")
    copied = session_cookie(other)
    assert change_password(browser, PASSWORD, "a brand new passphrase").status_code == 302
    assert is_signed_in(browser)
    assert not is_signed_in(other)
    assert not is_signed_in(with_cookie(app, copied))


def test_taking_a_role_away_ends_the_persons_sessions(desk, app, browser):
    signed_in(browser, "sam")
    copied = session_cookie(browser)
    admin = signed_in(app.test_client(), "admin")
    page = admin.get("/admin/users")
    answer = admin.post("/admin/users/sam/roles", data={"csrf_token": token(page), "roles": ["third_line"]})
    assert answer.status_code == 302
    assert "The roles of sam are changed." in text(admin.get("/admin/users"))
    assert not is_signed_in(browser)
    assert not is_signed_in(with_cookie(app, copied))
    assert signed_in(browser, "sam").get("/tasks").status_code == 200  # signs in again, with the new role


def test_after_an_admins_reset_the_new_password_is_chosen_within_the_policy(desk, app):
    reset = users.reset_password(desk, users.ResetPassword("sam"), "admin")
    assert users.password_problem(reset.password, "sam") is None  # the temporary one passes the policy too
    browser = app.test_client()
    assert sign_in(browser, "sam", reset.password).headers["Location"] == "/login/new-password"
    page = browser.get("/login/new-password")
    for new, words in (("short", "The password is too short"), ("password1234", "list of commonly used passwords")):
        refused = browser.post(
            "/login/new-password", data={"csrf_token": token(page), "new_password": new, "repeated": new}
        )
        assert refused.status_code == 400
        assert re.search(rf'id="new_password-error">[^<]*{words}', text(refused))
    assert not is_signed_in(browser)
    chosen = browser.post(
        "/login/new-password",
        data={
            "csrf_token": token(page),
            "new_password": "a fresh passphrase for him",
            "repeated": "a fresh passphrase",
        },
    )
    assert 'id="repeated-error">The two passwords differ' in text(chosen)
    data = {
        "csrf_token": token(page),
        "new_password": "a fresh passphrase for him",
        "repeated": "a fresh passphrase for him",
    }
    assert browser.post("/login/new-password", data=data).status_code == 302
    assert is_signed_in(browser)
    assert users.verify_password(desk, "sam", "a fresh passphrase for him").username == "sam"


@pytest.mark.parametrize(
    ("portal_url", "env", "secure"),
    [
        ("http://127.0.0.1:5000/portal", None, False),
        ("https://desk.example.com/portal", None, True),
        ("http://127.0.0.1:5000/portal", "true", True),
        ("https://desk.example.com/portal", "false", False),
    ],
)
def test_cookies_are_secure_when_set_or_when_the_desk_is_served_over_https(desk, portal_url, env, secure):
    environ = {"SUPPORTDESK_PORTAL_URL": portal_url, **({"SUPPORTDESK_SECURE_COOKIES": env} if env else {})}
    settings = Settings.from_env(environ)
    assert settings.cookies_secure is secure
    desk.settings = replace(desk.settings, portal_url=portal_url, secure_cookies=settings.secure_cookies)
    browser = desk_app(desk).test_client()
    cookie = sign_in(browser, "alice").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) is secure


# --- two-factor sign-in -------------------------------------------------------------------------------------------


def enrol(client) -> str:
    """Set up two-factor sign-in on the page; returns the secret."""
    page = client.get("/account/two-factor")
    answer = client.post("/account/two-factor", data={"csrf_token": token(page), "code": "000000"})
    assert answer.status_code == 400
    assert "That is not the code your app shows now" in text(answer)
    page = client.get("/account/two-factor")  # a new secret each time the page is shown
    secret = re.search(r'data-secret="([A-Z2-7]+)"', text(page)).group(1)
    assert "otpauth://totp/supportdesk:alice?secret=" + secret in text(page)
    answer = client.post("/account/two-factor", data={"csrf_token": token(page), "code": code_at(secret)})
    assert answer.status_code == 302
    return secret


def code_at(secret: str, offset: timedelta = timedelta()) -> str:
    from supportdesk.engine.working_time.clock import clock

    return pyotp.TOTP(secret).at(clock.now() + offset)


def send_code(client, code: str):
    page = client.get("/login/code")
    return client.post("/login/code", data={"csrf_token": token(page), "code": code})


def test_two_factor_sign_in_asks_for_a_code_and_takes_each_code_once(desk, app, browser, frozen_clock):
    signed_in(browser, "alice")
    secret = enrol(browser)
    assert 'data-two-factor="on"' in text(browser.get("/account"))
    browser.post("/logout", data={"csrf_token": token(browser.get("/calls"))})

    answer = sign_in(browser, "alice")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login/code"
    assert not is_signed_in(browser)  # the password alone opens nothing
    assert send_code(browser, "123456").status_code == 400
    frozen_clock.advance(timedelta(seconds=30))
    assert send_code(browser, code_at(secret)).status_code == 302
    assert is_signed_in(browser)

    other = app.test_client()  # the same code again, in another browser: refused
    sign_in(other, "alice")
    refused = send_code(other, code_at(secret))
    assert refused.status_code == 400
    assert "was used already" in text(refused)
    frozen_clock.advance(timedelta(seconds=30))
    assert send_code(other, code_at(secret)).status_code == 302


def test_without_the_code_step_a_password_signs_nobody_in(desk, browser, frozen_clock):
    signed_in(browser, "alice")
    enrol(browser)
    browser.post("/logout", data={"csrf_token": token(browser.get("/calls"))})
    sign_in(browser, "alice")
    frozen_clock.advance(timedelta(minutes=6))  # the password step is good for five minutes
    assert browser.get("/login/code").headers["Location"] == "/login"
    assert not is_signed_in(browser)


def test_code_guesses_are_throttled_like_passwords(desk, browser, frozen_clock):
    signed_in(browser, "alice")
    secret = enrol(browser)
    browser.post("/logout", data={"csrf_token": token(browser.get("/calls"))})
    sign_in(browser, "alice")
    for _ in range(10):
        send_code(browser, "000000")
    assert sign_in(browser, "alice").status_code == 429
    frozen_clock.advance(timedelta(minutes=16))
    sign_in(browser, "alice")
    assert send_code(browser, code_at(secret)).status_code == 302


def test_basic_auth_of_a_person_with_two_factor_needs_the_code_header(desk, app, browser, frozen_clock):
    signed_in(browser, "alice")
    secret = enrol(browser)
    client = app.test_client()
    frozen_clock.advance(timedelta(seconds=30))
    assert client.post(f"{API}/tokens", json={"name": "x"}, auth=("alice", PASSWORD)).status_code == 401
    made = client.post(
        f"{API}/tokens", json={"name": "x"}, auth=("alice", PASSWORD), headers={"X-OTP-Code": code_at(secret)}
    )
    assert made.status_code == 201


def test_admins_must_set_up_two_factor_when_the_desk_requires_it(desk, frozen_clock):
    desk.settings = replace(desk.settings, require_admin_2fa=True)
    app = desk_app(desk)
    browser = app.test_client()
    answer = sign_in(browser, "admin")
    assert answer.headers["Location"] == "/account/two-factor"
    assert browser.get("/admin").status_code == 302  # not signed in yet
    page = browser.get("/account/two-factor")
    assert "Administrators of this desk sign in with a one-time code" in text(page)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', text(page)).group(1)
    assert (
        browser.post("/account/two-factor", data={"csrf_token": token(page), "code": code_at(secret)}).status_code
        == 302
    )
    assert browser.get("/admin").status_code == 200
    assert signed_in(app.test_client(), "alice")  # other roles sign in as before
    with desk.db.reading() as session:
        assert session.query(User).filter_by(username="admin").one().totp_secret == secret
    assert base64.b32decode(secret)  # a base32 secret, as authenticator apps take it


# --- the first users --------------------------------------------------------------------------------------------


def test_serve_on_an_empty_store_makes_one_admin_with_a_generated_password_shown_once(desk, capsys):
    password = seed_first_users(desk, demo=False)
    printed = capsys.readouterr().out
    assert f"first administrator: admin, password {password}" in printed
    assert users.password_problem(password, "admin") is None
    assert users.verify_password(desk, "admin", password).roles == ("admin",)
    for old in ("demo", "admin", ""):
        assert users.verify_password(desk, "admin", old, address="192.0.2.50") is None
    with desk.db.reading() as session:
        assert [u.username for u in session.query(User)] == ["admin"]
    assert seed_first_users(desk, demo=False) is None  # a store with users: nothing made, nothing printed
    assert capsys.readouterr().out == ""


def test_serve_demo_makes_the_demo_users_with_a_generated_password(desk, capsys):
    password = seed_first_users(desk, demo=True)
    printed = capsys.readouterr().out
    assert f"demo users (password {password}):" in printed
    assert "alice" in printed
    assert password != "demo"
    assert users.verify_password(desk, "carl", password).username == "carl"
    assert users.verify_password(desk, "alice", "demo") is None
