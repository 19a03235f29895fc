"""The customer portal (C24, C25, C27, C28): the link from the confirmation mail signs the
customer in for their own calls; they read the public conversation with its files, write to the
desk, leave feedback and raise a concern. Nothing an advisor wrote for colleagues is shown.

Every page and download checks the portal session first (``customer_only``); the engine then answers
only for that contact: another customer's call or file is "not found", as one that does not exist."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import EmailField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from supportdesk.engine.conversation import attachments, commands
from supportdesk.engine.conversation.attachments import Upload
from supportdesk.engine.conversation.queries import Viewer, attachment_for
from supportdesk.engine.errors import InvalidInput, NotAllowed, StepError
from supportdesk.engine.people import portal, portal_access
from supportdesk.engine.settings import Settings
from supportdesk.engine.tickets import queries

from . import current_desk
from .access import ESCALATORS, requires_roles
from .auth import _local_path
from .edges import accepts_uploads
from .formatting import sentence

blueprint = Blueprint("portal", __name__, url_prefix="/portal")
CONTACT = "portal_contact"  # the session key: which customer this browser speaks for
ACCESS = "portal_access"  # the session key: the link it came in with (revoked or expired: the session ends)
CHOOSE_AGAIN = "Nothing was sent: choose your files again."
# A step of the desk's process failed (engine StepError; the support team has its incident).
OUR_FAULT = (
    "Sorry, we could not take this just now because of a fault on our side; nothing was sent. Our support "
    "team has been told and is putting it right: please try again later, or reply to our last email."
)


class MessageForm(FlaskForm):
    """Write to us: text, files, or both. What a message must be is the engine's call
    (``commands.PortalMessage.validated``), so its refusals are shown by the field they name."""

    body = TextAreaField("Your message", render_kw={"rows": 6, "maxlength": commands.BODY_CHARS})
    files = MultipleFileField("Files (you may choose several)")


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
        "message": MessageForm(prefix="message", formdata=None),
        "feedback": FeedbackForm(prefix="feedback", formdata=None),
        "escalation": EscalationForm(prefix="escalation", formdata=None),
        **posted,
    }
    limits = upload_limits(current_desk().settings)
    return render_template("portal_call.html", call=shown, forms=forms, refusal=refusal, limits=limits), status


@blueprint.route("/calls/<reference>/messages", methods=["POST"])
@accepts_uploads
@customer_only
def write(contact: str, reference: str):
    """C24, C25: the customer writes on their call (a Delayed call re-opens). A refusal shows the page
    again with what they wrote, and nothing is written."""
    form = MessageForm(prefix="message")
    if not form.validate():  # the CSRF token (CSRFProtect refuses a missing one before this)
        return _page(contact, reference, status=400, message=form)
    message = commands.PortalMessage(reference, contact, form.body.data or "", _uploads(form))
    try:
        entry = commands.add_portal_message(current_desk(), message)
    except InvalidInput as exc:
        _show_on_fields(form, exc)
        return _page(contact, reference, refusal=sentence(str(exc)), status=400, message=form)
    except NotAllowed as exc:
        return _page(contact, reference, refusal=f"{sentence(str(exc))}.", status=409, message=form)
    except StepError:  # the process failed, not the customer: in their words, with no internals
        return _page(contact, reference, refusal=OUR_FAULT, status=409, message=form)
    flash("Thank you: your message is with our support team.", "success")
    return redirect(url_for("portal.call", reference=reference, _anchor=f"entry-{entry}"))


def _uploads(form: MessageForm) -> tuple[Upload, ...]:
    """The files chosen: the request's size is bounded already (``web.edges``), so each is read whole and
    the engine names any over its limits."""
    return tuple(
        Upload(storage.filename or "", storage.read(), storage.mimetype or attachments.OCTET_STREAM)
        for storage in _chosen(form)
    )


def _chosen(form: MessageForm) -> list:
    """The file parts that hold a file (a browser sends one empty part when none is chosen)."""
    return [storage for storage in form.files.data or [] if storage and storage.filename]


def _show_on_fields(form: MessageForm, refused: InvalidInput) -> None:
    """Each engine message beside the field it names. A browser cannot be given files back, so when
    some were chosen the files field says to choose them again: none is silently lost."""
    fields = {"body": form.body, "attachments": form.files}
    for name, message in refused.fields.items():
        fields.get(name, form.body).errors = [message]
    if _chosen(form):
        said = [str(error).rstrip(".") + "." for error in form.files.errors]
        form.files.errors = [" ".join([*said, CHOOSE_AGAIN])]


def upload_limits(settings: Settings) -> str:
    """What one message may carry, as the customer reads it: the engine's limits (the form's requests may
    be that large: ``edges.accepts_uploads``)."""
    one, together = settings.max_attachment_bytes, settings.max_attachments_bytes
    files = f"Up to {attachments.MAX_FILES} files"
    if one >= together:
        return f"{files}, {portal.size_in_words(together)} in all."
    return f"{files}, {portal.size_in_words(one)} each and {portal.size_in_words(together)} together."


@blueprint.route("/attachments/<int:attachment_id>")
@customer_only
def download(contact: str, attachment_id: int):
    """A file of the customer's own public conversation, always as a download (``download_headers``:
    never shown inline, never sniffed, HTML and SVG as bytes). Any other file is "not found"."""
    found = attachment_for(current_desk(), attachment_id, viewer=Viewer.customer(contact))
    return Response(found.content, headers=found.headers)


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
    except StepError:
        return _page(contact, reference, refusal=OUR_FAULT, status=409, **{name: form})
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
