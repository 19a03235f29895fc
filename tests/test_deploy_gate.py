"""The deploy gate (#21): what would fail at run time is refused before anything is stored, every
problem of every file in one run, each with file, line, element id and name, and what to do; and
the habits of diagrams drawn for Camunda (bare ISO 8601 timers, FEEL cells, ${...}, extensions the
desk does not run) understood. Each diagram here is a shipped one, edited."""

from __future__ import annotations

import ast
import inspect
import re
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from supportdesk.cli import main as cli
from supportdesk.engine.process import desk_data
from supportdesk.engine.store.models import Job
from supportdesk.engine.tickets import calls, commands, queries
from supportdesk.handlers import HANDLERS

from conftest import MONDAY_10AM, WORKFLOWS, open_test_desk
from helpers import ANN, RESOLVED_STRAIGHT_AWAY, do, events, log_and_triage

H = timedelta(hours=1)
SUPPORT_CALL = (WORKFLOWS / "support_call.bpmn").read_text()
PRIORITY = (WORKFLOWS / "priority.dmn").read_text()


def edited(text: str, *changes: tuple[str, str]) -> str:
    """``text`` with each (old, new) replaced once; old must be there, so a test cannot go stale."""
    for old, new in changes:
        assert old in text, f"the shipped diagram no longer contains {old!r}"
        text = text.replace(old, new, 1)
    return text


@pytest.fixture
def workflows(tmp_path):
    """A copy of the shipped workflows/ with files replaced: ``workflows(support_call_bpmn=text)``."""

    def make(**files: str) -> Path:
        folder = tmp_path / f"workflows_{len(list(tmp_path.iterdir()))}"
        shutil.copytree(WORKFLOWS, folder)
        for name, text in files.items():
            (folder / name.replace("_bpmn", ".bpmn").replace("_dmn", ".dmn")).write_text(text)
        return folder

    return make


def check(folder: Path) -> tuple[int, list[str]]:
    """``supportdesk deploy --check --dir folder``: its exit code and the lines it printed."""
    result = CliRunner().invoke(cli, ["deploy", "--check", "--dir", str(folder)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output.strip().splitlines()


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("error: ")]


def warnings(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("warning: ")]


def refused(folder: Path) -> list[str]:
    code, lines = check(folder)
    assert code == 1, lines
    assert lines[-1].endswith("deploying these diagrams would be refused")
    return errors(lines)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- the shipped diagrams pass -------------------------------------------------------------------


def test_the_shipped_diagrams_pass_the_gate_without_a_warning():
    code, lines = check(WORKFLOWS)
    assert code == 0
    assert lines == ["the diagrams pass the deploy gate (0 errors, 0 warnings); nothing was deployed"]


# --- gateways whose conditions miss a case -------------------------------------------------------

NO_DEFAULT_TO_WORK = (
    (' default="Flow_kind_to_work"', ""),
    (
        'targetRef="Gateway_work_split" />',
        'targetRef="Gateway_work_split">\n      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
        'priority in ("High", "Medium")</bpmn:conditionExpression>\n    </bpmn:sequenceFlow>',
    ),
)


def test_C09_C10_a_gateway_whose_conditions_miss_a_priority_is_refused_naming_the_priority(workflows):
    text = edited(SUPPORT_CALL, *NO_DEFAULT_TO_WORK)
    [error] = refused(workflows(support_call_bpmn=text))
    line = line_of(text, '<bpmn:exclusiveGateway id="Gateway_kind_of_call"')
    assert error.startswith(f'error: support_call.bpmn:{line} Gateway_kind_of_call "Kind of call?": ')
    assert 'no condition of its flows holds when priority is "Low"' in error
    assert "Add a default flow, or conditions that cover these cases" in error


def test_C15_a_gateway_says_which_combination_of_two_fields_falls_through(workflows):
    text = edited(
        SUPPORT_CALL,
        (' name="Resolved?" default="Flow_to_second_line"', ' name="Resolved?"'),
        (
            'next_step == "resolved"</bpmn:conditionExpression>',
            'next_step == "resolved" and response_method == "phone"</bpmn:conditionExpression>',
        ),
        (
            'name="Second line" sourceRef="Gateway_first_line_next" targetRef="Task_second_line" />',
            'name="Second line" sourceRef="Gateway_first_line_next" targetRef="Task_second_line">'
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">next_step == "second_line"'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>",
        ),
    )
    [error] = refused(workflows(support_call_bpmn=text))
    assert 'Gateway_first_line_next "Resolved?"' in error
    assert 'holds when next_step is "resolved" and response_method is "email"' in error


def test_a_flow_out_of_a_choice_without_a_condition_is_refused_with_what_to_do(workflows):
    [error] = refused(workflows(support_call_bpmn=edited(SUPPORT_CALL, (' default="Flow_kind_to_work"', ""))))
    assert 'Flow_kind_to_work "High, Medium, Low": this flow out of gateway Gateway_kind_of_call' in error
    assert "give it a condition, or make it the default flow" in error


# --- call activities and messages that name nothing ----------------------------------------------


def test_a_call_activity_to_a_process_no_file_defines_is_refused(workflows):
    text = re.sub(
        r'<bpmn:serviceTask id="Task_notify_enhancement"(.*?)camunda:type="external" '
        r'camunda:topic="notify_enhancement">(.*?)</bpmn:serviceTask>',
        r'<bpmn:callActivity id="Task_notify_enhancement"\1calledElement="development_review">\2</bpmn:callActivity>',
        SUPPORT_CALL,
        flags=re.DOTALL,
    )
    [error] = refused(workflows(support_call_bpmn=text))
    line = line_of(text, '<bpmn:callActivity id="Task_notify_enhancement"')
    assert error.startswith(f'error: support_call.bpmn:{line} Task_notify_enhancement "Pass to development and close"')
    assert "calls process 'development_review', which no file of this set defines" in error
    assert "call one of: escalation, support_call, training" in error


def test_C24_a_message_event_that_names_no_message_is_refused(workflows):
    text = edited(SUPPORT_CALL, (' messageRef="Message_access_granted"', ""))
    [error] = refused(workflows(support_call_bpmn=text))
    assert 'Event_access_granted "Access granted": names no message' in error
    assert "choose its message in the modeller" in error


def test_a_business_rule_task_naming_no_decision_is_refused(workflows):
    text = edited(SUPPORT_CALL, ('camunda:decisionRef="priority"', 'camunda:decisionRef="priorities"'))
    [error] = refused(workflows(support_call_bpmn=text))
    assert "Task_suggest_priority" in error
    assert "calls decision 'priorities', which no .dmn file of this set defines: use one of: priority" in error


# --- expressions that name variables no path can have set ----------------------------------------


def test_C17_a_condition_reading_a_misspelt_or_later_variable_is_refused(workflows):
    text = edited(
        SUPPORT_CALL,
        ('next_step == "ask_third_line"', 'next_stpe == "ask_third_line"'),
        ('priority == "Advice"', 'priority == "Advice" and decision == "planned"'),
    )
    found = refused(workflows(support_call_bpmn=text))
    assert len(found) == 2
    assert 'Flow_to_third_line_advice "Ask for advice": the condition reads next_stpe' in found[1]
    assert "which no path to here sets (did you mean next_step?)" in found[1]
    # "decision" is a field of the development team's form, which comes after this gateway
    assert 'Flow_kind_to_advice "Advice": the condition reads decision, which no path to here sets' in found[0]


def test_C05_a_decision_input_no_path_sets_is_refused_at_the_table(workflows):
    table = edited(PRIORITY, ("<text>symptom</text>", "<text>symptoms</text>"))
    [error] = refused(workflows(priority_dmn=table))
    assert error.startswith("error: priority.dmn:")
    assert "reads symptoms, which no path to Task_suggest_priority in support_call.bpmn sets" in error
    assert "(did you mean symptom?)" in error


# --- timers that give no moment or duration ------------------------------------------------------


def test_C26_C27_timers_that_give_no_moment_are_refused_with_the_value_to_write(workflows):
    text = edited(
        SUPPORT_CALL,
        ("working_days_from_now(5)", "5"),
        ("next_working_day()", "P1D"),
        ('sla_due("resolution")', "0 0 9 * * ?"),
        ('sla_due("first_response")', "2026-12-01T09:00:00"),
    )
    found = refused(workflows(support_call_bpmn=text))
    assert [e.split(": ", 2)[1] for e in found] == [
        f'support_call.bpmn:{line_of(text, ">5<")} Event_feedback_window_closed "Five working days without feedback"',
        f'support_call.bpmn:{line_of(text, ">2026-12-01T09")} Start_first_response_due "First response due"',
        f'support_call.bpmn:{line_of(text, ">0 0 9")} Start_resolution_due "Resolution target reached"',
        f'support_call.bpmn:{line_of(text, ">P1D<")} Event_next_working_day "Next working day"',
    ]  # each on its timer's line, named by its event
    assert "it gives 5, so the timer has no moment to wait for: write a date such as 2026-12-01T09:00:00Z" in found[0]
    assert "2026-12-01T09:00:00 has no time zone" in found[1]
    assert "add Z (UTC) or an offset, e.g. 2026-12-01T09:00:00Z" in found[1]
    assert "'0 0 9 * * ?' is a cron expression, which the desk does not run" in found[2]
    assert "P1D is a duration, but the timer's type is Date: set its type to Duration" in found[3]


# --- decision tables: rules that never fit, or overlap -------------------------------------------

CATCH_ALL = re.search(r'\s*<rule id="Rule_C08_C11_anything_else">.*?</rule>', PRIORITY, re.DOTALL).group(0)


def test_C11_a_catch_all_rule_above_the_others_leaves_them_never_fitting(workflows):
    table = PRIORITY.replace(CATCH_ALL, "").replace(
        '\n      <rule id="Rule_C09_enhancement">', CATCH_ALL + '\n      <rule id="Rule_C09_enhancement">'
    )
    found = refused(workflows(priority_dmn=table))
    assert [re.search(r"(Rule_\w+)", e).group(1) for e in found] == [
        "Rule_C09_enhancement",
        "Rule_C10_advice",
        "Rule_C06_campaign_within_24_hours",
        "Rule_C06_preparing_a_campaign",
        "Rule_C07_campaign_within_3_days",
    ]
    assert all(
        "this rule never fits: every case it fits is taken by Rule_C08_C11_anything_else above it" in e for e in found
    )
    assert "(the first rule that fits wins): move it above, or narrow the rules above" in found[0]


def test_C10_a_cell_no_value_can_fit_is_refused_with_the_values(workflows):
    table = edited(PRIORITY, ('<text>? == "advice"</text>', '<text>? == "advise"</text>'))
    [error] = refused(workflows(priority_dmn=table))
    assert 'Rule_C10_advice "row 2": this rule never fits: its request_kind cell (? == "advise")' in error
    assert 'holds for no value request_kind can have ("advice", "enhancement", "problem")' in error


def test_C05_C11_overlapping_rules_in_a_unique_table_are_refused(workflows):
    table = edited(PRIORITY, ('hitPolicy="FIRST"', 'hitPolicy="UNIQUE"'))
    found = refused(workflows(priority_dmn=table))
    assert len(found) == 4  # every rule after the first overlaps one above it
    assert (
        'Rule_C06_campaign_within_24_hours "row 3": this rule and Rule_C09_enhancement both fit when '
        'request_kind is "enhancement"'
    ) in found[0]
    assert "the hit policy UNIQUE allows one rule per case" in found[0]
    assert "set the hit policy to FIRST if the order decides" in found[0]


def test_a_hit_policy_the_desk_does_not_run_is_refused_with_the_one_to_use(workflows):
    [error] = refused(workflows(priority_dmn=edited(PRIORITY, ('hitPolicy="FIRST"', 'hitPolicy="RULE ORDER"'))))
    assert "DecisionTable_priority" in error
    assert (
        "hit policy RULE ORDER: the desk returns one rule's outputs, not a list: set the hit policy to COLLECT" in error
    )


# --- every problem of every file in one run ------------------------------------------------------


def test_three_different_mistakes_give_three_messages_in_one_run(workflows):
    folder = workflows(
        support_call_bpmn=edited(
            SUPPORT_CALL,
            *NO_DEFAULT_TO_WORK,
            ('camunda:topic="assign_call_reference"', 'camunda:topic="assign_cal_reference"'),
        ),
        priority_dmn=edited(PRIORITY, ('hitPolicy="FIRST"', 'hitPolicy="RULE ORDER"')),
    )
    found = refused(folder)
    assert len(found) == 3
    assert found[0].startswith("error: priority.dmn:")  # by file, then line
    assert "unknown handler 'assign_cal_reference' (did you mean 'assign_call_reference'?)" in found[1]
    assert "no condition of its flows holds when priority is" in found[2]
    assert all(re.match(r'error: \S+\.(bpmn|dmn):\d+ \w+( "[^"]+")?: ', e) for e in found)


def test_a_refused_deploy_stores_nothing_and_the_running_version_keeps_serving(workflows, desk, sqlite_url):
    text = edited(SUPPORT_CALL, *NO_DEFAULT_TO_WORK)
    folder = workflows(support_call_bpmn=text)
    result = CliRunner().invoke(cli, ["deploy", "--dir", str(folder)], env={"SUPPORTDESK_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    line = line_of(text, '<bpmn:exclusiveGateway id="Gateway_kind_of_call"')
    assert f'error: support_call.bpmn:{line} Gateway_kind_of_call "Kind of call?": no condition' in result.output
    assert "nothing was deployed: the active version keeps serving" in result.output
    reference = log_and_triage(desk)
    assert queries.ticket_view(desk, reference).diagram_version == 1


# --- messages that were unclear ------------------------------------------------------------------


def test_lane_errors_list_the_roles_and_a_task_in_no_lane_says_so(workflows):
    text = edited(
        SUPPORT_CALL,
        ('<bpmn:lane id="Lane_first_line" name="First line">', '<bpmn:lane id="Lane_first_line" name="Sales">'),
        ("        <bpmn:flowNodeRef>Task_give_advice</bpmn:flowNodeRef>\n", ""),
    )
    found = refused(workflows(support_call_bpmn=text))
    roles = "First line, Second line, Third line, Account manager, Customer services manager, Development team"
    triage = line_of(text, '<bpmn:userTask id="Task_triage"')
    assert found[0] == (
        f"error: support_call.bpmn:{triage} Task_triage \"Confirm priority\": user task is in lane 'Sales', which is "
        f"not a role of the charter: name the lane after the role that does it, one of: {roles}"
    )
    assert 'Task_give_advice "Contact the customer with advice": user task is in no lane' in found[2]
    assert f"put it in the lane of its role ({roles})" in found[2]


def test_a_task_with_two_flows_out_is_told_to_use_a_gateway(workflows):
    flow = '<bpmn:sequenceFlow id="Flow_advice_to_close" sourceRef="Task_give_advice" targetRef="Task_close_advice" />'
    extra = flow.replace("Flow_advice_to_close", "Flow_advice_extra").replace(
        "Task_close_advice", "EndEvent_customer_advised"
    )
    _, lines = check(workflows(support_call_bpmn=edited(SUPPORT_CALL, (flow, flow + extra))))
    [error] = errors(lines)
    assert 'Task_give_advice "Contact the customer with advice": 2 flows leave it' in error
    assert "(Flow_advice_to_close, Flow_advice_extra)" in error
    assert "put an exclusive gateway after it; to follow all of them, a parallel gateway" in error
    assert "Multiple outgoing flows are not supported" not in "\n".join(lines)


# --- Camunda habits ------------------------------------------------------------------------------


def test_C15_a_juel_condition_is_refused_with_the_python_to_write(workflows):
    text = edited(
        SUPPORT_CALL, ('next_step == "resolved"</bpmn', "${next_step == 'resolved' &amp;&amp; !delayed}</bpmn")
    )
    [error] = refused(workflows(support_call_bpmn=text))
    assert (
        "Flow_resolved_by_first_line \"Resolved\": ${next_step == 'resolved' && !delayed} is a Camunda expression"
        in error
    )
    assert 'the desk runs Python in a condition: write next_step == "resolved" and not delayed' in error


def test_camunda_extensions_the_desk_does_not_run_are_warnings_naming_the_element(workflows):
    text = edited(
        SUPPORT_CALL,
        (
            'camunda:formKey="triage"',
            'camunda:formKey="triage" camunda:candidateGroups="first_line" camunda:dueDate="${due}"',
        ),
        (
            '<camunda:formData>\n          <camunda:formField id="response_method"',
            '<camunda:taskListener class="com.acme.Audit" event="create" />\n'
            '        <camunda:formData>\n          <camunda:formField id="response_method"',
        ),
    )
    code, lines = check(workflows(support_call_bpmn=text))
    assert code == 0, lines
    triage, listener = line_of(text, 'id="Task_triage"'), line_of(text, "<camunda:taskListener")
    assert warnings(lines) == [
        f'warning: support_call.bpmn:{triage} Task_triage "Confirm priority": camunda:candidateGroups is ignored: '
        "the desk gives a task to the role of its lane: put the task in that role's lane",
        f'warning: support_call.bpmn:{triage} Task_triage "Confirm priority": camunda:dueDate is ignored: task due '
        "dates are not kept: put a boundary timer on the task for a deadline",
        f'warning: support_call.bpmn:{listener} Task_first_level_response "First level response": '
        "camunda:taskListener is ignored: listeners do not run: put the work in a service task with a handler topic",
    ]


def test_a_feel_cell_the_desk_cannot_run_is_refused_with_the_python_form(workflows):
    table = edited(PRIORITY, ('<text>? == "advice"</text>', '<text>date("2026-01-01")</text>'))
    [error] = refused(workflows(priority_dmn=table))
    assert "Rule_C10_advice_in0" in error
    assert "FEEL functions such as date(...) do not run" in error
    assert 'write it in Python with ? for the input, e.g. ? in ("a", "b")' in error


FEEL_BLOCKING_SYMPTOMS = (
    '"cannot_load_data","cannot_access","software_crashes","cannot_send_tests","campaign_wont_send",'
    '"template_design_issue"'
)
PYTHON_BLOCKING_SYMPTOMS = (
    '? in ("cannot_load_data", "cannot_access", "software_crashes", "cannot_send_tests", "campaign_wont_send", '
    '"template_design_issue")'
)


@pytest.fixture
def feel_desk(workflows, sqlite_url, frozen_clock):
    """The shipped diagrams with priority.dmn's C06 and C07 cells written as dmn-js writes FEEL."""
    table = edited(
        PRIORITY,
        (PYTHON_BLOCKING_SYMPTOMS, FEEL_BLOCKING_SYMPTOMS),
        ("? is not None and 0 &lt;= ? &lt;= 24", "[0..24]"),
        ("? == True", "true"),
        ("? is not None and 0 &lt;= ? &lt;= 72", "[0..72]"),
        ('<text>? == "enhancement"</text>', '<text>"enhancement"</text>'),
    )
    folder = workflows(priority_dmn=table)
    assert check(folder)[0] == 0
    desk = open_test_desk(sqlite_url, folder)
    commands.deploy(desk, folder)
    yield desk
    desk.close()


@pytest.mark.parametrize(
    ("symptom", "hours", "preparing", "priority"),
    [
        ("cannot_access", 20, False, "High"),  # C06: in the FEEL list, campaign within [0..24]
        ("cannot_access", 24, False, "High"),  # a range's ends are in it
        ("software_crashes", None, True, "High"),  # C06: preparing a campaign (FEEL true)
        ("other", 20, False, "Medium"),  # C07: not in the list, campaign within [0..72]
        ("cannot_access", 80, False, "Low"),  # C08
        ("cannot_access", None, False, "Low"),  # no campaign: null fits no range, as in FEEL
    ],
)
def test_C06_C07_C08_feel_cells_in_priority_dmn_suggest_what_camunda_would(
    feel_desk, frozen_clock, symptom, hours, preparing, priority
):
    campaign_at = frozen_clock.now() + hours * H if hours is not None else None
    details = replace(ANN, symptom=symptom, campaign_at=campaign_at, preparing_campaign=preparing)
    reference = log_and_triage(feel_desk, details=details)
    assert events(feel_desk, reference, "priority_set")[0].payload["suggested"] == priority


def test_C09_a_feel_string_cell_suggests_enhancement(feel_desk):
    reference = log_and_triage(feel_desk, details=replace(ANN, request_kind="enhancement"))
    assert events(feel_desk, reference, "priority_set")[0].payload["suggested"] == "Enhancement"


def feedback_timer(workflows, sqlite_url, timer_xml: str):
    """A desk whose C27 feedback window is ``timer_xml``, with a call resolved straight away."""
    text = edited(
        SUPPORT_CALL,
        ('<bpmn:timeDate xsi:type="bpmn:tFormalExpression">working_days_from_now(5)</bpmn:timeDate>', timer_xml),
    )
    folder = workflows(support_call_bpmn=text)
    assert check(folder)[0] == 0
    desk = open_test_desk(sqlite_url, folder)
    commands.deploy(desk, folder)
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    with desk.db.reading() as session:
        jobs = [job.due_at for job in session.query(Job).all()]
    desk.close()
    return jobs


def test_C27_a_camunda_style_P5D_duration_timer_waits_five_days(workflows, sqlite_url, frozen_clock):
    jobs = feedback_timer(
        workflows, sqlite_url, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P5D</bpmn:timeDuration>'
    )
    assert frozen_clock.now() + timedelta(days=5) in jobs


def test_C27_a_camunda_style_date_timer_waits_for_that_moment(workflows, sqlite_url, frozen_clock):
    jobs = feedback_timer(
        workflows, sqlite_url, '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">2026-12-01T09:00:00Z</bpmn:timeDate>'
    )
    assert frozen_clock.now().replace(month=12, day=1, hour=9) in jobs


def test_a_camunda_style_cycle_passes_the_gate(workflows):
    text = edited(
        SUPPORT_CALL,
        (
            '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">next_working_day()</bpmn:timeDate>',
            '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R3/PT1H</bpmn:timeCycle>',
        ),
    )
    assert check(workflows(support_call_bpmn=text))[0] == 0


# --- what the gate knows the desk sets is what the code sets -------------------------------------


def test_the_start_data_the_gate_knows_is_what_the_desk_starts_calls_with():
    inputs = ANN.decision_inputs(MONDAY_10AM)
    assert set(desk_data.START_DATA["support_call"]) == set(inputs)
    known = desk_data.START_DATA["support_call"]
    assert set(known["channel"]) == set(calls.CHANNELS)
    assert set(known["licence_type"]) == set(calls.LICENCE_TYPES)
    assert set(known["request_kind"]) == set(calls.REQUEST_KINDS)
    assert set(known["symptom"]) == set(calls.SYMPTOMS)
    assert set(desk_data.START_DATA["training"]["need"]) == set(commands.TRAINING_NEEDS)
    start_escalation = inspect.getsource(commands.start_escalation)
    assert '{"call_reference": call_reference}' in start_escalation


def test_the_variables_the_gate_knows_handlers_set_are_what_they_set():
    written = {}
    for topic, handler in HANDLERS.items():
        tree = ast.parse(inspect.getsource(handler))
        names = {
            target.slice.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Subscript) and "task.data" in ast.unparse(target.value)
        }
        if names:
            written[topic] = names
    assert written == {topic: set(data) for topic, data in desk_data.HANDLER_DATA.items()}


# --- expressions calling a function the desk does not provide (#21) ------------------------------------------


def test_C14_C26_a_misspelt_desk_function_is_refused_with_the_one_meant(workflows):
    """``sla_deu("resolution")`` and ``call_is_opne()`` would fail with "name ... is not defined" when a call
    reached them: the gate knows the functions the desk's script engine provides and names the one meant."""
    text = edited(
        SUPPORT_CALL,
        ('sla_due("resolution")', 'sla_deu("resolution")'),
        (">call_is_open()<", ">call_is_opne()<"),
    )
    errors_found = refused(workflows(support_call_bpmn=text))
    timer_line = line_of(text, 'sla_deu("resolution")')
    condition_line = line_of(text, "call_is_opne()")
    assert errors_found == [
        f'error: support_call.bpmn:{timer_line} Start_resolution_due "Resolution target reached": the timer calls '
        "sla_deu(), which is no function the desk provides (did you mean sla_due?): it would fail when a call gets "
        "here; correct the name. The functions a diagram may call: call_is_open, next_working_day, sla_due, "
        "working_days_from_now, and Python's builtins",
        f'error: support_call.bpmn:{condition_line} Flow_still_open "Yes": the condition calls call_is_opne(), which '
        "is no function the desk provides (did you mean call_is_open?): it would fail when a call gets here; correct "
        "the name. The functions a diagram may call: call_is_open, next_working_day, sla_due, working_days_from_now, "
        "and Python's builtins",
    ]


def test_python_builtins_are_functions_a_condition_may_call(workflows):
    text = edited(SUPPORT_CALL, (">call_is_open()<", ">bool(call_is_open()) and abs(-1) == 1<"))
    code, lines = check(workflows(support_call_bpmn=text))
    assert code == 0, lines
