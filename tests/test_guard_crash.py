"""kill -9 at every step boundary of a guard judgement: no action run twice, none lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from guard_helpers import rules_with
from hwtune.guard.actions import KILL_AT_ENV

DRIVER = REPO / "tests" / "guard_crash_driver.py"
STEPS = ("events", "decided", "ran", "finished")


def run(tmp_path, step: dict, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop(KILL_AT_ENV, None)
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    rules = tmp_path / "rules.toml"
    rules.write_text(rules_with(clean_checks=1))
    step = {"rules": str(rules), **step}
    return subprocess.run([sys.executable, str(DRIVER), str(tmp_path / "state"), str(tmp_path / "sched.json"),
                           json.dumps(step)], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("kill_at", STEPS)
def test_kill_at_each_step_drains_once_and_resumes_once(tmp_path, kill_at):
    sick = {"boot": "b1", "now": 100.0, "pending": True}
    killed = run(tmp_path, sick, kill_at)
    assert killed.returncode == -9
    run(tmp_path, {**sick, "now": 160.0})  # the next run finishes what the killed one left
    doc = json.loads((tmp_path / "sched.json").read_text())
    assert doc["calls"] == [["drain", "n1"]] and doc["nodes"]["n1"][0] == "drained"
    killed = run(tmp_path, {"boot": "b1", "now": 220.0}, kill_at)  # clean now: the resume is killed
    assert killed.returncode == -9
    run(tmp_path, {"boot": "b1", "now": 280.0})
    doc = json.loads((tmp_path / "sched.json").read_text())
    assert doc["calls"] == [["drain", "n1"], ["resume", "n1"]] and doc["nodes"]["n1"][0] == "idle"
