"""The customer portal (C25, C27, C28): the link from the confirmation mail signs the
customer in for their own calls; nothing an advisor wrote for colleagues is shown."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.people import portal, portal_access
from supportdesk.engine.tickets import queries

from . import current_desk
from .access import ESCALATORS, requires_roles
from .auth import _local_path

blueprint = Blueprint("portal", __name__, url_prefix="/portal")
CONTACT = "portal_contact"  # the session key: which customer this browser speaks for
ACCESS = "portal_access"  # the session key: the link it came in with (revoked or expired: the session ends)


class InformationForm(FlaskForm):
    text = TextAreaField("Information to add", validators=[InputRequired(), Length(max=4000)])


class FeedbackForm(FlaskForm):
    rating = IntegerField(
        "How did we do, from 1 (poor) to 5 (excellent)?", validators=[Optional(), NumberRange(min=1, max=5)]
    )
    comment = TextAreaField("Your comments", validators=[Length(max=4000)])


class EscalationForm(FlaskForm):
    concern = TextAreaField("What are you unhappy about?", validators=[InputRequired(), Length(max=4000)])


class LinkRequestForm(FlaskForm):
    email = EmailField(
        "Your email address",
        validators=[InputRequired("Enter your email address"), Length(max=320)],
        render_kw={"autocomplete": "email", "required": True, "maxlength": 320},
    )


def customer_only(view):
    """A portal page needs the customer's link first, and the link must still work (not expired, not
    revoked: checked on every page); staff sign-ins do not open it."""

    @wraps(view)
    def checked(*args, **kwargs):
        access = session.get(ACCESS)
        if (
            not session.get(CONTACT)
            or not isinstance(access, int)
            or not portal_access.access_is_valid(current_desk(), access)
        ):
            session.pop(CONTACT, None)
            session.pop(ACCESS, None)
            return render_template("portal_no_access.html"), 403
        return view(session[CONTACT], *args, **kwargs)

    return checked


@blueprint.route("/new-link", methods=["GET", "POST"])
def new_link():
    """A customer whose link expired asks for a new one: mailed to the address only if it has calls, and
    the page answers the same either way, so it tells nobody whose address it is."""
    form = LinkRequestForm()
    if not form.validate_on_submit():
        return render_template("portal_new_link.html", form=form), 400 if form.errors else 200
    portal_access.request_link(current_desk(), form.email.data)
    return render_template("portal_new_link.html", form=form, sent_to=form.email.data.strip())


@blueprint.route("/<token>")
def enter(token: str):
    entry = portal_access.enter(current_desk(), token)
    if entry is None:
        return render_template("portal_no_access.html", bad_link=True), 404
    session.clear()  # a new link replaces whoever this browser spoke for
    session[CONTACT], session[ACCESS] = entry.contact, entry.access_id
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
    forms = {
        "information": InformationForm(prefix="information", formdata=None),
        "feedback": FeedbackForm(prefix="feedback", formdata=None),
        "escalation": EscalationForm(prefix="escalation", formdata=None),
        **posted,
    }
    return render_template("portal_call.html", call=shown, forms=forms, refusal=refusal), status


@blueprint.route("/calls/<reference>/information", methods=["POST"])
@customer_only
def add_information(contact: str, reference: str):
    form = InformationForm(prefix="information")
    return _act(
        contact,
        reference,
        "information",
        form,
        lambda: portal.add_information(current_desk(), contact, reference, form.text.data),
        "Thank you: your information is added to the call.",
    )


@blueprint.route("/calls/<reference>/feedback", methods=["POST"])
@customer_only
def leave_feedback(contact: str, reference: str):
    form = FeedbackForm(prefix="feedback")
    return _act(
        contact,
        reference,
        "feedback",
        form,
        lambda: portal.leave_feedback(current_desk(), contact, reference, form.rating.data, form.comment.data or ""),
        "Thank you for your feedback.",
    )


@blueprint.route("/calls/<reference>/escalation", methods=["POST"])
@customer_only
def escalate(contact: str, reference: str):
    form = EscalationForm(prefix="escalation")
    return _act(
        contact,
        reference,
        "escalation",
        form,
        lambda: portal.ask_to_escalate(current_desk(), contact, reference, form.concern.data),
        "Your concern is with your Account Manager, who will contact you.",
    )


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
    session.pop(ACCESS, None)
    return redirect(url_for("portal.calls"))


@blueprint.route("/revoke", methods=["POST"])
@requires_roles(*ESCALATORS)
def revoke():
    """Staff revoke a contact's portal links (a mail sent to the wrong person, a contact who left)."""
    email = request.form.get("contact_email", "").strip()
    back = _local_path(request.form.get("next")) or url_for("tickets.calls")
    if not FlaskForm().validate_on_submit() or not email:
        return redirect(back)
    count = portal_access.revoke_links(current_desk(), email)
    flash(
        f"Revoked {count} portal link{'s' if count != 1 else ''} of {email}; they can ask for a new one at the portal.",
        "success",
    )
    return redirect(back)
