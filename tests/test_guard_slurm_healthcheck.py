"""guard run by slurmd itself as its HealthCheckProgram (contrib/slurm/hwtune-guard-healthcheck), in a
real one-node Slurm (tests/guard_slurm_helpers.py) that runs it every 2 s: the node is drained when
the judged host shows an Xid 79, and resumed after the reboot and three clean checks, with no
other caller. slurmd gives the program almost no environment; the wrapper below adds only what a
test needs (where this Slurm's configuration, the history and the judged snapshot are)."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, snapshot
from guard_slurm_helpers import CLEAN_DMESG, NEEDS_SLURM, local_slurm, rules_without_wait, sinfo, snapshot_with_boot

pytestmark = NEEDS_SLURM
SHIPPED = REPO / "contrib" / "slurm" / "hwtune-guard-healthcheck"


def wait_for(conf: Path, node: str, want: tuple[str, str], seconds: float = 60.0) -> list[tuple[str, str]]:
    """The node's (state, reason) as sinfo shows it, until it is `want` (a reason of "" matches any)."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = sinfo(conf, node)
        if not seen or seen[-1] != now:
            seen.append(now)
        if now[0] == want[0] and (want[1] == "" or now[1] == want[1]):
            return seen
        time.sleep(0.2)
    pytest.fail(f"slurmd's health checks did not bring {node} to {want} in {seconds:g} s: {seen}")


def write_program(folder: Path, conf: Path, current: Path, rules: Path) -> Path:
    shim = folder / "hwtune"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m hwtune \"$@\"\n")
    program = folder / "healthcheck"
    program.write_text(
        "#!/bin/sh\n"
        f"export SLURM_CONF={conf} HWTUNE_STATE_DIR={folder / 'state'} PYTHONPATH={REPO / 'src'} HWTUNE={shim}\n"
        f"exec /bin/sh {SHIPPED} --act --json --root \"$(cat {current})\" --node \"$SLURMD_NODENAME\" --rules {rules} "
        f">> {folder / 'runs.log'} 2>&1\n")
    for path in (shim, program):
        path.chmod(0o755)
    return program


def point(current: Path, root: Path) -> None:
    tmp = current.with_suffix(".new")
    tmp.write_text(str(root))
    os.replace(tmp, current)


def test_slurmds_health_check_drains_and_resumes(tmp_path):
    folder = tmp_path / "hc"
    folder.mkdir()
    healthy = snapshot_with_boot(None, tmp_path / "healthy", "11111111-aaaa-4bbb-8ccc-000000000001", CLEAN_DMESG)
    sick = snapshot_with_boot(snapshot("xid79-fallen-off-bus-gpu-lost"), tmp_path / "sick",
                              "11111111-aaaa-4bbb-8ccc-000000000002")
    rebooted = snapshot_with_boot(None, tmp_path / "rebooted", "11111111-aaaa-4bbb-8ccc-000000000003", CLEAN_DMESG)
    current = folder / "current"
    point(current, healthy)
    conf = tmp_path / "slurm" / "slurm.conf"  # where local_slurm writes it
    program = write_program(folder, conf, current, rules_without_wait(tmp_path))
    env = {"HWTUNE_HEALTH_CHECK": str(program), "HWTUNE_HEALTH_CHECK_INTERVAL": "2"}
    with local_slurm(tmp_path / "slurm", env) as (node, conf_):
        assert conf_ == conf and sinfo(conf, node)[0] == "idle"
        point(current, sick)
        wait_for(conf, node, ("drained", "hwtune: gpu.xid 79 GPU 0000:a1:00.0"))
        point(current, rebooted)
        seen = wait_for(conf, node, ("idle", ""))
        assert [state for state, _ in seen] == ["drained", "idle"]  # back only after the clean checks
    # what each run of the program said: the node's state, run after run
    states = re.findall(r'"node": \{\s*"name": "[^"]*",\s*"state": "([A-Z]+)"', (folder / "runs.log").read_text())
    assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == [
        "HEALTHY", "QUARANTINED", "VERIFYING", "HEALTHY"]
    assert states.count("VERIFYING") == 2  # the policy's three clean checks: two VERIFYING, then HEALTHY
