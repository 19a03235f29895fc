"""The dry run of a new diagram version (#21): tickets driven down every choice of the new diagrams on a
scratch store before they are stored; a path that fails in the engine refuses the version, naming the
path, in the deploy gate's format. Each diagram here is a shipped one, edited."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import func, select

from supportdesk.cli import main as cli
from supportdesk.engine.oversight import dry_run
from supportdesk.engine.process.deployment import check_files, read_diagram_files
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import DiagramVersion, Ticket
from supportdesk.handlers import REGISTRY

from conftest import MONDAY_10AM, WORKFLOWS
from helpers import with_condition

# Second line's "Next?" gateway: asking third line for advice divides by zero; its other ways do not
# (``and`` stops at the first part for them). The static gate tries conditions without running them.
ASK_THIRD_LINE = "Flow_to_third_line_advice"
DIVIDES_BY_ZERO = 'next_step == "ask_third_line" and 1 / 0 > 0'


def shipped_with(tmp_path: Path, **texts: str) -> Path:
    folder = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS, folder)
    for name, text in texts.items():
        (folder / name).write_text(text)
    return folder


def zero_division_on_one_path(tmp_path: Path) -> Path:
    bpmn = with_condition((WORKFLOWS / "support_call.bpmn").read_text(), ASK_THIRD_LINE, DIVIDES_BY_ZERO)
    return shipped_with(tmp_path, **{"support_call.bpmn": bpmn})


def choice_points(folder: Path) -> set[str]:
    """The elements where a ticket of these diagrams waits for someone or something: user tasks, and events
    waiting for a message or a timer (those after an event-based gateway wait at the gateway)."""
    found = set()
    for path in folder.glob("*.bpmn"):
        tree = etree.parse(str(path))
        found |= set(tree.xpath("//*[local-name()='userTask']/@id"))
        gateways = set(tree.xpath("//*[local-name()='eventBasedGateway']/@id"))
        source_of = {f.get("id"): f.get("sourceRef") for f in tree.xpath("//*[local-name()='sequenceFlow']")}
        waiting = "//*[*[local-name()='messageEventDefinition' or local-name()='timerEventDefinition']]"
        for event in tree.xpath(waiting):
            sources = {source_of.get(flow.strip()) for flow in event.xpath("*[local-name()='incoming']/text()")}
            found.add(next(iter(sources & gateways), event.get("id")))
    return found


def test_the_shipped_diagrams_pass_the_dry_run_with_every_choice_point_tried(frozen_clock):
    files = read_diagram_files(WORKFLOWS)
    rehearsal = dry_run.rehearse(Settings(secret_key="test"), REGISTRY, files)
    assert rehearsal.problems == ()
    assert rehearsal.tickets <= dry_run.MAX_TICKETS
    assert {element for _, element, _ in rehearsal.tried} >= choice_points(WORKFLOWS)
    # Each value of each enum field that steers a gateway, and each reason a call waits for (C15-C18, C21-C24).
    tried = {(element, choice) for _, element, choice in rehearsal.tried}
    for choice in ("next_step=ask_third_line", "next_step=pass_third_line"):
        assert ("Task_second_line", choice) in tried
    for reason in ("access_refused", "information_awaited", "customer_absent"):
        assert ("Event_call_delayed", f"call_delayed reason={reason}") in tried
    assert ("Task_investigate", "information=more_needed") in tried
    assert frozen_clock.now() == MONDAY_10AM  # the dry run's clocks were its own


def test_C17_a_condition_dividing_by_zero_on_one_path_passes_the_gate_but_the_dry_run_refuses_it(tmp_path):
    """Second line asks third line for advice (C17): the gateway's condition divides by zero on that path
    only. The static gate cannot see it; the dry run takes that path and refuses the version, naming it."""
    folder = zero_division_on_one_path(tmp_path)
    files = read_diagram_files(folder)
    assert check_files(files, REGISTRY.handlers, REGISTRY.expression_functions).errors == ()

    result = CliRunner().invoke(cli, ["deploy", "--check", "--dir", str(folder)])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [error] = [line for line in result.output.splitlines() if line.startswith("error: ")]
    bpmn = files["support_call.bpmn"]
    line = bpmn[: bpmn.index('<bpmn:exclusiveGateway id="Gateway_second_line_next"')].count("\n") + 1
    assert error.startswith(
        f'error: support_call.bpmn:{line} Gateway_second_line_next "Next?": the dry run failed on this path: '
        f"the expression {DIVIDES_BY_ZERO} raised ZeroDivisionError: division by zero. Path: start support_call"
    )
    assert '> complete Task_first_level_response "First level response" (next_step=second_line) >' in error
    assert (
        error.split(". Path: ")[1]
        .split(". Elements passed")[0]
        .endswith('complete Task_second_line "Resolve call (second line)" (next_step=ask_third_line)')
    )
    assert "Elements passed before the last move: StartEvent_call_logged, Task_assign_call_reference," in error
    assert error.endswith("Correct the diagram so that this path goes on, then deploy again")
    assert result.output.splitlines()[-1] == "1 error, 0 warnings: deploying these diagrams would be refused"


def test_C17_deploying_a_version_that_fails_its_dry_run_stores_nothing(tmp_path, desk, sqlite_url):
    folder = zero_division_on_one_path(tmp_path)
    result = CliRunner().invoke(cli, ["deploy", "--dir", str(folder)], env={"SUPPORTDESK_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    assert "the dry run failed on this path" in result.stderr
    assert "nothing was deployed: the active version keeps serving" in result.stderr
    with desk.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(DiagramVersion)) == 1  # the shipped version only
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0  # the dry run's were on its scratch store


@pytest.mark.parametrize("limit", [1])
def test_a_dry_run_cut_short_by_its_bound_says_so_as_a_warning(monkeypatch, limit):
    monkeypatch.setattr(dry_run, "MAX_TICKETS", limit)
    rehearsal = dry_run.rehearse(Settings(secret_key="test"), REGISTRY, read_diagram_files(WORKFLOWS))
    assert rehearsal.errors == ()
    [warning] = rehearsal.warnings
    assert str(warning).startswith(f"the dry run stopped after {limit} tickets with ")
    assert "those paths were not run before deploying" in str(warning)
