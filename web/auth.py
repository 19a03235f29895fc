"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from supportdesk.engine.users import authenticate

from . import current_desk
from .access import DeskUser

blueprint = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired("Enter your username")],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[InputRequired("Enter your password")],
                             render_kw={"autocomplete": "current-password"})


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400 if form.errors else 200
    person = authenticate(current_desk(), form.username.data.strip(), form.password.data)
    if person is None:
        return render_template("login.html", form=form, error="Unknown username or wrong password."), 200
    login_user(DeskUser(person))
    flash(f"Signed in as {person.display_name}.", "info")
    return redirect(_local_path(request.args.get("next")) or url_for("tasks.inbox"))


@blueprint.route("/logout", methods=["POST"])
def logout():
    logout_user()
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
