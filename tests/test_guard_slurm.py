"""guard against a real one-node Slurm (Debian's slurmctld, slurmd, slurm-client, munge) on 127.0.0.1
(tests/guard_slurm_helpers.py): drain with the reason, resume after clean checks, undo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import snapshot
from guard_slurm_helpers import CLEAN_DMESG, NEEDS_SLURM, local_slurm, rules_without_wait, sinfo, snapshot_with_boot

pytestmark = NEEDS_SLURM


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with local_slurm(tmp_path_factory.mktemp("slurm")) as running:
        yield running


def guard(conf: Path, state: Path, rules: Path, *args: str) -> tuple[int, dict]:
    env = dict(os.environ, SLURM_CONF=str(conf), HWTUNE_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, "-m", "hwtune", "guard", "--once", "--actuator", "slurm", "--act",
                           "--json", "--rules", str(rules), *args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def rules(tmp_path):
    return rules_without_wait(tmp_path)


def test_xid79_drains_with_the_reason_then_resumes_after_clean_checks(slurm, tmp_path, rules):
    node, conf = slurm
    state = tmp_path / "state"
    sick = snapshot_with_boot(snapshot("xid79-fallen-off-bus-gpu-lost"), tmp_path / "sick",
                              "0b2c3d4e-1111-4222-8333-444455556666")
    code, doc = guard(conf, state, rules, "--root", str(sick), "--node", node)
    assert code == 1 and doc["mode"] == "act" and doc["node"]["state"] == "QUARANTINED"
    drain = doc["actions"][0]
    assert (drain["action"], drain["executed"]) == ("drain", True)
    assert sinfo(conf, node) == ("drained", "hwtune: gpu.xid 79 GPU 0000:a1:00.0")
    # the reboot is the host's own business: never run for a snapshot
    assert [(a["action"], a["executed"]) for a in doc["actions"][1:]] == [("reboot", False)]
    # judged again: nothing run twice
    code, doc = guard(conf, state, rules, "--root", str(sick), "--node", node)
    assert [a["action"] for a in doc["actions"] if a["executed"]] == []
    # after a reboot (a new boot id) the log is clean: three clean checks, then the node is resumed
    clean = snapshot_with_boot(None, tmp_path / "clean", "9f8e7d6c-2222-4333-8444-555566667777", CLEAN_DMESG)
    seen = []
    for _ in range(3):
        code, doc = guard(conf, state, rules, "--root", str(clean), "--node", node)
        seen.append((doc["node"]["state"], sinfo(conf, node)[0]))
    assert seen == [("VERIFYING", "drained"), ("VERIFYING", "drained"), ("HEALTHY", "idle")]
    assert code == 0 and [(a["action"], a["executed"]) for a in doc["actions"]] == [("resume", True)]


def test_an_operators_drain_is_left_alone(slurm, tmp_path, rules):
    node, conf = slurm
    env = dict(os.environ, SLURM_CONF=str(conf))
    subprocess.run(["scontrol", "update", f"NodeName={node}", "State=DRAIN", "Reason=bad fan ticket 42"], env=env,
                   check=True, timeout=30)
    try:
        sick = snapshot_with_boot(snapshot("a10-remapped-rows-pending"), tmp_path / "sick", "1-2-3")
        guard(conf, tmp_path / "state", rules, "--root", str(sick), "--node", node)
        assert sinfo(conf, node) == ("drained", "bad fan ticket 42")
    finally:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], env=env, timeout=30)


def test_undo_resumes_a_drain(slurm, tmp_path, rules):
    node, conf = slurm
    state = tmp_path / "state"
    sick = snapshot_with_boot(snapshot("a10-remapped-rows-pending"), tmp_path / "sick", "4-5-6")
    _, doc = guard(conf, state, rules, "--root", str(sick), "--node", node)
    assert sinfo(conf, node)[0] == "drained"
    env = dict(os.environ, SLURM_CONF=str(conf), HWTUNE_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, "-m", "hwtune", "guard", "undo", doc["actions"][0]["id"]],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sinfo(conf, node)[0] == "idle"
