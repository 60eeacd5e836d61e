"""node-problem-detector's custom-plugin mode: exit 0 OK, 1 problem, 2 unknown, one short line."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, snapshot
from report_helpers import invoke


@pytest.fixture(autouse=True)
def state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))


@pytest.mark.parametrize("name, code, words", [
    ("xid79-fallen-off-bus-gpu-lost", 1, "QUARANTINED: hwtune: gpu.xid 79 GPU 0000:a1:00.0"),
    ("host-oom-killed-process", 0, "HEALTHY"),
    ("p100-aggregate-sbe-only", 2, "UNKNOWN: kernel log"),
    ("geforce-fan-err", 1, "SUSPECT"),
])
def test_plugin_contract(name, code, words):
    result = invoke("guard", "--once", "--root", snapshot(name), "--node", "n1", "--actuator", "npd")
    assert result.exit_code == code
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 80 and words in lines[0]


def test_plugin_never_acts(tmp_path):
    result = invoke("guard", "--once", "--root", snapshot("xid79-fallen-off-bus-gpu-lost"), "--node", "n1",
                    "--actuator", "npd", "--act")
    assert result.exit_code == 1
    from hwtune.guard.actions import history
    from hwtune.guard.store import Store, state_dir

    with Store(state_dir(None)) as store:
        assert {a.status for a in history(store)} == {"skipped"}


def test_shipped_plugin_config_runs_this_mode():
    doc = json.loads((REPO / "contrib" / "node-problem-detector" / "hwtune-guard.json").read_text())
    assert doc["plugin"] == "custom" and doc["pluginConfig"]["max_output_length"] == 80
    rule = doc["rules"][0]
    assert rule["args"] == ["guard", "--once", "--actuator", "npd"]
    assert rule["condition"] == doc["conditions"][0]["type"]
