"""Journals are trusted only when they are this user's own, and every entry is validated before anything
is restored; the unit and the drop-in cannot be injected; hardening is never lowered silently."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import pytest

from apply_helpers import NOBODY, STATE, add_kernel_files, hwtune_argv, invoke, journals, tree_state, write_profile
from hwtune.apply.persist import render_unit

FILES = {"proc/sys/vm/swappiness": "60\n", "proc/sys/kernel/core_pattern": "core\n",
         "proc/sys/kernel/randomize_va_space": "2\n", "proc/sys/kernel/yama/ptrace_scope": "1\n",
         "proc/sys/kernel/kptr_restrict": "1\n", "proc/sys/kernel/perf_event_paranoid": "2\n",
         "proc/sys/vm/mmap_min_addr": "65536\n"}


@pytest.fixture()
def applied(tmp_path):
    """A tree with one apply in effect: (root, its journal, the tree before the apply)."""
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    before = tree_state(root)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n"kernel.core_pattern" = "core2"\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    assert res.exit_code == 0, res.stderr
    (journal,) = journals(root)
    return root, journal, before


def rollback(root, *args, env=None):
    return invoke("rollback", "--root", str(root), *args) if env is None else subprocess.run(
        hwtune_argv() + ["rollback", "--root", str(root), *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def assert_refused(res, *words):
    code = res.exit_code if hasattr(res, "exit_code") else res.returncode
    assert code == 2, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def edit(journal, change):
    data = json.loads(journal.read_text())
    change(data)
    journal.write_text(json.dumps(data))


def test_umask_000_makes_the_state_folders_0700_and_journals_0600(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    res = subprocess.run(hwtune_argv() + ["apply", "-p", str(profile), "--root", str(root), "--yes"],
                         capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.umask(0),
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    for rel in ("var", "var/lib", STATE, f"{STATE}/journal"):
        assert (root / rel).stat().st_mode & 0o777 == 0o700, rel
    for path in [root / STATE / "lock"] + journals(root):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_crafted_core_pattern_value_is_refused_before_anything_is_restored(applied):
    root, journal, _before = applied
    edit(journal, lambda d: [s.update(old="|/tmp/evil %p", old_raw_b64=base64.b64encode(b"|/tmp/evil %p\n").decode())
                             for s in d["steps"] if s["path"].endswith("core_pattern")])
    during = tree_state(root, keep_state=True)
    res = rollback(root)
    assert_refused(res, str(journal), "not a value apply could write", "nothing was restored")
    assert tree_state(root, keep_state=True) == during  # nothing written, journal still open
    assert json.loads(journal.read_text())["state"] == "applied"


def test_crafted_raw_bytes_are_refused(applied):
    root, journal, _ = applied
    edit(journal, lambda d: d["steps"][0].update(old_raw_b64=base64.b64encode(b"|/tmp/evil\n").decode()))
    assert_refused(rollback(root), "old_raw_b64")


def test_a_crafted_unit_or_drop_in_in_the_journal_is_refused(applied):
    root, journal, _ = applied
    evil_unit = render_unit("p", "p", "/usr/bin/hwtune").replace(
        "ExecStart=/usr/bin/hwtune", "ExecStart=/bin/sh -c 'id > /tmp/pwned' #")
    step = {"key": "persist.unit", "where": "/etc/systemd/system/hwtune-apply.service", "kind": "file",
            "path": "/etc/systemd/system/hwtune-apply.service", "old": evil_unit, "new": None, "reader": "file",
            "old_raw_b64": None, "created_dirs": []}
    edit(journal, lambda d: d["steps"].append(step))
    during = tree_state(root)
    assert_refused(rollback(root), "hwtune-apply.service")
    drop_in = ("# Installed by `hwtune apply --persist --profile p`; `hwtune rollback` removes it.\n"
               "kernel.core_pattern = |/tmp/evil %p\n")
    step.update(key="persist.sysctl", path="/etc/sysctl.d/90-hwtune.conf", where="/etc/sysctl.d/90-hwtune.conf",
                old=drop_in)
    edit(journal, lambda d: d["steps"].__setitem__(-1, step))
    assert_refused(rollback(root), "90-hwtune.conf")
    assert tree_state(root) == during
    assert not (root / "etc").exists()


@pytest.mark.parametrize("change", [
    lambda d: d.pop("state"), lambda d: d.pop("id"), lambda d: d.update(steps=[1]),
    lambda d: d["steps"][0].update(old_raw_b64="%%% not base64"), lambda d: d["steps"][0].update(path=None),
    lambda d: d["steps"][0].update(path="/etc/shadow"), lambda d: d["steps"][0].update(kind="shell"),
    lambda d: d["steps"][1].update(created_dirs=["/tmp"]), lambda d: d.update(steps={"a": 1}),
])
def test_a_malformed_journal_is_one_clear_error_before_anything_is_restored(applied, change):
    root, journal, _ = applied
    edit(journal, change)
    during = tree_state(root, keep_state=True)
    assert_refused(rollback(root), str(journal), "nothing was restored")
    assert tree_state(root, keep_state=True) == during


def test_a_journal_that_is_not_json_is_one_clear_error(applied):
    root, journal, _ = applied
    journal.write_text('{"schema": 1, "steps": [')
    assert_refused(rollback(root), str(journal), "not a readable hwtune journal")


@pytest.mark.parametrize("what", ["journal", "journal folder", "state folder"])
def test_a_journal_or_state_folder_owned_by_another_user_is_refused(applied, what):
    root, journal, _ = applied
    target = {"journal": journal, "journal folder": journal.parent, "state folder": root / STATE}[what]
    os.chown(target, NOBODY, NOBODY)
    during = tree_state(root, keep_state=True)
    assert_refused(rollback(root), str(target), "owned by uid 65534", "refused")
    assert tree_state(root, keep_state=True) == during


@pytest.mark.parametrize("what", ["journal", "state folder"])
def test_a_journal_or_state_folder_writable_by_others_is_refused(applied, what):
    root, journal, _ = applied
    target = journal if what == "journal" else root / STATE
    os.chmod(target, 0o666 if what == "journal" else 0o777)
    assert_refused(rollback(root), "writable by others")


def test_a_journal_folder_swapped_for_one_the_user_owns_is_refused(applied):
    root, _journal, _ = applied
    os.rename(root / STATE, root / "var/lib/hwtune.away")
    shutil.copytree(root / "var/lib/hwtune.away", root / STATE)
    for folder, _dirs, files in os.walk(root / STATE):
        for name in [folder] + [os.path.join(folder, n) for n in files]:
            os.chown(name, NOBODY, NOBODY)
    assert_refused(rollback(root), "owned by uid 65534")
    os.symlink("hwtune.away", root / "var/lib/hwtune2")
    shutil.rmtree(root / STATE)
    os.rename(root / "var/lib/hwtune2", root / STATE)  # now a symlink to the real one
    assert_refused(rollback(root), "symlink")


def test_hwtune_state_dir_passes_the_same_ownership_test(tmp_path, applied):
    root, _journal, _ = applied
    state = tmp_path / "foreign-state"
    (state / "journal").mkdir(parents=True)
    os.chown(state, NOBODY, NOBODY)
    os.chmod(state, 0o700)
    res = rollback(root, env={"HWTUNE_STATE_DIR": str(state)})
    assert_refused(res, str(state), "owned by uid 65534")
    os.chown(state, 0, 0)
    os.chmod(state, 0o777)
    assert_refused(rollback(root, env={"HWTUNE_STATE_DIR": str(state)}), "writable by others")


def test_the_real_journal_still_rolls_back(applied):
    root, _journal, before = applied
    res = rollback(root)
    assert res.exit_code == 0, res.stderr
    assert tree_state(root) == before


def test_a_newline_in_the_profile_path_is_refused_for_the_unit(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    folder = tmp_path / "x\nExecStartPre=\\bin\\sh -c id"
    folder.mkdir()
    profile = write_profile(folder, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist")
    assert_refused(res, "--profile", "newline or a control character")
    assert tree_state(root, keep_state=True) == before


def test_a_newline_in_the_profile_name_is_refused_for_the_unit(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    profile = write_profile(tmp_path, "p\nExecStartPre=x", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist")
    assert_refused(res, "newline or a control character")
    assert not (root / "etc").exists()


@pytest.mark.parametrize("name,value", [("kernel.randomize_va_space", 0), ("kernel.yama.ptrace_scope", 0),
                                        ("kernel.kptr_restrict", 0), ("kernel.perf_event_paranoid", -1),
                                        ("vm.mmap_min_addr", 0)])
def test_lowering_hardening_is_refused_and_marked(tmp_path, name, value):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    profile = write_profile(tmp_path, "p", f'[tune.sysctl]\n"{name}" = {value}\n')
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    assert_refused(res, "lowers kernel hardening", name, "--allow-lower-hardening")
    assert tree_state(root, keep_state=True) == before
    plan = json.loads(invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run", "--json").stdout)
    (item,) = plan["plan"]["items"]
    assert "lowers kernel hardening" in item["hardening"]
    text = invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run").stdout
    assert "LOWERS KERNEL HARDENING" in text
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--allow-lower-hardening")
    assert res.exit_code == 0, res.stderr
    assert (root / ("proc/sys/" + name.replace(".", "/"))).read_text() == f"{value}\n"


def test_raising_hardening_is_an_ordinary_change_unless_rollback_cannot_undo_it(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"kernel.yama.ptrace_scope" = 2\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    assert res.exit_code == 0, res.stderr
    # 3 cannot be lowered again before a reboot: rollback could not restore 2
    profile = write_profile(tmp_path, "p", '[tune.sysctl]\n"kernel.yama.ptrace_scope" = 3\n')
    assert_refused(invoke("apply", "-p", str(profile), "--root", str(root), "--yes"),
                   "CANNOT BE ROLLED BACK BEFORE A REBOOT", "--allow-irreversible")
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--allow-irreversible")
    assert res.exit_code == 0, res.stderr


@pytest.mark.parametrize("case", ["foreign file", "writable file", "writable folder"])
def test_persist_refuses_a_profile_another_user_may_change(tmp_path, case):
    root = tmp_path / "root"
    add_kernel_files(root, FILES)
    folder = tmp_path / "profiles"
    folder.mkdir()
    profile = write_profile(folder, "p", '[tune.sysctl]\n"vm.swappiness" = 10\n')
    if case == "foreign file":
        os.chown(profile, NOBODY, NOBODY)
    elif case == "writable file":
        os.chmod(profile, 0o666)
    else:
        os.chmod(folder, 0o777)
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist")
    assert_refused(res, "--persist", "may be changed by another user")
    assert tree_state(root, keep_state=True) == before
    # without --persist nothing is installed that would re-read it: applied as usual
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0
