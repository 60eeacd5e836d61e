"""Apply and roll back on copies of the real snapshots: rollback leaves every file as it was.

The comparison covers the whole tree (file contents by hash, links, folders),
including that hwtune's own drop-in and unit files are gone after rollback. It
leaves out only hwtune's state folder var/lib/hwtune (with var and var/lib
above it): the journal stays on purpose, as the history.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from apply_helpers import copy_snapshot, invoke, journals, tree_state
from conftest import SNAPSHOTS, snapshot

CPUFREQ = "sys/devices/system/cpu/cpufreq"


def policies(root):
    folder = root / CPUFREQ
    return sorted(p for p in folder.glob("policy*")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def shared_copy(module_scratch):
    """One copy per snapshot for the tests below that must leave it as they found it (and check that)."""
    copies = {}

    def get(name):
        if name not in copies:
            copies[name] = copy_snapshot(name, module_scratch / name)
            assert tree_state(copies[name]) == tree_state(snapshot(name))  # the copy is faithful
        return copies[name]
    return get


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_apply_then_rollback_restores_every_file(shared_copy, name):
    root = shared_copy(name)
    before = tree_state(root)

    res = invoke("apply", "--profile", "gpu-inference", "--root", str(root), "--yes", "--persist", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["verified"] is True
    assert (root / "etc/systemd/system/hwtune-apply.service").is_file()
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/hwtune-apply.service") \
        == "../hwtune-apply.service"
    for policy in policies(root):
        assert (policy / "scaling_governor").read_text().strip() == "performance"

    res = invoke("rollback", "--root", str(root))
    assert res.exit_code == 0, res.stderr
    assert tree_state(root) == before
    assert not (root / "etc").exists()  # the folders apply created for its unit are gone too


def test_laptop_powersave_ends_on_performance_on_every_policy(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root)
    res = invoke("apply", "--profile", "cpu-inference", "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    names = [p.name for p in policies(root)]
    assert len(names) == 20
    for policy in policies(root):
        assert (policy / "scaling_governor").read_text() == "performance\n"
        assert (policy / "energy_performance_preference").read_text() == "performance\n"
    # 20 governors and 20 EPPs changed, each verified by reading it back
    changed = [c for c in data["verification"] if c["key"] in ("cpu.governor", "cpu.epp")]
    assert len(changed) == 40 and all(c["ok"] and c["now"] == "performance" for c in changed)
    # EPP is set before the governor on each policy: intel_pstate refuses an EPP change under performance
    steps = [i["step"] for i in data["plan"]["items"] if i["status"] == "change"]
    assert [s["key"] for s in steps[:2]] == ["cpu.epp", "cpu.governor"]
    assert data["journal"] and len(journals(root)) == 1

    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert tree_state(root) == before
    for policy in policies(root):
        assert (policy / "scaling_governor").read_text() == "powersave\n"


def test_dry_run_changes_nothing_at_all(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "--profile", "gpu-inference", "--root", str(root), "--dry-run", "--persist")
    assert res.exit_code == 0, res.stderr
    assert "powersave -> performance" in res.stdout and "Dry run: nothing was changed" in res.stdout
    assert tree_state(root, keep_state=True) == before  # not even a state folder


def test_second_apply_has_nothing_to_change_and_writes_no_journal(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    assert invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist").exit_code == 0
    assert len(journals(root)) == 1
    state = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist")
    assert res.exit_code == 0
    assert "Nothing to change" in res.stdout
    assert len(journals(root)) == 1
    assert tree_state(root, keep_state=True) == state


def test_epyc_already_on_performance_needs_no_change(shared_copy):
    root = shared_copy("epyc7451-2s-8numa")
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", "cpu-inference", "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["journal"] is None and data["changes"] == 0
    items = data["plan"]["items"]
    assert sum(1 for i in items if i["key"] == "cpu.governor" and i["status"] == "ok") == 96
    # acpi-cpufreq has no EPP: skipped with the reason, never an error
    epp = [i for i in items if i["key"] == "cpu.epp"]
    assert len(epp) == 96 and all(i["status"] == "skip" and "acpi-cpufreq" in i["reason"] for i in epp)
    boost = next(i for i in items if i["key"] == "cpu.boost")
    assert boost["status"] == "ok" and boost["where"] == "cpufreq/boost"
    assert tree_state(root, keep_state=True) == before  # no journal written, nothing changed


def test_vm_without_cpufreq_skips_with_the_reason(shared_copy):
    root = shared_copy("vm-kvm-2vcpu-nocpufreq")
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0
    items = json.loads(res.stdout)["plan"]["items"]
    by_key = {i["key"]: i for i in items}
    assert by_key["cpu.governor"]["status"] == "skip" and "no cpufreq policy" in by_key["cpu.governor"]["reason"]
    assert by_key["cpu.boost"]["status"] == "skip"
    assert by_key["sysctl.vm.swappiness"]["status"] == "skip"
    assert "does not exist on this host" in by_key["sysctl.vm.swappiness"]["reason"]
    assert by_key["nvidia.persistenced"]["status"] == "skip"
    assert "not on the live system" in by_key["nvidia.persistenced"]["reason"]
    assert tree_state(root, keep_state=True) == before


def test_history_lists_applies_and_their_state(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    assert invoke("apply", "-p", "cpu-inference", "--root", str(root), "--yes").exit_code == 0
    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist").exit_code == 0
    rows = json.loads(invoke("history", "--root", str(root), "--json").stdout)
    assert [(r["profile"], r["changes"], r["state"]) for r in rows] == [
        ("cpu-inference", 40, "rolled back"), ("gpu-inference", 42, "applied")]
    text = invoke("history", "--root", str(root)).stdout
    assert rows[1]["id"] in text and "gpu-inference" in text


def test_rollback_twice_is_harmless(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root)
    res = invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist", "--json")
    jid = json.loads(res.stdout)["journal"]
    assert invoke("rollback", jid, "--root", str(root)).exit_code == 0
    again = invoke("rollback", jid, "--root", str(root))
    assert again.exit_code == 0 and "rolled back" in again.stdout
    last = invoke("rollback", "--root", str(root))
    assert last.exit_code == 0 and "Nothing to roll back" in last.stdout
    assert tree_state(root) == before


def test_rollback_without_id_undoes_the_last_apply_first(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root)
    first = json.loads(invoke("apply", "-p", "cpu-inference", "--root", str(root), "--yes", "--json").stdout)
    after_first = tree_state(root)
    second = json.loads(invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist",
                               "--json").stdout)
    # an older apply cannot be rolled back under a newer one still in effect
    res = invoke("rollback", first["journal"], "--root", str(root))
    assert res.exit_code == 2 and second["journal"] in res.stderr
    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert tree_state(root) == after_first
    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert tree_state(root) == before


def test_journal_is_private_and_holds_old_and_new_values(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    assert invoke("apply", "-p", "cpu-inference", "--root", str(root), "--yes").exit_code == 0
    (path,) = journals(root)
    assert path.stat().st_mode & 0o777 == 0o600
    data = json.loads(path.read_text())
    step = data["steps"][0]
    assert (step["key"], step["where"], step["old"], step["new"]) == \
        ("cpu.epp", "policy0", "balance_performance", "performance")
    assert step["path"] == f"/{CPUFREQ}/policy0/energy_performance_preference"
    assert data["state"] == "applied" and data["profile"] == "cpu-inference"


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def test_persisted_unit_passes_systemd_analyze_verify(scratch):
    if SYSTEMD_ANALYZE is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is required in CI (Debian/Ubuntu package: systemd)")
        pytest.skip("systemd-analyze is not installed (Debian/Ubuntu package: systemd)")
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    assert invoke("apply", "-p", "gpu-inference", "--root", str(root), "--yes", "--persist").exit_code == 0
    unit = root / "etc/systemd/system/hwtune-apply.service"
    text = unit.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_line.endswith(" apply --profile gpu-inference --yes --boot")
    assert os.access(exec_line.split("=", 1)[1].split()[0], os.X_OK)
    proc = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "hwtune-apply" not in proc.stderr, proc.stderr

