"""Template filters: moments in Europe/London, roles, SLA clocks and vocabularies in words.

History events in words are history_text's; these are the pieces it and the pages share.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.tickets.commands import TRAINING_NEEDS
from supportdesk.engine.working_time.clock import clock, shown
from supportdesk.handlers.delay import DELAY_REASONS

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
    """Stored moments are UTC; people read them in Europe/London, in the en-GB form: "29 Nov 2026, 14:05"."""
    if moment is None:
        return ""
    return shown(moment)


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
