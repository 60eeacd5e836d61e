"""An unprivileged user swaps folders of its tree for symlinks, in a loop, while root applies and rolls back
under --root: nothing outside the tree ever changes (it did within 11 tries before)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from apply_helpers import NOBODY, invoke, write_profile
from hwtune import fsroot

RENAME_EXCHANGE = 2
GOV = "sys/devices/system/cpu/cpufreq"
FILES = {f"{GOV}/policy0/scaling_governor": "powersave\n",
         f"{GOV}/policy0/scaling_available_governors": "performance powersave\n",
         f"{GOV}/policy0/scaling_driver": "intel_pstate\n",
         "proc/sys/kernel/core_pattern": "core\n", "proc/sys/vm/swappiness": "60\n"}
PROFILE = '[tune]\n"cpu.governor" = "performance"\n[tune.sysctl]\n"kernel.core_pattern" = "core2"\n' \
          '"vm.swappiness" = 10\n'


def fingerprint(folder: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = b"" if not os.path.isfile(path) or os.path.islink(path) else Path(path).read_bytes()
            # the times too: a write put back by a rollback still shows
            out[os.path.relpath(path, folder)] = (f"{st.st_mode:o} {st.st_mtime_ns} {st.st_ctime_ns} "
                                                  f"{hashlib.sha256(data).hexdigest()}")
    return out


def write_tree(root: Path, files: dict[str, str], owner: int | None) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if owner is not None:
        for dirpath, dirs, names in os.walk(root):
            for name in [dirpath] + [os.path.join(dirpath, n) for n in dirs + names]:
                os.lchown(name, owner, owner)


def swapper(tree: Path, victim: Path) -> int:
    """A child that drops to nobody and swaps the tree's folders with links into the victim, forever:
    renameat2(RENAME_EXCHANGE) swaps a folder and a link in one step, as fast as it can."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        libc = ctypes.CDLL(None, use_errno=True)
        pairs = [(tree / GOV, str(victim / GOV)),
                 (tree / "proc/sys/kernel", "../../../victim/proc/sys/kernel"),
                 (tree / "proc/sys", str(victim / "proc/sys"))]
        for folder, target in pairs:
            os.symlink(target, folder.with_name(folder.name + ".link"))
        paths = [(bytes(folder), bytes(folder.with_name(folder.name + ".link"))) for folder, _ in pairs]
        while True:
            for a, b in paths:
                for _ in range(2):  # there and back: the folder is in place half of the time
                    libc.renameat2(-100, a, -100, b, RENAME_EXCHANGE)
    finally:
        os._exit(0)


@pytest.fixture()
def world():
    """/tmp/X (0755): tree/ owned by nobody, victim/ owned by root with the same files."""
    base = Path(tempfile.mkdtemp(prefix="hwtune-race-"))
    os.chmod(base, 0o755)
    try:
        write_tree(base / "tree", FILES, NOBODY)
        write_tree(base / "victim", FILES, None)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("resolver", ["openat2", "walk"])
def test_root_never_writes_outside_a_tree_whose_owner_swaps_folders_for_links(world, monkeypatch, resolver):
    if os.geteuid() != 0:
        pytest.skip("needs root: the test drops a child to uid 65534")
    if resolver == "walk":
        monkeypatch.setenv(fsroot.NO_OPENAT2_ENV, "1")
    elif not fsroot.openat2_available():
        pytest.skip("this kernel has no openat2")
    tree, victim = world / "tree", world / "victim"
    profile = write_profile(world, "p", PROFILE)
    before = fingerprint(victim)
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(world / "state"))  # root's own journal, out of the user's reach
    pid = swapper(tree, victim)
    codes = []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            codes.append(invoke("apply", "-p", str(profile), "--root", str(tree), "--yes").exit_code)
            codes.append(invoke("rollback", "--root", str(tree)).exit_code)
            assert fingerprint(victim) == before
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert fingerprint(victim) == before
    assert len(codes) >= 10
    assert set(codes) <= {0, 1, 2, 4, 5}, codes  # refused or undone; never a crash
