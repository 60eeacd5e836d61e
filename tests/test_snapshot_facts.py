"""Every snapshot in tests/fixtures yields exactly the facts its EXPECTED.md lists."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, snapshot
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe import probe_facts
from hwtune.probe.os import probe_os

EPYC_NODES = {"0": "0-5,48-53", "1": "6-11,54-59", "2": "12-17,60-65", "3": "18-23,66-71",
              "4": "24-29,72-77", "5": "30-35,78-83", "6": "36-41,84-89", "7": "42-47,90-95"}

# fact id -> expected value; None means "unknown" (and then a reason must be given).
EXPECTED = {
    "epyc7451-2s-8numa": {
        "kernel.release": None, "os.id": None, "os.pretty_name": None,
        "cpu.model": "AMD EPYC 7451 24-Core Processor", "cpu.vendor": "AuthenticAMD", "cpu.arch": "x86_64",
        "cpu.sockets": 2, "cpu.cores": 48, "cpu.threads": 96, "cpu.online": "0-95", "cpu.smt": True,
        "numa.nodes": 8, "numa.node_cpus": EPYC_NODES,
        "cpufreq.policies": 96, "cpufreq.driver": "acpi-cpufreq", "cpufreq.boost": True,
        "cpu.flags.avx512_vnni": False, "cpu.flags.avx512f": False, "cpu.flags.avx2": True, "cpu.flags.fma": True,
        "cpu.flags.avx_vnni": False, "cpu.flags.amx_int8": False,
        "cpu.hypervisor": False, "mem.total_kib": None,
    },
    "laptop-i7-1370p-powersave": {
        "kernel.release": "6.1.0-13-amd64", "os.id": None, "os.version_id": None, "os.pretty_name": None,
        "cpu.model": "13th Gen Intel(R) Core(TM) i7-1370P", "cpu.vendor": "GenuineIntel",
        "cpu.sockets": 1, "cpu.cores": 14, "cpu.threads": 20, "cpu.smt": True,
        "numa.nodes": 1, "numa.node_cpus": {"0": "0-19"},
        "cpufreq.policies": 20, "cpufreq.driver": "intel_pstate",
        "cpu.flags.avx512_vnni": False, "cpu.flags.avx_vnni": True, "cpu.flags.avx512f": False,
        "cpu.hypervisor": False, "mem.total_kib": 32489496,
    },
    "vm-kvm-2vcpu-nocpufreq": {
        "kernel.release": None, "os.id": None,
        "cpu.model": "Intel Core Processor (Skylake, IBRS)", "cpu.vendor": "GenuineIntel",
        "cpu.sockets": 2, "cpu.cores": 2, "cpu.threads": 2, "cpu.smt": False,
        "numa.nodes": 1, "numa.node_cpus": {"0": "0-1"},
        "cpufreq.policies": 0, "cpufreq.governors": {}, "cpufreq.driver": None,
        "cpu.hypervisor": True, "cpu.flags.avx512_vnni": False, "cpu.flags.avx512f": False,
        "mem.total_kib": 2052540,
        "virt.dmi_vendor": "Apache Software Foundation", "virt.dmi_product": "CloudStack KVM Hypervisor",
        "pci.nvidia_devices": [], "gpu.count": 0,
    },
    "gpu-2xa5000-xml": {
        "kernel.release": None, "os.id": None, "cpu.model": None, "cpu.sockets": None, "numa.nodes": None,
        "cpufreq.governors": None, "nvidia.driver_version": "590.44.01", "nvidia.cuda_version": "13.1",
        "gpu.count": 2, "cuda.toolkit_version": "12.8", "cudnn.version": "9.6.0",
    },
}
EXPECTED["epyc7451-2s-8numa"]["pci.nvidia_devices"] = []


def test_gpu_snapshot_gpus(probed):
    gpus = probed["gpu-2xa5000-xml"].gpus
    assert [(g.bus_id, g.name, g.memory_mib, g.persistence_mode, g.mig_mode, g.ecc_current) for g in gpus] == [
        ("00000000:81:00.0", "NVIDIA RTX A5000", 24564, True, None, "disabled"),
        ("00000000:C1:00.0", "NVIDIA RTX A5000", 24564, True, None, "disabled"),
    ]


@pytest.fixture(scope="module")
def probed():
    return {name: probe_facts(Host(snapshot(name))) for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_snapshot_facts(probed, name):
    facts = probed[name]
    for fact_id, want in EXPECTED[name].items():
        assert facts.values.get(fact_id) == want, f"{name}: {fact_id}"
        if want is None:
            assert facts.unavailable.get(fact_id), f"{name}: {fact_id} is unknown without a reason"


def test_every_unknown_fact_has_a_reason(probed):
    for name, facts in probed.items():
        for fact_id, value in facts.values.items():
            if value is None:
                assert facts.unavailable.get(fact_id), f"{name}: {fact_id}"


def test_epyc_policies_all_performance(probed):
    facts = probed["epyc7451-2s-8numa"]
    governors = facts.values["cpufreq.governors"]
    assert sorted(governors, key=lambda p: int(p[6:])) == [f"policy{i}" for i in range(96)]
    assert set(governors.values()) == {"performance"}
    assert {"schedutil", "ondemand"} <= set(facts.values["cpufreq.available_governors"]["policy0"])


def test_laptop_policies_powersave_with_epp(probed):
    facts = probed["laptop-i7-1370p-powersave"]
    assert set(facts.values["cpufreq.governors"].values()) == {"powersave"}
    assert len(facts.values["cpufreq.governors"]) == 20
    assert set(facts.values["cpufreq.epp"].values()) == {"balance_performance"}
    assert facts.values["cpufreq.available_governors"]["policy0"] == ["performance", "powersave"]
    assert facts.values["cpufreq.max_freq_khz"]["policy0"] == 5000000
    assert facts.values["cpufreq.max_freq_khz"]["policy12"] == 3900000


def test_vm_without_cpufreq_folder_as_in_a_git_clone(tmp_path):
    # git keeps no empty folder: the VM's empty cpufreq/ is missing in a clone; still "no policy".
    root = tmp_path / "vm"
    shutil.copytree(snapshot("vm-kvm-2vcpu-nocpufreq"), root, symlinks=True)
    shutil.rmtree(root / "sys/devices/system/cpu/cpufreq", ignore_errors=True)
    facts = probe_facts(Host(root))
    assert facts.values["cpufreq.governors"] == {}
    assert facts.values["cpufreq.policies"] == 0


OS_SAMPLES = {
    "ubuntu-18.04.6": ("ubuntu", "18.04", "Ubuntu 18.04.6 LTS", "bionic"),
    "ubuntu-20.04.2": ("ubuntu", "20.04", "Ubuntu 20.04.2 LTS", "focal"),
    "ubuntu-22.04.4": ("ubuntu", "22.04", "Ubuntu 22.04.4 LTS", "jammy"),
    "ubuntu-24.04.3": ("ubuntu", "24.04", "Ubuntu 24.04.3 LTS", "noble"),
    "debian-10": ("debian", "10", "Debian GNU/Linux 10 (buster)", "buster"),
    "centos-7": ("centos", "7", "CentOS Linux 7 (Core)", None),
    "rocky-8.9": ("rocky", "8.9", None, None),
    "rocky-9.3": ("rocky", "9.3", None, None),
    "rhel-8.4": ("rhel", "8.4", "Red Hat Enterprise Linux 8.4 (Ootpa)", None),
}


@pytest.mark.parametrize("sample", sorted(OS_SAMPLES))
def test_os_release_samples(tmp_path, sample):
    (tmp_path / "etc").mkdir()
    shutil.copy(SAMPLES / "os-release" / sample, tmp_path / "etc/os-release")
    b = FactsBuilder()
    probe_os(Host(tmp_path), b)
    os_id, version, pretty, codename = OS_SAMPLES[sample]
    assert b.values["os.id"] == os_id
    assert b.values["os.version_id"] == version
    if pretty:
        assert b.values["os.pretty_name"] == pretty
    if codename:
        assert b.values["os.codename"] == codename
    if sample == "rocky-8.9":
        assert b.values["os.like"] == ["rhel", "centos", "fedora"]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_os_release_garbage_never_crashes(tmp_path_factory, text):
    root = tmp_path_factory.mktemp("osr")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(text, encoding="utf-8", errors="surrogatepass")
    b = FactsBuilder()
    probe_os(Host(root), b)
    for key in ("os.id", "os.version_id", "os.pretty_name"):
        assert b.values[key] is None or isinstance(b.values[key], str)
        if b.values[key] is None:
            assert b.unavailable[key]
