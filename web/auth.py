"""Signing in and out, one's own password and two-factor sign-in (TOTP).

Failed sign-ins are throttled per account and per client address (engine.throttle): the refusal says when
to try again. A person with two-factor sign-in gives a one-time code after the password; an admin, where
the desk requires it (SUPPORTDESK_REQUIRE_ADMIN_2FA), sets it up before being signed in. A person whose
password an admin reset signs in with the temporary one and then must choose a new one before anything else
(no session is made until they have). A disabled person is told so (only once the password is right). Signing
out ends every session of the person (engine.users.end_sessions), so a copy of the cookie opens nothing after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.people import users
from supportdesk.engine.people.throttle import TooManyAttempts
from supportdesk.engine.working_time.clock import clock

from . import current_desk
from .access import DeskUser
from .landing import landing_url

blueprint = Blueprint("auth", __name__)
PENDING = "sign_in_pending"  # the session key: a password checked, a code (or setting one up) still to come
ENROLLING = "totp_enrolling"  # the session key: the secret being set up, until a code confirms it
# The session key: every sign-in step passed with a temporary password; a new one is still to be chosen.
CHOOSING = "new_password_due"
PENDING_FOR = timedelta(minutes=5)
CHOOSING_FOR = timedelta(minutes=15)  # time enough to think of a good password
WRONG = "Unknown username or wrong password."


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[InputRequired("Enter your username")],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password")], render_kw={"autocomplete": "current-password"}
    )


class CodeForm(FlaskForm):
    code = StringField(
        "One-time code",
        validators=[InputRequired("Enter the 6-digit code from your app"), Length(max=10)],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "autofocus": True,
            "required": True,
            "maxlength": 10,
        },
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password")],
        render_kw={"autocomplete": "current-password", "required": True},
    )
    new_password = PasswordField(
        f"New password (at least {users.MIN_PASSWORD_LENGTH} characters)",
        validators=[InputRequired("Enter a new password")],
        render_kw={
            "autocomplete": "new-password",
            "required": True,
            "minlength": users.MIN_PASSWORD_LENGTH,
            "maxlength": users.MAX_PASSWORD_LENGTH,
        },
    )


class NewPasswordForm(FlaskForm):
    new_password = PasswordField(
        f"New password (at least {users.MIN_PASSWORD_LENGTH} characters)",
        validators=[InputRequired("Enter a new password")],
        render_kw={
            "autocomplete": "new-password",
            "required": True,
            "autofocus": True,
            "minlength": users.MIN_PASSWORD_LENGTH,
            "maxlength": users.MAX_PASSWORD_LENGTH,
        },
    )
    repeated = PasswordField(
        "The same again",
        validators=[InputRequired("Enter the new password again"), EqualTo("new_password", "The two passwords differ")],
        render_kw={"autocomplete": "new-password", "required": True},
    )


def _address() -> str | None:
    return request.remote_addr


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400 if form.errors else 200
    desk = current_desk()
    try:
        person = users.verify_password(desk, form.username.data.strip(), form.password.data, address=_address())
    except TooManyAttempts as refused:
        return (
            render_template("login.html", form=form, error=str(refused)),
            429,
            {"Retry-After": str(refused.retry_after)},
        )
    except users.AccountDisabled as refused:
        return render_template("login.html", form=form, error=str(refused)), 403
    if person is None:
        return render_template("login.html", form=form, error=WRONG), 200
    next_path = _local_path(request.args.get("next"))
    if person.two_factor or users.needs_enrolment(desk, person):
        session[PENDING] = {
            "id": person.id,
            "epoch": person.session_epoch,
            "next": next_path,
            "at": clock.now().isoformat(),
        }
        return redirect(url_for("auth.code" if person.two_factor else "auth.two_factor"))
    return _signed_in(person, next_path)


def _signed_in(person: users.Person, next_path: str | None):
    session.pop(PENDING, None)
    if person.password_change_due:  # a temporary password: it opens only the page to choose a new one
        session[CHOOSING] = {
            "id": person.id,
            "epoch": person.session_epoch,
            "next": next_path,
            "at": clock.now().isoformat(),
        }
        return redirect(url_for("auth.new_password"))
    login_user(DeskUser(person))
    flash(f"Signed in as {person.display_name}.", "info")
    return redirect(next_path or landing_url(person.roles))


def _pending(key: str = PENDING, good_for: timedelta = PENDING_FOR) -> tuple[users.Person, str | None] | None:
    """Who passed the password step (``PENDING``), or every step with a temporary password (``CHOOSING``),
    in this browser in the last few minutes, and is unchanged (and not disabled) since."""
    pending = session.get(key)
    if not isinstance(pending, dict):
        return None
    try:
        fresh = clock.now() - datetime.fromisoformat(pending["at"]) < good_for
    except (KeyError, TypeError, ValueError):
        fresh = False
    person = users.get_person(current_desk(), pending.get("id", 0)) if fresh else None
    if person is None or person.session_epoch != pending.get("epoch") or person.disabled:
        session.pop(key, None)
        return None
    return person, pending.get("next")


def _start_again():
    flash("Please sign in again.", "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/login/code", methods=["GET", "POST"])
def code():
    pending = _pending()
    if pending is None or not pending[0].two_factor:
        return _start_again()
    person, next_path = pending
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("login_code.html", form=form), 400 if form.errors else 200
    try:
        accepted = users.verify_code(current_desk(), person, form.code.data, address=_address())
    except TooManyAttempts as refused:
        session.pop(PENDING, None)
        return (
            render_template("login_code.html", form=form, error=str(refused)),
            429,
            {"Retry-After": str(refused.retry_after)},
        )
    if not accepted:
        form.code.errors = ["That code is not right (or was used already): enter the one your app shows now"]
        return render_template("login_code.html", form=form), 400
    return _signed_in(person, next_path)


@blueprint.route("/login/new-password", methods=["GET", "POST"])
def new_password():
    """After signing in with a temporary password: choose a new one, then be signed in."""
    pending = _pending(CHOOSING, CHOOSING_FOR)
    if pending is None or not pending[0].password_change_due:
        return _start_again()
    person, next_path = pending
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("new_password.html", form=form, person=person), 400 if form.errors else 200
    try:
        person = users.choose_new_password(current_desk(), person, users.ChooseNewPassword(form.new_password.data))
    except InvalidInput as exc:
        for name, message in exc.fields.items():
            form[name].errors = [message]
        return render_template("new_password.html", form=form, person=person), 400
    except NotAllowed:
        session.pop(CHOOSING, None)
        return _start_again()
    session.pop(CHOOSING, None)
    flash("Your new password is set.", "success")
    return _signed_in(person, next_path)


@blueprint.route("/account/two-factor", methods=["GET", "POST"])
def two_factor():
    """Setting up two-factor sign-in: for a signed-in person, or an admin who must before signing in."""
    if current_user.is_authenticated:
        person, next_path = current_user.person, None
    else:
        pending = _pending()
        if pending is None:
            return _start_again()
        person, next_path = pending
    form = CodeForm()
    secret = session.get(ENROLLING)
    if request.method == "GET" or not secret:
        secret = session[ENROLLING] = users.new_totp_secret()
        form = CodeForm(formdata=None)
    elif form.validate_on_submit():
        try:
            person = users.enable_two_factor(current_desk(), person, secret, form.code.data)
        except InvalidInput as exc:
            form.code.errors = list(exc.fields.values())
        else:
            session.pop(ENROLLING, None)
            flash(
                "Two-factor sign-in is on: you will be asked for a code from your app each time you sign in.", "success"
            )
            if current_user.is_authenticated:  # the other sessions ended; this one goes on
                login_user(DeskUser(person))
                return redirect(url_for("auth.account"))
            return _signed_in(person, next_path)
    required = not current_user.is_authenticated
    return render_template(
        "two_factor.html", form=form, secret=secret, required=required, uri=users.totp_uri(secret, person.username)
    ), 400 if form.errors else 200


@blueprint.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """One's own password, and two-factor sign-in."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("account.html", form=form), 400 if form.errors else 200
    change = users.ChangeOwnPassword(form.current_password.data, form.new_password.data)
    try:
        person = users.change_password(current_desk(), current_user.person, change, address=_address())
    except TooManyAttempts as refused:
        return (
            render_template("account.html", form=form, error=str(refused)),
            429,
            {"Retry-After": str(refused.retry_after)},
        )
    except InvalidInput as exc:
        for name, message in exc.fields.items():
            form[name].errors = [message]
        return render_template("account.html", form=form), 400
    login_user(DeskUser(person))  # every other session ended with the old password; this one goes on
    flash("Your password is changed; your other sessions are signed out.", "success")
    return redirect(url_for("auth.account"))


@blueprint.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        users.end_sessions(current_desk(), current_user.person.id)
    logout_user()
    session.pop(PENDING, None)
    session.pop(CHOOSING, None)
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


def _local_path(target: str | None) -> str | None:
    """``next`` only ever leads to a path on this site, never to another host (open redirect)."""
    if not target:
        return None
    # Browsers read "//host" and "/\host" as other hosts, and drop tabs and newlines
    # before doing so ("/\t/host"), so refuse backslashes and control characters outright.
    if "\\" in target or any(ord(ch) < 33 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
