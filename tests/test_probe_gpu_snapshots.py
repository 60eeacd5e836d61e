"""probe_nvidia on the real snapshots and on small trees built for one case each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import fake_nvml
from conftest import SAMPLES, snapshot
from fake_nvml import ScriptedRunner, write_pci_device
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe import gpu
from hwtune.run import cmd_name

GPU_SNAPSHOT = snapshot("gpu-2xa5000-xml")
NVCC_12_8 = (SAMPLES / "nvcc-version" / "cuda-12.8.txt").read_text()


def probe(root, **kwargs):
    b = FactsBuilder()
    gpu.probe_nvidia(root if isinstance(root, Host) else Host(root), b, **kwargs)
    return b.build()


def write(root: Path, abspath: str, text: str) -> Path:
    path = root / abspath.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- the real snapshots ---------------------------------------------------------------

def test_gpu_snapshot_gives_expected_facts():
    facts = probe(GPU_SNAPSHOT)
    v = facts.values
    assert (v["gpu.count"], v["gpu.listed"], v["gpu.source"]) == (2, 2, "nvidia-smi")
    assert "gpu.count_mismatch" not in v
    assert (v["nvidia.driver_version"], v["nvidia.cuda_version"]) == ("590.44.01", "13.1")
    assert (v["cuda.toolkit_version"], v["cuda.toolkit_source"]) == ("12.8", "nvcc --version")
    assert (v["cudnn.version"], v["cudnn.source"]) == ("9.6.0", "/usr/local/cuda/include/cudnn_version.h")
    assert [(g.index, g.bus_id, g.name, g.memory_mib, g.persistence_mode, g.mig_mode) for g in facts.gpus] == [
        (0, "00000000:81:00.0", "NVIDIA RTX A5000", 24564, True, None),
        (1, "00000000:C1:00.0", "NVIDIA RTX A5000", 24564, True, None),
    ]
    assert all(g.ecc_current == "disabled" and g.compute_mode == "default" for g in facts.gpus)
    # the snapshot holds no /proc and no /sys: these are unknown, with the reason
    assert facts.reason("nvidia.persistenced") == "/proc is not in the snapshot"
    assert facts.reason("nvidia.kernel_module") == "/proc/driver/nvidia/version is absent"
    assert "neither /sys/bus/pci/devices" in facts.reason("pci.nvidia_devices")
    assert all(g.numa_node is None for g in facts.gpus)


@pytest.mark.parametrize("name, nvidia_devices", [
    ("epyc7451-2s-8numa", []),
    ("vm-kvm-2vcpu-nocpufreq", []),
    ("laptop-i7-1370p-powersave", None),  # no PCI data recorded at all
])
def test_snapshots_without_gpus(name, nvidia_devices):
    facts = probe(snapshot(name))
    assert facts.values["pci.nvidia_devices"] == nvidia_devices
    assert facts.gpus == ()
    for fact_id in ("nvidia.driver_version", "nvidia.cuda_version", "cuda.toolkit_version", "cudnn.version"):
        assert facts.values[fact_id] is None and facts.reason(fact_id)
    if nvidia_devices == []:
        assert facts.values["gpu.count"] == 0  # observed: no NVIDIA device on the bus
        assert facts.reason("nvidia.persistenced") == gpu.NO_NVIDIA
    else:
        assert facts.values["gpu.count"] is None
        assert "not recorded in the snapshot" in facts.reason("gpu.count")
        # /proc is there, but hwloc did not record processes: unknown, not False
        assert "no /proc/<pid>" in facts.reason("nvidia.persistenced")


def test_snapshot_never_asks_nvml(monkeypatch):
    fake = fake_nvml.use_fake(monkeypatch, fake_nvml.eight_a100())
    facts = probe(GPU_SNAPSHOT)
    assert fake.init_calls == 0
    assert facts.values["gpu.count"] == 2 and facts.values["gpu.source"] == "nvidia-smi"


def test_snapshot_commands_match_the_recorded_file_names():
    commands = gpu.snapshot_commands(Host(GPU_SNAPSHOT))
    assert commands == [["nvidia-smi", "-q", "-x"], ["nvcc", "--version"]]
    recorded = {p.name for p in (GPU_SNAPSHOT / "cmd").iterdir()}
    assert {cmd_name(c) + suffix for c, suffix in zip(commands, (".xml", ".txt"), strict=True)} == recorded


# -- the fast path: no NVIDIA device and no driver --------------------------------------

def test_no_device_no_driver_asks_neither_nvml_nor_nvidia_smi(tmp_path, monkeypatch):
    write_pci_device(tmp_path, "0000:00:03.0", "0x1af4", "0x1000", "0x020000")
    fake = fake_nvml.use_fake(monkeypatch, fake_nvml.eight_a100())
    runner = ScriptedRunner({("nvcc", "--version"): NVCC_12_8})
    facts = probe(Host(tmp_path, runner=runner), use_nvml=True)
    assert fake.init_calls == 0
    assert runner.asked == [("nvcc", "--version")]
    assert facts.values["pci.nvidia_devices"] == []
    assert facts.values["cuda.toolkit_version"] == "12.8"  # a toolkit without a GPU is still reported
    for fact_id in gpu.DRIVER_FACTS:
        if fact_id != "gpu.count":
            assert facts.reason(fact_id) == gpu.NO_NVIDIA
    assert facts.values["gpu.count"] == 0


def test_driver_without_pci_listing_still_probes(tmp_path):
    # a container may see /proc/driver/nvidia but not the GPU's PCI folder
    write_pci_device(tmp_path, "0000:00:03.0", "0x1af4", "0x1000", "0x020000")
    write(tmp_path, "/proc/driver/nvidia/version", (SAMPLES / "proc-driver-nvidia-version" /
                                                    "proprietary-525.105.17").read_text())
    runner = ScriptedRunner({("nvidia-smi", "-q", "-x"): (GPU_SNAPSHOT / "cmd" / "nvidia-smi_-q_-x.xml").read_text()})
    facts = probe(Host(tmp_path, runner=runner), use_nvml=False)
    assert facts.values["gpu.count"] == 2
    # nvidia-smi's answer wins over the kernel module's line
    assert facts.values["nvidia.driver_version"] == "590.44.01"
    assert facts.values["nvidia.kernel_module"] == "proprietary"


# -- other nvidia-smi answers and the driver file ------------------------------------------

def test_attached_differs_from_listed(tmp_path):
    shutil.copy(SAMPLES / "nvidia-smi-xml" / "a100-sxm4-80gb_attached4_listed1.xml",
                write(tmp_path, "/cmd/nvidia-smi_-q_-x.xml", ""))
    facts = probe(tmp_path)
    v = facts.values
    assert (v["gpu.count"], v["gpu.listed"]) == (4, 1)
    assert v["gpu.count_mismatch"] == "the driver says 4 GPUs are attached but nvidia-smi lists 1"
    assert (v["nvidia.driver_version"], v["nvidia.cuda_version"]) == ("535.54.03", "12.2")
    assert facts.gpus[0].mig_mode == "enabled"


def test_driver_version_from_proc_when_nvidia_smi_is_missing(tmp_path):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000", numa_node=1)
    write(tmp_path, "/proc/driver/nvidia/version",
          (SAMPLES / "proc-driver-nvidia-version" / "open-515.43.04").read_text())
    facts = probe(tmp_path)
    v = facts.values
    assert (v["nvidia.driver_version"], v["nvidia.kernel_module"]) == ("515.43.04", "open")
    assert v["pci.nvidia_devices"] == [{"address": "0000:81:00.0", "device_id": "0x2231",
                                        "class": "0x030000", "numa_node": 1}]
    assert v["gpu.count"] is None and "cmd/nvidia-smi_-q_-x" in facts.reason("gpu.count")
    assert v["nvidia.cuda_version"] is None and facts.reason("nvidia.cuda_version")


def test_broken_nvidia_smi_output_is_a_reason(tmp_path):
    write_pci_device(tmp_path, "0000:81:00.0", "0x10de", "0x2231", "0x030000")
    text = (GPU_SNAPSHOT / "cmd" / "nvidia-smi_-q_-x.xml").read_text()
    write(tmp_path, "/cmd/nvidia-smi_-q_-x.xml", text[: len(text) // 3])
    facts = probe(tmp_path)
    assert facts.values["gpu.count"] is None
    assert facts.reason("gpu.count").startswith("nvidia-smi XML is malformed")
    assert facts.gpus == ()


# -- nvidia-persistenced ------------------------------------------------------------------

def persistenced(root: Path) -> tuple[object, Host]:
    host, b = Host(root), FactsBuilder()
    gpu.probe_persistenced(host, b)
    return b.build(), host


def test_persistenced_from_pid_file(tmp_path):
    write(tmp_path, "/var/run/nvidia-persistenced/nvidia-persistenced.pid", "4242\n")
    write(tmp_path, "/proc/4242/comm", "nvidia-persiste\n")  # comm is cut to 15 characters
    write(tmp_path, "/proc/1/comm", "systemd\n")
    facts, host = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is True
    assert "/proc/4242/comm" in host.files_read


def test_persistenced_found_by_scan_records_only_the_match(tmp_path):
    write(tmp_path, "/run/nvidia-persistenced/nvidia-persistenced.pid", "99\n")  # stale: 99 is a shell
    for pid, comm in (("1", "systemd"), ("99", "bash"), ("731", "nvidia-persiste"), ("900", "python3")):
        write(tmp_path, f"/proc/{pid}/comm", comm + "\n")
    facts, host = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is True
    comms = {p for p in host.files_read if p.endswith("/comm")}
    assert comms == {"/proc/1/comm", "/proc/99/comm", "/proc/731/comm"}  # 900 was read, not recorded


def test_a_user_process_named_like_the_daemon_is_not_the_daemon(tmp_path):
    # any user can name a process so; the daemon runs as root or its own system user
    for pid, comm in (("1", "systemd"), ("5150", "nvidia-persiste")):
        write(tmp_path, f"/proc/{pid}/comm", comm + "\n")
    write(tmp_path, "/proc/5150/status", "Name:\tnvidia-persiste\nUid:\t65534\t65534\t65534\t65534\n")
    facts, _ = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is False
    write(tmp_path, "/proc/5150/status", "Name:\tnvidia-persiste\nUid:\t117\t117\t117\t117\n")
    assert persistenced(tmp_path)[0].values["nvidia.persistenced"] is True


def test_persistenced_not_running(tmp_path):
    for pid, comm in (("1", "systemd"), ("2", "kthreadd"), ("512", "nvidia-smi")):
        write(tmp_path, f"/proc/{pid}/comm", comm + "\n")
    facts, host = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is False
    assert {p for p in host.files_read if p.endswith("/comm")} == {"/proc/1/comm"}


def test_persistenced_unknown_when_proc_hides_other_users(tmp_path):
    # /proc mounted with hidepid, probed as a user: only the user's own processes show
    for pid, comm in (("4100", "bash"), ("4177", "hwtune")):
        write(tmp_path, f"/proc/{pid}/comm", comm + "\n")
    facts, _ = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is None
    assert "hidepid" in facts.reason("nvidia.persistenced")
    write(tmp_path, "/run/nvidia-persistenced/nvidia-persistenced.pid", "4100\n")
    write(tmp_path, "/proc/4100/comm", "nvidia-persiste\n")  # the daemon itself is still seen when visible
    assert persistenced(tmp_path)[0].values["nvidia.persistenced"] is True


def test_persistenced_unknown_without_proc(tmp_path):
    facts, _ = persistenced(tmp_path)
    assert facts.values["nvidia.persistenced"] is None
    assert facts.reason("nvidia.persistenced") == "/proc is not in the snapshot"


# -- CUDA toolkit and cuDNN -----------------------------------------------------------------

def toolkit(host: Host):
    b = FactsBuilder()
    gpu.probe_cuda_toolkit(host, b)
    gpu.probe_cudnn(host, b)
    return b.build()


def test_toolkit_from_version_json_when_nvcc_is_missing(tmp_path):
    write(tmp_path, "/usr/local/cuda/version.json", '{"cuda": {"name": "CUDA SDK", "version": "12.4.1"}}')
    facts = toolkit(Host(tmp_path))
    assert (facts.values["cuda.toolkit_version"], facts.values["cuda.toolkit_source"]) == \
        ("12.4", "/usr/local/cuda/version.json")


def test_toolkit_from_version_txt_after_bad_nvcc(tmp_path):
    write(tmp_path, "/cmd/nvcc_--version.txt", "Segmentation fault\n")
    write(tmp_path, "/usr/local/cuda/version.txt", "CUDA Version 10.2.89\n")
    assert toolkit(Host(tmp_path)).values["cuda.toolkit_version"] == "10.2"


def test_toolkit_unknown_lists_every_reason(tmp_path):
    write(tmp_path, "/cmd/nvcc_--version.txt", "Segmentation fault\n")
    reason = toolkit(Host(tmp_path)).reason("cuda.toolkit_version")
    assert "nvcc --version printed no" in reason and "/usr/local/cuda/version.json is absent" in reason


def test_live_nvcc_outside_path_is_recorded_under_the_same_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    write(tmp_path, gpu.CUDA_HOME_NVCC, "")
    runner = ScriptedRunner({(gpu.CUDA_HOME_NVCC, "--version"): NVCC_12_8})
    host = Host(tmp_path, runner=runner)
    host.live = True  # as on `/`, without touching `/`
    assert toolkit(host).values["cuda.toolkit_version"] == "12.8"
    assert runner.asked == [("nvcc", "--version"), (gpu.CUDA_HOME_NVCC, "--version")]
    assert cmd_name(runner.asked[-1]) == "nvcc_--version"
    assert gpu.snapshot_commands(host)[1] == [gpu.CUDA_HOME_NVCC, "--version"]


def test_cudnn_8_header_in_usr_include(tmp_path):
    write(tmp_path, "/usr/include/cudnn_version.h", (SAMPLES / "cudnn_version" / "cudnn-8.2.1.h").read_text())
    facts = toolkit(Host(tmp_path))
    assert (facts.values["cudnn.version"], facts.values["cudnn.source"]) == \
        ("8.2.1", "/usr/include/cudnn_version.h")


def test_cudnn_debian_alternative_name(tmp_path):
    # cudnn.h of 8.x+ only includes cudnn_version.h: it is skipped, not an error
    write(tmp_path, "/usr/include/x86_64-linux-gnu/cudnn.h", '#include "cudnn_version.h"\n')
    write(tmp_path, "/usr/include/x86_64-linux-gnu/cudnn_version_v9.h",
          (SAMPLES / "cudnn_version" / "cudnn-9.6.0.h").read_text())
    assert toolkit(Host(tmp_path)).values["cudnn.version"] == "9.6.0"


def test_cudnn_from_library_file_names(tmp_path):
    for name in ("libcudnn.so", "libcudnn.so.9", "libcudnn.so.9.1.0", "libcudnn.so.8.9.7", "libcudnn_ops.so.9.6.0"):
        write(tmp_path, f"/usr/lib/x86_64-linux-gnu/{name}", "")
    facts = toolkit(Host(tmp_path))
    assert facts.values["cudnn.version"] == "9.1.0"
    assert facts.values["cudnn.source"].startswith("library file name /usr/lib/x86_64-linux-gnu/libcudnn.so.9.1.0")


def test_cudnn_unknown(tmp_path):
    facts = toolkit(Host(tmp_path))
    assert facts.values["cudnn.version"] is None and "no cudnn_version.h" in facts.reason("cudnn.version")
