"""History events in words (C32): each event of a ticket's history as a sentence a person reads,
in the charter's words, with its details in words for a closer look.

``describe("call_delayed", "sam", {...}, {"sam": "Sam Second"})`` gives
"Sam Second set the call Delayed: waiting for the customer's log files". Nothing here changes
what is stored: the audit export (``supportdesk audit export``) keeps every event exactly.
A page never shows ``None``, a raw dict or list, or a task's UUID; long text is kept whole
(in the details when it would not make a one-line sentence).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from supportdesk.engine.process.roles import ROLES

from .formatting import label, local_time, moment, sentence

Details = list[tuple[str, str]]

# Free text longer than this goes to the details, whole, rather than into the one-line sentence.
SENTENCE_TEXT_LIMIT = 160
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Payload keys kept for machines (the audit, threading mail, the task projection), not for people.
MACHINE_KEYS = {"task_id", "element", "message_id", "inbound_mail", "held_mail", "job"}
# Payload keys that name another ticket: the call's escalations and training, and their call (C32).
LINK_KEYS = ("escalation", "training", "call")
# Who did it, when it was not a person signed in.
SYSTEM_ACTORS = {"desk": "The desk", "mail": "The desk's mailbox"}
# Payload keys that name a person by username.
PEOPLE_KEYS = ("was_claimed_by", "opened_by", "attached_by", "by")
CUSTOMER = "customer:"
# C05: the priorities as the charter names them.
PRIORITY_NAMES = {
    "High": "High",
    "Medium": "Medium",
    "Low": "Low",
    "Enhancement": "Request for Product Enhancement",
    "Advice": "Advice",
}
CLOCK_NAMES = {"first_response": "first level response clock", "resolution": "resolution clock"}
MAIL_NAMES = {
    "confirmation": "confirmation",
    "first_line_alert": "first-line alert",
    "progress_update": "progress update",
    "resolution": "resolution",
    "enhancement": "enhancement",
    "escalation_response": "escalation response",
    "portal_link": "portal link",
    "portal_link_from_staff": "portal link",
    "reply": "reply",
}
# The messages the diagrams wait for (C22, C24, C27), as what the person who sent one said.
MESSAGES = {
    "call_delayed": "asked for the call to be set Delayed",
    "information_received": "recorded that the information has arrived",
    "access_granted": "recorded that access to the customer's environment is granted",
    "customer_back": "recorded that the customer is back",
    "feedback": "passed on the customer's feedback",
    "public_reply": "answered the customer",  # C12: the first answer stops the first response clock
}
HANDOVERS = {
    "second_line": "passed the call to second line",  # C16
    "ask_third_line": "asked third line for advice",  # C17
    "pass_third_line": "passed the call to third line",  # C17
}
CLOSING_OUTCOMES = {
    "resolved": "resolved",
    "advised": "the Account Manager contacts the customer with advice",  # C10
    "enhancement": "passed to the Development Team for possible inclusion in a later release",  # C09
    "responded": "the customer has the response",  # C30
}
TIMER_CAUSES = {
    "timer job": "The worker fired it when it was due",
    "due when the command ran": "It was due when the next command on the call ran",
}
# Task form fields (the diagrams' form fields) in words, in the order a person reads a completed form;
# a field not named here is read from its id, after these.
FIELD_LABELS = {
    "priority": "Priority",
    "override_reason": "Why a different priority",
    "response_method": "How the customer was answered",
    "response": "What the customer was told",
    "next_step": "Next",
    "handover_reason": "Why it was handed over",
    "resolution": "Resolution",
    "advice": "Advice",
    "decision": "Decision",
    "notes": "Notes",
    "concern": "The customer's concern",
    "findings": "Findings so far",
    "information": "Information",
    "information_found": "What was found",
    "training_date": "Training date agreed",
    "arrangement": "What was arranged",
}
# The choices of the diagrams' enum fields in words: they say what was done, so they join the sentence.
CHOICES = {
    "priority": PRIORITY_NAMES,
    "response_method": {"phone": "call-back by phone", "email": "reply by email"},
    "next_step": {"resolved": "resolved", **HANDOVERS},
    "decision": {"planned": "planned for a release", "backlog": "kept in the backlog", "declined": "declined"},
    "information": {"complete": "all the information is to hand", "more_needed": "more information is needed"},
}


@dataclass(frozen=True)
class Sentence:
    text: str  # one line, starting with who did it
    details: Details = field(default_factory=list)  # (label, value) in words, for an expandable <details>
    link: str | None = None  # the other ticket the event names (C32: linked work shows both ways)

    @property
    def around_link(self) -> tuple[str, str | None, str]:
        """(before, link, after): the text split at the linked reference, so a page can make it a link."""
        if not self.link:
            return self.text, None, ""
        before, found, after = self.text.partition(self.link)
        return (before, self.link, after) if found else (f"{self.text} ", self.link, "")


@dataclass(frozen=True)
class _Event:
    """One event as a describer reads it: its payload in words, people by their display names."""

    kind: str
    payload: Mapping[str, Any]
    names: Mapping[str, str]

    def raw(self, key: str) -> Any:
        return self.payload.get(key)

    def words(self, key: str) -> str:
        return words(self.payload.get(key))

    def person(self, key: str) -> str:
        return who(str(self.payload[key]), self.names) if self.payload.get(key) else ""


@dataclass(frozen=True)
class _Said:
    """What a describer says: the sentence after the actor's name, and the details."""

    phrase: str
    details: Details = field(default_factory=list)


def describe(kind: str, actor: str, payload: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Sentence:
    """One history event as a sentence: ``names`` maps usernames to display names, where known."""
    event = _Event(kind, payload or {}, names or {})
    said = _describer(kind)(event)
    return Sentence(f"{who(actor, event.names)} {said.phrase}", said.details, linked_ticket(event.payload))


@dataclass(frozen=True)
class HistoryLine:
    """A row of a ticket page's history: its place in the chain, its moment, and what happened."""

    seq: int
    at: datetime
    said: Sentence


def history_lines(events: Iterable[Any], names: Mapping[str, str]) -> list[HistoryLine]:
    """A ticket's history events (``queries.HistoryRow``) in words, in order."""
    return [HistoryLine(e.seq, e.at, describe(e.kind, e.actor, e.payload, names)) for e in events]


def linked_ticket(payload: Mapping[str, Any]) -> str | None:
    """The other ticket an event names, to link to it."""
    return next((str(payload[key]) for key in LINK_KEYS if payload.get(key)), None)


def has_sentence(kind: str) -> bool:
    """Whether ``kind`` has sentences of its own (an unknown kind gets a generic one)."""
    return kind in _DESCRIBERS or kind in _CLOCK_CHANGES


def people_in(events: Iterable[Any]) -> set[str]:
    """The usernames the events name (who did them, and who they mention), to look up their names."""
    named = set()
    for event in events:
        named.add(event.actor)
        named.update(str(event.payload[key]) for key in PEOPLE_KEYS if event.payload.get(key))
    return named


def who(actor: str, names: Mapping[str, str]) -> str:
    if actor in names:
        return names[actor]
    if actor.startswith(CUSTOMER):
        return f"The customer ({actor.removeprefix(CUSTOMER)})"
    return SYSTEM_ACTORS.get(actor, actor)


# --- values in words ---------------------------------------------------------------------------------------


def words(value: Any) -> str:
    """Any payload value as a person reads it: "" for nothing (a page shows no ``None``), moments in
    London time, lists and mappings spelt out, no UUIDs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list | tuple):
        return ", ".join(filter(None, (words(item) for item in value)))
    if isinstance(value, Mapping):
        return "; ".join(f"{_key_label(key)}: {text}" for key, text in _spelt(value))
    return str(value)


def _spelt(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(key, text) for key, value in payload.items() if key not in MACHINE_KEYS and (text := words(value))]


def _text(value: str) -> str:
    if UUID.fullmatch(value.strip()):
        return ""
    when = _moment(value)
    if isinstance(when, datetime):
        return local_time(when)
    return when.strftime("%d %b %Y") if isinstance(when, date) else value


def _moment(value: str) -> datetime | date | None:
    """A moment kept as ISO text (with its offset), or a date; None for any other text."""
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    if len(value) < 16 or not value[:4].isdigit():
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _key_label(key: str) -> str:
    return FIELD_LABELS.get(key, sentence(key.replace("_", " ")))


def _details(*pairs: tuple[str, Any]) -> Details:
    """The (label, value) pairs that say something, values in words."""
    return [(name, text) for name, value in pairs if (text := words(value))]


def _with_text(phrase: str, text: str, name: str) -> _Said:
    """Short text ends the sentence ("...: waiting for the log files"); long text goes whole to the details."""
    if not text:
        return _Said(phrase)
    if len(text) <= SENTENCE_TEXT_LIMIT and "\n" not in text:
        return _Said(f"{phrase}: {text}")
    return _Said(phrase, [(name, text)])


def _and(said: _Said, details: Details) -> _Said:
    return _Said(said.phrase, [*said.details, *details])


def _priority(name: Any) -> str:
    return PRIORITY_NAMES.get(str(name), str(name)) if name else ""


def _quoted(text: str) -> str:
    return f"“{text}”" if text else ""


# --- the describers, one per kind --------------------------------------------------------------------------


def _call_logged(e: _Event) -> _Said:
    channel = "by email" if e.raw("channel") == "email" else "by telephone"
    said = _with_text(f"logged the call {channel}", e.words("summary"), "Summary")
    return _and(
        said,
        _details(
            ("Contact", f"{e.words('contact_name')} <{e.words('contact_email')}>" if e.raw("contact_email") else ""),
            ("Account", e.raw("account")),
            ("Licence type", label(e.raw("licence_type"), "licence_type")),
            ("Kind of request", label(e.raw("request_kind"), "request_kind")),
            ("What blocks the customer", label(e.raw("symptom"), "symptom")),
            ("Next campaign", moment(e.raw("campaign_at")) or "No campaign scheduled"),
            ("A future campaign is being prepared", e.raw("preparing_campaign") or None),
            ("Diagram version", e.raw("diagram_version")),
        ),
    )


def _escalation_raised(e: _Event) -> _Said:
    about = f" about the call {e.raw('call')}" if e.raw("call") else ""
    said = _with_text(f"raised an escalation{about}", e.words("concern"), "The customer's concern")
    return _and(said, _details(("Diagram version", e.raw("diagram_version"))))


def _training_need_recorded(e: _Event) -> _Said:
    about = f" on the call {e.raw('call')}" if e.raw("call") else ""
    need = label(e.raw("need"), "training_need")
    return _Said(
        f"recorded a training need{about}",
        _details(("Training need", need), ("Notes", e.raw("notes")), ("Diagram version", e.raw("diagram_version"))),
    )


def _training_requested(e: _Event) -> _Said:
    return _Said(
        f"asked the Account Manager for training ({e.words('training')})",
        _details(("Training need", label(e.raw("need"), "training_need"))),
    )


def _escalation_started(e: _Event) -> _Said:
    return _Said(f"started the escalation {e.words('escalation')}")


def _reference_assigned(e: _Event) -> _Said:
    reference = e.words("reference")
    what = "the Call Reference" if reference.startswith("SUP-") else "the reference"
    return _Said(f"assigned {what} {reference}")


def _task_opened(e: _Event) -> _Said:
    role = ROLES.get(str(e.raw("role") or ""), "")
    return _Said(f"opened the task {_quoted(e.words('task'))}" + (f" for {role}" if role else ""))


def _task_completed(e: _Event) -> _Said:
    """The choices made join the sentence ("call-back by phone; passed the call to second line"); every
    answer, free text whole, is in the details, in the order of the form."""
    data = _in_form_order(e.raw("data") if isinstance(e.raw("data"), Mapping) else {})
    chosen = [CHOICES[key].get(str(value), words(value)) for key, value in data.items() if key in CHOICES and value]
    phrase = f"completed {_quoted(e.words('task'))}" + (f": {'; '.join(chosen)}" if chosen else "")
    return _Said(phrase, [(_key_label(key), _field_words(key, value)) for key, value in _spelt(data)])


def _in_form_order(data: Mapping[str, Any]) -> dict[str, Any]:
    """The history keeps a form's answers sorted by field id; people read them in FIELD_LABELS' order."""
    order = list(FIELD_LABELS)
    return dict(sorted(data.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def _field_words(key: str, value: str) -> str:
    return sentence(CHOICES[key].get(value, value)) if key in CHOICES else value


def _task_claimed(e: _Event) -> _Said:
    return _Said(f"claimed the task {_quoted(e.words('task'))}")


def _task_released(e: _Event) -> _Said:
    return _Said(
        f"released the task {_quoted(e.words('task'))}", _details(("It was claimed by", e.person("was_claimed_by")))
    )


def _message_received(e: _Event) -> _Said:
    """A message the diagram waited for (C22, C24, C27). Feedback and a Delayed request keep what they
    carried in the details: the events they lead to (feedback_received, call_delayed) say it in words."""
    message = e.words("message")
    carried = e.raw("payload") if isinstance(e.raw("payload"), Mapping) else {}
    phrase = MESSAGES.get(message, f"sent the message {_quoted(message.replace('_', ' '))}")
    if message == "feedback":
        return _Said(phrase, _feedback_details(carried))
    if message == "call_delayed":
        reason = label(carried.get("reason"), "delay_reason") if carried.get("reason") else ""
        return _Said(phrase, _details(("Why", reason), ("Waiting for", carried.get("note"))))
    return _and(_with_text(phrase, words(carried.get("note")), "Note"), _details(("Via", carried.get("via"))))


def _call_delayed(e: _Event) -> _Said:
    why = label(e.raw("reason"), "delay_reason") or sentence(e.words("why"))
    note = e.words("note")
    if not note:
        return _with_text("set the call Delayed", why[:1].lower() + why[1:], "Why")
    return _and(_with_text("set the call Delayed", note, "Waiting for"), _details(("Why", why)))


def _call_reopened(e: _Event) -> _Said:
    priority = _priority(e.raw("priority"))
    return _Said("re-opened the call: work can progress" + (f", at priority {priority}" if priority else ""))


def _priority_set(e: _Event) -> _Said:
    chosen, suggested = _priority(e.raw("priority")), _priority(e.raw("suggested"))
    if not suggested or suggested == chosen:
        return _Said(f"set the priority {chosen}" + (", as suggested" if suggested else ""))
    said = _with_text(
        f"set the priority {chosen} rather than the suggested {suggested}", e.words("override_reason"), "Why"
    )
    return _and(said, _details(("Suggested priority", suggested)))


def _priority_regraded(e: _Event) -> _Said:
    phrase = f"re-graded the call from {_priority(e.raw('from'))} to {_priority(e.raw('to'))}"
    return _with_text(phrase, e.words("reason"), "Why")


def _handed_over(e: _Event) -> _Said:
    phrase = HANDOVERS.get(str(e.raw("step")), e.words("what") or "handed the call over")
    return _with_text(phrase, e.words("reason"), "Why")


def _call_resolved(e: _Event) -> _Said:
    return _with_text("resolved the call", e.words("resolution"), "Resolution")


def _feedback_received(e: _Event) -> _Said:
    rating = e.raw("rating")
    phrase = "gave feedback" + (f", rating the call {rating} out of 5" if rating else "")
    return _with_text(phrase, e.words("comment"), "Comment")


def _feedback_details(feedback: Mapping[str, Any]) -> Details:
    rating = feedback.get("rating")
    return _details(("Rating", f"{rating} out of 5" if rating else ""), ("Comment", feedback.get("comment")))


def _call_closed(e: _Event) -> _Said:
    outcome = e.words("outcome")
    return _Said(
        "closed the call" + (f": {CLOSING_OUTCOMES.get(outcome, outcome.replace('_', ' '))}" if outcome else "")
    )


def _customer_information(e: _Event) -> _Said:
    return _with_text("added information on the portal", e.words("text"), "Information")


def _mail_name(e: _Event) -> str:
    template = e.words("template")
    return MAIL_NAMES.get(template, template.replace("_", " "))


def _mail_queued(e: _Event) -> _Said:
    return _Said(f"queued the {_mail_name(e)} mail to {e.words('to')}", _details(("Subject", e.raw("subject"))))


def _mail_sent(e: _Event) -> _Said:
    return _Said(f"sent the {_mail_name(e)} mail to {e.words('to')}", _details(("Subject", e.raw("subject"))))


def _mail_failed(e: _Event) -> _Said:
    tries = f" after {e.words('attempts')} tries" if e.raw("attempts") else ""
    return _Said(
        f"could not deliver the {_mail_name(e)} mail to {e.words('to')}{tries}",
        _details(("Subject", e.raw("subject")), ("Error", e.raw("error"))),
    )


def _mail_requeued(e: _Event) -> _Said:
    return _Said(
        f"queued the {_mail_name(e)} mail to {e.words('to')} again",
        _details(("Asked by", e.person("by")), ("Subject", e.raw("subject"))),
    )


def _mail_received(e: _Event) -> _Said:
    sender = e.words("from")
    if e.raw("attached_by"):
        phrase = f"attached a held email from {sender} to the call"
    elif e.raw("opened_by"):
        phrase = f"opened the call from a held email from {sender}"
    else:
        phrase = f"received an email from {sender}"
    return _Said(f"{phrase}: {_quoted(e.words('subject'))}" if e.raw("subject") else phrase, _mail_details(e))


def _mail_details(e: _Event) -> Details:
    """A received mail's details (its subject is in the sentence)."""
    return _details(
        ("What they wrote", e.raw("excerpt")),
        ("Attachments", e.raw("attachments")),
        ("Why it was held for review", e.raw("review_reason")),
        ("Not passed to the process", e.raw("not_delivered")),
    )


def _auto_reply_received(e: _Event) -> _Said:
    return _Said(
        f"received an automatic reply from {e.words('from')}: {_quoted(e.words('subject'))}",
        _details(("Why it counts as automatic", e.raw("why")), *_mail_details(e)),
    )


def _held_mail_discarded(e: _Event) -> _Said:
    said = _with_text(f"discarded a held email from {e.words('from')} that quoted this call", e.words("reason"), "Why")
    return _and(said, _details(("Subject", e.raw("subject"))))


# --- the conversation (issue 19, C12, C25) ------------------------------------------------------------------


def _reply_added(e: _Event) -> _Said:
    said = _with_text("replied to the customer", e.words("body"), "What they wrote")
    return _and(said, _details(("Copied to", e.raw("cc")), ("Attachments", _files(e))))


def _note_added(e: _Event) -> _Said:
    said = _with_text("added an internal note", e.words("body"), "Note")
    return _and(said, _details(("Attachments", _files(e))))


def _call_back_logged(e: _Event) -> _Said:
    return _with_text("logged a call-back to the customer", e.words("body"), "What was said")


def _portal_message_added(e: _Event) -> _Said:
    said = _with_text("wrote on the portal", e.words("body"), "What they wrote")
    return _and(said, _details(("Attachments", _files(e))))


def _files(e: _Event) -> str:
    """An entry's files as "figures.csv (28 bytes), ..."."""
    files = [file for file in e.raw("attachments") or [] if isinstance(file, Mapping)]
    return ", ".join(f"{words(file.get('filename'))} ({words(file.get('size'))} bytes)" for file in files)


def _portal_link_sent(e: _Event) -> _Said:
    return _Said(f"mailed {e.words('to')} a new link to the portal", _details(("Subject", e.raw("subject"))))


def _timer_fired(e: _Event) -> _Said:
    due = e.words("due_at")
    phrase = f"fired the timer {_quoted(e.words('task') or 'timer')}" + (f", due {due}" if due else "")
    return _Said(phrase, _details(("How", TIMER_CAUSES.get(e.words("cause"), e.words("cause")))))


def _job_incident(e: _Event) -> _Said:
    return _Said(
        f"stopped trying the {e.words('job_kind') or 'background'} job after {e.words('attempts')} tries: "
        "it is an incident for an admin to retry",
        _details(("Error", e.raw("error"))),
    )


def _incident_retried(e: _Event) -> _Said:
    return _Said(
        f"retried the incident of the {e.words('job_kind') or 'background'} job", _details(("Error", e.raw("error")))
    )


def _ticket_migrated(e: _Event) -> _Said:
    changed = e.raw("changed") if isinstance(e.raw("changed"), Mapping) else {}
    timers = e.raw("timers") if isinstance(e.raw("timers"), list) else []
    return _Said(
        f"moved the ticket from diagram version {e.words('from')} to version {e.words('to')}",
        _details(
            ("Process", e.raw("process")),
            ("Moved by", e.person("by")),
            *((f"Elements {kind}", ids) for kind, ids in changed.items()),
            ("Timers", "; ".join(_timer_move(timer) for timer in timers if isinstance(timer, Mapping))),
        ),
    )


def _timer_move(timer: Mapping[str, Any]) -> str:
    was, due = words(timer.get("was")), words(timer.get("due"))
    again = ", evaluated again" if timer.get("re_evaluated") else ""
    return (
        f"{words(timer.get('element'))}: due {due or 'never'}" + (f" (was {was})" if was and was != due else "") + again
    )


def _unknown(e: _Event) -> _Said:
    """A kind from another version of the desk: its name and its payload, still in words."""
    return _Said(f"recorded: {sentence(e.kind.replace('_', ' '))}", [(_key_label(k), v) for k, v in _spelt(e.payload)])


# --- the SLA clocks (C12-C14, C23, C24) --------------------------------------------------------------------


def _clock(e: _Event) -> str:
    metric = e.words("clock")
    return CLOCK_NAMES.get(metric, f"{metric.replace('_', ' ')} clock")


def _terms(e: _Event) -> str:
    """(High, 8 working hours)": the priority and target the clock runs under."""
    terms = [text for text in (_priority(e.raw("priority")), e.words("target")) if text]
    return f" ({', '.join(terms)})" if terms else ""


def _due(e: _Event, lead: str = ", due by") -> str:
    due = e.words("due")
    return f"{lead} {due}" if due else ""


def _sla_change(verb: str, *, due: bool = True, reason: bool = False) -> Callable[[_Event], _Said]:
    """A clock event says all it holds in its sentence (priority, target, due moment), and why, if it says."""

    def said(e: _Event) -> _Said:
        phrase = f"{verb} the {_clock(e)}{_terms(e)}" + (_due(e) if due else "")
        return _with_text(phrase, e.words("reason"), "Why") if reason else _Said(phrase)

    return said


def _sla_breached(e: _Event) -> _Said:
    """C14: a missed target is recorded, never hidden."""
    return _Said(f"recorded a breach of the {_clock(e)}{_terms(e)}{_due(e, ': it was due by')}")


def _sla_other(e: _Event) -> _Said:
    """A change of clock this version does not know: named by its kind."""
    return _sla_change(e.kind.removeprefix("sla_").replace("_", " "))(e)


_CLOCK_CHANGES: dict[str, Callable[[_Event], _Said]] = {
    "sla_started": _sla_change("started"),
    "sla_stopped": _sla_change("stopped", due=False),
    "sla_paused": _sla_change("paused", due=False, reason=True),
    "sla_resumed": _sla_change("resumed"),
    "sla_regraded": _sla_change("re-graded", reason=True),
    "sla_breached": _sla_breached,
}
_DESCRIBERS: dict[str, Callable[[_Event], _Said]] = {
    "call_logged": _call_logged,
    "escalation_raised": _escalation_raised,
    "training_need_recorded": _training_need_recorded,
    "training_requested": _training_requested,
    "escalation_started": _escalation_started,
    "reference_assigned": _reference_assigned,
    "task_opened": _task_opened,
    "task_completed": _task_completed,
    "task_claimed": _task_claimed,
    "task_released": _task_released,
    "message_received": _message_received,
    "call_delayed": _call_delayed,
    "call_reopened": _call_reopened,
    "priority_set": _priority_set,
    "priority_regraded": _priority_regraded,
    "handed_over": _handed_over,
    "call_resolved": _call_resolved,
    "feedback_received": _feedback_received,
    "call_closed": _call_closed,
    "customer_information": _customer_information,
    "mail_queued": _mail_queued,
    "mail_sent": _mail_sent,
    "mail_failed": _mail_failed,
    "mail_requeued": _mail_requeued,
    "mail_received": _mail_received,
    "auto_reply_received": _auto_reply_received,
    "held_mail_discarded": _held_mail_discarded,
    "reply_added": _reply_added,
    "note_added": _note_added,
    "call_back_logged": _call_back_logged,
    "portal_message_added": _portal_message_added,
    "portal_link_sent": _portal_link_sent,
    "timer_fired": _timer_fired,
    "job_incident": _job_incident,
    "incident_retried": _incident_retried,
    "ticket_migrated": _ticket_migrated,
}


def _describer(kind: str) -> Callable[[_Event], _Said]:
    if kind in _DESCRIBERS:
        return _DESCRIBERS[kind]
    if kind in _CLOCK_CHANGES:
        return _CLOCK_CHANGES[kind]
    return _sla_other if kind.startswith("sla_") else _unknown
