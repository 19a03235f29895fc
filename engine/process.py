"""SpiffWorkflow, set up once for the desk: parser, serializer, script engine.

The diagrams are Camunda-style (Camunda Modeler edits them): user-task forms
are ``camunda:formData``, and a service task names its handler as an
external topic, ``camunda:type="external" camunda:topic="assign_call_reference"``.
SpiffWorkflow's Camunda parser ignores service tasks, so this module adds a
task spec that calls the handler registry, and its serializer converter.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from . import clock as _clock  # noqa: F401  (installs the clock into SpiffWorkflow's timers)
from .errors import DeskError, HandlerError


class HandlerTask(ServiceTask, BpmnSpecMixin):
    """A service task that runs the named handler from ``handlers/``."""

    def __init__(self, wf_spec, bpmn_id, topic, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _execute(self, task):
        task.workflow.script_engine.run_handler(task, self.topic)
        return True


class HandlerTaskParser(CamundaTaskParser):
    def create_task(self):
        topic = self.node.get(f"{{{CAMUNDA_MODEL_NS}}}topic")
        if self.node.get(f"{{{CAMUNDA_MODEL_NS}}}type") != "external" or not topic:
            self.raise_validation_exception(
                'A service task must name its handler: camunda:type="external" camunda:topic="<handler>"'
            )
        return HandlerTask(self.spec, self.bpmn_id, topic=topic, **self.bpmn_attributes)


class HandlerTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["topic"] = spec.topic
        return dct


class DeskParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (HandlerTaskParser, HandlerTask),
    }


# The unit of work of the command being run, for the handlers it calls.
_current_run: contextvars.ContextVar[Any] = contextvars.ContextVar("current_run", default=None)


class DeskScriptEngine(PythonScriptEngine):
    """Evaluates scripts and expressions, and dispatches service tasks to handlers.

    SpiffWorkflow's own ``call_service`` masks every handler exception as
    ``NameError: name 'script' is not defined``; ``run_handler`` raises a
    ``HandlerError`` that names the ticket and the task instead.
    """

    def __init__(self, handlers: dict, expression_functions: dict | None = None):
        super().__init__(environment=TaskDataEnvironment(dict(expression_functions or {})))
        self.handlers = handlers

    def run_handler(self, task, topic: str) -> None:
        run = _current_run.get()
        reference = getattr(run.ticket, "reference", None) if run else None
        where = f"ticket {reference or '(no reference yet)'}, task {task.task_spec.bpmn_id}"
        handler = self.handlers.get(topic)
        if handler is None:
            raise HandlerError(f"{where}: no handler is registered for topic {topic!r}")
        if run is None:
            raise HandlerError(f"{where}: handler {topic!r} ran outside a command")
        try:
            handler(run, task)
        except DeskError:  # a refusal meant for the person (bad input, not allowed): pass it on
            raise
        except Exception as exc:
            raise HandlerError(f"{where}: handler {topic!r} failed: {exc.__class__.__name__}: {exc}") from exc


def current_unit_of_work():
    """The unit of work of the command running in this thread, or None."""
    return _current_run.get()


@contextlib.contextmanager
def running(unit_of_work):
    """Lets the handlers called in this block record through ``unit_of_work``."""
    token = _current_run.set(unit_of_work)
    try:
        yield unit_of_work
    finally:
        _current_run.reset(token)


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(CAMUNDA_CONFIG)
    config[HandlerTask] = HandlerTaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


class ProcessEngine:
    """Owns the parser, the serializer and the script engine (one per process)."""

    def __init__(self, handlers: dict, expression_functions: dict | None = None):
        self.script_engine = DeskScriptEngine(handlers, expression_functions)
        self.serializer = _make_serializer()

    @staticmethod
    def new_parser() -> DeskParser:
        return DeskParser()

    def start(self, spec, subprocess_specs) -> BpmnWorkflow:
        return BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        return self.serializer.serialize_json(workflow)

    def loads(self, state: str) -> BpmnWorkflow:
        workflow = self.serializer.deserialize_json(state)
        workflow.script_engine = self.script_engine  # not serialized (see notes)
        return workflow
