"""The REST API (``/api/v1``) beside the web desk: JSON for phone systems, CRMs and scripts.

Built with flask-smorest (marshmallow schemas, apispec): the views declare their input and output
schemas, and the OpenAPI 3.1 description at ``/api/v1/openapi.json`` is generated from them, so it
cannot drift from the code; Swagger UI browses it at ``/api/v1/docs``.

The API calls the same engine functions as the web desk, with the same role checks; it signs in with
personal tokens (``Authorization: Bearer``), never the session cookie, so it needs no CSRF token;
errors are problem details (``problems``). ``register`` adds it to an app made by ``create_app``.
"""

from __future__ import annotations

import http

from flask import Blueprint, Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from . import accounts, conversation, docs, reports, tasks, tickets, tokens
from .auth import BASIC_SCHEME, BEARER_SCHEME
from .base import PREFIX
from .problems import PROBLEM_JSON
from .schemas import Problem

API_BLUEPRINTS = (tickets.blp, conversation.blp, tasks.blp, accounts.blp, reports.blp, tokens.blp)

DESCRIPTION = """The support desk's REST API: log calls, follow tickets and their SLA clocks, read and
write their conversation (replies, internal notes, call-backs, files), work tasks, send messages,
escalate, manage accounts, read the SLA report. The same process, rules and role checks as the web
desk.

**Sign in** with a personal API token, `Authorization: Bearer <token>` (`POST /tokens`, or
`supportdesk users token create USERNAME --name ...`). Session cookies do not sign in here.

**Errors** are RFC 9457 problem details (`application/problem+json`): 400 invalid input (with
`errors` per field), 401, 403 (your role), 404, 409 (a stale or double completion, a name taken),
422 (the ticket's state does not allow it, or an Idempotency-Key reused with another request).

**Retries**: send an `Idempotency-Key` header when logging a call, writing in a conversation,
starting an escalation or creating an account; a retry with the same key and body answers the first
answer again.
"""


class DeskApi(Api):
    """flask-smorest's Api, fitted to the desk: errors are problem details, answered by the API's own
    blueprints (``problems.install``), so the web desk keeps its HTML error pages."""

    ERROR_SCHEMA = Problem

    def _register_error_handlers(self):
        """None app-wide: flask-smorest's would answer the web desk's errors in JSON too."""

    def _register_pagination_header(self):
        """None: tickets page with a cursor of their own, not flask-smorest's page numbers."""

    def _register_responses(self):
        """The error responses the views document (401, 403, ...) as problem+json."""
        for status in http.HTTPStatus:
            if status >= 400:
                response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
                prepare_response(response, self.spec, PROBLEM_JSON)
                self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def register(app: Flask) -> list[Blueprint]:
    """Add the API to ``app``; returns its blueprints, which the caller exempts from CSRF."""
    app.config.update(
        API_TITLE="supportdesk",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = DeskApi(
        app,
        spec_kwargs={
            "info": {"description": DESCRIPTION},
            "servers": [{"url": "/", "description": "This desk"}],
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
    api.spec.components.security_scheme("basicAuth", BASIC_SCHEME)
    for blueprint in API_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.blueprint)
    return [*API_BLUEPRINTS, docs.blueprint, app.blueprints["api-docs"]]
