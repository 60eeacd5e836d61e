"""guard against a real one-node Slurm (Debian's slurmctld, slurmd, slurm-client, munge) on 127.0.0.1.

tests/slurm/slurm-local.sh starts it with a generated slurm.conf (free ports, all state under a
temporary folder) and stops it by the pids it recorded. .ci/run installs the packages with apt;
where they are not installed, or not as root, these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, snapshot

SCRIPT = REPO / "tests" / "slurm" / "slurm-local.sh"
BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sinfo", "/usr/bin/scontrol")
MISSING = [b for b in BINARIES if not os.access(b, os.X_OK)]

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"Slurm is not installed ({', '.join(MISSING)}): "
                       "apt-get install slurmctld slurmd slurm-client munge (.ci/run does)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a local Slurm with munge needs root"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    ports = [str(_free_port()), str(_free_port())]
    started = subprocess.run(["bash", str(SCRIPT), "start", str(folder), *ports], capture_output=True, text=True,
                             timeout=120)
    try:
        if started.returncode != 0:
            pytest.fail(f"the local Slurm did not start: {started.stderr.strip()[-500:]}")
        yield started.stdout.strip().splitlines()[-1], folder / "slurm.conf"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60)


def sinfo(conf: Path, node: str) -> tuple[str, str]:
    out = subprocess.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T|%E"], capture_output=True, text=True,
                         env=dict(os.environ, SLURM_CONF=str(conf)), timeout=30, check=True).stdout
    state, reason = out.strip().split("|", 1)
    return state.rstrip("*~#!%$@^-"), reason


def guard(conf: Path, state: Path, rules: Path, *args: str) -> tuple[int, dict]:
    env = dict(os.environ, SLURM_CONF=str(conf), HWTUNE_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, "-m", "hwtune", "guard", "--once", "--actuator", "slurm", "--act",
                           "--json", "--rules", str(rules), *args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.stderr == "", proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _snapshot_with_boot(src: Path | None, dest: Path, boot: str, dmesg: str | None = None) -> Path:
    if src is not None:
        shutil.copytree(src, dest)
    if dmesg is not None:
        (dest / "cmd").mkdir(parents=True, exist_ok=True)
        (dest / "cmd" / "dmesg.txt").write_text(dmesg)
    boot_file = dest / "proc" / "sys" / "kernel" / "random" / "boot_id"
    boot_file.parent.mkdir(parents=True, exist_ok=True)
    boot_file.write_text(boot + "\n")
    return dest


@pytest.fixture
def rules(tmp_path):
    from hwtune.guard.rules import RULES

    path = tmp_path / "rules.toml"  # no random wait before the hold: one node, one host
    path.write_text(RULES.read_text().replace("breaker_jitter_s = 1.0", "breaker_jitter_s = 0.0"))
    return path


def test_xid79_drains_with_the_reason_then_resumes_after_clean_checks(slurm, tmp_path, rules):
    node, conf = slurm
    state = tmp_path / "state"
    sick = _snapshot_with_boot(snapshot("xid79-fallen-off-bus-gpu-lost"), tmp_path / "sick",
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
    clean = _snapshot_with_boot(None, tmp_path / "clean", "9f8e7d6c-2222-4333-8444-555566667777",
                                "[    0.000000] Linux version 6.1.0-28-amd64\n"
                                "[    5.100000] nvidia: module loaded\n")
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
        sick = _snapshot_with_boot(snapshot("a10-remapped-rows-pending"), tmp_path / "sick", "1-2-3")
        guard(conf, tmp_path / "state", rules, "--root", str(sick), "--node", node)
        assert sinfo(conf, node) == ("drained", "bad fan ticket 42")
    finally:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], env=env, timeout=30)


def test_undo_resumes_a_drain(slurm, tmp_path, rules):
    node, conf = slurm
    state = tmp_path / "state"
    sick = _snapshot_with_boot(snapshot("a10-remapped-rows-pending"), tmp_path / "sick", "4-5-6")
    _, doc = guard(conf, state, rules, "--root", str(sick), "--node", node)
    assert sinfo(conf, node)[0] == "drained"
    env = dict(os.environ, SLURM_CONF=str(conf), HWTUNE_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, "-m", "hwtune", "guard", "undo", doc["actions"][0]["id"]],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sinfo(conf, node)[0] == "idle"
