"""Held mail (C03): mail quoting a call from a sender who may not write into it waits here for an
advisor, who attaches it to a call, opens a new call from it, or discards it with a reason. The page
also lists mail that opened nothing (auto-replies, bulk mail) with the reason, so a real customer's
mail that looked automatic is still seen.

Every action is a POST (CSRF-checked by CSRFProtect, and again by the form) calling one engine
command; any advisor role may act (admin passes every check)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.mail import review

from . import current_desk
from .access import ADVISORS, requires_roles
from .formatting import sentence

blueprint = Blueprint("mail_review", __name__)


class AttachForm(FlaskForm):
    reference = StringField("Call Reference", render_kw={"required": True, "maxlength": 32})
    reason = StringField("Why (optional)", render_kw={"maxlength": review.REASON_CHARS})


class NewCallForm(FlaskForm):
    reason = StringField("Why (optional)", render_kw={"maxlength": review.REASON_CHARS})


class DiscardForm(FlaskForm):
    reason = StringField("Why it is discarded", render_kw={"required": True, "maxlength": review.REASON_CHARS})


@blueprint.route("/mail/held", methods=["GET"])
@requires_roles(*ADVISORS)
def held():
    return _page()


@blueprint.route("/mail/held/<int:held_id>/attach", methods=["POST"])
@requires_roles(*ADVISORS)
def attach(held_id: int):
    form = AttachForm()
    if not form.validate_on_submit():
        return _page(refusal="The form was not accepted: reload the page and try again.", status=400)
    try:
        receipt = review.attach(
            current_desk(), held_id, form.reference.data or "", current_user.username, form.reason.data or ""
        )
    except NotFound as exc:
        if "held mail" in str(exc):
            raise
        return _page(refusal=sentence(str(exc)) + ".", status=400)  # the reference typed names no call
    except (InvalidInput, NotAllowed) as exc:
        return _refused(exc)
    flash(
        f"Held mail {held_id} is added to {receipt.reference}" + (", which is re-opened." if receipt.reopened else "."),
        "success",
    )
    return redirect(url_for("mail_review.held"))


@blueprint.route("/mail/held/<int:held_id>/new-call", methods=["POST"])
@requires_roles(*ADVISORS)
def new_call(held_id: int):
    form = NewCallForm()
    if not form.validate_on_submit():
        return _page(refusal="The form was not accepted: reload the page and try again.", status=400)
    try:
        reference = review.open_call(current_desk(), held_id, current_user.username, form.reason.data or "")
    except (InvalidInput, NotAllowed) as exc:
        return _refused(exc)
    flash(f"Held mail {held_id} opened the new call {reference}.", "success")
    return redirect(url_for("mail_review.held"))


@blueprint.route("/mail/held/<int:held_id>/discard", methods=["POST"])
@requires_roles(*ADVISORS)
def discard(held_id: int):
    form = DiscardForm()
    if not form.validate_on_submit():
        return _page(refusal="The form was not accepted: reload the page and try again.", status=400)
    try:
        review.discard(current_desk(), held_id, current_user.username, form.reason.data or "")
    except (InvalidInput, NotAllowed) as exc:
        return _refused(exc)
    flash(f"Held mail {held_id} is discarded.", "success")
    return redirect(url_for("mail_review.held"))


def _refused(exc: InvalidInput | NotAllowed):
    status = 400 if isinstance(exc, InvalidInput) else 409
    details = list(exc.fields.values()) if isinstance(exc, InvalidInput) else []
    return _page(refusal=" ".join([sentence(str(exc)) + "."] + [f"{d}." for d in details]), status=status)


def _page(refusal: str | None = None, status: int = 200):
    desk = current_desk()
    return render_template(
        "mail_review.html",
        held=mail_queries.held_mail(desk),
        decided=mail_queries.held_mail(desk, decided=True, limit=50),
        not_opened=mail_queries.not_opened_mail(desk, limit=50),
        counts=mail_queries.received_counts(desk),
        places=mail_queries.RECEIVED_PLACES,
        attach_form=AttachForm(formdata=None),
        new_call_form=NewCallForm(formdata=None),
        discard_form=DiscardForm(formdata=None),
        refusal=refusal,
    ), status
