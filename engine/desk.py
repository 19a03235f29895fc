"""The desk: one object that ties settings, store and process engine together.

Entry points (CLI, web, worker) make one ``Desk``, handing it the registry of
handlers the diagrams call (``supportdesk.handlers.REGISTRY``), and pass it to
the command and query functions; nothing else holds state at module level.
"""

from __future__ import annotations

import threading

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec

from supportdesk.engine.process.event_subprocesses import wire_message_started
from supportdesk.engine.process.spiff import HandlerRegistry, ProcessEngine
from supportdesk.engine.process.validation import MAIN_PROCESS, parse_specs
from supportdesk.engine.settings import Settings
from supportdesk.engine.store import schema
from supportdesk.engine.store.db import Database
from supportdesk.engine.store.models import DiagramVersion
from supportdesk.engine.working_time.calendar import WorkingCalendar
from supportdesk.engine.working_time.sla_policy import SlaPolicy


class Desk:
    def __init__(self, settings: Settings, registry: HandlerRegistry):
        self.settings = settings
        self.registry = registry
        self.db = Database(self.settings.database_url, sqlite_synchronous=self.settings.sqlite_synchronous)
        self.process_engine = ProcessEngine(registry)
        self.calendar = _load(self.settings.workflows_dir / "calendar.toml", WorkingCalendar)
        self.sla_policy = _load(self.settings.workflows_dir / "sla_policy.toml", SlaPolicy)
        self.handler_topics = frozenset(registry.handlers)
        # Set after a commit that wrote jobs, so an in-process worker wakes up.
        self.jobs_changed = threading.Event()
        self._specs: dict[tuple[int, str], tuple[BpmnProcessSpec, dict]] = {}
        self._specs_lock = threading.Lock()
        # Digests of the process specs known to be in process_spec (engine.instances.save).
        self.stored_specs: set[str] = set()

    def upgrade_schema(self) -> None:
        schema.upgrade(self.db)

    def specs_for(self, version: DiagramVersion, process_id: str = MAIN_PROCESS):
        """The parsed process of a deployed version; versions are immutable, so cache them."""
        key = (version.id, process_id)
        with self._specs_lock:
            if key not in self._specs:
                parser = parse_specs({f.name: f.content for f in version.files})
                if process_id not in parser.get_process_ids():
                    raise KeyError(process_id)
                spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
                wire_message_started(spec, subprocess_specs)  # the same instances in every process
                self._specs[key] = (spec, subprocess_specs)
            return self._specs[key]

    def close(self) -> None:
        self.db.dispose()


def _load(path, kind):
    """A process owner's configuration file, or the charter's default when there is none.
    A file that makes no sense stops the desk with a message naming the file and key."""
    return kind.from_toml(path) if path.exists() else kind.default()
