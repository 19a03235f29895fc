"""Calls and tickets: log a call, read a ticket, list tickets, send a message, start an escalation.

Each action is the engine command the web desk calls (``commands.log_call``, ``deliver_message``,
``start_escalation``), guarded by the web desk's role lists; reads are the web desk's queries, the
ticket list its calls list's (``queries.find_tickets``: search, filters, keyset pages).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import request, url_for

from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.people.portal import public_updates
from supportdesk.engine.store.models import Ticket
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.calls import CallDetails

from .. import current_desk
from ..access import ADVISORS, CALL_LOGGERS, ESCALATORS, STAFF_ROLES
from . import idempotency, schemas
from .auth import api_user, guarded
from .base import ApiBlueprint

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
@guarded(blp, *CALL_LOGGERS, errors=(400, 409, 422))
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
@guarded(blp, *ESCALATORS, errors=(400, 404, 409, 422))
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
    """Search and list tickets

    The web desk's calls list: a search (``q``) over the Call Reference, contact, account, summary and
    conversation, and filters by status, priority, kind, open task's role, account, account manager,
    claimant, SLA (breached, breached on a day, under a priority, at risk now), waiting on the customer,
    customer replied, and when logged and last changed, all of which must hold. In the order asked for
    (``sort``; by default the order they were last changed, oldest first), a page at a time: pass
    ``next_cursor`` as ``cursor`` for the next page. Keyset pages read off an index, so a page costs the
    same at any depth and every ticket is on exactly one page.
    """
    try:
        page = queries.find_tickets(
            current_desk(),
            _ticket_filter(query),
            viewer=api_user().username,
            cursor=query.get("cursor"),
            limit=query["limit"],
        )
    except InvalidInput as exc:  # named as this API's parameters are
        raise InvalidInput(str(exc), {_PARAMETERS.get(name, name): text for name, text in exc.fields.items()}) from None
    headers = {}
    if page.next_cursor:
        args = {**request.args.to_dict(), "cursor": page.next_cursor}
        headers["Link"] = f'<{url_for("Tickets.list_tickets", **args)}>; rel="next"'
    return {"items": page.rows, "next_cursor": page.next_cursor}, 200, headers


# The engine's names of the filters this API names otherwise.
_PARAMETERS = {"search": "q", "updated_from": "updated_since"}


def _ticket_filter(query: dict) -> queries.TicketFilter:
    named = ("priority", "kind", "role", "account", "account_manager", "claimed_by", "breached", "breached_on")
    return queries.TicketFilter(
        search=query.get("q", ""),
        status=query.get("status"),
        **{name: query.get(name) for name in (*named, "breached_priority", "logged_from", "logged_before")},
        at_risk=query.get("at_risk", False),
        waiting_on_customer=query.get("waiting_on_customer", False),
        customer_replied=query.get("customer_replied", False),
        updated_from=query.get("updated_since"),
        updated_before=query.get("updated_before"),
        sort=query["sort"],
    )


# --- messages ------------------------------------------------------------------------------------------------


@blp.route("/tickets/<reference>/messages", methods=["POST"])
@guarded(blp, *ADVISORS, errors=(400, 404, 409, 422))
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
