"""The ticket page: the call, its SLA clocks, its conversation, its history, and the actions advisors
take on it.

The actions post to ``web.actions`` (the conversation's forms to ``web.conversation``); when the engine
refuses one, that module renders this page again with the refusal and the person's answers, so it is
built in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.people import users
from supportdesk.engine.tickets import incidents as ticket_incidents
from supportdesk.engine.tickets import jobs, queries
from supportdesk.engine.tickets.commands import TRAINING_NEEDS
from supportdesk.engine.working_time.clock import clock
from supportdesk.handlers.delay import DELAY_REASONS

from . import conversation_section, current_desk, diagram_view, history_text, timeline_svg
from .access import ADVISORS, ESCALATORS
from .formatting import sentence

# The messages that re-open a Delayed call (C24), and the one that answers each delay reason.
PROGRESS_MESSAGES = {
    "access_granted": "Access to the customer's environment is granted",
    "information_received": "The information has arrived",
    "customer_back": "The customer is back",
}
PROGRESS_FOR_REASON = {
    "access_refused": "access_granted",
    "information_awaited": "information_received",
    "customer_absent": "customer_back",
}
NOTE_LIMIT = 1000


def _options(vocabulary: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, sentence(label)) for value, label in vocabulary.items()]


def _choices(vocabulary: dict[str, str]) -> list[SelectChoice]:
    # A blank first choice, so the reason is a conscious choice, not the first option.
    return [SelectChoice("", "Choose…"), *_options(vocabulary)]


# No WTForms validators: the engine decides (see task_forms). Each form has a prefix so the
# four forms on one page have distinct field names and ids.
class DelayForm(FlaskForm):
    reason = SelectField(
        "Why the call waits", choices=_choices(DELAY_REASONS), validate_choice=False, render_kw={"required": True}
    )
    # C22, C25: the customer reads this on the portal as what the desk is waiting for.
    note = StringField("What the desk is waiting for (the customer sees this)", render_kw={"maxlength": NOTE_LIMIT})


class ProgressForm(FlaskForm):
    message = RadioField("What happened", choices=_options(PROGRESS_MESSAGES), validate_choice=False)
    note = StringField("Note", render_kw={"maxlength": NOTE_LIMIT})


class TrainingForm(FlaskForm):
    need = SelectField(
        "Training need", choices=_choices(TRAINING_NEEDS), validate_choice=False, render_kw={"required": True}
    )
    notes = TextAreaField("Notes", render_kw={"maxlength": 4000, "rows": 2})


class EscalationForm(FlaskForm):
    concern = TextAreaField("What the customer is unhappy about", render_kw={"required": True, "rows": 2})


FORMS = {"delayed": DelayForm, "progress": ProgressForm, "training": TrainingForm, "escalation": EscalationForm}


@dataclass(frozen=True)
class CallFacts:
    """What the page shows beyond ``TicketView``, read from the call's own history: the
    details it was logged with and why it last waited."""

    is_call: bool
    priority: str | None
    delay_reason: str | None
    logged: dict[str, Any] = field(default_factory=dict)


def call_facts(view: queries.TicketView) -> CallFacts:
    logged = next((e.payload for e in view.history if e.kind == "call_logged"), {})
    delays = [e.payload.get("reason") for e in view.history if e.kind == "call_delayed"]
    return CallFacts(view.kind == "call", view.priority, delays[-1] if delays else None, logged)


def blank_forms(facts: CallFacts) -> dict[str, FlaskForm]:
    forms = {name: cls(formdata=None, prefix=name) for name, cls in FORMS.items()}
    # Offer the message that answers the delay, so the usual case is one click.
    forms["progress"].message.data = PROGRESS_FOR_REASON.get(facts.delay_reason or "", "information_received")
    return forms


def posted_form(name: str) -> FlaskForm:
    return FORMS[name](prefix=name)


def render_ticket(
    reference: str, *, posted: dict[str, FlaskForm] | None = None, refusal: str | None = None, status: int = 200
):
    """The page; ``posted`` replaces a blank action form with the submitted one (answers and errors kept)."""
    view = queries.ticket_view(current_desk(), reference)  # NotFound becomes the 404 page
    facts = call_facts(view)
    forms = {**blank_forms(facts), **(posted or {})}
    may = {
        "act": current_user.has_any(*ADVISORS),
        "escalate": current_user.has_any(*ESCALATORS),
        "write": current_user.has_any(*conversation_section.WRITERS),
    }
    conversation = conversation_section.section(
        view.reference, current_user.username, is_call=facts.is_call, posted=posted or {}
    )
    pictures = _pictures(reference, view)
    desk = current_desk()
    mail = {
        "outbox": mail_queries.outbox_of(desk, reference),
        "inbound": mail_queries.inbound_of(desk, reference),
        "delivery_enabled": mail_queries.mail_delivery_enabled(desk),
    }
    incidents = jobs.incidents_of(desk, reference)
    step_incidents = ticket_incidents.of_ticket(desk, reference)  # steps that failed in the engine (issue 21)
    names = users.display_names(desk, history_text.people_in(view.history))
    return render_template(
        "ticket.html",
        ticket=view,
        history=history_text.history_lines(view.history, names),
        facts=facts,
        forms=forms,
        may=may,
        conversation=conversation,
        refusal=refusal,
        mail=mail,
        incidents=incidents,
        step_incidents=step_incidents,
        **pictures,
    ), status


def _pictures(reference: str, view: queries.TicketView) -> dict:
    """Where the ticket stands on its diagram, and its SLA clocks over time."""
    position = queries.ticket_diagram(current_desk(), reference)
    return {
        "diagram": diagram_view.for_ticket(position, view.diagram_version),
        "timeline": timeline_svg.render(view.clocks, clock.now()),
    }
