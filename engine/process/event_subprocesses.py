"""Event subprocesses started by a message (or a signal): wired into their process once, when it is parsed.

SpiffWorkflow 3.2 leaves such a subprocess out of its process's start (``BpmnStartTask.trigger_specs``)
and wires it in the first time a message starts one (``BpmnStartTask.trigger_wf`` connects the spec's
start task to it). That changes the *spec*, which every instance of the diagram version in this process
shares: an instance started before the first message has no waiting subprocess, one started after has
one. So two desk processes (or a ticket and its audit replay) would run the same history differently.

Wired at parse time instead, every instance of the version starts with the subprocess waiting for its
message, as the timer-started ones do, and ``trigger_wf`` finds nothing left to change. The stored spec
(and its digest) are the wired one.
"""

from __future__ import annotations

from collections.abc import Mapping

from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec


def wire_message_started(spec: BpmnProcessSpec, subprocess_specs: Mapping[str, BpmnProcessSpec]) -> None:
    """Connect every message-started event subprocess of ``spec`` and of its subprocesses to its start."""
    for process in (spec, *subprocess_specs.values()):
        start = process.start
        for name in getattr(start, "trigger_specs", ()):
            subprocess = process.task_specs.get(name)
            if subprocess is not None and start not in subprocess.inputs:
                start.connect(subprocess)  # as trigger_wf would, the first time a message came
                subprocess.connect(process.end)
