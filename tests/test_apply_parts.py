"""The parts of apply one by one: the allow-list, value checks, CPU ordering rules, the
persistence daemon and NVML (scenario fakes: no GPU and no systemd here), pending-reboot
settings, boot re-applies, confirmation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from apply_helpers import (
    add_kernel_files,
    copy_snapshot,
    invoke,
    journals,
    tree_state,
    write_profile,
)
from hwtune.apply import sysfs
from hwtune.apply.kinds.systemd import systemd_commands
from hwtune.apply.model import CHANGE, OK, SKIP
from hwtune.apply.persist import render_unit, unit_quote
from hwtune.apply.plan import plan_tune
from hwtune.apply.steps import Executor
from hwtune.host import Host
from hwtune.probe.cpufreq import format_policies
from hwtune.probe.nvml import import_pynvml
from hwtune.run import CmdResult, Runner
from hwtune.tunables.base import PlanContext

POLICY = "sys/devices/system/cpu/cpufreq/policy0"


def plan_persistenced(host, want, nvml):
    """The plan items of `[tune] nvidia.persistenced = want`, as apply plans them."""
    return plan_tune(host, {"nvidia.persistenced": want}, PlanContext("runtime", nvml))


# -- the allow-list -------------------------------------------------------------

def test_writes_outside_the_allow_list_are_refused(tmp_path):
    add_kernel_files(tmp_path, {"etc/passwd": "root:x:0:0\n", "proc/sys/vm/swappiness": "60\n"})
    for path in ("/etc/passwd", "/proc/sys/vm/../../../etc/passwd", "/sys/class/net/eth0/mtu",
                 "/proc/sys/fs/file-max", "proc/sys/vm/swappiness"):
        with pytest.raises(sysfs.WriteError, match="allow-list"):
            sysfs.write_value(tmp_path, path, b"1\n")
    with pytest.raises(sysfs.WriteError, match="allow-list"):
        sysfs.write_own_file(tmp_path, "/etc/passwd", "x")
    assert (tmp_path / "etc/passwd").read_text() == "root:x:0:0\n"


def test_a_missing_kernel_file_is_never_created(tmp_path):
    (tmp_path / POLICY).mkdir(parents=True)
    with pytest.raises(sysfs.WriteError, match="ENOENT"):
        sysfs.write_value(tmp_path, f"/{POLICY}/scaling_governor", b"performance\n")
    assert not (tmp_path / POLICY / "scaling_governor").exists()


def test_a_symlink_on_the_way_out_of_the_root_is_refused(tmp_path):
    outside = tmp_path / "outside"
    add_kernel_files(outside, {"scaling_governor": "powersave\n"})
    root = tmp_path / "root"
    (root / POLICY).parent.mkdir(parents=True)
    os.symlink(outside, root / POLICY)
    with pytest.raises(sysfs.WriteError, match=r"ELOOP|symlink"):
        sysfs.write_value(root, f"/{POLICY}/scaling_governor", b"performance\n")
    assert (outside / "scaling_governor").read_text() == "powersave\n"


def test_a_sysctl_value_cannot_name_a_program(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, {"proc/sys/kernel/core_pattern": "core\n"})
    profile = write_profile(tmp_path, "pipe", '[tune.sysctl]\n"kernel.core_pattern" = "|/tmp/evil %p"\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes")
    assert res.exit_code == 2
    assert "tune.sysctl.kernel.core_pattern" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (root / "proc/sys/kernel/core_pattern").read_text() == "core\n"


# -- CPU rules on small trees -----------------------------------------------------

def cpu_tree(root: Path, governor: str, available: str, driver: str, epp: str | None = None,
             status: str = "active") -> Path:
    files = {f"{POLICY}/scaling_governor": f"{governor}\n", f"{POLICY}/scaling_available_governors": f"{available}\n",
             f"{POLICY}/scaling_driver": f"{driver}\n"}
    if epp is not None:
        files[f"{POLICY}/energy_performance_preference"] = f"{epp}\n"
        files[f"{POLICY}/energy_performance_available_preferences"] = \
            "default performance balance_performance balance_power power \n"
        files["sys/devices/system/cpu/intel_pstate/status"] = f"{status}\n"
    add_kernel_files(root, files)
    return root


def plan_items(root, profile_path):
    res = invoke("apply", "-p", str(profile_path), "--root", str(root), "--dry-run", "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)["plan"]["items"]


def test_governor_fallbacks_take_the_first_one_the_policy_offers(tmp_path):
    root = cpu_tree(tmp_path / "root", "ondemand", "ondemand schedutil", "acpi-cpufreq")
    profile = write_profile(tmp_path, "p", '[tune]\n"cpu.governor" = "performance|schedutil"\n')
    (item,) = plan_items(root, profile)
    assert (item["current"], item["target"], item["status"]) == ("ondemand", "schedutil", CHANGE)


def test_epp_other_than_performance_is_skipped_under_performance_on_intel_pstate_active(tmp_path):
    root = cpu_tree(tmp_path / "root", "performance", "performance powersave", "intel_pstate", epp="performance")
    profile = write_profile(tmp_path, "p", '[tune]\n"cpu.governor" = "performance"\n'
                                           '"cpu.epp" = "balance_performance"\n')
    items = {i["key"]: i for i in plan_items(root, profile)}
    assert items["cpu.governor"]["status"] == OK
    assert items["cpu.epp"]["status"] == SKIP
    assert "rejects EPP writes under the performance governor" in items["cpu.epp"]["reason"]
    # in passive mode the rule does not apply
    add_kernel_files(root, {"sys/devices/system/cpu/intel_pstate/status": "passive\n"})
    items = {i["key"]: i for i in plan_items(root, profile)}
    assert items["cpu.epp"]["status"] == CHANGE


def test_leaving_performance_changes_the_governor_before_the_epp(tmp_path):
    root = cpu_tree(tmp_path / "root", "performance", "performance powersave", "intel_pstate", epp="performance")
    profile = write_profile(tmp_path, "p", '[tune]\n"cpu.governor" = "powersave"\n"cpu.epp" = "balance_power"\n')
    steps = [i["key"] for i in plan_items(root, profile) if i["status"] == CHANGE]
    assert steps == ["cpu.governor", "cpu.epp"]


def test_boost_through_intel_pstate_no_turbo_is_inverted(tmp_path):
    root = tmp_path / "root"
    add_kernel_files(root, {"sys/devices/system/cpu/intel_pstate/no_turbo": "1\n"})
    profile = write_profile(tmp_path, "p", '[tune]\n"cpu.boost" = true\n')
    before = tree_state(root)
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes").exit_code == 0
    assert (root / "sys/devices/system/cpu/intel_pstate/no_turbo").read_text() == "0\n"
    assert invoke("rollback", "--root", str(root)).exit_code == 0
    assert tree_state(root) == before


def test_boost_is_observed_in_the_file_apply_writes(tmp_path):
    # cpufreq/boost exists, so apply writes it; an unreadable value there is not replaced by
    # intel_pstate/no_turbo's, which apply would never touch
    from hwtune.facts import FactsBuilder
    from hwtune.host import Host
    from hwtune.probe.cpufreq import probe_cpufreq

    root = tmp_path / "root"
    add_kernel_files(root, {"sys/devices/system/cpu/cpufreq/policy0/scaling_governor": "performance\n",
                            "sys/devices/system/cpu/cpufreq/boost": "\n",
                            "sys/devices/system/cpu/intel_pstate/no_turbo": "0\n"})
    b = FactsBuilder()
    probe_cpufreq(Host(root), b)
    assert b.values["cpufreq.boost"] is None
    (root / "sys/devices/system/cpu/cpufreq/boost").write_text("0\n")
    b = FactsBuilder()
    probe_cpufreq(Host(root), b)
    assert b.values["cpufreq.boost"] is False


# -- nvidia-persistenced and NVML ------------------------------------------------------

class FakeSystemctl(Runner):
    """systemctl for one unit, as a small state machine; `fail` makes one verb fail."""

    def __init__(self, loaded=True, enabled="disabled", active="inactive", fail=None):
        super().__init__(None)
        self.loaded, self.enabled, self.active, self.fail = loaded, enabled, active, fail
        self.calls: list[list[str]] = []

    def run(self, argv, timeout_s=10.0):
        self.calls.append(list(argv))
        assert argv[0] == "systemctl" and timeout_s > 0
        verb, key = argv[1], tuple(argv)
        if verb == self.fail:
            return CmdResult(key, 1, "", "Access denied", error="systemctl exited 1: Access denied")
        if verb == "show":
            return CmdResult(key, 0, "loaded\n" if self.loaded else "not-found\n")
        if verb == "is-enabled":
            return CmdResult(key, 0 if self.enabled == "enabled" else 1, self.enabled + "\n")
        if verb == "is-active":
            return CmdResult(key, 0 if self.active == "active" else 3, self.active + "\n")
        self.enabled = {"enable": "enabled", "disable": "disabled"}.get(verb, self.enabled)
        self.active = {"start": "active", "stop": "inactive"}.get(verb, self.active)
        if "--now" in argv:
            self.active = "active"
        return CmdResult(key, 0, "")


def live_host(tmp_path, runner, systemd=True, driver=True):
    files = {"proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  590.44.01\n"}
    add_kernel_files(tmp_path, files if driver else {})
    if systemd:
        (tmp_path / "run/systemd/system").mkdir(parents=True)
    host = Host(tmp_path, runner=runner)
    host.live = True  # a stand-in for / : the commands go to the fake, never to systemctl
    return host


def test_persistenced_enable_now_and_undo_restore_the_unit_state(tmp_path):
    fake = FakeSystemctl()
    host = live_host(tmp_path, fake)
    (item,) = plan_persistenced(host, True, None)
    assert (item.current, item.target, item.status) == ("disabled,inactive", "enabled,active", CHANGE)
    ex = Executor(host, True)
    ex.do(item.step)
    assert ["systemctl", "enable", "--now", "nvidia-persistenced.service"] in fake.calls
    assert (fake.enabled, fake.active) == ("enabled", "active")
    assert ex.undo(item.step) is True
    assert (fake.enabled, fake.active) == ("disabled", "inactive")
    assert plan_persistenced(host, True, None)[0].status == CHANGE
    fake.enabled, fake.active = "enabled", "active"
    assert plan_persistenced(host, True, None)[0].status == OK


def test_a_failing_systemctl_is_a_failed_step_with_its_message(tmp_path):
    host = live_host(tmp_path, FakeSystemctl(fail="enable"))
    (item,) = plan_persistenced(host, True, None)
    with pytest.raises(Exception, match=r"systemctl enable --now nvidia-persistenced\.service.*Access denied"):
        Executor(host, True).do(item.step)


def test_systemd_commands_restore_each_half_of_the_state():
    unit = "u.service"
    assert systemd_commands(unit, "enabled,active", "disabled,inactive") == [
        ["systemctl", "stop", unit], ["systemctl", "disable", unit]]
    assert systemd_commands(unit, "enabled,active", "enabled,inactive") == [["systemctl", "stop", unit]]
    assert systemd_commands(unit, "static,inactive", "static,active") == [["systemctl", "start", unit]]
    assert systemd_commands(unit, "enabled,active", "enabled,active") == []


class FakeNvmlLib:
    """The pynvml calls apply makes, from a table of bus id -> persistence (1/0 or an exception)."""

    def __init__(self, gpus: dict[str, object], init_error: Exception | None = None):
        real = import_pynvml()
        for name in dir(real):
            if name.startswith("NVML"):
                setattr(self, name, getattr(real, name))
        self.gpus, self.init_error, self.set_calls = dict(gpus), init_error, []

    def nvmlInit(self):
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return list(self.gpus)[i]

    def nvmlDeviceGetPciInfo(self, handle):
        return SimpleNamespace(busId=handle)

    def nvmlDeviceGetHandleByPciBusId(self, bus):
        return bus

    def nvmlDeviceGetPersistenceMode(self, handle):
        value = self.gpus[handle]
        if isinstance(value, Exception):
            raise value
        return value

    def nvmlDeviceSetPersistenceMode(self, handle, mode):
        self.set_calls.append((handle, mode))
        if isinstance(self.gpus[handle], Exception):
            raise self.gpus[handle]
        self.gpus[handle] = mode


def use_nvml(monkeypatch, lib):
    import hwtune.probe.nvml as probe_nvml

    monkeypatch.setattr(probe_nvml, "import_pynvml", lambda: lib)
    from hwtune.apply.nvml import Nvml

    return Nvml()


def test_without_the_unit_persistence_mode_is_set_per_gpu_through_nvml(tmp_path, monkeypatch):
    real = import_pynvml()
    lib = FakeNvmlLib({"00000000:81:00.0": 0, "00000000:C1:00.0": 1,
                       "00000000:E1:00.0": real.NVMLError_GpuIsLost()})
    nvml = use_nvml(monkeypatch, lib)
    host = live_host(tmp_path, FakeSystemctl(loaded=False))
    items = plan_persistenced(host, True, nvml)
    assert [(i.where, i.status) for i in items] == [
        ("GPU 00000000:81:00.0", CHANGE), ("GPU 00000000:C1:00.0", OK), ("GPU 00000000:E1:00.0", SKIP)]
    assert "apt install nvidia-persistenced" in items[0].reason  # how to install the daemon
    ex = Executor(host, True, nvml)
    ex.do(items[0].step)
    assert lib.gpus["00000000:81:00.0"] == real.NVML_FEATURE_ENABLED
    ex.undo(items[0].step)
    assert lib.gpus["00000000:81:00.0"] == real.NVML_FEATURE_DISABLED


def test_no_systemd_and_no_nvml_is_a_skip_with_both_reasons(tmp_path, monkeypatch):
    real = import_pynvml()
    nvml = use_nvml(monkeypatch, FakeNvmlLib({}, init_error=real.NVMLError_LibraryNotFound()))
    host = live_host(tmp_path, FakeSystemctl(), systemd=False)
    (item,) = plan_persistenced(host, True, nvml)
    assert item.status == SKIP
    assert "systemd is not running" in item.reason and "NVML" in item.reason
    host = live_host(tmp_path / "nodriver", FakeSystemctl(), driver=False)
    assert "no NVIDIA driver" in plan_persistenced(host, True, nvml)[0].reason


# -- pending reboot ------------------------------------------------------------------

def test_ecc_mig_and_kernel_arguments_are_listed_as_pending_never_applied(scratch, tmp_path):
    root = copy_snapshot("gpu-2xa5000-xml", scratch / "gpu")
    add_kernel_files(root, {"proc/cmdline": "BOOT_IMAGE=/vmlinuz ro quiet\n", "usr/sbin/grubby": ""})
    before = tree_state(root, keep_state=True)
    profile = write_profile(tmp_path, "reboot", '[tune]\n"nvidia.ecc" = true\n"nvidia.mig" = true\n'
                                                '"kernel.cmdline" = ["quiet", "intel_pstate=passive"]\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["journal"] is None and data["changes"] == 0
    items = data["plan"]["items"]
    ecc = [i for i in items if i["key"] == "nvidia.ecc"]
    assert [(i["where"], i["status"], i["reboot"]) for i in ecc] == [
        ("GPU 00000000:81:00.0", "pending reboot", True), ("GPU 00000000:C1:00.0", "pending reboot", True)]
    assert ecc[0]["command"] == "sudo nvidia-smi -i 00000000:81:00.0 -e 1 && sudo reboot"
    mig = [i for i in items if i["key"] == "nvidia.mig"]
    assert all(i["status"] == "skip" and "does not support" in i["reason"] for i in mig)  # MIG is N/A
    cmdline = {i["where"]: i for i in items if i["key"] == "kernel.cmdline"}
    assert cmdline["quiet"]["status"] == "ok"
    assert cmdline["intel_pstate=passive"]["command"] == \
        'sudo grubby --update-kernel=ALL --args="intel_pstate=passive" && sudo reboot'
    text = invoke("apply", "-p", str(profile), "--root", str(root), "--yes").stdout
    assert "Pending reboot" in text and "sudo nvidia-smi -i 00000000:C1:00.0 -e 1" in text
    assert tree_state(root, keep_state=True) == before


def test_a_malformed_kernel_argument_is_a_one_line_error(scratch, tmp_path):
    root = copy_snapshot("vm-kvm-2vcpu-nocpufreq", scratch / "vm")
    profile = write_profile(tmp_path, "bad", '[tune]\n"kernel.cmdline" = ["a b; reboot"]\n')
    res = invoke("apply", "-p", str(profile), "--root", str(root), "--dry-run")
    assert res.exit_code == 2 and "tune.kernel.cmdline" in res.stderr


# -- persist and boot -------------------------------------------------------------------

def test_unit_names_a_custom_profile_by_absolute_path_and_quotes_for_systemd(scratch, tmp_path):
    assert unit_quote("/opt/my tools/hwtune") == '"/opt/my tools/hwtune"'
    assert unit_quote("50%") == "50%%"
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    profile = write_profile(tmp_path, "mine", '[tune]\n"cpu.governor" = "performance"\n')
    assert invoke("apply", "-p", str(profile), "--root", str(root), "--yes", "--persist").exit_code == 0
    unit = (root / "etc/systemd/system/hwtune-apply.service").read_text()
    assert f"apply --profile {profile.resolve()} --yes --boot" in unit
    assert render_unit("x", "x", "/usr/bin/hwtune").count("[Install]") == 1


def test_rollback_after_a_boot_reapply_removes_the_boot_unit_too(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root)
    assert invoke("apply", "-p", "cpu-inference", "--root", str(root), "--yes", "--persist").exit_code == 0
    # a reboot resets the kernel values; the boot unit applies the profile again
    for policy in (root / "sys/devices/system/cpu/cpufreq").glob("policy*"):
        (policy / "scaling_governor").write_text("powersave\n")
    res = invoke("apply", "-p", "cpu-inference", "--root", str(root), "--boot")
    assert res.exit_code == 0, res.stderr
    rows = json.loads(invoke("history", "--root", str(root), "--json").stdout)
    assert [(r["boot"], r["changes"]) for r in rows] == [(False, 42), (True, 20)]
    res = invoke("rollback", "--root", str(root), "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["rolled_back"] == [rows[1]["id"], rows[0]["id"]]
    assert tree_state(root) == before


def test_a_journal_belongs_to_its_root(scratch, tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))
    a = copy_snapshot("laptop-i7-1370p-powersave", scratch / "a")
    b = copy_snapshot("vm-kvm-2vcpu-nocpufreq", scratch / "b")
    jid = json.loads(invoke("apply", "-p", "cpu-inference", "--root", str(a), "--yes", "--json").stdout)["journal"]
    assert not (a / "var").exists()  # the journal went to $HWTUNE_STATE_DIR
    res = invoke("rollback", jid, "--root", str(b))
    assert res.exit_code == 2 and "was applied to" in res.stderr
    assert "Nothing to roll back" in invoke("rollback", "--root", str(b)).stdout
    assert invoke("rollback", jid, "--root", str(a)).exit_code == 0


# -- confirmation ---------------------------------------------------------------------

def test_without_a_terminal_and_without_yes_apply_refuses(scratch):
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root, keep_state=True)
    res = invoke("apply", "-p", "cpu-inference", "--root", str(root))
    assert res.exit_code == 2 and "--yes" in res.stderr
    assert tree_state(root, keep_state=True) == before


def test_in_a_terminal_apply_asks_first(scratch, monkeypatch):
    from typer.testing import CliRunner

    from hwtune import cli_apply
    from hwtune.cli import app

    monkeypatch.setattr(cli_apply, "_interactive", lambda: True)
    root = copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")
    before = tree_state(root, keep_state=True)
    res = CliRunner().invoke(app, ["apply", "-p", "cpu-inference", "--root", str(root)], input="n\n")
    assert res.exit_code == 0 and "Nothing was changed" in res.stdout
    assert tree_state(root, keep_state=True) == before
    res = CliRunner().invoke(app, ["apply", "-p", "cpu-inference", "--root", str(root)], input="y\n")
    assert res.exit_code == 0 and "Applied 40 change(s)" in res.stdout
    assert len(journals(root)) == 1


def test_policy_runs_are_compressed_one_way_for_plans_and_checks():
    assert format_policies([f"policy{i}" for i in (3, 0, 1, 2, 7, 9, 10)]) == "policy0-3,7,9-10"
    assert format_policies(["policy4"]) == "policy4"
    assert format_policies(["/a", "/b"]) == "/a, /b"
