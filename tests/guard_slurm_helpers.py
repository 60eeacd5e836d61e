"""A real one-node Slurm (Debian's slurmctld, slurmd, slurm-client, munge) on 127.0.0.1 for guard's tests.

tests/slurm/slurm-local.sh starts it with a generated slurm.conf (free ports, all state under a
temporary folder) and stops it by the pids it recorded. .ci/run installs the packages with apt;
where they are not installed, or not as root, the tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "tests" / "slurm" / "slurm-local.sh"
BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sinfo", "/usr/bin/scontrol")
MISSING = [b for b in BINARIES if not os.access(b, os.X_OK)]
NEEDS_SLURM = [
    pytest.mark.skipif(bool(MISSING), reason=f"Slurm is not installed ({', '.join(MISSING)}): "
                       "apt-get install slurmctld slurmd slurm-client munge (.ci/run does)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a local Slurm with munge needs root"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_slurm(folder: Path, env: dict | None = None) -> Iterator[tuple[str, Path]]:
    """(node name, slurm.conf) of a one-node Slurm started for the block, stopped after it."""
    started = subprocess.run(["bash", str(SCRIPT), "start", str(folder), str(free_port()), str(free_port())],
                             capture_output=True, text=True, timeout=120, env=dict(os.environ, **(env or {})))
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


def snapshot_with_boot(src: Path | None, dest: Path, boot: str, dmesg: str | None = None) -> Path:
    """A copy of a recorded snapshot (or an empty one) with this boot id, and this kernel log."""
    if src is not None:
        shutil.copytree(src, dest)
    if dmesg is not None:
        (dest / "cmd").mkdir(parents=True, exist_ok=True)
        (dest / "cmd" / "dmesg.txt").write_text(dmesg)
    boot_file = dest / "proc" / "sys" / "kernel" / "random" / "boot_id"
    boot_file.parent.mkdir(parents=True, exist_ok=True)
    boot_file.write_text(boot + "\n")
    return dest


CLEAN_DMESG = "[    0.000000] Linux version 6.1.0-28-amd64\n[    5.100000] nvidia: module loaded\n"


def rules_without_wait(tmp_path: Path) -> Path:
    """The shipped rules with no random wait before the hold: one node, one host."""
    from hwtune.guard.rules import RULES

    path = tmp_path / "rules.toml"
    path.write_text(RULES.read_text().replace("breaker_jitter_s = 1.0", "breaker_jitter_s = 0.0"))
    return path
