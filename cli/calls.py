"""Logging calls, listing and completing tasks, showing a ticket."""

from __future__ import annotations

from datetime import datetime

import click

from supportdesk.engine.process.roles import TASK_ROLES
from supportdesk.engine.tickets import calls, commands, queries
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, local

from .group import default_actor, main, open_desk, reports_desk_errors


@main.command("log-call")
@click.option("--name", "contact_name", required=True, help="The contact at the customer.")
@click.option("--email", "contact_email", required=True, help="Where the confirmation goes.")
@click.option("--account", required=True, help="The customer's account.")
@click.option("--summary", required=True, help="What the customer reports.")
@click.option("--channel", type=click.Choice(list(calls.CHANNELS)), default="phone", show_default=True)
@click.option(
    "--licence", "licence_type", type=click.Choice(list(calls.LICENCE_TYPES)), default="saas", show_default=True
)
@click.option(
    "--kind", "request_kind", type=click.Choice(list(calls.REQUEST_KINDS)), default="problem", show_default=True
)
@click.option(
    "--symptom",
    type=click.Choice(list(calls.SYMPTOMS)),
    default="other",
    show_default=True,
    help="What blocks the customer (C06).",
)
@click.option(
    "--campaign",
    "campaign_at",
    default=None,
    metavar="YYYY-MM-DDTHH:MM",
    help="When the next campaign goes out (London time unless an offset is given).",
)
@click.option("--preparing-campaign", is_flag=True, help="A future campaign is being prepared (C06).")
@click.option("--as", "actor", default=None, help="The advisor logging the call.")
@reports_desk_errors
def log_call(
    contact_name,
    contact_email,
    account,
    summary,
    channel,
    licence_type,
    request_kind,
    symptom,
    campaign_at,
    preparing_campaign,
    actor,
) -> None:
    """Log a call (C01, C02) and print its Call Reference."""
    details = commands.CallDetails(
        contact_name,
        contact_email,
        account,
        summary,
        channel,
        licence_type,
        request_kind,
        symptom,
        _london_moment(campaign_at),
        preparing_campaign,
    )
    click.echo(commands.log_call(open_desk(), details, actor or default_actor()))


@main.command()
@click.option("--role", type=click.Choice(TASK_ROLES), default=None, help="Only this role's tasks.")
@click.option("--limit", default=50, show_default=True)
@reports_desk_errors
def tasks(role: str | None, limit: int) -> None:
    """List open tasks, oldest first: TASK-ID, reference, role, task."""
    rows = queries.open_tasks(open_desk(), [role] if role else None, limit=limit)
    for row in rows:
        click.echo(f"{row.task_id}  {row.reference}  {row.role:<12} {row.title}  ({row.summary})")
    if not rows:
        click.echo("no open tasks")


@main.command()
@click.argument("task_id")
@click.option("--field", "-f", "fields", multiple=True, metavar="NAME=VALUE", help="A form field; repeat.")
@click.option("--as", "actor", default=None, help="Who completes the task.")
@reports_desk_errors
def complete(task_id: str, fields: tuple[str, ...], actor: str | None) -> None:
    """Complete an open task with its form fields."""
    data = dict(_split_field(item) for item in fields)
    reference = commands.complete_task(open_desk(), commands.CompleteTask(task_id, data), actor or default_actor())
    click.echo(f"completed; {reference}")


def _london_moment(text: str | None):
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a moment like 2026-12-01T09:00", param_hint="--campaign") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_ZONE)


def _split_field(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep:
        raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--field")
    return name.strip(), value


@main.command()
@click.argument("reference")
@reports_desk_errors
def show(reference: str) -> None:
    """Print a ticket, its open tasks and its history."""
    view = queries.ticket_view(open_desk(), reference)
    click.echo(f"{view.reference}  [{view.status}]  {view.summary}")
    click.echo(f"  contact: {view.contact_name} <{view.contact_email}>, account {view.account}, by {view.channel}")
    click.echo(f"  logged {local(view.created_at):%Y-%m-%d %H:%M %Z}, diagram version {view.diagram_version}")
    for sla in view.clocks:
        click.echo(f"  SLA {sla.metric.replace('_', ' ')}: {_describe_clock(sla)}")
    click.echo("open tasks:" if view.open_tasks else "open tasks: none")
    for task in view.open_tasks:
        click.echo(f"  {task.task_id}  {task.role:<12} {task.title}")
    click.echo("history:")
    for event in view.history:
        detail = ", ".join(f"{k}={v}" for k, v in event.payload.items() if k != "task_id")
        moment = local(event.at)
        click.echo(f"  {event.seq:>3}  {moment:%Y-%m-%d %H:%M %Z}  {event.kind:<18} {event.actor:<14} {detail}")


def _describe_clock(sla) -> str:
    due = f"due {local(sla.due_at):%a %d %b %H:%M %Z}" if sla.due_at else "no due moment while paused"
    left = _hours(sla.remaining)
    verdict = "BREACHED" if sla.breached else ("met" if sla.state == "stopped" else f"{left} working time left")
    priority = f"{sla.priority}, " if sla.priority else ""
    return f"{priority}{sla.target}, {sla.state}, {due}, {_hours(sla.elapsed)} counted: {verdict}"


def _hours(amount) -> str:
    minutes = int(amount.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m"


@main.command()
@click.argument("reference")
@click.argument(
    "message",
    type=click.Choice(["call_delayed", "access_granted", "information_received", "customer_back", "feedback"]),
)
@click.option(
    "--field",
    "-f",
    "fields",
    multiple=True,
    metavar="NAME=VALUE",
    help="Message content, e.g. -f reason=information_awaited, -f rating=5.",
)
@click.option("--as", "actor", default=None)
@reports_desk_errors
def message(reference: str, message: str, fields: tuple[str, ...], actor: str | None) -> None:
    """Deliver a message to a call: Delayed (C21, C22), work can progress (C24), feedback (C27)."""
    payload = {name: _number_or_text(value) for name, value in (_split_field(item) for item in fields)}
    commands.deliver_message(
        open_desk(), commands.DeliverMessage(reference, message, payload), actor or default_actor()
    )
    click.echo(f"delivered {message} to {reference}")


def _number_or_text(value: str):
    return int(value) if value.strip().lstrip("-").isdigit() else value


@main.command()
@click.option("--call", "call_reference", default=None, help="The call the customer is unhappy about.")
@click.option("--concern", required=True, help="What the customer is unhappy about.")
@click.option("--name", "contact_name", default="", help="Contact, when there is no call.")
@click.option("--email", "contact_email", default="")
@click.option("--account", default="")
@click.option("--as", "actor", default=None)
@reports_desk_errors
def escalate(call_reference, concern, contact_name, contact_email, account, actor) -> None:
    """Start an escalation (C28-C30) and print its reference."""
    click.echo(
        commands.start_escalation(
            open_desk(),
            commands.StartEscalation(
                concern,
                call_reference=call_reference,
                contact_name=contact_name,
                contact_email=contact_email,
                account=account,
            ),
            actor or default_actor(),
        )
    )


@main.command()
@click.argument("reference")
@click.option("--need", type=click.Choice(list(commands.TRAINING_NEEDS)), required=True)
@click.option("--notes", default="")
@click.option("--as", "actor", default=None)
@reports_desk_errors
def training(reference: str, need: str, notes: str, actor: str | None) -> None:
    """Record that the customer needs training (C19, C20); the Account Manager gets a task."""
    click.echo(
        commands.record_training_need(
            open_desk(), commands.RecordTrainingNeed(reference, need, notes), actor or default_actor()
        )
    )
