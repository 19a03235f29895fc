"""The diagrams open in bpmn.io and Camunda Modeler without warnings.

``tests/modeler/check.mjs`` reads each file with the model layer those
modellers use (bpmn-moddle with Camunda's extensions, dmn-moddle) and prints
the warnings they would show. It needs Node.js and ``npm ci --prefix
tests/modeler`` (``.ci/run`` does both); elsewhere the test is skipped with
that reason, except under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import WORKFLOWS

MODELER = WORKFLOWS.parent / "tests" / "modeler"


def _skip_or_fail(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def modeller_warnings(paths) -> dict[str, list[str]]:
    if shutil.which("node") is None:
        _skip_or_fail("Node.js is not installed")
    if not (MODELER / "node_modules").exists():
        _skip_or_fail("run `npm ci --prefix tests/modeler` to install bpmn-moddle")
    done = subprocess.run(
        ["node", str(MODELER / "check.mjs"), *map(str, paths)], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_the_shipped_diagrams_open_in_bpmn_io_without_warnings():
    paths = sorted(WORKFLOWS.glob("*.bpmn")) + sorted(WORKFLOWS.glob("*.dmn"))
    assert modeller_warnings(paths) == {str(path): [] for path in paths}


def test_the_check_does_see_a_broken_reference(tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text(
        (WORKFLOWS / "training.bpmn")
        .read_text()
        .replace('targetRef="Task_arrange_training"', 'targetRef="Task_missing"')
    )
    [warnings] = modeller_warnings([broken]).values()
    assert any("Task_missing" in warning for warning in warnings)
