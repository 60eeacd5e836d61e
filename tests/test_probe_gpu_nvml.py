"""The live path: NVML through the adapter (against the scenario fake), the
fallback to nvidia-smi, and a hung nvidia-smi."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import fake_nvml
from conftest import snapshot
from fake_nvml import REAL, ScriptedRunner, use_fake, write_a100_box, write_pci_device
from hwtune.facts import FactsBuilder, Gpu
from hwtune.host import Host
from hwtune.probe import gpu, nvml
from hwtune.run import Runner

GPU_SNAPSHOT = snapshot("gpu-2xa5000-xml")
A5000_XML = (GPU_SNAPSHOT / "cmd" / "nvidia-smi_-q_-x.xml").read_text()
SMI = ("nvidia-smi", "-q", "-x")


def probe_live(root: Path, runner: Runner, use_nvml: bool = True):
    b = FactsBuilder()
    gpu.probe_nvidia(Host(root, runner=runner), b, use_nvml=use_nvml)
    return b.build()


# -- scenarios --------------------------------------------------------------------

def test_eight_healthy_a100(tmp_path, monkeypatch):
    write_a100_box(tmp_path)
    fake = use_fake(monkeypatch, fake_nvml.eight_a100())
    runner = ScriptedRunner()
    facts = probe_live(tmp_path, runner)
    v = facts.values
    assert (v["gpu.count"], v["gpu.listed"], v["gpu.source"]) == (8, 8, "nvml")
    assert (v["nvidia.driver_version"], v["nvidia.cuda_version"]) == ("535.54.03", "12.2")
    assert len(v["pci.nvidia_devices"]) == 8
    assert [g.index for g in facts.gpus] == list(range(8))
    assert [g.bus_id for g in facts.gpus] == list(fake_nvml.A100_BUS_IDS)
    assert [g.numa_node for g in facts.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]  # from sysfs
    first = facts.gpus[0]
    assert (first.name, first.memory_mib, first.persistence_mode) == ("NVIDIA A100-SXM4-80GB", 81920, True)
    assert (first.mig_mode, first.ecc_current, first.ecc_pending) == ("disabled", "enabled", "enabled")
    assert (first.pcie_gen_current, first.pcie_gen_max, first.pcie_width_current, first.pcie_width_max) == \
        (4, 4, 16, 16)
    assert (first.power_limit_w, first.power_limit_default_w, first.power_limit_max_w) == (400.0, 400.0, 400.0)
    assert (first.architecture, first.compute_mode, first.error) == ("Ampere", "default", None)
    # NVML answered: nvidia-smi was not run, and NVML was shut down once
    assert SMI not in runner.asked
    assert (fake.init_calls, fake.shutdown_calls) == (1, 1)
    assert fake.called[0] == "nvmlInit" and fake.called[-1] == "nvmlShutdown"


def test_one_gpu_lost_is_one_error_row(tmp_path, monkeypatch):
    write_a100_box(tmp_path)
    use_fake(monkeypatch, fake_nvml.one_gpu_lost(lost=3))
    facts = probe_live(tmp_path, ScriptedRunner())
    assert facts.values["gpu.count"] == 8 and len(facts.gpus) == 8
    lost = facts.gpus[3]
    assert lost == Gpu(index=3, error="NVML: GPU is lost")
    good = [g for g in facts.gpus if g.index != 3]
    assert all(g.error is None and g.name == "NVIDIA A100-SXM4-80GB" for g in good)
    assert [g.bus_id for g in good] == [b for i, b in enumerate(fake_nvml.A100_BUS_IDS) if i != 3]


def test_fields_not_supported_are_none(tmp_path, monkeypatch):
    write_a100_box(tmp_path)
    use_fake(monkeypatch, fake_nvml.fields_not_supported())
    facts = probe_live(tmp_path, ScriptedRunner())
    assert len(facts.gpus) == 8
    for g in facts.gpus:
        assert g.error is None
        assert (g.ecc_current, g.ecc_pending, g.mig_mode, g.mig_mode_pending) == (None, None, None, None)
        assert (g.power_limit_w, g.power_limit_default_w, g.power_limit_max_w) == (None, None, None)
        # what is supported is still read
        assert (g.name, g.memory_mib, g.persistence_mode, g.pcie_width_max) == \
            ("NVIDIA A100-SXM4-80GB", 81920, True, 16)


def test_a_gpu_error_in_a_field_makes_an_error_row(tmp_path, monkeypatch):
    write_a100_box(tmp_path)
    fake = use_fake(monkeypatch, fake_nvml.eight_a100())
    fake.gpus[5]["nvmlDeviceGetMemoryInfo"] = REAL.NVMLError_Unknown()
    facts = probe_live(tmp_path, ScriptedRunner())
    assert facts.gpus[5] == Gpu(index=5, error="NVML: Unknown Error")
    assert sum(g.error is None for g in facts.gpus) == 7


def test_no_driver_falls_back_to_nvidia_smi(tmp_path, monkeypatch):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000", numa_node=0)
    write_pci_device(tmp_path, "0000:c1:00.0", "0x10de", "0x2231", "0x030000", numa_node=1)
    fake = use_fake(monkeypatch, fake_nvml.no_driver())
    runner = ScriptedRunner({SMI: A5000_XML})
    facts = probe_live(tmp_path, runner)
    assert (facts.values["gpu.source"], facts.values["gpu.count"]) == ("nvidia-smi", 2)
    assert [(g.bus_id, g.numa_node) for g in facts.gpus] == [("00000000:81:00.0", 0), ("00000000:C1:00.0", 1)]
    assert fake.called == ["nvmlInit"]  # no shutdown after a failed init
    assert SMI in runner.asked


@pytest.mark.parametrize("error, text", [
    (REAL.NVMLError_LibraryNotFound(), "no NVIDIA driver on this host (libnvidia-ml not found)"),
    (REAL.NVMLError_DriverNotLoaded(), "NVML: Driver Not Loaded"),
])
def test_no_driver_and_no_nvidia_smi_says_both(tmp_path, monkeypatch, error, text):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000")
    use_fake(monkeypatch, fake_nvml.FakePynvml([], init_error=error))
    facts = probe_live(tmp_path, ScriptedRunner())
    assert facts.values["gpu.count"] is None and facts.gpus == ()
    assert facts.reason("gpu.count") == f"{text}; nvidia-smi not found"
    assert facts.reason("nvidia.driver_version").startswith(f"{text}; nvidia-smi not found")
    # the PCI device is still listed: "GPU present, driver missing" is visible
    assert len(facts.values["pci.nvidia_devices"]) == 1


def test_pynvml_not_installed(tmp_path, monkeypatch):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000")

    def missing():
        raise ImportError("No module named 'pynvml'")

    monkeypatch.setattr(nvml, "import_pynvml", missing)
    facts = probe_live(tmp_path, ScriptedRunner({SMI: A5000_XML}))
    assert facts.values["gpu.source"] == "nvidia-smi"


def test_device_count_failure_shuts_nvml_down_and_falls_back(tmp_path, monkeypatch):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000")
    fake = use_fake(monkeypatch, fake_nvml.eight_a100())

    def broken_count():
        raise REAL.NVMLError_Unknown()

    fake.nvmlDeviceGetCount = broken_count
    facts = probe_live(tmp_path, ScriptedRunner({SMI: A5000_XML}))
    assert fake.shutdown_calls == 1
    assert facts.values["gpu.source"] == "nvidia-smi"


def test_driver_and_cuda_versions_nvml_cannot_give(tmp_path, monkeypatch):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000")
    fake = use_fake(monkeypatch, fake_nvml.two_a5000_as_in_xml())
    fake.driver = REAL.NVMLError_Unknown()
    fake.cuda = REAL.NVMLError_FunctionNotFound()  # a driver older than the _v2 call
    facts = probe_live(tmp_path, ScriptedRunner())
    assert facts.values["gpu.count"] == 2
    assert facts.values["nvidia.driver_version"] is None and facts.reason("nvidia.driver_version")
    assert facts.reason("nvidia.cuda_version") == "nvml did not report it"


# -- NVML and nvidia-smi shape the same facts ---------------------------------------------

def test_nvml_path_equals_xml_path_for_the_same_gpus(tmp_path, monkeypatch):
    # one root for both paths: the snapshot's XML plus sysfs folders for its two GPUs
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "nvidia-smi_-q_-x.xml").write_text(A5000_XML)
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000", numa_node=0)
    write_pci_device(tmp_path, "0000:c1:00.0", "0x10de", "0x2231", "0x030000", numa_node=1)

    xml_b = FactsBuilder()
    gpu.probe_nvidia(Host(tmp_path), xml_b, use_nvml=False)
    use_fake(monkeypatch, fake_nvml.two_a5000_as_in_xml())
    nvml_b = FactsBuilder()
    gpu.probe_nvidia(Host(tmp_path), nvml_b, use_nvml=True)
    from_xml, from_nvml = xml_b.build(), nvml_b.build()

    assert (from_xml.values["gpu.source"], from_nvml.values["gpu.source"]) == ("nvidia-smi", "nvml")
    assert len(from_xml.gpus) == len(from_nvml.gpus) == 2
    for x, n in zip(from_xml.gpus, from_nvml.gpus, strict=True):
        for f in fields(Gpu):
            assert getattr(n, f.name) == getattr(x, f.name), f"GPU {x.index} field {f.name}"
    assert [g.numa_node for g in from_nvml.gpus] == [0, 1]
    other = {k: v for k, v in from_xml.values.items() if k != "gpu.source"}
    assert other == {k: v for k, v in from_nvml.values.items() if k != "gpu.source"}
    assert from_xml.unavailable == from_nvml.unavailable


# -- a hung nvidia-smi ----------------------------------------------------------------------

def test_hung_nvidia_smi_times_out_and_the_rest_is_reported(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(gpu, "NVIDIA_SMI_TIMEOUT_S", 0.5)
    root = tmp_path / "root"
    write_pci_device(root, "0000:81:00.0", "0x10de", "0x2231", "0x030000")
    facts = probe_live(root, Runner(None), use_nvml=False)
    assert facts.values["gpu.count"] is None
    assert facts.reason("gpu.count") == "nvidia-smi did not answer within 0.5 s"
    assert facts.values["pci.nvidia_devices"][0]["address"] == "0000:81:00.0"
    assert facts.reason("cuda.toolkit_version")  # the other probes still ran


# -- the adapter itself ----------------------------------------------------------------------

def test_importing_the_probe_neither_imports_nor_starts_nvml():
    code = "import sys, hwtune.probe.gpu, hwtune.probe.nvml; print('pynvml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_context_manager_pairs_init_and_shutdown(monkeypatch):
    fake = use_fake(monkeypatch, fake_nvml.two_a5000_as_in_xml())
    session_manager = nvml.Nvml()
    assert fake.init_calls == 0  # nothing happens before the context is entered
    with session_manager as session:
        assert (fake.init_calls, fake.shutdown_calls) == (1, 0)
        assert session.cuda_version() == "13.1"
    assert fake.shutdown_calls == 1


def test_fake_answers_only_real_nvml_functions():
    # the fake must not drift from nvidia-ml-py: every call it answers exists there
    names = set(fake_nvml.a100(0)) | {"nvmlInit", "nvmlShutdown", "nvmlSystemGetDriverVersion",
                                      "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCount",
                                      "nvmlDeviceGetHandleByIndex"}
    assert all(callable(getattr(REAL, n, None)) for n in names), sorted(n for n in names if not hasattr(REAL, n))
    assert REAL.NVML_DEVICE_ARCH_ADA in nvml.ARCHITECTURES and REAL.NVML_DEVICE_ARCH_HOPPER in nvml.ARCHITECTURES
    assert nvml.COMPUTE_MODES[REAL.NVML_COMPUTEMODE_EXCLUSIVE_PROCESS] == "exclusive_process"


# -- this machine ------------------------------------------------------------------------------

@pytest.mark.live
def test_real_nvml_on_this_machine():
    if os.path.exists("/proc/driver/nvidia/version"):
        report = nvml.read_nvml_report()
        assert report.attached_gpus is not None and report.attached_gpus >= 0
    else:
        with pytest.raises(nvml.NvmlUnavailable) as raised:
            nvml.read_nvml_report()
        # no libnvidia-ml here: the line says so; another NVML failure names NVML
        assert str(raised.value) == nvml.NO_DRIVER or str(raised.value).startswith("NVML: ")


@pytest.mark.live
def test_live_probe_on_this_machine():
    b = FactsBuilder()
    gpu.probe_nvidia(Host("/"), b)
    facts = b.build()
    assert isinstance(facts.values["pci.nvidia_devices"], list)
    if not facts.values["pci.nvidia_devices"] and not os.path.exists("/proc/driver/nvidia"):
        assert facts.values["gpu.count"] == 0 and facts.gpus == ()
        assert facts.reason("nvidia.driver_version") == gpu.NO_NVIDIA
