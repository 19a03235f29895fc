"""The files of the deployed diagram versions, for the drawings on the pages (static/diagram.js fetches
them) and to download and open in the modeller. Every member of staff may read them: a ticket's page
draws its version's diagram for whoever may read the ticket."""

from __future__ import annotations

from flask import Blueprint, Response

from supportdesk.engine import admin

from . import current_desk
from .access import STAFF_ROLES, requires_roles

blueprint = Blueprint("diagrams", __name__)


@blueprint.route("/diagrams/<int:number>/<name>")
@requires_roles(*STAFF_ROLES)
def file(number: int, name: str):
    """One file of a version (NotFound: the 404 page). A version never changes, so the browser keeps it."""
    content = admin.version_file(current_desk(), number, name)
    response = Response(content, mimetype="application/xml")
    # Read by the page's script, or saved: never shown as a document of this site.
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
