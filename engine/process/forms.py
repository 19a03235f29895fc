"""User-task forms, as declared in the diagram (``camunda:formData``).

The web form, the CLI and any API validate submitted data here, so a value
is accepted or refused the same way whichever door it came through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from supportdesk.engine.errors import InvalidInput

TRUE_WORDS = {"true", "yes", "on", "1", "y"}
FALSE_WORDS = {"false", "no", "off", "0", "n", ""}


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str  # string | long | boolean | date | enum | text
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for enum fields
    default: str | None = None
    constraints: dict[str, str] = field(default_factory=dict)


def fields_of(task_spec) -> list[FormField]:
    form = getattr(task_spec, "form", None)
    return [_field(raw) for raw in getattr(form, "fields", [])]


def _field(raw) -> FormField:
    constraints = {v.name: v.config for v in getattr(raw, "validation", [])}
    options = tuple((o.id, o.name) for o in getattr(raw, "options", []))
    return FormField(
        id=raw.id,
        label=raw.label or raw.id,
        type=raw.type or "string",
        required="required" in constraints and constraints["required"] != "false",
        options=options,
        default=raw.default_value,
        constraints=constraints,
    )


def clean(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    """Typed values for the declared fields; raises InvalidInput naming each bad field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for form_field in fields:
        try:
            values[form_field.id] = _clean_one(form_field, data.get(form_field.id))
        except ValueError as exc:
            errors[form_field.id] = str(exc)
    unknown = sorted(set(data) - {f.id for f in fields})
    if unknown:
        errors["_form"] = f"unknown field(s): {', '.join(unknown)}"
    if errors:
        raise InvalidInput("the form has errors", errors)
    return values


def _clean_one(form_field: FormField, raw: Any) -> Any:
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        if form_field.required and form_field.type != "boolean":
            raise ValueError(f"{form_field.label} is required")
        return False if form_field.type == "boolean" else None
    value = _convert(form_field, raw)
    _check_constraints(form_field, value)
    return value


def _convert(form_field: FormField, raw: Any) -> Any:
    kind = form_field.type
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        word = str(raw).lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(f"{form_field.label} must be yes or no")
    if kind == "long":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{form_field.label} must be a whole number") from None
    if kind == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError(f"{form_field.label} must be a date (YYYY-MM-DD)") from None
    if kind == "enum":
        allowed = [value for value, _ in form_field.options]
        if str(raw) not in allowed:
            raise ValueError(f"{form_field.label} must be one of: {', '.join(allowed)}")
        return str(raw)
    return str(raw)


def _check_constraints(form_field: FormField, value: Any) -> None:
    limits = form_field.constraints
    if isinstance(value, str):
        if "minlength" in limits and len(value) < int(limits["minlength"]):
            raise ValueError(f"{form_field.label} needs at least {limits['minlength']} characters")
        if "maxlength" in limits and len(value) > int(limits["maxlength"]):
            raise ValueError(f"{form_field.label} allows at most {limits['maxlength']} characters")
    if isinstance(value, int) and not isinstance(value, bool):
        if "min" in limits and value < int(limits["min"]):
            raise ValueError(f"{form_field.label} must be at least {limits['min']}")
        if "max" in limits and value > int(limits["max"]):
            raise ValueError(f"{form_field.label} must be at most {limits['max']}")
