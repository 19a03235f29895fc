"""Deploying diagrams: immutable numbered versions, validation with file,
line and element id, tickets pinned to the version they started on."""

from __future__ import annotations

import shutil

import pytest

from supportdesk.engine.errors import DiagramError
from supportdesk.engine.tickets import commands, queries

from conftest import WORKFLOWS, open_test_desk
from helpers import do, log_call, open_task

SHIPPED = (WORKFLOWS / "support_call.bpmn").read_text()


def write_diagram(folder, text: str) -> None:
    """The shipped workflows folder, with support_call.bpmn replaced by ``text``."""
    if not folder.exists():
        shutil.copytree(WORKFLOWS, folder)
    (folder / "support_call.bpmn").write_text(text)


def changed(old: str, new: str) -> str:
    assert old in SHIPPED, f"the shipped diagram no longer contains {old!r}"
    return SHIPPED.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_redeploying_unchanged_files_is_a_no_op(desk):
    result = commands.deploy(desk)
    assert (result.number, result.outcome) == (1, "unchanged")


def test_a_changed_diagram_is_a_new_version_and_open_tickets_stay_pinned(desk, tmp_path):
    old_ticket = log_call(desk)
    folder = tmp_path / "v2"
    write_diagram(folder, changed('name="First level response"', 'name="Answer the customer"'))
    assert commands.deploy(desk, folder).describe() == "deployed diagrams as version 2"

    new_ticket = log_call(desk)
    for reference in (old_ticket, new_ticket):
        do(desk, reference, "Confirm priority")
    assert open_task(desk, old_ticket, "First level response").role == "first_line"
    assert open_task(desk, new_ticket, "Answer the customer").role == "first_line"
    assert queries.ticket_view(desk, old_ticket).diagram_version == 1
    assert queries.ticket_view(desk, new_ticket).diagram_version == 2


def test_deploying_older_files_again_reactivates_their_version(desk, tmp_path):
    write_diagram(tmp_path / "v2", changed('name="First level response"', 'name="Answer the customer"'))
    commands.deploy(desk, tmp_path / "v2")
    result = commands.deploy(desk, WORKFLOWS)
    assert (result.number, result.outcome) == (1, "reactivated")
    assert queries.ticket_view(desk, log_call(desk)).diagram_version == 1


BROKEN = {
    "broken flow": (
        'targetRef="Task_set_priority" />',
        'targetRef="Task_nowhere" />',
        "Flow_triage_to_set_priority",
        "Task_nowhere",
    ),
    "unknown element": (
        '<bpmn:endEvent id="EndEvent_call_closed" ',
        '<bpmn:frobnicate id="Frob_1" />\n    <bpmn:endEvent id="EndEvent_call_closed" ',
        "Frob_1",
        "frobnicate",
    ),
    "unknown handler": (
        'camunda:topic="assign_call_reference"',
        'camunda:topic="assign_cal_reference"',
        "Task_assign_call_reference",
        "unknown handler 'assign_cal_reference'",
    ),
    "user task outside the roles": (
        '<bpmn:lane id="Lane_first_line" name="First line">',
        '<bpmn:lane id="Lane_first_line" name="Sales">',
        "Task_triage",
        "not a role of the charter",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_diagram_is_refused_with_element_id_and_the_old_version_keeps_serving(desk, tmp_path, case):
    old, new, element_id, words = BROKEN[case]
    write_diagram(tmp_path / "bad", changed(old, new))
    with pytest.raises(DiagramError) as refused:
        commands.deploy(desk, tmp_path / "bad")
    error = refused.value
    assert error.element_id == element_id
    assert error.file == "support_call.bpmn"
    assert error.line
    assert words in str(error)
    assert queries.ticket_view(desk, log_call(desk)).diagram_version == 1


def script_task(script: str) -> str:
    return changed(
        '<bpmn:endEvent id="EndEvent_call_closed" ',
        '<bpmn:scriptTask id="Task_broken_script" name="Broken">\n'
        f"      <bpmn:script>{script}</bpmn:script>\n"
        '    </bpmn:scriptTask>\n    <bpmn:endEvent id="EndEvent_call_closed" ',
    )


def test_a_script_syntax_error_is_refused_with_its_line_and_element(desk, tmp_path):
    text = script_task("x = 1\nif x\n  y = 2")
    write_diagram(tmp_path / "bad", text)
    with pytest.raises(DiagramError) as refused:
        commands.deploy(desk, tmp_path / "bad")
    assert refused.value.element_id == "Task_broken_script"
    assert refused.value.line == line_of(text, "if x")
    assert "syntax" in str(refused.value)


def test_a_condition_syntax_error_is_refused(desk, tmp_path):
    text = changed(
        'next_step == "resolved"</bpmn:conditionExpression>', 'next_step == = "resolved"</bpmn:conditionExpression>'
    )
    write_diagram(tmp_path / "bad", text)
    with pytest.raises(DiagramError, match="Flow_resolved_by_first_line"):
        commands.deploy(desk, tmp_path / "bad")


def test_xml_that_is_not_well_formed_is_refused_with_its_line(desk, tmp_path):
    text = changed("</bpmn:process>", "</bpmn:proces>")
    write_diagram(tmp_path / "bad", text)
    with pytest.raises(DiagramError) as refused:
        commands.deploy(desk, tmp_path / "bad")
    assert refused.value.line == line_of(text, "</bpmn:proces>")
    assert "not well-formed" in str(refused.value)


def test_the_first_deploy_of_a_broken_diagram_leaves_no_version(sqlite_url, frozen_clock, tmp_path):
    desk = open_test_desk(sqlite_url)
    shutil.copytree(WORKFLOWS, tmp_path / "wf")
    (tmp_path / "wf" / "support_call.bpmn").write_text(changed('isExecutable="true"', 'isExecutable="maybe"'))
    with pytest.raises(DiagramError):
        commands.deploy(desk, tmp_path / "wf")
    with desk.db.reading() as session:
        from supportdesk.engine.errors import NoActiveVersion
        from supportdesk.engine.process.deployment import active_version

        with pytest.raises(NoActiveVersion):
            active_version(session)


def test_an_element_id_the_engine_reserves_is_refused(desk, tmp_path):
    write_diagram(
        tmp_path / "bad",
        SHIPPED.replace('"EndEvent_first_line_alerted"', '"End"').replace(">EndEvent_first_line_alerted<", ">End<"),
    )
    with pytest.raises(DiagramError, match="reserved by the engine") as refused:
        commands.deploy(desk, tmp_path / "bad")
    assert refused.value.element_id == "End"


def test_the_diagrams_in_the_repository_deploy_without_a_single_warning(sqlite_url, frozen_clock):
    result = commands.deploy(open_test_desk(sqlite_url), WORKFLOWS)
    assert result.outcome == "deployed"
    assert result.warnings == ()


def test_warnings_name_what_a_process_owner_would_trip_over_but_do_not_block(desk, tmp_path):
    text = changed(
        '<bpmndi:BPMNShape id="Task_alert_first_line_di" bpmnElement="Task_alert_first_line">',
        '<bpmndi:BPMNShape id="Task_alert_first_line_di" bpmnElement="Task_record_first_response_breach">',
    )
    text = text.replace(' camunda:formKey="give_advice"', "")
    write_diagram(tmp_path / "v2", text)
    result = commands.deploy(desk, tmp_path / "v2")
    assert result.outcome == "deployed"
    assert sorted((w.element_id, w.message.split(":")[0]) for w in result.warnings) == [
        ("Task_alert_first_line", "not drawn"),
        ("Task_give_advice", "has form fields but no form key"),
    ]
    assert all(w.file == "support_call.bpmn" and w.line for w in result.warnings)


def test_a_decision_table_with_a_python_syntax_error_is_refused(desk, tmp_path):
    shutil.copytree(WORKFLOWS, tmp_path / "bad")
    table = tmp_path / "bad" / "priority.dmn"
    table.write_text(table.read_text().replace('<text>"Advice"</text>', '<text>"Advice</text>'))
    with pytest.raises(DiagramError) as refused:
        commands.deploy(desk, tmp_path / "bad")
    assert refused.value.file == "priority.dmn"
    assert refused.value.element_id == "Rule_C10_advice_priority"
