"""Golden check reports: one per snapshot and profile, compared whole.

Regenerate on purpose only: python tests/regen.py (or HWTUNE_REGEN_GOLDEN=1 python -m pytest tests/test_golden.py)
and review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SNAPSHOTS, snapshot
from hwtune import profile
from hwtune.host import Host
from hwtune.probe import probe_facts
from hwtune.verdict import evaluate

GOLDEN = Path(__file__).parent / "golden"
PROFILES = ("cpu-inference", "gpu-inference")


@pytest.mark.parametrize("profile_name", PROFILES)
@pytest.mark.parametrize("snap", SNAPSHOTS)
def test_golden_report(snap, profile_name):
    report = evaluate(probe_facts(Host(snapshot(snap))), profile.load(profile_name)).to_json()
    path = GOLDEN / f"{snap}__{profile_name}.json"
    if os.environ.get("HWTUNE_REGEN_GOLDEN"):
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    assert path.is_file(), f"{path} missing: regenerate with python tests/regen.py"
    assert report == json.loads(path.read_text())
