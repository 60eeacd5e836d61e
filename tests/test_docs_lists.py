"""The docs' lists of checks are the registry's: a check added, renamed or removed without its
entry in docs/check.md (the Checks table, written by `python tests/regen.py` from each check's
`judges` line) or docs/health.md (a `### id` section) fails here."""

from __future__ import annotations

import re
from pathlib import Path

from hwtune.checks import REGISTRY
from regen import CHECK_MD, check_md

DOCS = Path(__file__).parents[1] / "docs"


def _check_table_ids() -> set[str]:
    table = (DOCS / "check.md").read_text().split("\n## Checks\n", 1)[1].split("\n## ", 1)[0]
    first_cells = (line.split("|")[1] for line in table.splitlines() if line.startswith("| `"))
    return {i for cell in first_cells for i in re.findall(r"`([a-z_]+\.[a-z_]+)`", cell)}


def _health_section_ids() -> set[str]:
    return set(re.findall(r"^### ([a-z_]+\.[a-z_]+)\b", (DOCS / "health.md").read_text(), re.M))


def test_every_registered_check_is_documented_and_every_documented_check_exists():
    documented = _check_table_ids() | _health_section_ids()
    assert set(REGISTRY) - documented == set(), ("registered but not in docs/check.md or docs/health.md: give "
                                                 "its text a `judges` line, then run python tests/regen.py")
    assert documented - set(REGISTRY) == set(), "documented but not registered"


def test_the_checks_table_is_generated_from_the_check_texts():
    assert CHECK_MD.read_text() == check_md(CHECK_MD.read_text()), "stale: run python tests/regen.py"
