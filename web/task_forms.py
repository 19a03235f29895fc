"""WTForms classes built per request from a user task's declared fields.

The diagram owns the form: a new diagram version with other fields needs no
code change here. The fields carry no WTForms validators on purpose: the
engine's ``forms.clean`` is the one place a value is accepted or refused, so
the web, the CLI and any API agree; WTForms gives us rendering and CSRF.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import DateInput, NumberInput

from supportdesk.engine.process.forms import TRUE_WORDS, FormField

# Strings that may hold more than a line get a textarea.
TEXTAREA_FROM_LENGTH = 256
# Diagram ids could clash with FlaskForm's own attributes (data, errors, meta...),
# so each field's attribute and input name gets this prefix.
PREFIX = "field_"
# Camunda constraint names that are also HTML attribute names, per field type.
HTML_LIMITS = {"string": ("minlength", "maxlength"), "text": ("minlength", "maxlength"), "long": ("min", "max")}
# A posted revision has at most this many digits (below 2**63).
MAX_ID_DIGITS = 18


def field_name(form_field: FormField) -> str:
    return PREFIX + form_field.id


def form_class(fields: list[FormField]) -> type[FlaskForm]:
    """A FlaskForm with one input per declared field, in diagram order, and two hidden ones:
    the ticket ``revision`` the person saw (for the stale check) and the Call ``reference``
    (to explain a task that is gone)."""
    attributes: dict[str, Any] = {"revision": HiddenField(), "reference": HiddenField()}
    for form_field in fields:
        attributes[field_name(form_field)] = _wtforms_field(form_field)
    return type("TaskForm", (FlaskForm,), attributes)


def answers(form: FlaskForm, fields: list[FormField]) -> dict[str, Any]:
    """The submitted values keyed by the diagram's field ids, as the engine expects them."""
    return {f.id: form[field_name(f)].data for f in fields}


def show_errors(form: FlaskForm, messages: dict[str, str]) -> list[str]:
    """Put each engine message next to its field; returns those that belong to no field."""
    general = []
    for key, message in messages.items():
        name = PREFIX + key
        if name in form:
            form[name].errors = [message]
        else:
            general.append(message)
    return general


def posted_revision(form: FlaskForm) -> int | None:
    value = (form.revision.data or "").strip()
    # ASCII digits only ("²".isdigit() is true, and int() refuses it), and no more than a column holds.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS else None


def _wtforms_field(form_field: FormField) -> Field:
    kind, label = form_field.type, form_field.label
    attrs = _html_attributes(form_field)
    if kind == "boolean":
        return BooleanField(label, default=str(form_field.default or "").lower() in TRUE_WORDS, render_kw=attrs)
    if kind == "enum":
        # A blank first choice, so "required" means a conscious choice, not the first option.
        choices = ([] if form_field.default else [SelectChoice("", "Choose…")]) + [
            SelectChoice(value, label) for value, label in form_field.options
        ]
        return SelectField(label, choices=choices, default=form_field.default, validate_choice=False, render_kw=attrs)
    if kind == "long":
        return StringField(label, default=form_field.default, widget=NumberInput(step=1), render_kw=attrs)
    if kind == "date":
        return StringField(label, default=form_field.default, widget=DateInput(), render_kw=attrs)
    if _is_long_text(form_field):
        return TextAreaField(label, default=form_field.default, render_kw={**attrs, "rows": 5})
    return StringField(label, default=form_field.default, render_kw=attrs)


def _is_long_text(form_field: FormField) -> bool:
    limit = form_field.constraints.get("maxlength")
    return form_field.type == "text" or (limit is not None and limit.isdigit() and int(limit) >= TEXTAREA_FROM_LENGTH)


def _html_attributes(form_field: FormField) -> dict[str, Any]:
    """The browser's hints mirror the diagram's constraints; the engine still checks them."""
    limits = form_field.constraints
    attrs: dict[str, Any] = {}
    # A required checkbox would have to be ticked; the engine reads "required" on a boolean as "answered".
    if form_field.required and form_field.type != "boolean":
        attrs["required"] = True
    for name in HTML_LIMITS.get(form_field.type, ()):
        if name in limits:
            attrs[name] = limits[name]
    return attrs
