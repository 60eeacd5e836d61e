"""Checks on hand-made facts: each verdict a user would act on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwtune import profile
from hwtune.checks.registry import REGISTRY, Status
from hwtune.facts import Facts, Gpu
from hwtune.verdict import choose_profile, evaluate

GPU = Gpu(index=0, name="NVIDIA A100-SXM4-80GB", bus_id="00000000:07:00.0", memory_mib=81920,
          persistence_mode=False, mig_mode="disabled", mig_mode_pending="disabled", ecc_current="enabled",
          ecc_pending="enabled", pcie_gen_current=4, pcie_gen_max=4, pcie_width_current=16, pcie_width_max=16,
          power_limit_w=400.0, power_limit_default_w=400.0, numa_node=0)


def facts(values=None, gpus=(), unavailable=None) -> Facts:
    return Facts(dict(values or {}), dict(unavailable or {}), tuple(gpus))


def gpu_facts(*gpus, **values) -> Facts:
    base = {"nvidia.driver_version": "535.54.03", "gpu.count": len(gpus), "nvidia.persistenced": False,
            "cpu.sockets": 1, "numa.nodes": 1, "numa.node_cpus": {"0": "0-63"},
            "pci.nvidia_devices": [{"address": g.bus_id} for g in gpus]}
    base.update(values)
    return facts(base, gpus)


def result(f: Facts, check_id: str, profile_name="gpu-inference"):
    report = evaluate(f, profile.load(profile_name))
    return next(r for r in report.results if r.id == check_id)


def test_governor_mixed_policies_fail_and_name_them():
    f = facts({"cpufreq.governors": {"policy0": "performance", "policy1": "powersave", "policy2": "powersave"}})
    r = result(f, "cpu.governor")
    assert r.status is Status.FAIL
    assert "policy1-2" in r.message and "2 of 3" in r.message
    assert "hwtune apply --profile gpu-inference" in r.fix


def test_governor_skips_without_policy_and_without_facts():
    assert result(facts({"cpufreq.governors": {}}), "cpu.governor").status is Status.SKIP
    r = result(facts({"cpufreq.governors": None}, unavailable={"cpufreq.governors": "/sys absent"}), "cpu.governor")
    assert r.status is Status.SKIP and "/sys absent" in r.message


def test_vnni_whole_tokens_only():
    client = {"cpu.arch": "x86_64", "cpu.flags.avx512_vnni": False, "cpu.flags.avx_vnni": True,
              "cpu.flags.amx_int8": False}
    assert result(facts(client), "cpu.vnni", "cpu-inference").status is Status.WARN
    assert result(facts(client), "cpu.vnni", "gpu-inference").status is Status.SKIP  # informative there
    server = dict(client, **{"cpu.flags.avx512_vnni": True})
    assert result(facts(server), "cpu.vnni", "cpu-inference").status is Status.PASS


def test_persistenced_stricter_on_multi_socket():
    single = gpu_facts(GPU)
    assert result(single, "nvidia.persistenced").status is Status.WARN
    dual = gpu_facts(GPU, **{"cpu.sockets": 2})
    r = result(dual, "nvidia.persistenced")
    assert r.status is Status.FAIL and "2 socket" in r.message
    assert result(gpu_facts(GPU, **{"nvidia.persistenced": True, "cpu.sockets": 2}),
                  "nvidia.persistenced").status is Status.PASS
    on = replace(GPU, persistence_mode=True)
    assert result(gpu_facts(on, **{"cpu.sockets": 2}), "nvidia.persistenced").status is Status.PASS


def test_pcie_width_fails_generation_warns():
    narrow = replace(GPU, pcie_width_current=8)
    assert result(gpu_facts(narrow), "gpu.pcie_link").status is Status.FAIL
    idle = replace(GPU, pcie_gen_current=1)
    r = result(gpu_facts(idle), "gpu.pcie_link")
    assert r.status is Status.WARN and "idle" in r.message
    assert result(gpu_facts(GPU), "gpu.pcie_link").status is Status.PASS


def test_gpu_numa_unknown_on_multi_node_host_warns():
    lost = replace(GPU, numa_node=None)
    f = gpu_facts(lost, **{"numa.nodes": 2, "numa.node_cpus": {"0": "0-31", "1": "32-63"}})
    assert result(f, "gpu.numa").status is Status.WARN
    f = gpu_facts(replace(GPU, numa_node=1), **{"numa.nodes": 2, "numa.node_cpus": {"0": "0-31", "1": "32-63"}})
    assert result(f, "gpu.numa").status is Status.PASS


def test_ecc_and_mig_pending_warn():
    assert result(gpu_facts(replace(GPU, ecc_pending="disabled")), "gpu.ecc").status is Status.WARN
    assert result(gpu_facts(replace(GPU, mig_mode_pending="enabled")), "gpu.mig").status is Status.WARN
    assert result(gpu_facts(GPU), "gpu.ecc").status is Status.PASS


def test_power_limit_below_default_warns():
    r = result(gpu_facts(replace(GPU, power_limit_w=250.0)), "gpu.power_limit")
    assert r.status is Status.WARN and "250 W of 400 W" in r.observed


def test_broken_gpu_is_an_error_row():
    lost = Gpu(index=1, error="GPU is lost")
    r = result(gpu_facts(GPU, lost), "gpu.health")
    assert r.status is Status.ERROR and "GPU is lost" in r.message
    assert result(gpu_facts(GPU, lost), "gpu.pcie_link").status is Status.PASS  # the healthy one still judged


def test_gpu_on_bus_without_driver_fails_health():
    f = facts({"pci.nvidia_devices": [{"address": "0000:81:00.0"}], "gpu.count": None},
              unavailable={"gpu.count": "no driver loaded"})
    assert result(f, "gpu.health").status is Status.FAIL
    assert result(f, "nvidia.driver").status is Status.FAIL
    assert choose_profile(f) == "gpu-inference"


@pytest.mark.parametrize("toolkit,driver,status", [
    ("12.8", "13.1", Status.PASS), ("12.8", "12.2", Status.WARN), ("13.0", "12.2", Status.FAIL)])
def test_cuda_toolkit_against_driver(toolkit, driver, status):
    f = facts({"cuda.toolkit_version": toolkit, "nvidia.cuda_version": driver})
    assert result(f, "cuda.driver_compat").status is status


@pytest.mark.parametrize("release,status", [("4.18.0-513.5.1.el8_9.x86_64", Status.FAIL),
                                            ("5.1.0", Status.PASS), ("6.18.44-fc-v669", Status.PASS)])
def test_kernel_floor(release, status):
    assert result(facts({"kernel.release": release}), "kernel.version").status is status


def test_report_status_is_the_worst_and_a_broken_check_is_an_error(monkeypatch):
    spec = REGISTRY["vm.swappiness"]

    def boom(f, p):
        raise KeyError("oops")

    monkeypatch.setitem(REGISTRY, "vm.swappiness", spec._replace(fn=boom))
    report = evaluate(facts({"vm.swappiness": 60}), profile.load("cpu-inference"))
    broken = next(r for r in report.results if r.id == "vm.swappiness")
    assert broken.status is Status.ERROR and "KeyError" in broken.message
    assert report.status == "error"


def test_severity_override_from_a_profile(tmp_path):
    path = tmp_path / "lenient.toml"
    path.write_text('include = ["cpu-inference"]\n[checks."cpu.governor"]\nseverity = "warn"\n')
    f = facts({"cpufreq.governors": {"policy0": "powersave"}})
    report = evaluate(f, profile.load(str(path)))
    assert next(r for r in report.results if r.id == "cpu.governor").status is Status.WARN
    assert report.status == "warn"


def test_checks_are_grouped_by_the_area_a_user_reads():
    areas = {check_id: spec.area for check_id, spec in REGISTRY.items()}
    assert set(areas.values()) == {"versions", "cpu", "memory", "gpu"}
    assert areas["nvidia.persistenced"] == areas["cuda.driver_compat"] == "gpu"
    assert areas["kernel.version"] == areas["cudnn.version"] == "versions"
    assert areas["kernel.numa_balancing"] == "memory"
