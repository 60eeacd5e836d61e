"""kill -9 at any point of apply, temporary files and created folders included, then rollback gives a
byte-identical tree (before, the temporary file and the folders stayed and rollback said "restored")."""

from __future__ import annotations

import os
import signal

import pytest

from apply_helpers import add_kernel_files, run_hwtune, start_paused_apply, tree_state, write_profile
from hwtune.atomic import PAUSE_BEFORE_RENAME_ENV, TMP_SUFFIX

PROFILE = '[tune.sysctl]\n"vm.swappiness" = 10\n"kernel.numa_balancing" = 0\n'


def paused_apply(root, profile, name, marker):
    proc = start_paused_apply(root, marker, {PAUSE_BEFORE_RENAME_ENV: name}, "--persist", profile=str(profile))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()


@pytest.mark.parametrize("name,folder", [("90-hwtune.conf", "etc/sysctl.d"),
                                         ("hwtune-apply.service", "etc/systemd/system")])
def test_kill_9_between_the_temporary_file_and_its_rename(tmp_path, name, folder):
    root = tmp_path / "root"
    add_kernel_files(root, {"proc/sys/vm/swappiness": "60\n", "proc/sys/kernel/numa_balancing": "1\n"})
    profile = write_profile(tmp_path, "p", PROFILE)
    before = tree_state(root)
    paused_apply(root, profile, name, tmp_path / "paused")
    leftovers = [n for n in os.listdir(root / folder) if n.endswith(TMP_SUFFIX)]
    assert leftovers and leftovers[0].startswith(f".{name}.")  # killed with the temporary file written
    assert not (root / folder / name).exists()
    journal_dir = root / "var/lib/hwtune/journal"
    (journal,) = journal_dir.glob("*.json")
    half = journal_dir / f".{journal.name}.0badc0de{TMP_SUFFIX}"  # as a kill during a journal save leaves
    half.write_text("{half a journal")
    res = run_hwtune("rollback", "--root", str(root))
    assert res.returncode == 0, res.stderr
    assert tree_state(root) == before  # no temporary file, no folder hwtune made
    assert not half.exists()

