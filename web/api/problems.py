"""Errors as RFC 9457 problem details (``application/problem+json``), one stable shape for every failure:

    {"type": "/api/v1/problems/invalid-input", "title": "Invalid input", "status": 400,
     "detail": "the call cannot be logged", "errors": {"contact_email": "..."}}

``type`` says what went wrong (a client switches on it, or on ``status``), ``detail`` says it for a
person, ``errors`` (400 only) names each field with its message, keyed like the request's fields.
The engine's errors decide: InvalidInput 400, Forbidden 403, NotFound 404, ConflictError 409,
NotAllowed 422 (the ticket's state does not allow it), StepFailed 409 ``step-failed``: a step of the
ticket's diagram failed in the engine. The request was right and nothing of it was saved; the diagram
version the ticket runs on cannot take it, so repeating it now fails the same way, and it succeeds once
the ticket is moved to a corrected version (the conflict is with the ticket's current state, which a
person changes: RFC 9110's 409). Its problem names the ``incident`` recorded and the ``element``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from flask import Blueprint, current_app
from werkzeug.exceptions import HTTPException, default_exceptions

from supportdesk.engine.errors import (
    ConflictError,
    DeskError,
    Forbidden,
    HandlerError,
    InvalidInput,
    NoActiveVersion,
    NotAllowed,
    NotFound,
    StepFailed,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "/api/v1/problems/"

# Every type this API answers with, and its status. Clients may rely on these names.
TYPES = {
    "invalid-input": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "conflict": 409,
    "step-failed": 409,  # a step of the ticket's diagram failed in the engine: see ``incident``
    "not-allowed": 422,
    "idempotency-key-reused": 422,
    "too-many-attempts": 429,  # failed sign-ins throttled (engine.throttle): see Retry-After
    "internal-error": 500,
    "not-deployed": 503,
    "http-error": 0,  # any other HTTP status (e.g. 413): see ``status``
}
TITLES = {
    "invalid-input": "Invalid input",
    "unauthenticated": "Authentication required",
    "forbidden": "Not allowed for your role",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "step-failed": "A step of the ticket's process failed",
    "not-allowed": "Not possible in the ticket's state",
    "idempotency-key-reused": "Idempotency key reused with another request",
    "too-many-attempts": "Too many failed sign-ins",
    "internal-error": "Internal error",
    "not-deployed": "No diagrams deployed",
}
_BY_STATUS = {
    400: "invalid-input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    422: "not-allowed",
    500: "internal-error",
}


class Problem(Exception):
    """Raise in an API view to answer with a problem."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.kind, self.detail = kind, detail
        self.status = status or TYPES[kind]
        self.errors, self.headers = errors, headers or {}


def problem_response(
    kind: str,
    status: int,
    detail: str,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
):
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + kind,
        "title": TITLES.get(kind) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extensions or {})
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def _sentence(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:1].upper() + text[1:] if text else ""


# The engine's errors, most specific first.
ENGINE_ERRORS: tuple[tuple[type[DeskError], str, int], ...] = (
    (InvalidInput, "invalid-input", 400),
    (Forbidden, "forbidden", 403),
    (NotFound, "not-found", 404),
    (ConflictError, "conflict", 409),
    (StepFailed, "step-failed", 409),
    (NotAllowed, "not-allowed", 422),
    (NoActiveVersion, "not-deployed", 503),
    (HandlerError, "internal-error", 500),
    (DeskError, "not-allowed", 422),
)


def _engine_error(exc: DeskError):
    for cls, kind, status in ENGINE_ERRORS:
        if isinstance(exc, cls):
            # A 400 always carries ``errors`` (maybe empty): clients need not test for it.
            errors = dict(exc.fields) if isinstance(exc, InvalidInput) else None
            return problem_response(kind, status, _sentence(exc), errors=errors, extensions=_step_of(exc))
    raise exc  # pragma: no cover  (DeskError is last above)


def _step_of(exc: DeskError) -> dict[str, Any] | None:
    """step-failed: the incident the engine recorded and the element that failed, for a client to show."""
    if not isinstance(exc, StepFailed):
        return None
    found = {"incident": exc.incident_id, "element": exc.step}
    return {name: value for name, value in found.items() if value is not None}


def _problem(exc: Problem):
    return problem_response(exc.kind, exc.status, exc.detail, errors=exc.errors, headers=exc.headers)


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs/marshmallow messages (``{"json": {"field": ["msg"]}}``) as ``{"field": "msg"}``."""
    if isinstance(messages, dict):
        found: dict[str, str] = {}
        for key, value in messages.items():
            name = "_body" if key == "_schema" else str(key)
            # The location (json, query, headers) is not part of a field's name.
            if not prefix and key in ("json", "query", "headers", "form", "view_args"):
                found.update(flatten(value))
            else:
                found.update(flatten(value, f"{prefix}.{name}" if prefix else name))
        return found
    if isinstance(messages, list | tuple):
        if all(isinstance(item, str) for item in messages):
            return {prefix or "_body": " ".join(messages)}
        found = {}
        for item in messages:
            found.update(flatten(item, prefix))
        return found
    return {prefix or "_body": str(messages)}


def _http_error(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # webargs: the request did not match its schema
        return problem_response(
            "invalid-input",
            400 if status == 422 else status,
            "The request does not match its schema: see errors.",
            errors=flatten(data["messages"]),
            headers=data.get("headers"),
        )
    kind = _BY_STATUS.get(status, "http-error")
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    detail = exc.description or HTTPStatus(status).phrase
    if status >= 500:
        detail = "Something went wrong on our side; nothing you sent was at fault."
    return problem_response(kind, status, detail, headers=headers)


http_problem = _http_error  # for the app-wide handlers of errors under /api/ that no blueprint caught


def install(blueprint: Blueprint) -> None:
    """Answer every error raised in ``blueprint``'s views with a problem. Handlers are registered per HTTP
    status too: Flask prefers the app's status handlers (the web desk's HTML pages) to a blueprint's
    class handler, so only status handlers on the blueprint keep the API's errors JSON."""
    blueprint.register_error_handler(Problem, _problem)
    blueprint.register_error_handler(DeskError, _engine_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    for status in default_exceptions:
        blueprint.register_error_handler(status, _http_error)
