"""Service-task handlers: the named Python functions the diagrams call.

A diagram's service task names a handler by topic
(``camunda:type="external" camunda:topic="assign_call_reference"``). Each
handler is a small function ``handler(uow, task)``: it records what must
happen through the command's unit of work (history, reference, later SLA
clocks and mail), never opens a transaction or sends anything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.process.spiff import HandlerRegistry
from supportdesk.engine.tickets.unit_of_work import UnitOfWork


class Handler(Protocol):
    """A service task's handler: it writes through the command's unit of work (never a transaction
    of its own) and reads what it needs from the task's data. mypy checks every registered one."""

    def __call__(self, uow: UnitOfWork, task: SpiffTask, /) -> None: ...


HANDLERS: dict[str, Handler] = {}
# Functions a diagram's expressions may call, e.g. a timer's
# ``<bpmn:timeDate>sla_due("first_response")</bpmn:timeDate>``.
EXPRESSION_FUNCTIONS: dict[str, Callable] = {}


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register ``function`` as the handler of ``topic``."""

    def register(function: Handler) -> Handler:
        if topic in HANDLERS:
            raise ValueError(f"two handlers for topic {topic!r}")
        HANDLERS[topic] = function
        return function

    return register


def expression(function: Callable) -> Callable:
    """Make ``function`` callable by name from the diagrams' expressions."""
    EXPRESSION_FUNCTIONS[function.__name__] = function
    return function


# Importing the modules registers their handlers.
from . import call_reference, delay, notifications, priority, resolution, sla  # noqa: E402,F401

# What the entry points hand the desk: ``Desk(settings, REGISTRY)``.
REGISTRY = HandlerRegistry(HANDLERS, EXPRESSION_FUNCTIONS)
