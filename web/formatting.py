"""Template filters: moments in Europe/London, roles and history events in words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from supportdesk.engine.clock import clock, local
from supportdesk.engine.roles import ROLES

EVENT_KINDS = {
    "call_logged": "Call logged",
    "reference_assigned": "Call Reference assigned",
    "task_opened": "Task opened",
    "task_completed": "Task completed",
    "message_received": "Message received",
    "timer_fired": "Timer fired",
    "call_closed": "Call closed",
}
SUMMARY_LIMIT = 160


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
    return (f"by {p.get('channel')} from {p.get('contact_name')} <{p.get('contact_email')}>, "
            f"account {p.get('account')}: {p.get('summary')} (diagram version {p.get('diagram_version')})")


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
}
