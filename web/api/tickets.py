"""Calls and tickets: log a call, read a ticket, list tickets, send a message, start an escalation.

Each action is the engine command the web desk calls (``commands.log_call``, ``deliver_message``,
``start_escalation``), guarded by the web desk's role lists; reads are the web desk's queries, but
the ticket list, which pages on an index the API added (``ix_ticket_updated_at_id``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import request, url_for

from supportdesk.engine.bounds import MAX_ID, moment_problem
from supportdesk.engine.people.portal import public_updates
from supportdesk.engine.store.models import Ticket
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.calls import CallDetails

from .. import current_desk
from ..access import ADVISORS, CALL_LOGGERS, ESCALATORS, STAFF_ROLES
from . import idempotency, schemas
from .auth import api_user, guarded
from .base import ApiBlueprint
from .problems import Problem

blp = ApiBlueprint("Tickets", __name__, description="Log calls, read and list tickets, send messages, escalate")

LOCATION = {"Location": {"description": "The new ticket's address", "schema": {"type": "string"}}}
IDEMPOTENT = {
    "Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string"},
    }
}


# --- log a call, start an escalation ----------------------------------------------------------------------


@blp.route("/calls", methods=["POST"])
@guarded(blp, *CALL_LOGGERS, errors=(400, 422))
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.arguments(schemas.CallIn)
@blp.response(201, schemas.CreatedTicket, headers={**LOCATION, **IDEMPOTENT})
def log_call(headers: dict, body: dict):
    """Log a call (C01, C02)

    Starts the call on the active diagram version and gives it its Call Reference. First line and
    admin. Send an ``Idempotency-Key`` so that a retry does not log the call twice.
    """
    details = CallDetails(**body)
    actor = api_user().username
    return idempotency.create(
        key=headers.get("key"),
        endpoint="log_call",
        respond=_created_ticket,
        command=lambda desk: commands.log_call(desk, details, actor),
        location=_ticket_url,
    )


@blp.route("/escalations", methods=["POST"])
@guarded(blp, *ESCALATORS, errors=(400, 404, 422))
@blp.arguments(schemas.IdempotencyHeader, location="headers")
@blp.arguments(schemas.EscalationIn)
@blp.response(201, schemas.CreatedTicket, headers={**LOCATION, **IDEMPOTENT})
def start_escalation(headers: dict, body: dict):
    """Start an escalation (C28)

    A customer's concern, linked to their call when ``call_reference`` is given. Advisors, account
    managers and admin. Takes an ``Idempotency-Key`` like logging a call.
    """
    actor = api_user().username

    def command(desk):
        return commands.start_escalation(
            desk,
            commands.StartEscalation(
                body["concern"],
                call_reference=body["call_reference"],
                contact_name=body["contact_name"],
                contact_email=body["contact_email"],
                account=body["account"],
            ),
            actor,
        )

    return idempotency.create(
        key=headers.get("key"),
        endpoint="start_escalation",
        command=command,
        respond=_created_ticket,
        location=_ticket_url,
    )


def _created_ticket(added: list[Any]) -> dict | None:
    ticket = next((obj for obj in added if isinstance(obj, Ticket)), None)
    if ticket is None:
        return None
    return schemas.CreatedTicket().dump(
        {
            "reference": ticket.reference,
            "kind": ticket.kind,
            "status": ticket.status,
            "priority": ticket.priority,
            "parent_reference": ticket.parent.reference if ticket.parent else None,
            "created_at": ticket.created_at,
        }
    )


def _ticket_url(body: dict) -> str:
    return url_for("Tickets.get_ticket", reference=body["reference"])


# --- read a ticket -----------------------------------------------------------------------------------------


@blp.route("/tickets/<reference>")
@guarded(blp, *STAFF_ROLES, errors=(404,))
@blp.response(200, schemas.Ticket)
def get_ticket(reference: str):
    """A ticket by its Call Reference

    Its status and priority, its SLA clocks with their due moment and the working time left, its
    open tasks and its public history.
    """
    return ticket_body(queries.ticket_view(current_desk(), reference))


def ticket_body(view: queries.TicketView) -> dict:
    clocks = [
        {
            "metric": c.metric,
            "priority": c.priority,
            "target": c.target,
            "state": c.state,
            "started_at": c.started_at,
            "due_at": c.due_at,
            "breached": c.breached,
            "breached_at": c.breached_at,
            "breached_priority": c.breached_priority,
            "at_risk": c.at_risk,
            "elapsed_seconds": round(c.elapsed.total_seconds()),
            "remaining_seconds": round(c.remaining.total_seconds()),
        }
        for c in view.clocks
    ]
    history = [{"at": u.at, "kind": u.kind, "title": u.what, "detail": u.detail} for u in public_updates(view)]
    return {
        **{
            name: getattr(view, name)
            for name in (
                "reference",
                "kind",
                "parent_reference",
                "status",
                "priority",
                "outcome",
                "channel",
                "contact_name",
                "contact_email",
                "account",
                "summary",
                "created_at",
                "closed_at",
                "diagram_version",
                "revision",
            )
        },
        "clocks": clocks,
        "open_tasks": [asdict(task) for task in view.open_tasks],
        "history": history,
    }


# --- list tickets ------------------------------------------------------------------------------------------


@blp.route("/tickets")
@guarded(blp, *STAFF_ROLES, errors=(400,))
@blp.arguments(schemas.TicketQuery, location="query")
@blp.response(
    200,
    schemas.TicketPage,
    headers={"Link": {"description": 'The next page, rel="next", when there is one', "schema": {"type": "string"}}},
)
def list_tickets(query: dict):
    """List tickets

    Filtered by status, priority, kind, account, breached SLA and last change, in the order they
    were last changed (oldest first), a page at a time: pass ``next_cursor`` as ``cursor`` for the
    next page. Sorted and paged on an index (updated_at, id), so a page costs the same at any depth.
    """
    after = _read_cursor(query["cursor"]) if "cursor" in query else None
    filters = {name: query[name] for name in queries.TICKET_FILTERS if name in query}
    rows, more = queries.ticket_list(current_desk(), filters, after=after, limit=query["limit"])
    next_cursor = _cursor(rows[-1]) if more else None
    headers = {}
    if next_cursor:
        args = {**request.args.to_dict(), "cursor": next_cursor}
        headers["Link"] = f'<{url_for("Tickets.list_tickets", **args)}>; rel="next"'
    return {"items": rows, "next_cursor": next_cursor}, 200, headers


def _cursor(row: dict) -> str:
    """Opaque to clients: where the page ended, as (updated_at, id)."""
    raw = json.dumps([row["updated_at"].isoformat(), row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, ticket_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        updated_at = datetime.fromisoformat(moment)
        # Ours hold an aware moment in range and a ticket id (a larger one overflowed the store: a 500).
        if (
            updated_at.tzinfo is None
            or moment_problem(updated_at)
            or isinstance(ticket_id, bool)
            or not isinstance(ticket_id, int)
            or not 0 <= ticket_id <= MAX_ID
        ):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise Problem(
            "invalid-input",
            "The cursor is not one this API gave.",
            errors={"cursor": "Pass next_cursor from the previous page, unchanged"},
        ) from None
    return updated_at, ticket_id


# --- messages ------------------------------------------------------------------------------------------------


@blp.route("/tickets/<reference>/messages", methods=["POST"])
@guarded(blp, *ADVISORS, errors=(400, 404, 422))
@blp.arguments(schemas.MessageIn)
@blp.response(200, schemas.Ticket)
def send_message(body: dict, reference: str):
    """Send a message to a ticket (C24)

    Work can progress on a Delayed call: the information was received, access was granted, the
    customer is back. The call re-opens and its SLA clocks run again. A ticket that is not waiting
    for that message answers 422. Advisors and admin.
    """
    note = body["note"].strip()
    commands.deliver_message(
        current_desk(),
        commands.DeliverMessage(reference, body["message"], {"note": note} if note else {}),
        api_user().username,
    )
    return ticket_body(queries.ticket_view(current_desk(), reference))
