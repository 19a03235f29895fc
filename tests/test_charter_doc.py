"""docs/charter.md is the map from clause to diagram element to test; keep it true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from conftest import REPO, WORKFLOWS

DOC = (REPO / "docs" / "charter.md").read_text()
TESTS = Path(__file__).resolve().parent
CLAUSE_HEADING = re.compile(r"^### (C\d\d) ", re.MULTILINE)


def sections() -> dict[str, str]:
    """Clause id -> the text of its section."""
    parts = CLAUSE_HEADING.split(DOC)[1:]
    return dict(zip(parts[0::2], parts[1::2], strict=True))


def listed(section: str, label: str) -> list[str]:
    line = next((line for line in section.splitlines() if line.startswith(f"- {label}:")), "")
    return re.findall(r"`([^`]+)`", line)


def test_every_clause_C01_to_C32_has_a_section():
    assert list(sections()) == [f"C{n:02d}" for n in range(1, 33)]


@pytest.mark.parametrize("clause", [f"C{n:02d}" for n in range(1, 31)])
def test_every_clause_C01_to_C30_is_proven_by_a_test_named_after_it(clause):
    tests = listed(sections()[clause], "Tests")
    assert tests, f"{clause} lists no test"
    for reference in tests:
        file, name = reference.split("::")
        assert f"def {name}(" in (TESTS / file).read_text(), f"{reference} does not exist"
        assert clause in re.findall(r"C\d\d", name) or _in_range(clause, name), (
            f"{reference} is not named after {clause}"
        )


def _in_range(clause: str, name: str) -> bool:
    """``test_C21_to_C24_...`` names every clause from C21 to C24."""
    ranges = re.findall(r"C(\d\d)_to_C(\d\d)", name)
    return any(int(low) <= int(clause[1:]) <= int(high) for low, high in ranges)


@pytest.mark.parametrize("clause", sorted(sections()))
def test_every_element_named_in_the_map_exists(clause):
    for reference in listed(sections()[clause], "Elements"):
        file, element_id = reference.split("#")
        tree = etree.parse(str(WORKFLOWS / file))
        assert tree.xpath("//*[@id=$id]", id=element_id), f"{reference} does not exist"
