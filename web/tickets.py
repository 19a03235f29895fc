"""Calls: log a call (C01, C02), the ticket page with its history, recent calls."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from supportdesk.engine import commands, queries
from supportdesk.engine.errors import InvalidInput, NoActiveVersion

from . import current_desk
from .access import CALL_LOGGERS, STAFF_ROLES, requires_roles

blueprint = Blueprint("tickets", __name__)

RECENT_LIMIT = 50


class LogCallForm(FlaskForm):
    # No WTForms validators: CallDetails.validated() in the engine decides, for every door.
    # The maxlength hints match the ticket's columns.
    contact_name = StringField("Contact name", render_kw={"required": True, "maxlength": 200})
    contact_email = EmailField("Contact email", render_kw={"required": True, "maxlength": 320})
    account = StringField("Account", render_kw={"required": True, "maxlength": 200})
    summary = TextAreaField("Summary", render_kw={"required": True, "maxlength": 500, "rows": 4})
    channel = RadioField("Channel", choices=[SelectChoice(c, c.capitalize()) for c in commands.CHANNELS],
                         default="phone", validate_choice=False)

    def details(self) -> commands.CallDetails:
        # A field missing from the POST has no data; the engine then reports it as required.
        return commands.CallDetails(
            contact_name=self.contact_name.data or "", contact_email=self.contact_email.data or "",
            account=self.account.data or "", summary=self.summary.data or "", channel=self.channel.data or "")


@blueprint.route("/calls/new", methods=["GET", "POST"])
@requires_roles(*CALL_LOGGERS)
def new_call():
    form = LogCallForm()
    if not form.validate_on_submit():
        return render_template("log_call.html", form=form)
    try:
        reference = commands.log_call(current_desk(), form.details(), current_user.username)
    except InvalidInput as exc:
        return render_template("log_call.html", form=form, errors=_show_errors(form, exc)), 400
    except NoActiveVersion:
        return render_template("log_call.html", form=form, error=(
            "Calls cannot be logged yet: no support charter diagram is deployed. "
            "An administrator must run `supportdesk deploy`.")), 503
    flash(f"Call logged: {reference}", "success")
    return redirect(url_for("tickets.ticket", reference=reference))


def _show_errors(form: LogCallForm, exc: InvalidInput) -> list[str]:
    """Each message next to its field; any that fits no field goes above the form."""
    general = [] if exc.fields else [str(exc)]
    for name, message in exc.fields.items():
        if name in form:
            form[name].errors = [message]
        else:
            general.append(message)
    return general


@blueprint.route("/calls/<reference>")
@requires_roles(*STAFF_ROLES)
def ticket(reference: str):
    view = queries.ticket_view(current_desk(), reference)  # NotFound becomes the 404 page
    return render_template("ticket.html", ticket=view)


@blueprint.route("/calls")
@requires_roles(*STAFF_ROLES)
def calls():
    return render_template("calls.html", tickets=queries.recent_tickets(current_desk(), limit=RECENT_LIMIT))
