"""What every API blueprint shares: the /api/v1 prefix, problem details for its errors, and input
that does not match its schema answered with 400 (webargs would say 422, which this API keeps for
"the ticket's state does not allow it"), unknown query parameters included. JSON bodies are read with
``web.edges.parse_json``: nested at most 32 deep, with no NUL or lone surrogate in their strings."""

from __future__ import annotations

from typing import ClassVar

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from ..edges import JsonRefused, parse_json
from . import problems

PREFIX = "/api/v1"


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # A misspelt filter (?breach=true) is refused, not ignored: ignored, it would list everything.
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def _raw_load_json(self, req):
        """webargs' own, through the desk's checked parser (webargs would call ``json.loads``, whose
        RecursionError on a deeply nested body was a 500)."""
        if not is_json_request(req):
            return core.missing
        try:  # no JSON, or not UTF-8: webargs answers "Invalid JSON body."
            return parse_json(req.get_data(cache=True))
        except JsonRefused as exc:
            abort(400, exc=exc, messages={"json": {exc.field: [exc.message]}})


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint under /api/v1. Its name is its tag in the OpenAPI description, so
    API blueprints are named in capitals ("Tickets"), apart from the web desk's ("tickets")."""

    ARGUMENTS_PARSER = _Parser()

    def __init__(self, name: str, import_name: str, *, description: str):
        super().__init__(name, import_name, url_prefix=PREFIX, description=description)
        problems.install(self)
