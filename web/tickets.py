"""Calls: log a call (C01, C02), the ticket page with its history, recent calls."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import DateTimeLocalInput

from supportdesk.engine.bounds import moment_problem
from supportdesk.engine.conversation import seen
from supportdesk.engine.errors import InvalidInput, NoActiveVersion
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.working_time.clock import DISPLAY_ZONE

from . import current_desk
from .access import CALL_LOGGERS, STAFF_ROLES, requires_roles
from .ticket_page import render_ticket

blueprint = Blueprint("tickets", __name__)

RECENT_LIMIT = 50


def _options(vocabulary: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in vocabulary.items()]


class LogCallForm(FlaskForm):
    # No WTForms validators: CallDetails.validated() in the engine decides, for every door.
    # The maxlength hints match the ticket's columns; the choices are the engine's vocabularies.
    contact_name = StringField("Contact name", render_kw={"required": True, "maxlength": 200})
    contact_email = EmailField("Contact email", render_kw={"required": True, "maxlength": 320})
    account = StringField("Account", render_kw={"required": True, "maxlength": 200})
    summary = TextAreaField("Summary", render_kw={"required": True, "maxlength": 500, "rows": 4})
    channel = RadioField("Channel", choices=_options(CHANNELS), default="phone", validate_choice=False)
    licence_type = RadioField("Licence type", choices=_options(LICENCE_TYPES), default="saas", validate_choice=False)
    request_kind = SelectField(
        "Kind of request", choices=_options(REQUEST_KINDS), default="problem", validate_choice=False
    )
    symptom = SelectField(
        "What blocks the customer", choices=_options(SYMPTOMS), default="other", validate_choice=False
    )
    campaign_at = StringField(
        "Next campaign (London time; leave empty if none is scheduled)", widget=DateTimeLocalInput()
    )
    preparing_campaign = BooleanField("The customer is preparing a future campaign")

    def details(self) -> commands.CallDetails:
        """The details as the engine takes them; InvalidInput names every bad field, the campaign
        moment (which only this form parses) included."""
        campaign_at, problem = _london_moment(self.campaign_at.data)
        # A field missing from the POST has no data; the engine then reports it as required.
        details = commands.CallDetails(
            contact_name=self.contact_name.data or "",
            contact_email=self.contact_email.data or "",
            account=self.account.data or "",
            summary=self.summary.data or "",
            channel=self.channel.data or "",
            licence_type=self.licence_type.data or "",
            request_kind=self.request_kind.data or "",
            symptom=self.symptom.data or "",
            campaign_at=campaign_at,
            preparing_campaign=self.preparing_campaign.data,
        )
        if problem is None:
            return details
        try:
            details.validated()
        except InvalidInput as exc:
            raise InvalidInput(str(exc), {**exc.fields, "campaign_at": problem}) from None
        raise InvalidInput("the call cannot be logged", {"campaign_at": problem})


def _london_moment(text: str | None) -> tuple[datetime | None, str | None]:
    """A datetime-local value (no zone) is what the advisor read on a London clock:
    (the aware moment, None), (None, None) when empty, or (None, the problem)."""
    text = (text or "").strip()
    if not text:
        return None, None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, "Enter the campaign's date and time, like 2026-12-01 09:00"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_ZONE)
    problem = moment_problem(moment)  # the year 9999 is no campaign (and has no UTC moment to store)
    return (None, problem) if problem else (moment, None)


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
        return render_template(
            "log_call.html",
            form=form,
            error=(
                "Calls cannot be logged yet: no support charter diagram is deployed. "
                "An administrator must run `supportdesk deploy`."
            ),
        ), 503
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
    return render_ticket(reference)


@blueprint.route("/calls")
@requires_roles(*STAFF_ROLES)
def calls():
    tickets = queries.recent_tickets(current_desk(), limit=RECENT_LIMIT)
    replied = seen.replied_since_seen(current_desk(), current_user.username, [t.reference for t in tickets])
    return render_template("calls.html", tickets=tickets, replied=replied)
