"""The ticket page's drawing of a diagram (web/diagram_svg.py), from the version's own layout."""

from __future__ import annotations

import re

from supportdesk.web import diagram_svg

from conftest import WORKFLOWS


def test_C14_the_sla_watches_are_drawn_as_dotted_containers_under_the_flows_they_hold():
    svg = str(diagram_svg.render((WORKFLOWS / "support_call.bpmn").read_text(), active={"Start_first_response_due"}))
    first_flow = svg.index('<polyline class="flow"')
    for watch, name in (
        ("SubProcess_first_response_overdue", "First response overdue"),
        ("SubProcess_resolution_overdue", "Resolution target missed"),
    ):
        drawn = re.search(rf'<g class="shape eventSubProcess" data-element="{watch}">.*?</g>', svg)
        assert drawn, watch
        assert drawn.start() < first_flow, watch  # under the flows, not over them
        assert f">{name}</text>" in drawn.group(0)
    assert re.search(r'<g class="shape startEvent active" data-element="Start_first_response_due">', svg)
