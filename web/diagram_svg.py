"""Draws a ticket's process diagram as SVG from the BPMNDI layout of its diagram version,
with the elements it is at highlighted and the ones it has passed shaded.

Server-side, so the page needs no script (and keeps a strict CSP); the layout is the
one the process owner drew in the modeller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree
from markupsafe import Markup, escape

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
GATEWAYS = ("exclusiveGateway", "parallelGateway", "eventBasedGateway", "inclusiveGateway")
POOLS = ("participant", "lane")
# Expanded subprocesses hold other shapes: drawn under the flows, their name at the top left. An event
# subprocess (e.g. "First response overdue", which watches an SLA clock) has a dotted border, as in bpmn.io.
CONTAINERS = ("subProcess", "eventSubProcess")
MARGIN = 10


@dataclass(frozen=True)
class Shape:
    element_id: str
    kind: str  # the BPMN tag: userTask, startEvent, lane, ...
    name: str
    x: float
    y: float
    w: float
    h: float


def render(bpmn_xml: str, *, active: Iterable[str] = (), done: Iterable[str] = ()) -> Markup:
    tree = etree.fromstring(bpmn_xml.encode("utf-8"))
    shapes = _shapes(tree)
    if not shapes:
        return Markup("")
    active, done = set(active), set(done)
    left = min(s.x for s in shapes) - MARGIN
    top = min(s.y for s in shapes) - MARGIN
    width = max(s.x + s.w for s in shapes) - left + MARGIN
    height = max(s.y + s.h for s in shapes) - top + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="{left} {top} {width} {height}" '
        f'role="img" aria-label="Process diagram">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
    ]
    parts += [_shape(s, active, done) for s in shapes if s.kind in POOLS + CONTAINERS]
    parts += [_edge(points) for points in _edges(tree)]
    parts += [_shape(s, active, done) for s in shapes if s.kind not in POOLS + CONTAINERS]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every text in the parts went through escape())


def _shapes(tree) -> list[Shape]:
    elements = {e.get("id"): e for e in tree.iter() if e.get("id")}
    shapes = []
    for di in tree.xpath("//bpmndi:BPMNShape", namespaces=NS):
        element = elements.get(di.get("bpmnElement"))
        bounds = di.find("dc:Bounds", NS)
        if element is None or bounds is None:
            continue
        kind = etree.QName(element).localname
        if kind == "subProcess" and element.get("triggeredByEvent") == "true":
            kind = "eventSubProcess"
        shapes.append(
            Shape(
                element.get("id"),
                kind,
                element.get("name") or "",
                *(float(bounds.get(k)) for k in ("x", "y", "width", "height")),
            )
        )
    return shapes


def _edges(tree) -> list[list[tuple[float, float]]]:
    return [
        [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)]
        for edge in tree.xpath("//bpmndi:BPMNEdge", namespaces=NS)
    ]


def _edge(points) -> str:
    path = " ".join(f"{x},{y}" for x, y in points)
    return f'<polyline class="flow" points="{path}" marker-end="url(#arrow)"/>'


def _shape(shape: Shape, active: set[str], done: set[str]) -> str:
    state = "active" if shape.element_id in active else "done" if shape.element_id in done else ""
    css = f"shape {shape.kind} {state}".strip()
    title = f"<title>{escape(shape.name or shape.element_id)}</title>"
    if shape.kind in POOLS:
        return (
            f'<g class="{css}">{title}<rect x="{shape.x}" y="{shape.y}" width="{shape.w}" height="{shape.h}"/>'
            f"{_side_label(shape)}</g>"
        )
    if shape.kind in CONTAINERS:
        return (
            f'<g class="{css}" data-element="{shape.element_id}">{title}<rect x="{shape.x}" y="{shape.y}" '
            f'width="{shape.w}" height="{shape.h}" rx="10"/><text class="label" x="{shape.x + 10}" '
            f'y="{shape.y + 18}">{escape(shape.name)}</text></g>'
        )
    cx, cy = shape.x + shape.w / 2, shape.y + shape.h / 2
    if shape.kind in EVENTS:
        body = f'<circle cx="{cx}" cy="{cy}" r="{shape.w / 2}"/>'
        return f'<g class="{css}" data-element="{shape.element_id}">{title}{body}{_label_below(shape)}</g>'
    if shape.kind in GATEWAYS:
        points = f"{cx},{shape.y} {shape.x + shape.w},{cy} {cx},{shape.y + shape.h} {shape.x},{cy}"
        return (
            f'<g class="{css}" data-element="{shape.element_id}">{title}<polygon points="{points}"/>'
            f"{_label_below(shape)}</g>"
        )
    body = f'<rect x="{shape.x}" y="{shape.y}" width="{shape.w}" height="{shape.h}" rx="10"/>'
    return f'<g class="{css}" data-element="{shape.element_id}">{title}{body}{_wrapped(shape)}</g>'


def _wrapped(shape: Shape, per_line: int = 16) -> str:
    """Task names wrapped into the box, a few words a line."""
    lines, line = [], ""
    for word in shape.name.split():
        if line and len(line) + len(word) + 1 > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    first_y = shape.y + shape.h / 2 - (len(lines) - 1) * 6.5
    spans = "".join(
        f'<tspan x="{shape.x + shape.w / 2}" y="{first_y + i * 13}">{escape(text)}</tspan>'
        for i, text in enumerate(lines)
    )
    return f'<text class="label" text-anchor="middle">{spans}</text>'


def _label_below(shape: Shape) -> str:
    if not shape.name:
        return ""
    return (
        f'<text class="label" text-anchor="middle" x="{shape.x + shape.w / 2}" '
        f'y="{shape.y + shape.h + 14}">{escape(shape.name)}</text>'
    )


def _side_label(shape: Shape) -> str:
    x, y = shape.x + 16, shape.y + shape.h / 2
    return (
        f'<text class="lane-label" text-anchor="middle" x="{x}" y="{y}" '
        f'transform="rotate(-90 {x} {y})">{escape(shape.name)}</text>'
    )
