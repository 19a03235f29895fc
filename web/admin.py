"""Administration: the deployed diagram versions (checking and deploying changed files: process owners),
and the users."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from supportdesk.engine import admin
from supportdesk.engine.errors import DiagramError, InvalidInput, NotAllowed, NotFound
from supportdesk.engine.mail import delivery, imap, inbound
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.people import users as people
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.tickets import incidents as step_incidents
from supportdesk.engine.tickets import jobs

from . import current_desk, diagram_files, diagram_view
from .access import ADMIN, PROCESS_OWNER, requires_roles

blueprint = Blueprint("admin", __name__)


class UploadForm(FlaskForm):
    # No WTForms validators beyond the CSRF token: the engine decides what can be deployed.
    files = MultipleFileField("Diagram files (.bpmn, .dmn)", render_kw={"accept": ".bpmn,.dmn", "required": True})


class UserForm(FlaskForm):
    username = StringField("Username", render_kw={"required": True, "maxlength": 100, "autocomplete": "off"})
    display_name = StringField("Full name", render_kw={"maxlength": 200})
    email = EmailField("Email", render_kw={"maxlength": 320})
    password = PasswordField("Password", render_kw={"required": True, "autocomplete": "new-password"})
    roles = SelectMultipleField(
        "Roles",
        choices=[SelectChoice(role, name) for role, name in ROLES.items()],
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


@blueprint.route("/admin")
@requires_roles(ADMIN)
def overview():
    return render_template("admin.html", overview=admin.overview(current_desk()))


@blueprint.route("/admin/versions", methods=["GET"])
@requires_roles(PROCESS_OWNER)
def versions():
    return _versions_page(UploadForm())


@blueprint.route("/admin/versions", methods=["POST"])
@requires_roles(PROCESS_OWNER)
def upload():
    """Check the chosen files (the Check button: every problem, and the difference from the active
    version drawn; nothing stored), or check and deploy them at once."""
    form = UploadForm()
    if not form.validate_on_submit():  # CSRFProtect refuses a missing token before this; kept for clarity
        return _versions_page(form), 400
    # Read one byte past the engine's limit: enough for it to refuse an oversized file by name.
    uploads = [
        (storage.filename or "", storage.read(admin.MAX_DIAGRAM_BYTES + 1))
        for storage in form.files.data or []
        if storage
    ]
    if request.form.get("action") == "check":
        return _checked(form, uploads)
    return _deploy(form, uploads)


@blueprint.route("/admin/versions/deploy", methods=["POST"])
@requires_roles(PROCESS_OWNER)
def deploy_checked():
    """Deploy the files checked a moment ago, which the check's form carries back (a file input cannot
    be filled again), provided the set is still the one checked."""
    if not FlaskForm().validate_on_submit():  # CSRFProtect refuses a missing token before this
        abort(400)
    try:
        uploads = [
            (name, diagram_files.unpacked(packed, admin.MAX_DIAGRAM_BYTES + 1))
            for name, packed in zip(request.form.getlist("name"), request.form.getlist("packed"), strict=True)
        ]
    except ValueError:
        form = UploadForm(formdata=None)
        form.files.errors = ["The checked files did not come back whole; choose them again and check them."]
        return _versions_page(form), 400
    checked = admin.Checked(request.form.get("checked", ""), request.form.get("against", type=int))
    return _deploy(UploadForm(formdata=None), uploads, checked)


def _checked(form: UploadForm, uploads: list[tuple[str, bytes]]):
    try:
        check = admin.check_uploaded(current_desk(), uploads)
    except InvalidInput as exc:
        form.files.errors = list(exc.fields.values()) or [str(exc)]
        return _versions_page(form), 400
    return _versions_page(form, check=check)


def _deploy(form: UploadForm, uploads: list[tuple[str, bytes]], checked: admin.Checked | None = None):
    try:
        result = admin.deploy_uploaded(current_desk(), uploads, current_user.username, checked=checked)
    except InvalidInput as exc:
        form.files.errors = list(exc.fields.values()) or [str(exc)]
        return _versions_page(form), 400
    except DiagramError as exc:
        return _versions_page(form, refused=exc), 400
    except NotAllowed as exc:
        flash(f"Not deployed: {exc}.", "error")
        return redirect(url_for("admin.versions"))
    flash(_describe(result), "info" if result.outcome == "unchanged" else "success")
    return redirect(url_for("admin.versions"))


def _describe(result) -> str:
    text = result.describe()
    text = text[:1].upper() + text[1:]
    if result.warnings:
        text += f" ({len(result.warnings)} warning{'s' if len(result.warnings) != 1 else ''}, listed below)"
    return text + "."


def _versions_page(
    form: UploadForm, refused: DiagramError | None = None, check: admin.UploadCheck | None = None
) -> str:
    versions = admin.list_versions(current_desk())
    return render_template(
        "admin_versions.html",
        versions=versions,
        drawings={
            v.number: [diagram_view.stored(v.number, name) for name in v.files if name.endswith(".bpmn")]
            for v in versions
        },
        form=form,
        problems=diagram_files.problems_of(refused) if refused else (),
        check=check,
        comparisons=diagram_files.check_comparisons(check) if check else [],
        packed=diagram_files.packed_files(check) if check and not check.errors else [],
    )


@blueprint.route("/admin/users", methods=["GET", "POST"])
@requires_roles(ADMIN)
def users():
    form = UserForm()
    if not form.validate_on_submit():
        return _users_page(form), 400 if form.errors else 200
    new_user = people.NewUser(
        username=form.username.data or "",
        password=form.password.data or "",
        roles=list(form.roles.data or []),
        display_name=form.display_name.data or "",
        email=form.email.data or "",
    )
    try:
        person = people.add_user(current_desk(), new_user, current_user.username)
    except InvalidInput as exc:
        general = [message for name, message in exc.fields.items() if name not in form] or (
            [] if exc.fields else [str(exc)]
        )
        for name, message in exc.fields.items():
            if name in form:
                form[name].errors = [message]
        return _users_page(form, general), 400
    flash(f"Added {person.username} ({', '.join(ROLES[r] for r in person.roles)}).", "success")
    return redirect(url_for("admin.users"))


def _users_page(form: UserForm, errors: list[str] | None = None, **shown) -> str:
    desk = current_desk()
    return render_template(
        "admin_users.html",
        users=admin.list_users(desk),
        changes=people.recent_changes(desk),
        form=form,
        errors=errors,
        roles=ROLES,
        **shown,
    )


def _refused(exc: InvalidInput | NotAllowed) -> None:
    fields = exc.fields.items() if isinstance(exc, InvalidInput) else []
    for name, message in fields or [("", str(exc))]:
        flash(f"Not changed: {name.replace('_', ' ')}: {message}" if name else f"Not changed: {message}", "error")


def _user_action(change, done: str):
    """A change to one user from the users page: refused input is flashed, naming the field."""
    if not FlaskForm().validate_on_submit():  # CSRFProtect refuses a missing token before this
        return redirect(url_for("admin.users"))
    try:
        person = change()
    except (InvalidInput, NotAllowed) as exc:
        _refused(exc)
        return redirect(url_for("admin.users"))
    flash(done.format(username=person.username), "success")
    return redirect(url_for("admin.users"))


@blueprint.route("/admin/users/<username>/roles", methods=["POST"])
@requires_roles(ADMIN)
def user_roles(username: str):
    """Set a person's roles; taking one away signs out their sessions (engine.users.set_roles)."""
    command = people.ChangeRoles(username, request.form.getlist("roles"))
    return _user_action(
        lambda: people.set_roles(current_desk(), command, current_user.username),
        "The roles of {username} are changed.",
    )


@blueprint.route("/admin/users/<username>/reset-password", methods=["POST"])
@requires_roles(ADMIN)
def user_reset_password(username: str):
    """A temporary password for a person who forgot theirs, shown on this answer only (never in a
    redirect's flash, which the session cookie would carry): they choose a new one when they sign in."""
    if not FlaskForm().validate_on_submit():  # CSRFProtect refuses a missing token before this
        return redirect(url_for("admin.users"))
    try:
        reset = people.reset_password(current_desk(), people.ResetPassword(username), current_user.username)
    except (InvalidInput, NotAllowed) as exc:
        _refused(exc)
        return redirect(url_for("admin.users"))
    page = _users_page(UserForm(formdata=None), temporary=reset)
    return page, 200, {"Cache-Control": "no-store"}


@blueprint.route("/admin/users/<username>/two-factor-off", methods=["POST"])
@requires_roles(ADMIN)
def user_two_factor_off(username: str):
    """Turn off a person's two-factor sign-in (a lost phone); they can set it up again."""
    return _user_action(
        lambda: people.disable_two_factor(current_desk(), people.TurnOffTwoFactor(username), current_user.username),
        "Two-factor sign-in of {username} is off; their sessions are signed out.",
    )


@blueprint.route("/admin/users/<username>/disable", methods=["GET"])
@requires_roles(ADMIN)
def confirm_disable(username: str):
    """Asks before disabling: the person is signed out everywhere and their API tokens stop."""
    row = next((row for row in admin.list_users(current_desk()) if row.person.username == username), None)
    if row is None:
        raise NotFound(f"No user {username!r}")
    return render_template("admin_user_disable.html", person=row.person, form=FlaskForm())


@blueprint.route("/admin/users/<username>/disable", methods=["POST"])
@requires_roles(ADMIN)
def user_disable(username: str):
    return _user_action(
        lambda: people.disable_user(current_desk(), people.DisableUser(username), current_user.username),
        "{username} is disabled: signed out everywhere, and their API tokens are refused.",
    )


@blueprint.route("/admin/users/<username>/enable", methods=["POST"])
@requires_roles(ADMIN)
def user_enable(username: str):
    return _user_action(
        lambda: people.enable_user(current_desk(), people.EnableUser(username), current_user.username),
        "{username} is enabled again and can sign in.",
    )


@blueprint.route("/admin/mail", methods=["GET"])
@requires_roles(ADMIN)
def mail():
    """Mail that failed (kept, never dropped), where received mail is (on calls, held for review, not
    opened, discarded, quarantined), and mail that could not be read (quarantined)."""
    desk = current_desk()
    return render_template(
        "admin_mail.html",
        counts=mail_queries.outbox_counts(desk),
        failed=mail_queries.failed_mail(desk),
        quarantined=mail_queries.quarantined_mail(desk),
        enabled=mail_queries.mail_delivery_enabled(desk),
        incidents=jobs.incidents(desk),
        step_incidents=step_incidents.listing(desk),  # steps that failed in the engine (issue 21)
        received=mail_queries.received_counts(desk),
        places=mail_queries.RECEIVED_PLACES,
        form=FlaskForm(),
    )


@blueprint.route("/admin/incidents/<int:job_id>/retry", methods=["POST"])
@requires_roles(ADMIN)
def retry_incident(job_id: int):
    """A job that failed its last try runs again at the worker's next pass."""
    jobs.retry_incident(current_desk(), job_id, current_user.username)
    flash(f"Job {job_id} will run again.", "success")
    return redirect(url_for("admin.mail"))


@blueprint.route("/admin/mail/<int:mail_id>/retry", methods=["POST"])
@requires_roles(ADMIN)
def retry_mail(mail_id: int):
    delivery.retry_failed(current_desk(), mail_id, current_user.username)
    flash(f"Mail {mail_id} is queued again.", "success")
    return redirect(url_for("admin.mail"))


@blueprint.route("/admin/mail/quarantine/<int:quarantined_id>/release", methods=["POST"])
@requires_roles(ADMIN)
def release_mail(quarantined_id: int):
    receipt = inbound.release(current_desk(), quarantined_id)
    flash(f"Quarantined mail {quarantined_id}: {receipt.describe()}", "success")
    return redirect(url_for("admin.mail"))


@blueprint.route("/admin/mailboxes", methods=["GET"])
@requires_roles(ADMIN)
def mailboxes():
    """The team's IMAP mailboxes the worker reads (issue 24): their last fetch, mail filed, and while one fails
    the server's answer and the next try."""
    return render_template("admin_mailboxes.html", mailboxes=imap.statuses(current_desk()))
