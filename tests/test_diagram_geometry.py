"""The shipped diagrams can be read as they are drawn (#21): at 100 % in a window's width or two, no
shape or label on top of another, no flow through a shape or a label or along another flow, flows at
right angles that start and end on their shapes, every shape inside its lane, every branch out of a
choice named, and everything drawn. Each check is shown to catch its problem in a shipped diagram,
edited, so a later edit cannot quietly make a diagram unreadable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from supportdesk.engine.process.geometry import NS, layout_problems
from supportdesk.engine.process.plane import Box

from conftest import WORKFLOWS

DIAGRAMS = sorted(WORKFLOWS.glob("*.bpmn"))
# Pixels at 100 %: two narrow windows' width. support_call.bpmn, the widest, is 2,680.
MAX_WIDTH = 2800
SUPPORT_CALL = (WORKFLOWS / "support_call.bpmn").read_text()


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_the_shipped_diagrams_can_be_read_as_drawn(path):
    problems = layout_problems(path.read_text(), file=path.name, max_width=MAX_WIDTH)
    assert problems == [], "\n".join(str(problem) for problem in problems)


# --- edits of the shipped support_call.bpmn's layout ------------------------------------------------


class Layout:
    """support_call.bpmn parsed, to move its shapes, labels and flows about by element id."""

    def __init__(self, text: str = SUPPORT_CALL):
        self.tree = etree.fromstring(text.encode("utf-8"))

    def drawing(self, element_id: str) -> etree._Element:
        [found] = self.tree.xpath("//bpmndi:*[@bpmnElement=$id]", namespaces=NS, id=element_id)
        return found

    def box(self, element_id: str, label: bool = False) -> Box:
        bounds = self._bounds(element_id, label)
        return Box(*(float(bounds.get(k)) for k in ("x", "y", "width", "height")))

    def place(self, element_id: str, box: Box, label: bool = False) -> Layout:
        bounds = self._bounds(element_id, label)
        for key, value in zip(("x", "y", "width", "height"), (box.x, box.y, box.w, box.h), strict=True):
            bounds.set(key, f"{value:g}")
        return self

    def points(self, flow_id: str) -> list[tuple[float, float]]:
        return [(float(p.get("x")), float(p.get("y"))) for p in self.drawing(flow_id).iterfind("di:waypoint", NS)]

    def route(self, flow_id: str, *points: tuple[float, float]) -> Layout:
        edge = self.drawing(flow_id)
        for old in edge.findall("di:waypoint", NS):
            edge.remove(old)
        for index, (x, y) in enumerate(points):
            waypoint = etree.Element(f"{{{NS['di']}}}waypoint", x=f"{x:g}", y=f"{y:g}")
            edge.insert(index, waypoint)
        return self

    def element(self, element_id: str) -> etree._Element:
        [found] = self.tree.xpath("//bpmn:*[@id=$id]", namespaces=NS, id=element_id)
        return found

    def problems(self) -> list[str]:
        return [
            str(p) for p in layout_problems(etree.tostring(self.tree, encoding="unicode"), file="support_call.bpmn")
        ]

    def _bounds(self, element_id: str, label: bool) -> etree._Element:
        path = "bpmndi:BPMNLabel/dc:Bounds" if label else "dc:Bounds"
        return self.drawing(element_id).find(path, NS)


def moved(box: Box, dx: float = 0, dy: float = 0) -> Box:
    return Box(box.x + dx, box.y + dy, box.w, box.h)


def on_top(layout: Layout) -> Layout:
    return layout.place("Task_set_priority", moved(layout.box("Task_suggest_priority"), 20, 10))


def label_on_label(layout: Layout) -> Layout:
    target = layout.box("Flow_kind_to_work", label=True)
    return layout.place("Gateway_kind_of_call", Box(target.x + 5, target.y + 3, 60, 14), label=True)


def label_on_shape(layout: Layout) -> Layout:
    task = layout.box("Task_set_delayed")
    return layout.place("Event_call_delayed", Box(task.x + 10, task.y + 10, 60, 14), label=True)


def label_without_position(layout: Layout) -> Layout:
    """bpmn-js draws it in a 90 by 20 box under the gateway, where "High, Medium, Low" is."""
    label = layout.drawing("Gateway_kind_of_call").find("bpmndi:BPMNLabel", NS)
    label.getparent().remove(label)
    return layout


def label_too_small(layout: Layout) -> Layout:
    label = layout.box("Event_feedback_window_closed", label=True)
    return layout.place("Event_feedback_window_closed", Box(label.x, label.y, 60, 14), label=True)


def name_too_long(layout: Layout) -> Layout:
    layout.element("Task_keep_feedback").set("name", "Keep the customer's feedback with the call, for the report")
    return layout


def through_a_shape(layout: Layout) -> Layout:
    start, triage, assign = (
        layout.box(e) for e in ("StartEvent_call_logged", "Task_triage", "Task_assign_call_reference")
    )
    beyond, above = triage.right + 10, assign.y - 20
    return layout.route(
        "Flow_logged_to_reference",
        (start.right, start.centre[1]),
        (beyond, start.centre[1]),
        (beyond, above),
        (assign.centre[0], above),
        (assign.centre[0], assign.y),
    )


def through_a_label(layout: Layout) -> Layout:
    event = layout.box("Event_call_delayed")
    label = layout.box("Event_call_delayed", label=True)
    return layout.place("Event_call_delayed", Box(event.right + 4, event.centre[1] - 7, label.w, label.h), label=True)


def off_the_border(layout: Layout) -> Layout:
    *points, (x, y) = layout.points("Flow_reference_to_clocks")
    return layout.route("Flow_reference_to_clocks", *points, (x - 10, y))


def slanted(layout: Layout) -> Layout:
    assign, clocks = layout.box("Task_assign_call_reference"), layout.box("Task_start_sla_clocks")
    return layout.route("Flow_reference_to_clocks", (assign.right, assign.centre[1]), (clocks.x, clocks.centre[1] + 20))


def along_another_flow(layout: Layout) -> Layout:
    """The hand-over to triage and the one back to the desk drawn down one line."""
    [_, (shared, _), *_] = layout.points("Flow_suggestion_to_triage")
    triage, set_priority = layout.box("Task_triage"), layout.box("Task_set_priority")
    high, low = triage.bottom + 20, set_priority.y - 20
    return layout.route(
        "Flow_triage_to_set_priority",
        (triage.centre[0], triage.bottom),
        (triage.centre[0], high),
        (shared, high),
        (shared, low),
        (set_priority.centre[0], low),
        (set_priority.centre[0], set_priority.y),
    )


def outside_its_lane(layout: Layout) -> Layout:
    advice, development = layout.box("Task_give_advice"), layout.box("Task_consider_enhancement")
    return layout.place("Task_give_advice", Box(advice.x, development.y, advice.w, advice.h))


def label_out_of_its_lane(layout: Layout) -> Layout:
    label, lane = layout.box("StartEvent_call_logged", label=True), layout.box("Lane_first_line")
    return layout.place("StartEvent_call_logged", Box(label.x, lane.y - label.h / 2, label.w, label.h), label=True)


def out_of_its_subprocess(layout: Layout) -> Layout:
    watch = layout.box("SubProcess_first_response_overdue")
    return layout.place("Task_alert_first_line", moved(layout.box("Task_alert_first_line"), dx=watch.w))


def lanes_overlap(layout: Layout) -> Layout:
    lane = layout.box("Lane_first_line")
    return layout.place("Lane_first_line", Box(lane.x, lane.y, lane.w, lane.h + 50))


def undrawn_and_drawing_of_nothing(layout: Layout) -> Layout:
    layout.drawing("Task_triage").set("bpmnElement", "Task_gone")
    return layout


def unnamed_branch(layout: Layout) -> Layout:
    del layout.element("Flow_kind_to_advice").attrib["name"]
    return layout


EDITS: list[tuple[Callable[[Layout], Layout], str]] = [
    (on_top, 'Task_suggest_priority "Suggest priority": is drawn on top of Task_set_priority "Set priority"'),
    (
        label_on_label,
        'Gateway_kind_of_call "Kind of call?": its label is drawn on top of the label of Flow_kind_to_work',
    ),
    (label_on_shape, 'Event_call_delayed "Call delayed": its label is drawn on top of Task_set_delayed'),
    (
        label_without_position,
        'Gateway_kind_of_call "Kind of call?": its label is drawn on top of the label of Flow_kind_to_work',
    ),
    (label_too_small, "but its label box is 60 x 14 px: the text spills out over what is around it"),
    (name_too_long, 'the report": its name does not fit in its 100 x 80 px box: shorten it or widen the box'),
    (through_a_shape, 'Flow_logged_to_reference: passes through Task_triage "Confirm priority" between'),
    (through_a_label, 'Flow_delayed_to_regrade: passes through the label of Event_call_delayed "Call delayed"'),
    (off_the_border, 'not on the border of Task_start_sla_clocks "Start first response clock": dock it on the shape'),
    (slanted, "Flow_reference_to_clocks: runs at a slant from"),
    (along_another_flow, "Flow_suggestion_to_triage: runs along Flow_triage_to_set_priority"),
    (outside_its_lane, 'is drawn outside its lane Lane_account_manager "Account manager", where it belongs'),
    (label_out_of_its_lane, 'StartEvent_call_logged "Call logged": its label reaches out of its lane Lane_first_line'),
    (
        out_of_its_subprocess,
        'Task_alert_first_line "Alert the first-line queue": is drawn outside its subprocess '
        'SubProcess_first_response_overdue "First response overdue"',
    ),
    (lanes_overlap, 'Lane_first_line "First line": overlaps lane Lane_desk'),
    (
        undrawn_and_drawing_of_nothing,
        'Task_triage "Confirm priority": is not drawn: it needs one shape or edge in the layout',
    ),
    (undrawn_and_drawing_of_nothing, "Task_triage_di: draws 'Task_gone', which is no element of the process"),
    (unnamed_branch, "Flow_kind_to_advice: is a branch out of Gateway_kind_of_call with no name: name it"),
]


@pytest.mark.parametrize(("edit", "expected"), EDITS, ids=[f"{edit.__name__}-{i}" for i, (edit, _) in enumerate(EDITS)])
def test_each_check_finds_its_problem_in_an_edited_diagram_and_names_the_elements(edit, expected):
    assert Layout().problems() == []
    found = edit(Layout()).problems()
    assert any(expected in problem for problem in found), "\n".join(found)


def test_a_problem_is_located_on_the_line_of_the_drawing_as_the_deploy_gate_locates_its_own():
    text = SUPPORT_CALL.replace(_bounds_line("Task_set_priority"), _bounds_line("Task_suggest_priority"))
    found = [p for p in layout_problems(text, file="support_call.bpmn") if "on top of" in p.message]
    line = text[: text.index('<bpmndi:BPMNShape id="Task_suggest_priority_di"')].count("\n") + 1
    assert [(p.file, p.line, p.element_id, p.element_name, p.severity, p.message) for p in found] == [
        (
            "support_call.bpmn",
            line,
            "Task_suggest_priority",
            "Suggest priority",
            "warning",
            'is drawn on top of Task_set_priority "Set priority": move one of them',
        )
    ]


def test_a_diagram_wider_than_the_bound_is_reported_with_its_width():
    pool = Layout().box("Participant_support_call")  # the widest thing drawn
    [problem] = layout_problems(SUPPORT_CALL, file="support_call.bpmn", max_width=pool.w - 1)
    assert problem.element_id == "Participant_support_call"
    assert (
        f"the diagram is {pool.w:.0f} px wide, more than {pool.w - 1:.0f}: lay it out more compactly" in problem.message
    )
    assert layout_problems(SUPPORT_CALL, file="support_call.bpmn", max_width=pool.w) == []


def _bounds_line(element_id: str) -> str:
    start = SUPPORT_CALL.index(f'<bpmndi:BPMNShape id="{element_id}_di"')
    line_start = SUPPORT_CALL.index("<dc:Bounds", start)
    return SUPPORT_CALL[line_start : SUPPORT_CALL.index("/>", line_start) + 2]
