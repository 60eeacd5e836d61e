"""Fault injection: the k-th write fails, for every k; the automatic undo leaves every file as it was.

Writes are made to fail through HWTUNE_TEST_FAIL_WRITE (the k-th forward
write) and HWTUNE_TEST_FAIL_UNDO (the k-th undo write), which the one write
path of apply honours. The trees are copies of the real laptop snapshot, plus
(in `kernel_tree`) the sysctl and transparent hugepage files the snapshots do
not contain, so that every kind of step is covered.
"""

from __future__ import annotations

import json

import pytest

from apply_helpers import (
    add_kernel_files,
    copy_snapshot,
    invoke,
    journals,
    tree_state,
    write_profile,
)

KERNEL_FILES = {
    "proc/sys/vm/swappiness": "60\n",
    "proc/sys/kernel/numa_balancing": "1\n",
    "sys/kernel/mm/transparent_hugepage/enabled": "[always] madvise never\n",
    "sys/kernel/mm/transparent_hugepage/defrag": "always defer defer+madvise [madvise] never\n",
}


@pytest.fixture(scope="module")
def kernel_tree(module_scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", module_scratch / "laptop")
    add_kernel_files(root, KERNEL_FILES)
    return root


def planned_steps(root, *args):
    res = invoke("apply", *args, "--root", str(root), "--dry-run", "--json")
    assert res.exit_code == 0, res.stderr
    return [i["step"] for i in json.loads(res.stdout)["plan"]["items"] if i["status"] == "change"]


def test_plan_covers_every_kind_of_step(kernel_tree):
    steps = planned_steps(kernel_tree, "-p", "gpu-inference", "--persist")
    kinds = {(s["kind"], s["key"].split(".")[0]) for s in steps}
    assert kinds == {("value", "cpu"), ("value", "mm"), ("value", "sysctl"), ("file", "persist"),
                     ("link", "persist")}
    assert len(steps) == 20 + 20 + 1 + 2 + 3  # EPP, governor, THP, two sysctls, drop-in, unit, link


def test_every_kth_write_failing_is_undone_byte_for_byte(kernel_tree, monkeypatch):
    before = tree_state(kernel_tree)
    steps = planned_steps(kernel_tree, "-p", "gpu-inference", "--persist")
    for k, step in enumerate(steps, start=1):
        monkeypatch.setenv("HWTUNE_TEST_FAIL_WRITE", str(k))
        res = invoke("apply", "-p", "gpu-inference", "--persist", "--root", str(kernel_tree), "--yes")
        assert res.exit_code == 4, (k, res.stdout, res.stderr)
        label = f"{step['key']} ({step['where']})" if step["where"] else step["key"]
        assert f"apply failed at {label}" in res.stderr, (k, res.stderr)
        assert "EINVAL" in res.stderr and f"the {k - 1} change(s) made before it were undone" in res.stderr
        assert tree_state(kernel_tree) == before, k
    # each failed apply left a journal that says so, and nothing to roll back
    states = {json.loads(p.read_text())["state"] for p in journals(kernel_tree)}
    assert states == {"failed, undone"}
    monkeypatch.delenv("HWTUNE_TEST_FAIL_WRITE")
    assert "Nothing to roll back" in invoke("rollback", "--root", str(kernel_tree)).stdout
    assert tree_state(kernel_tree) == before


def test_failure_names_the_errno(kernel_tree, monkeypatch):
    for errno_name in ("EACCES", "EBUSY"):
        monkeypatch.setenv("HWTUNE_TEST_FAIL_WRITE", f"3:{errno_name}")
        res = invoke("apply", "-p", "cpu-inference", "--root", str(kernel_tree), "--yes")
        assert res.exit_code == 4 and errno_name in res.stderr


def test_undo_failing_too_exits_5_and_lists_what_is_still_changed(kernel_tree, monkeypatch):
    before = tree_state(kernel_tree)
    steps = planned_steps(kernel_tree, "-p", "cpu-inference")
    # write 5 fails; the undo runs 4, 3, 2, 1 and the second undo (step 3) fails
    monkeypatch.setenv("HWTUNE_TEST_FAIL_WRITE", "5")
    monkeypatch.setenv("HWTUNE_TEST_FAIL_UNDO", "2")
    res = invoke("apply", "-p", "cpu-inference", "--root", str(kernel_tree), "--yes")
    assert res.exit_code == 5, res.stderr
    still = res.stderr.split("Still changed:")[1].splitlines()
    listed = [line for line in still if line.startswith("  ")]
    third = steps[2]
    assert len(listed) == 1
    assert listed[0].strip().startswith(f"{third['key']} ({third['where']}) {third['path']}: now 'performance', "
                                        f"was '{third['old']}'")
    assert (kernel_tree / third["path"].lstrip("/")).read_text() == "performance\n"
    # exactly one file differs from before; rollback (no faults now) restores it
    now = tree_state(kernel_tree)
    assert [k for k in before if before[k] != now.get(k)] == [third["path"].lstrip("/")]
    monkeypatch.delenv("HWTUNE_TEST_FAIL_WRITE")
    monkeypatch.delenv("HWTUNE_TEST_FAIL_UNDO")
    history = json.loads(invoke("history", "--root", str(kernel_tree), "--json").stdout)
    assert history[-1]["state"] == "failed, undo failed"
    res = invoke("rollback", "--root", str(kernel_tree))
    assert res.exit_code == 0, res.stderr
    assert tree_state(kernel_tree) == before


def test_a_value_the_kernel_does_not_list_is_refused_before_any_write(kernel_tree, tmp_path):
    before = tree_state(kernel_tree, keep_state=True)
    for text, named in (
        ('[tune]\n"cpu.governor" = "ondemand|conservative"\n', "cpu.governor (policy0)"),
        ('[tune]\n"cpu.governor" = "performance"\n"cpu.epp" = "turbo"\n', "cpu.epp (policy0)"),
    ):
        profile = write_profile(tmp_path, "bad", text)
        res = invoke("apply", "-p", str(profile), "--root", str(kernel_tree), "--yes")
        assert res.exit_code == 4, res.stderr
        assert named in res.stderr and "value not available" in res.stderr
        assert "nothing was changed" in res.stderr
        assert tree_state(kernel_tree, keep_state=True) == before
    # a value no kernel has is refused when the profile loads, naming the file and the key
    profile = write_profile(tmp_path, "bad", '[tune]\n"mm.thp_enabled" = "sometimes"\n')
    res = invoke("apply", "-p", str(profile), "--root", str(kernel_tree), "--yes")
    assert res.exit_code == 2 and "bad.toml" in res.stderr and "'tune.mm.thp_enabled'" in res.stderr
    assert tree_state(kernel_tree, keep_state=True) == before


def test_sysctl_and_thp_are_applied_and_restored_exactly(kernel_tree):
    before = tree_state(kernel_tree)
    res = invoke("apply", "-p", "cpu-inference", "--root", str(kernel_tree), "--yes", "--persist")
    assert res.exit_code == 0, res.stderr
    assert (kernel_tree / "proc/sys/vm/swappiness").read_text() == "10\n"
    assert (kernel_tree / "proc/sys/kernel/numa_balancing").read_text() == "0\n"
    assert (kernel_tree / "sys/kernel/mm/transparent_hugepage/enabled").read_text() == "madvise\n"
    drop_in = (kernel_tree / "etc/sysctl.d/90-hwtune.conf").read_text()
    assert drop_in.splitlines()[1:] == ["kernel.numa_balancing = 0", "vm.swappiness = 10"]
    assert invoke("rollback", "--root", str(kernel_tree)).exit_code == 0
    # the bracketed THP line is restored byte for byte under --root
    assert (kernel_tree / "sys/kernel/mm/transparent_hugepage/enabled").read_text() == "[always] madvise never\n"
    assert tree_state(kernel_tree) == before
