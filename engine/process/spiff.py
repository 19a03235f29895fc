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
import copy
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import orjson
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer, DefaultRegistry
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

from supportdesk.engine.errors import DeskError, HandlerError
from supportdesk.engine.process import feel, timers
from supportdesk.engine.working_time import clock as _clock  # noqa: F401  (installs the clock into SpiffWorkflow's timers)


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
    """SpiffWorkflow's Camunda parser, with handler tasks, reading two Camunda habits as Camunda
    does: a timer's bare ISO 8601 value (``P5D``), and FEEL unary tests in decision tables."""

    OVERRIDE_PARSER_CLASSES: ClassVar[dict] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (HandlerTaskParser, HandlerTask),
    }

    def add_bpmn_xml(self, bpmn, filename=None):
        super().add_bpmn_xml(_with_timers_as_python(bpmn), filename)

    def add_dmn_xml(self, node, filename=None):
        super().add_dmn_xml(_with_feel_as_python(node), filename)


_TIMER_TAGS = tuple(full_tag(tag) for tag in ("timeDate", "timeDuration", "timeCycle"))


def _with_timers_as_python(tree):
    """A copy with each bare ISO 8601 timer value quoted (SpiffWorkflow evaluates it as Python);
    the tree itself when there is none (most diagrams: no copy)."""
    if not any(timers.as_python(t.text or "") != (t.text or "") for t in tree.iter(*_TIMER_TAGS)):
        return tree
    tree = copy.deepcopy(tree)
    for timer in tree.iter(*_TIMER_TAGS):
        timer.text = timers.as_python(timer.text or "")
    return tree


def _with_feel_as_python(root):
    """A copy with FEEL input and output cells written as the Python that runs them as FEEL means."""
    if not any(new != old for _, old, new in _feel_cells(root)):
        return root
    root = copy.deepcopy(root)
    for text, old, new in _feel_cells(root):
        if new != old:
            text.text = new
    return root


def _feel_cells(root):
    """(text element, its text, the Python it runs as) for each decision-table cell."""
    for text in root.iterfind(".//{*}inputEntry/{*}text"):
        yield text, text.text, feel.input_cell_as_run(text.text or "")
    for text in root.iterfind(".//{*}outputEntry/{*}text"):
        yield text, text.text, feel.output_entry_to_python(text.text) if text.text else text.text


# The unit of work of the command being run, for the handlers it calls.
_current_run: contextvars.ContextVar[Any] = contextvars.ContextVar("current_run", default=None)


class DeskScriptEngine(PythonScriptEngine):
    """Evaluates scripts and expressions, and dispatches service tasks to handlers.

    SpiffWorkflow's own ``call_service`` masks every handler exception as
    ``NameError: name 'script' is not defined``; ``run_handler`` raises a
    ``HandlerError`` that names the ticket and the task instead.
    """

    def __init__(
        self,
        handlers: Mapping[str, Callable[..., None]],
        expression_functions: Mapping[str, Callable[..., Any]] | None = None,
    ):
        super().__init__(environment=TaskDataEnvironment(dict(expression_functions or {})))
        self.handlers = handlers

    def run_handler(self, task, topic: str) -> None:
        run = _current_run.get()
        reference = getattr(run.ticket, "reference", None) if run else None
        where = f"ticket {reference or '(no reference yet)'}, task {task.task_spec.bpmn_id}"
        step = {"element_id": task.task_spec.bpmn_id or "", "element_name": task.task_spec.bpmn_name or ""}
        handler = self.handlers.get(topic)
        if handler is None:
            raise HandlerError(f"{where}: no handler is registered for topic {topic!r}", **step)
        if run is None:
            raise HandlerError(f"{where}: handler {topic!r} ran outside a command", **step)
        try:
            handler(run, task)
        except DeskError:  # a refusal meant for the person (bad input, not allowed): pass it on
            raise
        except Exception as exc:
            raise HandlerError(f"{where}: handler {topic!r} failed: {exc.__class__.__name__}: {exc}", **step) from exc


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


class DeskWorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's own workflow converter, plus the instance alone: everything but the specs."""

    def instance_to_dict(self, workflow: BpmnWorkflow) -> dict:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)  # data, tasks, root, ...
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


_PLAIN = frozenset({str, int, float, bool, type(None)})


class DeskRegistry(DefaultRegistry):
    """SpiffWorkflow's registry, with a shorter road through an instance: saving converts every task,
    with its data and internal data, on every command. The result is ``DefaultRegistry.convert``'s (a
    plain JSON value is itself, a registered object goes to its converter, a dict loses its callables
    and modules and has each value converted), except that a set becomes a list, as SpiffWorkflow's
    JSON encoder writes it (a set of datetimes would otherwise become an unhashable set of dicts).

    It also notes, per thread, whether the conversion lost anything a load would not give back (a
    set or tuple read back as a list, a dropped callable, a key that is not a string): an instance
    saved with such data is not kept live (``LiveInstances``), so the next command reads it as stored."""

    def __init__(self) -> None:
        super().__init__()
        self._lossy = threading.local()

    def start_noting_loss(self) -> None:
        self._lossy.seen = False

    @property
    def lost_something(self) -> bool:
        return getattr(self._lossy, "seen", True)

    def convert(self, obj):
        cls = type(obj)
        if cls in _PLAIN:
            return obj
        typename = self.typenames.get(cls)
        if typename is not None:
            return self.convert_to_dict[typename](obj)
        if cls is dict:
            kept = {k: self.convert(v) for k, v in obj.items() if not callable(v) and not isinstance(v, ModuleType)}
            if len(kept) != len(obj) or any(type(k) is not str for k in kept):
                self._lossy.seen = True
            return kept
        if cls is not list:  # a set, a tuple or a subclass: read back as something else
            self._lossy.seen = True
        if cls is set:
            return [self.convert(v) for v in obj]
        return super().convert(obj)  # lists, tuples, subclasses: the registry's own road


def _make_serializer() -> tuple[BpmnWorkflowSerializer, DeskWorkflowConverter]:
    config = dict(CAMUNDA_CONFIG)
    config[HandlerTask] = HandlerTaskConverter
    config[BpmnWorkflow] = DeskWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config, DeskRegistry())
    return BpmnWorkflowSerializer(registry), DeskWorkflowConverter(BpmnWorkflow, registry)


# A stored instance is SpiffWorkflow's JSON without its process spec (about 70 % of the
# whole, the same for every instance of a diagram version), which is stored once, in
# ``process_spec``, under the digest of its JSON; the instance names it first:
#     {"spec_digest":"<sha256>","data":...,"tasks":...,...}
# SpiffWorkflow 3.2 reads it once "spec" and "subprocess_specs" are put back from that row.
# Specs never change (diagram versions are immutable), so the desk turns a spec into JSON
# once and restores it from JSON once per process. Instances stored with their spec inside
# (by earlier versions of the desk, or in SpiffWorkflow's own layout) load as well.
# Every state begins with SPEC_DIGEST: migration 0007's downgrade reads the digest there.
SPEC_DIGEST = '{"spec_digest":"'
COMPACT = (",", ":")  # the separators that give SPEC_DIGEST (and smaller states)


def _leftover(value: Any) -> Any:
    """For ``json.dumps``: a callable or module the registry leaves in a list is written as null, as
    SpiffWorkflow's JSON encoder writes it."""
    if callable(value) or isinstance(value, ModuleType):
        return None
    raise TypeError(f"{value.__class__.__name__} in workflow data cannot be stored as JSON")


# orjson writes an instance in about a fifth of json's time, with the same separators as COMPACT. Its
# options keep json.dumps's results: a key that is not a string becomes one, and a datetime, dataclass
# or the like that the registry left unconverted goes to ``_leftover`` (an error) instead of being
# written in orjson's own way. Unlike json it writes non-ASCII characters as themselves, not \u escapes
# (the same JSON once read).
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _instance_json(dct: dict) -> str:
    try:
        return orjson.dumps(dct, default=_leftover, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError as error:
        if isinstance(error.__cause__, TypeError):
            raise error.__cause__ from None  # what json.dumps raised: the data that cannot be stored
        # An integer beyond 64 bits, nesting deeper than orjson goes: json.dumps writes it.
        return json.dumps(dct, separators=COMPACT, default=_leftover)


def _instance_from_json(state: str) -> dict:
    try:
        return orjson.loads(state)
    except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps wrote and orjson does not read
        return json.loads(state)


class LiveInstances:
    """The instances the commands of this process saved last, kept live so that the next command on
    the same ticket, in this process, skips reading its state (SpiffWorkflow's ``from_dict`` is most of
    the cost of loading). An entry is the ticket's id, its revision and the state committed with it.

    ``take`` hands the instance out only when the locked ticket is at that revision with that state
    (else another process, or a command that did not go through here, has moved it on: the caller reads
    the state), and takes it out of the cache: the command that has it is the only one holding it, and
    if that command rolls back nothing of what it did to the instance is seen again. ``keep`` is called
    only after a commit. A bounded number of tickets is kept (``size``; 0 keeps none), the least recently
    saved dropped first."""

    def __init__(self, size: int = 64):
        self.size = size
        self._entries: OrderedDict[int, tuple[int, str, BpmnWorkflow]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0  # for the benchmarks

    def take(self, ticket_id: int, revision: int, state: str) -> BpmnWorkflow | None:
        with self._lock:
            entry = self._entries.pop(ticket_id, None)
            if entry is not None and entry[0] == revision and entry[1] == state:
                self.hits += 1
                return entry[2]
            self.misses += 1
            return None

    def keep(self, ticket_id: int, revision: int, state: str, workflow: BpmnWorkflow) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries.pop(ticket_id, None)
            self._entries[ticket_id] = (revision, state, workflow)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class StoredSpec:
    """A process spec as the store keeps it: the digest instances name it by, and its JSON."""

    digest: str
    spec_json: str
    subprocess_specs_json: str


@dataclass(frozen=True)
class _CachedSpec:
    spec: Any  # the BpmnProcessSpec, shared by every instance of it in this process (as Desk.specs_for does)
    subprocess_specs: dict
    stored: StoredSpec


def _stored_spec(spec_json: str, subprocess_specs_json: str) -> StoredSpec:
    digest = hashlib.sha256(f"{spec_json}\n{subprocess_specs_json}".encode()).hexdigest()
    return StoredSpec(digest, spec_json, subprocess_specs_json)


@dataclass(frozen=True)
class HandlerRegistry:
    """What the diagrams may call: service-task handlers by topic, and functions by name for their
    expressions. ``handlers/`` fills one and the entry points hand it to the desk, so the engine
    never imports the handlers (which use the engine)."""

    handlers: Mapping[str, Callable[..., None]]
    expression_functions: Mapping[str, Callable[..., Any]]


class ProcessEngine:
    """Owns the parser, the serializer and the script engine (one per process)."""

    def __init__(self, registry: HandlerRegistry):
        self.script_engine = DeskScriptEngine(registry.handlers, registry.expression_functions)
        self.serializer, self._converter = _make_serializer()
        self._by_digest: dict[str, _CachedSpec] = {}  # for loading
        self._by_spec: dict[tuple, _CachedSpec] = {}  # for saving, by the identity of the spec objects
        self._lock = threading.Lock()
        self.live = LiveInstances()

    @staticmethod
    def new_parser() -> DeskParser:
        return DeskParser()

    def start(self, spec, subprocess_specs) -> BpmnWorkflow:
        return BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The instance's JSON, naming its spec by digest (``stored_spec`` gives the spec to store).

        As SpiffWorkflow's example engine saves: the registry's ``convert`` turns everything into plain
        dicts and lists (no encoder mode: that is a flag on the shared registry, which threads race on),
        then JSON (orjson's, as json.dumps writes it: ``_instance_json``)."""
        digest = self._cached_for_saving(workflow).stored.digest
        self.serializer.registry.start_noting_loss()
        dct = {"spec_digest": digest, **self._converter.instance_to_dict(workflow)}  # the digest first
        dct["typename"] = self._converter.typename
        dct[self.serializer.VERSION_KEY] = self.serializer.VERSION
        return _instance_json(dct)

    def round_trips(self) -> bool:
        """Whether the last ``dumps`` in this thread wrote everything of the instance's data as it
        will read back (see ``DeskRegistry``): only such an instance may be kept live."""
        return not self.serializer.registry.lost_something

    def stored_spec(self, workflow: BpmnWorkflow) -> StoredSpec:
        """The spec that ``dumps(workflow)`` names, as the store keeps it."""
        return self._cached_for_saving(workflow).stored

    def loads(self, state: str, fetch_spec: Callable[[str], StoredSpec | None] | None = None) -> BpmnWorkflow:
        """The instance stored as ``state``; ``fetch_spec(digest)`` reads a spec this process has not met yet."""
        dct = _instance_from_json(state)
        digest = dct.pop("spec_digest", None)
        if "spec" in dct:  # stored with its spec inside
            cached = self._cached_for_loading(dct.pop("spec"), dct.pop("subprocess_specs", {}))
        else:
            cached = self._by_digest.get(digest) or self._fetched(digest, fetch_spec)
        self.serializer.migrate(dct)
        # Restoring passes objects that are not dicts through as they are: the cached specs.
        dct["spec"], dct["subprocess_specs"] = cached.spec, cached.subprocess_specs
        workflow = self.serializer.from_dict(dct)
        workflow.script_engine = self.script_engine  # not serialized (see notes)
        return workflow

    def _fetched(self, digest: str | None, fetch_spec) -> _CachedSpec:
        stored = fetch_spec(digest) if digest and fetch_spec else None
        if stored is None:
            raise LookupError(f"the process spec {digest} of this instance is not stored")
        cached = self._cached_for_loading(json.loads(stored.spec_json), json.loads(stored.subprocess_specs_json))
        with self._lock:
            return self._by_digest.setdefault(stored.digest, cached)  # the digest asked for

    def _cached_for_saving(self, workflow: BpmnWorkflow) -> _CachedSpec:
        key = (id(workflow.spec), *((name, id(spec)) for name, spec in workflow.subprocess_specs.items()))
        cached = self._by_spec.get(key)
        if cached is None or cached.spec is not workflow.spec:
            # Default separators, as the digests of the specs already stored were taken.
            spec_json = json.dumps(self.serializer.to_dict(workflow.spec), default=_leftover)
            subprocess_json = json.dumps(self._converter.mapping_to_dict(workflow.subprocess_specs), default=_leftover)
            stored = _stored_spec(spec_json, subprocess_json)
            cached = _CachedSpec(workflow.spec, dict(workflow.subprocess_specs), stored)
            with self._lock:
                self._by_spec[key] = cached
                self._by_digest.setdefault(cached.stored.digest, cached)
        return cached

    def _cached_for_loading(self, spec_dct: dict, subprocess_specs_dct: dict) -> _CachedSpec:
        """The spec restored once per process, found again by the digest of its JSON."""
        stored = _stored_spec(json.dumps(spec_dct), json.dumps(subprocess_specs_dct))
        cached = self._by_digest.get(stored.digest)
        if cached is None:
            registry = self.serializer.registry
            cached = _CachedSpec(
                registry.restore(spec_dct), self._converter.mapping_from_dict(subprocess_specs_dct), stored
            )
            with self._lock:
                cached = self._by_digest.setdefault(stored.digest, cached)
        return cached
