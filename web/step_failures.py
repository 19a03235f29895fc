"""A step of a ticket's diagram that failed in the engine (``StepError``), as the web desk shows it.

Whichever page's command ran into it (a task form, an action on a call, a reply, logging a call), the
answer is one page, not a 500: what was being done and which step failed, that nothing was saved, who
was told (the incident the engine recorded: on Admin, Mail and jobs, and on the ticket's page), and what
to do. The ticket page shows the ticket's incidents with the same words (``_step_incidents.html``).
"""

from __future__ import annotations

from flask import render_template

from supportdesk.engine.errors import StepError
from supportdesk.engine.tickets import incidents

from . import current_desk

# The request was right; the diagram version the ticket runs on cannot take it (the same request
# succeeds once the ticket is moved to a corrected version): the API's status for it too.
STATUS = 409


def page(exc: StepError):
    """The page for ``exc`` (registered for StepError app-wide; the API answers with its problem)."""
    incident = incidents.one(current_desk(), exc.incident_id) if exc.incident_id is not None else None
    return render_template("step_failed.html", failure=exc, incident=incident), STATUS
