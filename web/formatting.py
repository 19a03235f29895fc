"""Template filters: moments in Europe/London, roles, SLA clocks and history events in words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.tickets.commands import TRAINING_NEEDS
from supportdesk.engine.working_time.clock import clock, local
from supportdesk.handlers.delay import DELAY_REASONS

EVENT_KINDS = {
    "call_logged": "Call logged",
    "reference_assigned": "Call Reference assigned",
    "task_opened": "Task opened",
    "task_completed": "Task completed",
    "message_received": "Message received",
    "timer_fired": "Timer fired",
    "call_closed": "Call closed",
    "escalation_started": "Escalation started",
    "escalation_raised": "Escalation raised",
    "training_need_recorded": "Training need recorded",
    "training_requested": "Training requested",
    "ticket_migrated": "Moved to another diagram version",
    "call_delayed": "Call set Delayed",
    "call_reopened": "Call re-opened",
    "priority_regraded": "Priority re-graded",
    "task_claimed": "Task claimed",
    "task_released": "Task released",
    "job_incident": "Incident: a timer job stopped after its last try",
    "incident_retried": "Incident retried",
}
SUMMARY_LIMIT = 160
# Payload keys that name another ticket: the call's escalations and training, and their call (C32).
LINK_KEYS = ("escalation", "training", "call")
# Workflow data a task form shows above its fields (queries.FORM_CONTEXT), in words.
CONTEXT_LABELS = {
    "priority": "Priority",
    "handover_reason": "Hand-over reason or question",
    "advice": "Advice from third line",
    "concern": "The customer's concern",
    "findings": "Findings so far",
    "information_found": "Information gathered",
}
VOCABULARIES = {
    "channel": CHANNELS,
    "licence_type": LICENCE_TYPES,
    "request_kind": REQUEST_KINDS,
    "symptom": SYMPTOMS,
    "delay_reason": DELAY_REASONS,
    "training_need": TRAINING_NEEDS,
}


def local_time(moment: datetime | None) -> str:
    """Stored moments are UTC; people read them in Europe/London (GMT or BST)."""
    if moment is None:
        return ""
    return local(moment).strftime("%d %b %Y %H:%M %Z")


def age(moment: datetime) -> str:
    """How long ago, by the desk's clock (so a frozen test clock gives stable pages)."""
    minutes = max(int((clock.now() - moment).total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def sentence(text: str) -> str:
    """Engine messages and vocabulary labels start in lower case; a page shows them as sentences."""
    return text[:1].upper() + text[1:]


def label(value: str | None, vocabulary: str) -> str:
    """A stored value (e.g. symptom ``software_crashes``) in the engine's words for it."""
    words = VOCABULARIES[vocabulary].get(value or "")
    return sentence(words) if words else (value or "")


def working_time(amount: timedelta) -> str:
    """Working time counted or left on an SLA clock; negative means overdue."""
    minutes = int(abs(amount).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"overdue by {text}" if amount < timedelta(0) else text


def clock_name(metric: str) -> str:
    return metric.replace("_", " ").capitalize()


def moment(text: str | None) -> str:
    """A moment kept as ISO text in a payload, in London time."""
    return local_time(datetime.fromisoformat(text)) if text else ""


def linked_ticket(payload: dict[str, Any]) -> str | None:
    """The other ticket an event names, to link to it."""
    return next((str(payload[key]) for key in LINK_KEYS if payload.get(key)), None)


def task_context(context: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines for a task form: the suggested priority with the rule that chose it, first."""
    lines = []
    if context.get("suggested_priority"):
        reason = context.get("priority_reason")
        lines.append(
            (
                "Suggested priority",
                f"{context['suggested_priority']} — {reason}" if reason else str(context["suggested_priority"]),
            )
        )
    for key, value in context.items():
        if key not in ("suggested_priority", "priority_reason"):
            lines.append((CONTEXT_LABELS.get(key, sentence(key.replace("_", " "))), str(value)))
    return lines


def role_name(role: str | None) -> str:
    return ROLES.get(role or "", role or "no role")


def event_kind(kind: str) -> str:
    if kind in EVENT_KINDS:
        return EVENT_KINDS[kind]
    if kind.startswith("sla_"):  # sla_started, sla_paused, sla_breached...
        return f"SLA clock {kind.removeprefix('sla_').replace('_', ' ')}"
    return kind.replace("_", " ").capitalize()


def event_summary(kind: str, payload: dict[str, Any]) -> str:
    describe = _DESCRIBERS.get(kind, _pairs)
    return _shorten(describe(payload))


def _call_logged(p: dict[str, Any]) -> str:
    return (
        f"by {label(p.get('channel'), 'channel').lower()} from {p.get('contact_name')} "
        f"<{p.get('contact_email')}>, account {p.get('account')}: {p.get('summary')} "
        f"(diagram version {p.get('diagram_version')})"
    )


def _training_need(p: dict[str, Any]) -> str:
    notes = f": {p['notes']}" if p.get("notes") else ""
    return label(p.get("need"), "training_need") + notes


def _call_delayed(p: dict[str, Any]) -> str:
    note = f" ({p['note']})" if p.get("note") else ""
    return label(p.get("reason"), "delay_reason") + note


def _task_opened(p: dict[str, Any]) -> str:
    return f"{p.get('task')} for {role_name(p.get('role'))}"


def _task_completed(p: dict[str, Any]) -> str:
    data = _pairs(p.get("data") or {})
    return f"{p.get('task')}: {data}" if data else str(p.get("task"))


def _pairs(payload: dict[str, Any]) -> str:
    return "; ".join(f"{key.replace('_', ' ')}: {_value(value)}" for key, value in payload.items())


def _value(value: Any) -> Any:
    """Payloads store moments as UTC ISO text; people read them in London time too."""
    if isinstance(value, str) and len(value) > 10:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return local_time(moment)
    return value


def _shorten(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


_DESCRIBERS = {
    "call_logged": _call_logged,
    "reference_assigned": lambda p: str(p.get("reference")),
    "task_opened": _task_opened,
    "task_completed": _task_completed,
    "call_closed": lambda p: "",
    "escalation_started": lambda p: "",  # the linked reference says it all
    "escalation_raised": lambda p: str(p.get("concern", "")),
    "training_need_recorded": _training_need,
    "training_requested": _training_need,
    "ticket_migrated": lambda p: f"from version {p.get('from')} to version {p.get('to')} by {p.get('by')}",
    "call_delayed": _call_delayed,
}
