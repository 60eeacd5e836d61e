"""Rewrite every file derived from the registries, on purpose: python tests/regen.py

- docs/facts.md, from the fact catalogue (hwtune/factids.py);
- the Checks table of docs/check.md, from each check's `judges` line (checks/*.toml);
- the golden reports (tests/golden/), by running tests/test_golden.py with HWTUNE_REGEN_GOLDEN=1.

Review the diff like code: a new check is one new row in each golden report and in the table.
The tests fail on a stale file (tests/test_check_shape.py, test_docs_lists.py, test_golden.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK_MD = REPO / "docs" / "check.md"
SECTION = "\n## Checks\n"
HEADER = "| id | judges |\n|---|---|\n"


def check_table() -> str:
    """The Checks table: one row per check whose text has a `judges` line, in registry order."""
    from hwtune.checks import REGISTRY
    from hwtune.checks.text import load_texts

    texts = load_texts()
    return HEADER + "".join(f"| `{cid}` | {texts[cid].judges} |\n" for cid in REGISTRY if texts[cid].judges)


def check_md(current: str) -> str:
    """docs/check.md with its Checks table replaced by the generated one."""
    head, rest = current.split(SECTION, 1)
    _, tail = rest.split("\n## ", 1)
    return f"{head}{SECTION}\n{check_table()}\n## {tail}"


def main() -> int:
    from hwtune import factids

    (REPO / "docs" / "facts.md").write_text(factids.render_markdown())
    CHECK_MD.write_text(check_md(CHECK_MD.read_text()))
    import pytest

    os.environ["HWTUNE_REGEN_GOLDEN"] = "1"
    return int(pytest.main(["-q", "-p", "no:cacheprovider", str(REPO / "tests" / "test_golden.py")]))


if __name__ == "__main__":
    sys.exit(main())
