"""Trust at the edges: what every request to the web desk and the API must be before any view runs.

* a body no larger than ``SUPPORTDESK_MAX_REQUEST_BYTES`` (Flask's ``MAX_CONTENT_LENGTH``; 413), or, for a
  view marked ``@accepts_uploads`` (a conversation entry with its files), the files allowed on one entry
  (``SUPPORTDESK_MAX_ATTACHMENTS_BYTES``, as base64 in JSON) and that much again for the rest;
* no NUL character in the path, the query, a header or a form field (PostgreSQL cannot store one,
  and no person types one; 400), checked here once for every page, form and API call;
* a JSON body (``parse_json``: the API's parser and ``request.get_json``) of UTF-8 text, nesting at
  most ``bounds.MAX_JSON_DEPTH`` deep, whose strings hold no NUL and no lone surrogate (400);
* integer path parameters (``<int:...>``) that an id column holds (else the address is no page: 404).

The API answers with problem details (``application/problem+json``), the web desk with its error
page. The API's fields have their own bounds (``web.api.schemas``), the report its range
(``engine.bounds.report_range``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from supportdesk.engine.bounds import MAX_ID, MAX_JSON_DEPTH, UNSTORABLE, text_problem

API_PREFIX = "/api/"
UPLOAD_LIMIT = "SUPPORTDESK_UPLOAD_BYTES"  # the app's config key for the views that take files


def accepts_uploads(view: Callable) -> Callable:
    """Mark a view that takes a conversation entry's files (put it right under the route decorator; the
    decorators above it copy the mark): its requests may be as large as the files allowed."""
    view.accepts_uploads = True  # type: ignore[attr-defined]
    return view


def upload_limit(max_attachments_bytes: int, max_request_bytes: int) -> int:
    """The files of one entry as base64 (4/3 of their size), and the usual request limit for the rest."""
    return max_attachments_bytes * 4 // 3 + max_request_bytes


class JsonRefused(ValueError):
    """A JSON body the desk does not read; ``field`` is where (``_body``: the body as a whole)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def parse_json(data: bytes | str) -> Any:
    """The JSON document in ``data``, checked: UnicodeDecodeError or json.JSONDecodeError for what is
    no JSON, JsonRefused for what is too deep or holds text that cannot be stored."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    try:
        value = json.loads(text)
    except RecursionError:  # Python's parser gives up near a thousand levels, deep in the C stack
        raise JsonRefused("_body", f"JSON may nest objects and lists at most {MAX_JSON_DEPTH} deep") from None
    _check(value, "", 0)
    return value


def _check(value: Any, where: str, depth: int) -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise JsonRefused(where or "_body", problem)
        return
    if not isinstance(value, dict | list):
        return
    if depth >= MAX_JSON_DEPTH:
        raise JsonRefused("_body", f"JSON may nest objects and lists at most {MAX_JSON_DEPTH} deep")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and text_problem(key):  # named without what cannot be stored or shown
            raise JsonRefused(f"{where}.{_printable(key)}" if where else _printable(key), text_problem(key) or "")
        name = f"{where}.{key}" if where else str(key)
        _check(item, name, depth + 1)


def _printable(text: str) -> str:
    return UNSTORABLE.sub("\ufffd", text)


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading with ``parse_json`` (``request.get_json`` turns its refusals into a 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` as Flask's, up to what an id column holds (``bounds.MAX_ID``): a larger number is
    no page (404; under /api/ a problem, ``api_problem_or``), not an overflow in the store. At most
    10 digits are read at all."""

    regex = r"\d{1,10}"

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None, signed: bool = False
    ):
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def install(app: Flask, max_request_bytes: int, max_upload_bytes: int) -> None:
    """Before ``create_app`` registers anything else: the limits above, checked first of all."""
    app.config["MAX_CONTENT_LENGTH"] = max_request_bytes
    app.config[UPLOAD_LIMIT] = max(max_upload_bytes, max_request_bytes)
    app.json = CheckedJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(check_request)


def check_request():
    """None for a request within bounds; else the refusal, before any view (or CSRF check) runs."""
    limit = _body_limit()
    if request.content_length is not None and request.content_length > limit:
        return too_large(None)
    request.max_content_length = limit  # a body sent without its length is cut off there
    problems: dict[str, str] = {}

    def look(where: str, value: str) -> None:
        problem = text_problem(value)
        if problem and where not in problems:
            problems[where] = problem

    look("_path", request.path)
    for key, value in request.args.items(multi=True):
        look(key, key)
        look(key, value)
    for name, value in request.headers.items():
        look(f"header {name}", value)
    credentials = request.authorization  # Basic: a username and password inside base64
    if credentials is not None and credentials.type == "basic":
        look("header Authorization", f"{credentials.username or ''}:{credentials.password or ''}")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in request.form.items(multi=True):
            look(key, key)
            look(key, value)
    if not problems:
        return None
    return refusal(400, "The request holds a character that cannot be stored (a NUL or a lone surrogate).", problems)


def refusal(status: int, detail: str, problems: dict[str, str] | None = None):
    """The answer to a request refused at the edge: a problem for the API, the error page for the web."""
    if request.path.startswith(API_PREFIX):
        from .api.problems import problem_response

        kind = "invalid-input" if status == 400 else "http-error"
        return problem_response(kind, status, detail, errors=problems if status == 400 else None)
    fields = ", ".join(sorted(problems or {}))
    message = detail + (f" Fields: {fields}. Go back, remove it and send again." if fields else "")
    return render_template("error.html", title="Not accepted", message=message), status


def api_problem_or(page: Callable[[HTTPException], Any]) -> Callable[[HTTPException], Any]:
    """An app-wide error handler: under /api/, the API's problem for the error; elsewhere ``page``."""

    def handle(exc: HTTPException):
        if request.path.startswith(API_PREFIX):
            from .api.problems import http_problem

            return http_problem(exc)
        return page(exc)

    return handle


def too_large(_exc: RequestEntityTooLarge | None):
    """413, for a body refused by its Content-Length here or while Flask reads it."""
    return refusal(413, f"The request body is larger than the {_size(_body_limit())} this desk accepts.")


def _body_limit() -> int:
    view = current_app.view_functions.get(request.endpoint or "")
    key = UPLOAD_LIMIT if getattr(view, "accepts_uploads", False) else "MAX_CONTENT_LENGTH"
    return current_app.config[key]


def _size(limit: int | None) -> str:
    if limit is None:
        return "size"
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
