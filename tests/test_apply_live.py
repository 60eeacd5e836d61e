"""The live system: an unprivileged apply is refused; as root, vm.swappiness is changed and restored.

Both use a private journal folder ($HWTUNE_STATE_DIR) so that no history is
left on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from apply_helpers import run_hwtune, write_profile

SWAPPINESS = Path("/proc/sys/vm/swappiness")


# Runs the CLI as uid/gid 65534 without supplementary groups or capabilities. The
# modules are imported before the privileges are dropped: the project and its
# virtual environment may sit in folders only root can read (a CI venv in mktemp -d).
DROP_AND_RUN = """
import os, sys
import hwtune.cli, hwtune.cli_apply, hwtune.profile, hwtune.apply.transaction, hwtune.apply.render
import typer.main, typer._click.decorators  # typer imports these lazily while it runs
typer.main.get_command(hwtune.cli.app)
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
assert os.getuid() == os.geteuid() == 65534
sys.argv = ["hwtune"] + sys.argv[1:]
hwtune.cli.main()
"""


def swappiness_profile(tmp_path: Path, current: int) -> Path:
    target = 10 if current != 10 else 11
    return write_profile(tmp_path, "swappiness-only", f'[tune.sysctl]\n"vm.swappiness" = {target}\n')


@pytest.mark.changes_live
def test_unprivileged_live_apply_exits_3_and_writes_nothing():
    if os.geteuid() != 0:
        pytest.skip("needs root to start the command as an unprivileged user (uid 65534)")
    if not SWAPPINESS.exists():
        pytest.skip("this kernel has no /proc/sys/vm/swappiness")
    # pytest's tmp_path is private to root; this folder is readable by the unprivileged user
    with tempfile.TemporaryDirectory(prefix="hwtune-nonroot-") as shared:
        shared = Path(shared)
        os.chmod(shared, 0o755)
        state = shared / "state"
        state.mkdir()
        os.chmod(state, 0o777)  # writable on purpose: the test must see any write apply would make
        profile = swappiness_profile(shared, int(SWAPPINESS.read_text()))
        os.chmod(profile, 0o644)
        before = SWAPPINESS.read_text()
        env = {**os.environ, "HWTUNE_STATE_DIR": str(state)}
        proc = subprocess.run([sys.executable, "-c", DROP_AND_RUN, "apply", "--profile", str(profile), "--yes"],
                              capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
                              cwd=shared)
        assert proc.returncode == 3, proc.stderr
        assert "run it with sudo: sudo " in proc.stderr and "apply --profile" in proc.stderr  # a pasteable command
        assert list(state.iterdir()) == []
        assert SWAPPINESS.read_text() == before


@pytest.mark.changes_live
def test_live_apply_changes_swappiness_and_rollback_restores_it(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("changes /proc/sys/vm/swappiness on this machine: needs root")
    if not SWAPPINESS.exists():
        pytest.skip("this kernel has no /proc/sys/vm/swappiness")
    original = SWAPPINESS.read_text()
    profile = swappiness_profile(tmp_path, int(original))
    target = profile.read_text().split("= ")[1].strip()
    env = {"HWTUNE_STATE_DIR": str(tmp_path / "state")}
    try:
        res = run_hwtune("apply", "--profile", str(profile), "--yes", env=env)
        assert res.returncode == 0, res.stderr
        assert SWAPPINESS.read_text().strip() == target
        assert "Verification" in res.stdout and "sysctl.vm.swappiness" in res.stdout

        again = run_hwtune("apply", "--profile", str(profile), "--yes", env=env)
        assert again.returncode == 0 and "Nothing to change" in again.stdout

        res = run_hwtune("rollback", env=env)
        assert res.returncode == 0, res.stderr
        assert SWAPPINESS.read_text() == original
    finally:
        if SWAPPINESS.read_text() != original:
            SWAPPINESS.write_text(original)


@pytest.mark.changes_live
def test_live_write_the_kernel_rejects_undoes_the_earlier_change(tmp_path):
    # vm.watermark_scale_factor must be >= 1: the kernel answers EINVAL to 0 (Linux >= 4.6)
    factor = Path("/proc/sys/vm/watermark_scale_factor")
    if os.geteuid() != 0:
        pytest.skip("changes /proc/sys/vm/swappiness on this machine: needs root")
    if not SWAPPINESS.exists() or not factor.exists():
        pytest.skip("this kernel has no vm.swappiness or vm.watermark_scale_factor")
    original, original_factor = SWAPPINESS.read_text(), factor.read_text()
    target = 10 if int(original) != 10 else 11
    profile = write_profile(tmp_path, "rejected", f'[tune.sysctl]\n"vm.swappiness" = {target}\n'
                                                  '"vm.watermark_scale_factor" = 0\n')
    try:
        res = run_hwtune("apply", "--profile", str(profile), "--yes",
                         env={"HWTUNE_STATE_DIR": str(tmp_path / "state")})
        assert res.returncode == 4, res.stderr
        assert "sysctl.vm.watermark_scale_factor" in res.stderr and "EINVAL" in res.stderr
        assert "the 1 change(s) made before it were undone" in res.stderr
        assert SWAPPINESS.read_text() == original and factor.read_text() == original_factor
    finally:
        if SWAPPINESS.read_text() != original:
            SWAPPINESS.write_text(original)
