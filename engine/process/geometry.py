"""Whether a diagram can be read as it is drawn: its layout (the BPMNDI) looked at the way a person
looks at it in bpmn.io or Camunda Modeler.

``layout_problems`` is a pure function from one BPMN file's XML to the problems of its layout:
shapes drawn on top of each other; labels on labels or on shapes, or too small for their text (it
spills out of its box); flows through shapes or labels, along another flow, not starting and ending
on their shapes' borders, or bending other than at right angles; shapes outside their lane or
subprocess, lanes on top of each other; elements without a drawing and drawings of nothing; a branch
out of a choice without a name; a diagram wider than a bound. Each is a warning located like the
deploy gate's problems (file, line of the drawing, element id and name), so the gate can report them
too; the tests keep the shipped diagrams free of them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations

from lxml import etree

from supportdesk.engine.process.plane import (
    Box,
    Point,
    collinear_overlap,
    crosses_box,
    crosses_circle,
    crosses_diamond,
    on_circle,
    on_diamond,
    on_rectangle,
    text_size,
)
from supportdesk.engine.process.problems import WARNING, Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {
    "bpmn": BPMN,
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"})
GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"})
SUBPROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
TASKS = ("task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask", "manualTask")
ACTIVITIES = frozenset({*TASKS, "callActivity"})  # drawn as a box with the name written inside
FLOW_NODES = EVENTS | GATEWAYS | SUBPROCESSES | ACTIVITIES
FLOWS = frozenset({"sequenceFlow", "messageFlow"})
# Each of these needs a shape or an edge: a modeller shows an element without one nowhere.
NEEDS_DRAWING = FLOW_NODES | FLOWS | {"lane", "participant"}
# Labelled outside their shape (bpmn-js's isLabelExternal); activities write their name inside.
EXTERNAL_LABELS = EVENTS | GATEWAYS | FLOWS
# Gateways that choose between their outgoing flows: each needs a name saying which case it takes.
CHOICES = frozenset({"exclusiveGateway", "inclusiveGateway", "complexGateway"})
# bpmn-js writes a pool's and a lane's name in a band this wide along its side.
HEADER = 30.0
# How far a waypoint may sit off a border, or a flow reach into a shape, and still read as touching
# it (modellers dock flows a pixel or two off).
TOLERANCE = 3.0
# bpmn-js draws a label that has no position in the file in a box this size.
DEFAULT_LABEL = (90.0, 20.0)
FLOW_LABEL_INDENT = 15.0
LABEL_FONT = 11.0  # px, labels outside a shape
TASK_FONT = 12.0  # px, a task's name inside it
TASK_PADDING = 7.0


@dataclass(kw_only=True)
class Drawn:
    """One element as it is drawn, and its label."""

    element_id: str
    kind: str  # the BPMN tag: userTask, sequenceFlow, lane, ...
    name: str
    line: int | None  # of its drawing in the file
    label: Box | None = None
    subprocesses: tuple[str, ...] = ()  # the subprocesses it is in, innermost first

    def __str__(self) -> str:
        return f'{self.element_id} "{self.name}"' if self.name else self.element_id


@dataclass(kw_only=True)
class Shape(Drawn):
    box: Box
    expanded: bool = False
    horizontal: bool = True
    attached_to: str = ""  # a boundary event's activity

    @property
    def is_node(self) -> bool:
        return self.kind in FLOW_NODES

    @property
    def is_container(self) -> bool:
        """An expanded subprocess: what is in it is drawn inside it."""
        return self.kind in SUBPROCESSES and self.expanded


@dataclass(kw_only=True)
class Flow(Drawn):
    points: tuple[Point, ...]
    source: str
    target: str

    def segments(self) -> list[tuple[Point, Point]]:
        return [(a, b) for a, b in zip(self.points, self.points[1:], strict=False) if a != b]


@dataclass
class Plane:
    """What is drawn on one diagram plane."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)

    def nodes(self) -> list[Shape]:
        return [shape for shape in self.shapes.values() if shape.is_node]

    def labels(self) -> list[tuple[Drawn, Box]]:
        drawn: list[Drawn] = [*self.shapes.values(), *self.flows.values()]
        return [(d, d.label) for d in drawn if d.label is not None]

    def of_kind(self, kind: str) -> list[Shape]:
        return [shape for shape in self.shapes.values() if shape.kind == kind]


@dataclass(frozen=True)
class Finding:
    drawn: Drawn
    message: str


def layout_problems(bpmn_xml: str, *, file: str = "", max_width: float | None = None) -> list[Problem]:
    """Every problem of the layout of one BPMN file, as warnings; ``max_width`` bounds each plane's
    width in pixels (at 100 %: what a person sees without zooming out)."""
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    elements = {e.get("id", ""): e for e in root.iter(f"{{{BPMN}}}*") if e.get("id")}
    planes = [_read_plane(plane, elements) for plane in root.iterfind(".//bpmndi:BPMNPlane", NS)]
    findings = list(_coverage(root, elements, planes))
    lanes = _lane_of_each_node(root)
    for plane in planes:
        findings += _plane_findings(plane, lanes, max_width)
    return [
        Problem(file, f.drawn.line, f.drawn.element_id, f.message, f.drawn.name, WARNING) for f in _each_once(findings)
    ]


def _plane_findings(plane: Plane, lanes: dict[str, str], max_width: float | None) -> list[Finding]:
    findings = [
        *_shapes_on_shapes(plane),
        *_labels_on_labels(plane),
        *_labels_on_shapes(plane),
        *_labels_too_small(plane),
        *_names_too_long(plane),
        *_flow_routes(plane),
        *_flows_along_flows(plane),
        *_outside_their_lane(plane, lanes),
        *_lanes_on_lanes(plane),
        *_unnamed_branches(plane),
    ]
    if max_width is not None:
        findings += _too_wide(plane, max_width)
    return findings


def _each_once(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for finding in findings:
        key = (finding.drawn.element_id, finding.message)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


# --- reading the layout ---------------------------------------------------------------------------


def _read_plane(plane: etree._Element, elements: dict[str, etree._Element]) -> Plane:
    read = Plane()
    for di in plane.iterfind("bpmndi:BPMNShape", NS):
        element, bounds = elements.get(di.get("bpmnElement", "")), di.find("dc:Bounds", NS)
        if element is not None and bounds is not None:
            shape = Shape(
                **_drawn(element, di),
                box=_box(bounds),
                expanded=di.get("isExpanded") == "true",
                horizontal=di.get("isHorizontal") != "false",
                attached_to=element.get("attachedToRef", ""),
            )
            shape.label = shape.label or _default_shape_label(shape)
            read.shapes[shape.element_id] = shape
    for di in plane.iterfind("bpmndi:BPMNEdge", NS):
        element = elements.get(di.get("bpmnElement", ""))
        if element is not None:
            points = tuple((float(p.get("x", 0)), float(p.get("y", 0))) for p in di.iterfind("di:waypoint", NS))
            flow = Flow(
                **_drawn(element, di),
                points=points,
                source=element.get("sourceRef", ""),
                target=element.get("targetRef", ""),
            )
            flow.label = flow.label or _default_flow_label(flow)
            read.flows[flow.element_id] = flow
    return read


def _drawn(element: etree._Element, di: etree._Element) -> dict:
    label = di.find("bpmndi:BPMNLabel/dc:Bounds", NS)
    return {
        "element_id": element.get("id", ""),
        "kind": etree.QName(element).localname,
        "name": " ".join((element.get("name") or "").split()),
        "line": di.sourceline,
        "label": _box(label) if label is not None else None,
        "subprocesses": tuple(
            a.get("id", "") for a in element.iterancestors() if etree.QName(a).localname in SUBPROCESSES
        ),
    }


def _box(bounds: etree._Element) -> Box:
    return Box(*(float(bounds.get(k, 0)) for k in ("x", "y", "width", "height")))


def _default_shape_label(shape: Shape) -> Box | None:
    """Where bpmn-js draws the name of an event or gateway whose label has no position: under it."""
    if shape.kind not in EXTERNAL_LABELS or not shape.name:
        return None
    width, height = DEFAULT_LABEL
    return Box(shape.box.centre[0] - width / 2, shape.box.bottom, width, height)


def _default_flow_label(flow: Flow) -> Box | None:
    """Where bpmn-js draws a flow's name that has no position: beside the middle of its middle segment."""
    if not flow.name or len(flow.points) < 2:
        return None
    middle = len(flow.points) / 2 - 1
    (x1, y1), (x2, y2) = flow.points[math.floor(middle)], flow.points[math.ceil(middle + 0.01)]
    x, y = (x1 + x2) / 2, (y1 + y2) / 2
    if abs(x2 - x1) >= abs(y2 - y1):
        y -= FLOW_LABEL_INDENT
    else:
        x += FLOW_LABEL_INDENT
    width, height = DEFAULT_LABEL
    return Box(x - width / 2, y - height / 2, width, height)


def _lane_of_each_node(root: etree._Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN}}}lane"):  # a nested lane comes after its parent: the innermost wins
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane.get("id", "")
    return lanes


# --- what is drawn, and what the drawings draw ------------------------------------------------------


def _coverage(root: etree._Element, elements: dict[str, etree._Element], planes: list[Plane]) -> Iterator[Finding]:
    drawings: Counter[str] = Counter()
    for di in root.iterfind(".//bpmndi:BPMNDiagram//*[@bpmnElement]", NS):
        drawings[di.get("bpmnElement", "")] += 1
        if di.get("bpmnElement") not in elements:
            yield Finding(
                Drawn(element_id=di.get("id", ""), kind="", name="", line=di.sourceline),
                f"draws {di.get('bpmnElement')!r}, which is no element of the process: delete the drawing",
            )
    collapsed = {s.element_id for plane in planes for s in plane.shapes.values() if s.kind in SUBPROCESSES}
    collapsed -= {s.element_id for plane in planes for s in plane.shapes.values() if s.is_container}
    for element_id, element in elements.items():
        kind = etree.QName(element).localname
        if kind not in NEEDS_DRAWING or drawings[element_id] == 1:
            continue
        drawn = Drawn(**_drawn(element, element))
        if collapsed.intersection(drawn.subprocesses):
            continue  # inside a collapsed subprocess: drawn on a plane of its own, if at all (bpmn.io)
        what = f"is drawn {drawings[element_id]} times" if drawings[element_id] else "is not drawn"
        yield Finding(drawn, f"{what}: it needs one shape or edge in the layout (BPMNDI); draw it in the modeller")


# --- shapes and labels ----------------------------------------------------------------------------


def _related(a: Shape, b: Shape) -> bool:
    """One holds the other (a subprocess and what is in it), or one is a boundary event on the other."""
    return (
        a.element_id in b.subprocesses
        or b.element_id in a.subprocesses
        or a.attached_to == b.element_id
        or b.attached_to == a.element_id
    )


def _shapes_on_shapes(plane: Plane) -> Iterator[Finding]:
    for a, b in combinations(plane.nodes(), 2):
        if not _related(a, b) and a.box.overlaps(b.box):
            yield Finding(a, f"is drawn on top of {b}: move one of them")


def _labels_on_labels(plane: Plane) -> Iterator[Finding]:
    for (a, a_label), (b, b_label) in combinations(plane.labels(), 2):
        if a_label.overlaps(b_label):
            yield Finding(a, f"its label is drawn on top of the label of {b}: move one of them")


def _labels_on_shapes(plane: Plane) -> Iterator[Finding]:
    for owner, label in plane.labels():
        for node in plane.nodes():
            if node.is_container and (node.element_id in owner.subprocesses or node is owner):
                continue  # a subprocess holds the labels of what is in it
            if label.overlaps(node.box):
                whose = "its own shape" if node is owner else str(node)
                yield Finding(owner, f"its label is drawn on top of {whose}: move the label")


def _labels_too_small(plane: Plane) -> Iterator[Finding]:
    for owner, label in plane.labels():
        if not owner.name:
            continue
        needed = text_size(owner.name, label.w, LABEL_FONT)
        if needed is None:
            yield Finding(owner, f"a word of its name is wider than its label box ({label.size()}): widen the box")
        elif needed[1] > label.h + TOLERANCE:
            yield Finding(
                owner,
                f"its name needs about {Box(0, 0, *needed).size()} but its label box is {label.size()}: "
                "the text spills out over what is around it; make the box fit the text",
            )


def _names_too_long(plane: Plane) -> Iterator[Finding]:
    """A task's name is written inside it, and spills out at the top and bottom when it does not fit."""
    for task in plane.nodes():
        if task.kind not in ACTIVITIES or not task.name:
            continue
        inside = task.box.shrunk(TASK_PADDING)
        needed = text_size(task.name, inside.w, TASK_FONT)
        if needed is None or needed[1] > inside.h + TOLERANCE:
            yield Finding(task, f"its name does not fit in its {task.box.size()} box: shorten it or widen the box")


# --- flows -----------------------------------------------------------------------------------------


def _flow_routes(plane: Plane) -> Iterator[Finding]:
    for flow in plane.flows.values():
        if len(flow.points) < 2:
            yield Finding(flow, "has fewer than two waypoints: draw it again in the modeller")
            continue
        yield from _slants(flow)
        yield from _loose_ends(flow, plane)
        yield from _crossings(flow, plane)


def _slants(flow: Flow) -> Iterator[Finding]:
    for a, b in flow.segments():
        if abs(a[0] - b[0]) > 1 and abs(a[1] - b[1]) > 1:
            yield Finding(
                flow, f"runs at a slant from {_at(a)} to {_at(b)}: draw it with horizontal and vertical segments only"
            )


def _loose_ends(flow: Flow, plane: Plane) -> Iterator[Finding]:
    for end, point, element_id in (("starts", flow.points[0], flow.source), ("ends", flow.points[-1], flow.target)):
        shape = plane.shapes.get(element_id)
        if shape is not None and not _on_border(point, shape):
            yield Finding(flow, f"{end} at {_at(point)}, not on the border of {shape}: dock it on the shape")


def _crossings(flow: Flow, plane: Plane) -> Iterator[Finding]:
    for a, b in flow.segments():
        for node in plane.nodes():
            if _passes_through(a, b, node, flow):
                yield Finding(flow, f"passes through {node} between {_at(a)} and {_at(b)}: route it around")
        for owner, label in plane.labels():
            if owner is not flow and crosses_box(a, b, label.shrunk(1)):
                yield Finding(flow, f"passes through the label of {owner} between {_at(a)} and {_at(b)}")


def _passes_through(a: Point, b: Point, node: Shape, flow: Flow) -> bool:
    if node.is_container and (node.element_id in flow.subprocesses or node.element_id in (flow.source, flow.target)):
        return False  # a flow inside a subprocess, or from its border
    if node.element_id in (flow.source, flow.target):
        return _enters_outline(a, b, node)  # its own shapes: only further in than the tolerance
    return crosses_box(a, b, node.box.shrunk(TOLERANCE))


def _on_border(point: Point, shape: Shape) -> bool:
    if shape.kind in EVENTS:
        return on_circle(point, shape.box.centre, shape.box.w / 2, TOLERANCE)
    if shape.kind in GATEWAYS:
        return on_diamond(point, shape.box, TOLERANCE)
    return on_rectangle(point, shape.box, TOLERANCE)


def _enters_outline(a: Point, b: Point, shape: Shape) -> bool:
    if shape.kind in EVENTS:
        return crosses_circle(a, b, shape.box.centre, shape.box.w / 2 - TOLERANCE)
    if shape.kind in GATEWAYS:
        return crosses_diamond(a, b, shape.box.shrunk(TOLERANCE))
    return crosses_box(a, b, shape.box.shrunk(TOLERANCE))


def _flows_along_flows(plane: Plane) -> Iterator[Finding]:
    """Two flows drawn along one line cannot be told apart, unless they leave or reach the same
    element: then they branch out of one line or join into one, as modellers draw them."""
    for first, second in combinations(plane.flows.values(), 2):
        if first.source == second.source or first.target == second.target:
            continue
        for a, b in first.segments():
            if any(collinear_overlap(a, b, c, d, TOLERANCE) for c, d in second.segments()):
                yield Finding(first, f"runs along {second} from {_at(a)}: the two flows cannot be told apart")
                break


def _at(point: Point) -> str:
    return f"({point[0]:g}, {point[1]:g})"


# --- lanes, pools and subprocesses -------------------------------------------------------------------


def _outside_their_lane(plane: Plane, lanes: dict[str, str]) -> Iterator[Finding]:
    for node in plane.nodes():
        holder = _holder(node, plane, lanes)
        if holder is None:
            continue
        area = _content_area(holder)
        if not area.holds(node.box):
            yield Finding(node, f"is drawn outside {_what(holder)}, where it belongs: move it inside")
        elif node.label is not None and not area.holds(node.label):
            yield Finding(node, f"its label reaches out of {_what(holder)}: move the label inside")
    for flow in plane.flows.values():
        holder = _holder(flow, plane, lanes)  # a subprocess: flows belong to no lane
        if flow.label is not None and holder is not None and not _content_area(holder).holds(flow.label):
            yield Finding(flow, f"its label reaches out of {_what(holder)}: move the label inside")


def _holder(drawn: Drawn, plane: Plane, lanes: dict[str, str]) -> Shape | None:
    """What the element must be drawn inside: its subprocess, else its lane."""
    for subprocess in drawn.subprocesses:
        if subprocess in plane.shapes:
            return plane.shapes[subprocess]
    return plane.shapes.get(lanes.get(drawn.element_id, "")) if isinstance(drawn, Shape) else None


def _content_area(holder: Shape) -> Box:
    """Where shapes may go: a lane or pool without the band its name is written in."""
    box = holder.box
    if holder.kind not in ("lane", "participant"):
        return box
    if holder.horizontal:
        return Box(box.x + HEADER, box.y, box.w - HEADER, box.h)
    return Box(box.x, box.y + HEADER, box.w, box.h - HEADER)


def _what(holder: Shape) -> str:
    return f"its {'lane' if holder.kind == 'lane' else 'subprocess'} {holder}"


def _lanes_on_lanes(plane: Plane) -> Iterator[Finding]:
    lanes = plane.of_kind("lane")
    for a, b in combinations(lanes, 2):
        if a.box.overlaps(b.box) and not (a.box.holds(b.box) or b.box.holds(a.box)):  # a lane holds its sub-lanes
            yield Finding(a, f"overlaps lane {b}: lanes lie one under the other")
    pools = plane.of_kind("participant")
    for lane in lanes:
        if pools and not any(pool.box.holds(lane.box) for pool in pools):
            yield Finding(lane, "reaches out of its pool: make the pool hold its lanes")


def _unnamed_branches(plane: Plane) -> Iterator[Finding]:
    choices = {s.element_id for s in plane.shapes.values() if s.kind in CHOICES}
    branches = Counter(flow.source for flow in plane.flows.values() if flow.source in choices)
    for flow in plane.flows.values():
        if branches[flow.source] > 1 and not flow.name:
            yield Finding(flow, f"is a branch out of {flow.source} with no name: name it after the case it takes")


def _too_wide(plane: Plane, max_width: float) -> Iterator[Finding]:
    xs = [x for d in [*plane.shapes.values(), *plane.flows.values()] for x in _horizontal_extent(d)]
    if xs and max(xs) - min(xs) > max_width:
        widest = max(plane.shapes.values(), key=lambda shape: shape.box.w)
        yield Finding(
            widest,
            f"the diagram is {max(xs) - min(xs):.0f} px wide, more than {max_width:.0f}: "
            "lay it out more compactly, so it can be read at 100 %",
        )


def _horizontal_extent(drawn: Drawn) -> Iterator[float]:
    if isinstance(drawn, Shape):
        yield from (drawn.box.x, drawn.box.right)
    if isinstance(drawn, Flow):
        yield from (x for x, _ in drawn.points)
    if drawn.label is not None:
        yield from (drawn.label.x, drawn.label.right)
