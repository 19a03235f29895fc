"""Calls: log a call (C01, C02), the ticket page with its history, the calls list (search, filters, saved
views)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import DateTimeLocalInput

from supportdesk.engine.bounds import moment_problem
from supportdesk.engine.conversation import seen
from supportdesk.engine.errors import ConflictError, InvalidInput, NoActiveVersion
from supportdesk.engine.people import saved_views
from supportdesk.engine.process.roles import ROLES, TASK_ROLES
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.working_time.clock import DISPLAY_ZONE
from supportdesk.engine.working_time.sla_policy import PRIORITIES

from . import call_filters, current_desk
from .access import CALL_LOGGERS, STAFF_ROLES, requires_roles
from .ticket_page import render_ticket

blueprint = Blueprint("tickets", __name__)

PAGE_SIZE = 50


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
    """The calls list: one search box, filters that combine, a sort, keyset pages, saved views."""
    asked = call_filters.read(request.args)
    if not asked.errors and "" in request.args.values():  # the form sends its empty fields too
        return redirect(_calls_address(asked.query_string, after=asked.cursor))
    page, status = None, 200
    if not asked.errors:
        try:
            page = queries.find_tickets(
                current_desk(), asked.filters, viewer=current_user.username, cursor=asked.cursor, limit=PAGE_SIZE
            )
        except InvalidInput as exc:
            asked.errors.update(call_filters.page_errors(exc))
    if asked.errors:
        status = 400
    rows = page.rows if page else []
    replied = seen.replied_since_seen(current_desk(), current_user.username, [row.reference for row in rows])
    return render_template(
        "calls.html",
        asked=asked,
        page=page,
        rows=rows,
        replied=replied,
        views=saved_views.views_for(current_desk(), current_user.username),
        built_in=call_filters.BUILT_IN_VIEWS,
        save_form=SaveViewForm(query=asked.query_string),
        vocabularies=_vocabularies(),
    ), status


def _vocabularies() -> dict[str, list[tuple[str, str]]]:
    """Each select's options: (value, what people read)."""
    priorities = [*((priority, priority) for priority in PRIORITIES), (queries.NONE, "Not triaged")]
    return {
        "status": [(status, status.capitalize()) for status in queries.STATUSES],
        "priority": priorities,
        "kind": [(kind, kind.capitalize()) for kind in queries.KINDS],
        "role": [*((role, ROLES[role]) for role in TASK_ROLES), (queries.NONE, "No open task")],
        "breached": [("true", "Breached"), ("false", "Not breached")],
        "sort": list(queries.SORTS.items()),
    }


class SaveViewForm(FlaskForm):
    name = StringField("Name", render_kw={"required": True, "maxlength": saved_views.NAME_CHARS})
    shared = BooleanField("Share it with everyone at the desk")
    query = HiddenField()


@blueprint.route("/calls/views", methods=["POST"])
@requires_roles(*STAFF_ROLES)
def save_view():
    form = SaveViewForm()
    asked = call_filters.from_query_string(form.query.data or "")
    query = asked.query_string  # as the list writes it: only filters the list reads
    if asked.errors:
        flash(f"The view was not saved: {' '.join(asked.errors.values())}", "error")
    elif form.validate_on_submit():
        command = saved_views.SaveView(form.name.data or "", query, bool(form.shared.data))
        try:
            saved_views.save_view(current_desk(), command, current_user.username)
        except (InvalidInput, ConflictError) as exc:
            problems = getattr(exc, "fields", {}) or {"name": str(exc)}
            flash(f"The view was not saved: {' '.join(problems.values())}", "error")
        else:
            flash(f"View saved: {command.validated().name}", "success")
    return redirect(_calls_address(query))


@blueprint.route("/calls/views/<int:view_id>/delete", methods=["POST"])
@requires_roles(*STAFF_ROLES)
def delete_view(view_id: int):
    form = FlaskForm()
    if form.validate_on_submit():
        name = saved_views.delete_view(current_desk(), view_id, current_user.username, any_owner=current_user.is_admin)
        flash(f"View deleted: {name}", "success")
    return redirect(url_for("tickets.calls"))


def _calls_address(query: str, *, after: str | None = None) -> str:
    """The calls list with ``query`` (a saved view's query string; anything else in it the list refuses)."""
    query = "&".join(part for part in (query.strip().lstrip("?"), urlencode({"after": after}) if after else "") if part)
    return f"{url_for('tickets.calls')}?{query}" if query else url_for("tickets.calls")
