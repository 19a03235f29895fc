"""What a drawing of a diagram needs from its XML that SpiffWorkflow's specs do not keep: the
sequence flows between elements (a spec knows its outputs, not the flow's id) and which
subprocesses are event subprocesses (watches waiting for their event, not places a ticket stands)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from supportdesk.engine.process.diagram_set import NS, parse_xml


@dataclass(frozen=True)
class Wiring:
    flows: dict[tuple[str, str], tuple[str, ...]]  # (source id, target id) -> the flows between them
    event_subprocesses: frozenset[str]

    def flows_between(self, steps: Iterable[tuple[str, str]]) -> frozenset[str]:
        """The ids of the sequence flows that lead from the first element of a step to the second."""
        return frozenset(flow for step in steps for flow in self.flows.get(step, ()))


def wiring(bpmn_xml: str) -> Wiring:
    tree = parse_xml("", bpmn_xml)
    flows: dict[tuple[str, str], tuple[str, ...]] = {}
    for flow in tree.iterfind(".//bpmn:sequenceFlow", NS):
        step = (flow.get("sourceRef") or "", flow.get("targetRef") or "")
        flows[step] = (*flows.get(step, ()), flow.get("id") or "")
    watches = frozenset(
        element.get("id") or ""
        for element in tree.iterfind(".//bpmn:subProcess", NS)
        if element.get("triggeredByEvent") == "true"
    )
    return Wiring(flows, watches)
