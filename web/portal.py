"""The customer portal (C25, C27, C28): the link from the confirmation mail signs the
customer in for their own calls; nothing an advisor wrote for colleagues is shown."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from supportdesk.engine import portal, queries
from supportdesk.engine.errors import InvalidInput, NotAllowed

from . import current_desk

blueprint = Blueprint("portal", __name__, url_prefix="/portal")
CONTACT = "portal_contact"  # the session key: which customer this browser speaks for


class InformationForm(FlaskForm):
    text = TextAreaField("Information to add", validators=[InputRequired(), Length(max=4000)])


class FeedbackForm(FlaskForm):
    rating = IntegerField("How did we do, from 1 (poor) to 5 (excellent)?",
                          validators=[Optional(), NumberRange(min=1, max=5)])
    comment = TextAreaField("Your comments", validators=[Length(max=4000)])


class EscalationForm(FlaskForm):
    concern = TextAreaField("What are you unhappy about?", validators=[InputRequired(), Length(max=4000)])


def customer_only(view):
    """A portal page needs the customer's link first; staff sign-ins do not open it."""

    @wraps(view)
    def checked(*args, **kwargs):
        if not session.get(CONTACT):
            return render_template("portal_no_access.html"), 403
        return view(session[CONTACT], *args, **kwargs)

    return checked


@blueprint.route("/<token>")
def enter(token: str):
    contact = portal.contact_for_token(current_desk(), token)
    if contact is None:
        return render_template("portal_no_access.html", bad_link=True), 404
    session.clear()  # a new link replaces whoever this browser spoke for
    session[CONTACT] = contact
    return redirect(url_for("portal.calls"))


@blueprint.route("/")
@customer_only
def calls(contact: str):
    return render_template("portal_calls.html", contact=contact, calls=queries.customer_calls(current_desk(), contact))


@blueprint.route("/calls/<reference>")
@customer_only
def call(contact: str, reference: str):
    return _page(contact, reference)


def _page(contact: str, reference: str, *, refusal: str | None = None, status: int = 200, **posted):
    shown = portal.call_for_customer(current_desk(), contact, reference)  # NotFound: the 404 page
    forms = {"information": InformationForm(prefix="information", formdata=None),
             "feedback": FeedbackForm(prefix="feedback", formdata=None),
             "escalation": EscalationForm(prefix="escalation", formdata=None), **posted}
    return render_template("portal_call.html", call=shown, forms=forms, refusal=refusal), status


@blueprint.route("/calls/<reference>/information", methods=["POST"])
@customer_only
def add_information(contact: str, reference: str):
    form = InformationForm(prefix="information")
    return _act(contact, reference, "information", form,
                lambda: portal.add_information(current_desk(), contact, reference, form.text.data),
                "Thank you: your information is added to the call.")


@blueprint.route("/calls/<reference>/feedback", methods=["POST"])
@customer_only
def leave_feedback(contact: str, reference: str):
    form = FeedbackForm(prefix="feedback")
    return _act(contact, reference, "feedback", form,
                lambda: portal.leave_feedback(current_desk(), contact, reference, form.rating.data,
                                              form.comment.data or ""),
                "Thank you for your feedback.")


@blueprint.route("/calls/<reference>/escalation", methods=["POST"])
@customer_only
def escalate(contact: str, reference: str):
    form = EscalationForm(prefix="escalation")
    return _act(contact, reference, "escalation", form,
                lambda: portal.ask_to_escalate(current_desk(), contact, reference, form.concern.data),
                "Your concern is with your Account Manager, who will contact you.")


def _act(contact: str, reference: str, name: str, form: FlaskForm, command, done: str):
    if not form.validate():
        return _page(contact, reference, status=400, **{name: form})
    try:
        command()
    except InvalidInput as exc:
        return _page(contact, reference, refusal=str(exc), status=400, **{name: form})
    except NotAllowed as exc:
        return _page(contact, reference, refusal=f"{exc}.", status=409, **{name: form})
    flash(done, "success")
    return redirect(url_for("portal.call", reference=reference))


@blueprint.route("/leave", methods=["POST"])
def leave():
    session.pop(CONTACT, None)
    return redirect(url_for("portal.calls"))



