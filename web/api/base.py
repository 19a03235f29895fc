"""What every API blueprint shares: the /api/v1 prefix, problem details for its errors, and input
that does not match its schema answered with 400 (webargs would say 422, which this API keeps for
"the ticket's state does not allow it"), unknown query parameters included."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser

from . import problems

PREFIX = "/api/v1"


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # A misspelt filter (?breach=true) is refused, not ignored: ignored, it would list everything.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}


class ApiBlueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint under /api/v1. Its name is its tag in the OpenAPI description, so
    API blueprints are named in capitals ("Tickets"), apart from the web desk's ("tickets")."""

    ARGUMENTS_PARSER = _Parser()

    def __init__(self, name: str, import_name: str, *, description: str):
        super().__init__(name, import_name, url_prefix=PREFIX, description=description)
        problems.install(self)
