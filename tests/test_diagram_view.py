"""What the diagram drawings highlight (issue 21): where a ticket is, what it waits for, what it has done and
the flows it took (engine.tickets.queries.ticket_diagram); what one version changes against another, element
by element (engine.tickets.migration.changes_between, SpiffWorkflow's SpecDiff judged as for a migration),
and which files and marks the pages draw for it (web.diagram_view). The drawing itself is bpmn.io's, in
the browser: tests/test_browser_diagrams.py."""

from __future__ import annotations

import pytest
from test_process_owner import RENAMED, WITH_CHECK

from supportdesk.engine.tickets import commands, migration, queries
from supportdesk.web import diagram_files, diagram_view

from conftest import WORKFLOWS
from helpers import FIRST_RESPONSE, delay_for_information, do, log_and_triage

FILES = {path.name: path.read_text() for path in sorted(WORKFLOWS.iterdir()) if path.suffix in (".bpmn", ".dmn")}


def with_file(name: str, content: str) -> dict[str, str]:
    return {**FILES, name: content}


def test_C16_C22_C24_a_call_is_drawn_where_it_is_with_what_it_waits_for_and_the_path_it_took(app, desk):
    """Passed to second line (C16), set Delayed for information (C22) and re-opened when it came (C24)."""
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    commands.deliver_message(
        desk, commands.DeliverMessage(reference, "information_received", {"note": "CSV attached"}), "mail"
    )
    drawn = queries.ticket_diagram(desk, reference)
    assert drawn.file_name == "support_call.bpmn"
    assert drawn.current == {"Task_second_line"}
    # The next delay, the SLA watches and the customer's first reply (C12-C14, C22), each waiting.
    assert drawn.waiting == {
        "Event_call_delayed",
        "Start_first_response_due",
        "Start_resolution_due",
        "Start_public_reply",
    }
    assert {"Task_triage", "Task_first_level_response", "Task_set_delayed", "Event_information_received"} <= drawn.done
    assert not drawn.done & (drawn.current | drawn.waiting)  # the delay event waits again: not shown as done
    # The flows into second line and through the delay and back, not the branches it did not take.
    assert {"Flow_to_second_line", "Flow_wait_to_information", "Flow_information_to_progress"} <= drawn.taken
    assert "Flow_wait_to_access" not in drawn.taken

    with app.test_request_context():
        view = diagram_view.for_ticket(drawn, 1)
    assert view.source == "/diagrams/1/support_call.bpmn"
    assert view.focus == ("Task_second_line",)  # shown first, at 100 %
    assert view.marks_data["hl-current"] == ["Task_second_line"]
    assert view.marks_data["hl-taken"] == sorted(drawn.taken)


def test_what_a_version_changes_is_found_element_by_element(desk):
    assert migration.changes_between(
        desk, FILES, with_file("support_call.bpmn", WITH_CHECK)
    ) == migration.DiagramChanges(
        added=("Task_check_answer",), rewired=("Task_check_first_line_outcome", "Task_first_level_response")
    )
    assert migration.changes_between(desk, with_file("support_call.bpmn", WITH_CHECK), FILES).removed == (
        "Task_check_answer",
    )
    assert migration.changes_between(desk, FILES, with_file("support_call.bpmn", RENAMED)) == migration.DiagramChanges(
        changed=("Task_first_level_response",)
    )
    assert migration.changes_between(desk, FILES, FILES) == migration.DiagramChanges()


def test_C05_a_changed_decision_table_marks_the_task_that_asks_it(desk):
    """C05: the priority table changes what triage is suggested; the drawing marks the business rule task."""
    table = FILES["priority.dmn"]
    assert table.count('"C10: advice on using the product"') == 1
    changed = with_file("priority.dmn", table.replace('"C10: advice on using the product"', '"C10: advice"'))
    assert migration.changes_between(desk, FILES, changed) == migration.DiagramChanges(
        changed=("Task_suggest_priority",)
    )


def test_only_the_files_that_hold_a_change_are_drawn_each_side_with_its_marks(app):
    changes = migration.DiagramChanges(
        added=("Task_check_answer",), removed=("Task_gone",), changed=("Task_triage",), rewired=("Task_set_priority",)
    )
    with app.test_request_context():
        [compared] = diagram_view.comparisons(
            changes,
            FILES,  # "Task_gone" is in no file of it: nothing to mark
            with_file("support_call.bpmn", WITH_CHECK),
            lambda name: diagram_view.stored(1, name),
            lambda name: diagram_view.DiagramView(f"{name} as checked", name, xml="(the file)"),
        )
    assert compared.file_name == "support_call.bpmn"  # escalation.bpmn and training.bpmn hold none of them
    assert compared.before.source == "/diagrams/1/support_call.bpmn"
    assert compared.before.marks_data == {"hl-changed": ["Task_triage"], "hl-rewired": ["Task_set_priority"]}
    assert compared.after.marks_data == {
        "hl-added": ["Task_check_answer"],
        "hl-changed": ["Task_triage"],
        "hl-rewired": ["Task_set_priority"],
    }
    assert compared.after.focus[0] == "Task_check_answer"
    assert [css for css, _ in compared.after.legend] == ["hl-added", "hl-changed", "hl-rewired"]


def test_checked_files_come_back_byte_for_byte_and_no_larger_than_the_limit():
    text = "<?xml version='1.0'?>\r\n<definitions>\r\n  £ and ü\r\n</definitions>\r\n"
    assert diagram_files.unpacked(diagram_files.packed(text), 1000) == text.encode("utf-8")
    flood = diagram_files.packed("x" * 5_000_000)  # a few kilobytes that unpack to megabytes
    assert len(flood) < 20_000
    assert len(diagram_files.unpacked(flood, 1001)) == 1001  # the engine then refuses it as too large
    with pytest.raises(ValueError, match="not a packed file"):
        diagram_files.unpacked("bm90IHpsaWI=", 1000)  # base64, but no zlib stream
    truncated = diagram_files.packed("y" * 10_000)[:-8]
    with pytest.raises(ValueError, match="not a packed file"):
        diagram_files.unpacked(truncated, 100_000)
