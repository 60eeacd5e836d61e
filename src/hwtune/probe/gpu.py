"""NVIDIA GPUs, driver, CUDA toolkit and cuDNN: `probe_nvidia`.

Sources, in order: NVML (live only), `nvidia-smi -q -x` (live, or recorded
in a snapshot's cmd/), `/proc/driver/nvidia/version`, sysfs PCI. Nothing is
guessed: a fact no source gives is None with the reason.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder, Gpu
from hwtune.host import Host
from hwtune.probe import pci
from hwtune.probe.nvidia import (
    DriverModule,
    NvidiaSmiReport,
    parse_cuda_version_json,
    parse_cuda_version_txt,
    parse_cudnn_header,
    parse_cudnn_lib_name,
    parse_nvcc_version,
    parse_nvidia_smi_xml,
    parse_proc_driver_version,
)
from hwtune.probe.nvsmi_text import parse_nvidia_smi_text, table_report

NVIDIA_SMI = ["nvidia-smi", "-q", "-x"]
# Read from snapshots only: real captures come as `nvidia-smi -q` text too.
NVIDIA_SMI_TEXT = ["nvidia-smi", "-q"]
TEXT_CAPTURES = (NVIDIA_SMI_TEXT, ["nvidia-smi", "-a"])
NVIDIA_SMI_TABLE = ["nvidia-smi"]
NVCC = ["nvcc", "--version"]
# nvidia-smi initialises every GPU it queries; without persistence mode that
# takes about a second per GPU, so an 8-GPU box needs more than the default.
NVIDIA_SMI_TIMEOUT_S = 30.0
NVCC_TIMEOUT_S = 10.0
CUDA_HOME_NVCC = "/usr/local/cuda/bin/nvcc"
PROC_DRIVER = "/proc/driver/nvidia"
PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"
PERSISTENCED_PID_FILES = ("/run/nvidia-persistenced/nvidia-persistenced.pid",
                          "/var/run/nvidia-persistenced/nvidia-persistenced.pid")
# /proc/<pid>/comm holds at most 15 characters (TASK_COMM_LEN is 16)
PERSISTENCED_COMM = "nvidia-persistenced"[:15]
CUDNN_HEADER_DIRS = ("/usr/local/cuda/include", "/usr/include",
                     "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu")
CUDNN_LIB_DIRS = ("/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu",
                  "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
NO_NVIDIA = "no NVIDIA device or driver"
DRIVER_FACTS = ("gpu.count", "gpu.listed", "gpu.source", "nvidia.driver_version",
                "nvidia.cuda_version", "nvidia.kernel_module", "nvidia.persistenced")


def snapshot_commands(host: Host) -> list[list[str]]:
    """The commands whose outputs a snapshot records, so that a replay sees
    what NVML saw live. `hwtune snapshot` runs and records them."""
    nvcc = list(NVCC)
    if host.live and not _on_path("nvcc") and host.exists(CUDA_HOME_NVCC):
        nvcc[0] = CUDA_HOME_NVCC  # recorded under the same name: cmd/nvcc_--version.txt
    return [list(NVIDIA_SMI), nvcc]


def start_commands(host: Host) -> None:
    """Start `nvcc --version` (tens of milliseconds on a cold cache) so that it
    runs while the other probes and the caller work; probe_cuda_toolkit collects it."""
    host.runner.start(NVCC, timeout_s=NVCC_TIMEOUT_S)


def probe_nvidia(host: Host, b: FactsBuilder, *, use_nvml: bool | None = None) -> None:
    """use_nvml: None asks NVML only on the live host; True asks it whatever
    the root (tests, with a fake); False never."""
    listing = pci.read_nvidia_gpus(host)
    devices = None if listing.devices is None else [d.to_fact() for d in listing.devices]
    b.set("pci.nvidia_devices", devices, listing.reason)
    b.set("pci.source", listing.source, listing.reason)
    probe_cuda_toolkit(host, b)
    probe_cudnn(host, b)
    if devices == [] and not host.exists(PROC_DRIVER):
        for fact_id in DRIVER_FACTS:
            b.unknown(fact_id, NO_NVIDIA)
        b.set("gpu.count", 0)  # observed: the PCI bus lists no NVIDIA display or 3D device
        return
    driver, driver_why = _read_driver_module(host, b)
    report, why = _probe_gpus(host, b, host.live if use_nvml is None else use_nvml)
    version = report.driver_version if report else None
    b.set("nvidia.driver_version", version or (driver.version if driver else None),
          f"{why or 'the driver did not report it'}; {driver_why}")
    b.set("nvidia.cuda_version", report.cuda_version if report else None,
          why or f"{b.values['gpu.source']} did not report it")
    probe_persistenced(host, b)


# -- GPUs and driver ----------------------------------------------------------------

def _probe_gpus(host: Host, b: FactsBuilder, use_nvml: bool) -> tuple[NvidiaSmiReport | None, str]:
    """The driver's report and where it came from; or None and why not."""
    reasons = []
    if use_nvml:
        from hwtune.probe import nvml  # NVML only where there is a GPU to ask
        try:
            return _set_gpu_facts(host, b, nvml.read_nvml_report(), "nvml"), ""
        except nvml.NvmlUnavailable as exc:
            reasons.append(str(exc))
    report, reason = _read_nvidia_smi(host)
    if report is not None:
        return _set_gpu_facts(host, b, report, "nvidia-smi"), ""
    why = "; ".join(reasons + [reason])
    for fact_id in ("gpu.count", "gpu.listed", "gpu.source"):
        b.unknown(fact_id, why)
    return None, why


def _set_gpu_facts(host: Host, b: FactsBuilder, report: NvidiaSmiReport, source: str) -> NvidiaSmiReport:
    b.set("gpu.source", source)
    listed = len(report.gpus)
    count = report.attached_gpus if report.attached_gpus is not None else listed
    b.set("gpu.count", count)
    b.set("gpu.listed", listed)
    if count != listed:
        b.set("gpu.count_mismatch", f"the driver says {count} GPUs are attached but {source} lists {listed}")
    b.gpus.extend(_with_numa_node(host, g) for g in report.gpus)
    return report


def _read_nvidia_smi(host: Host) -> tuple[NvidiaSmiReport | None, str]:
    result = host.run(NVIDIA_SMI, timeout_s=NVIDIA_SMI_TIMEOUT_S)
    # nvidia-smi exits non-zero when one GPU fails yet still prints the others
    if "<nvidia_smi_log" not in result.stdout:
        why = result.error or "nvidia-smi -q -x printed no XML"
        return _read_recorded_text(host, why) if not host.live else (None, why)
    try:
        return parse_nvidia_smi_xml(result.stdout), ""
    except ParseError as exc:
        return None, exc.message


def _read_recorded_text(host: Host, why: str) -> tuple[NvidiaSmiReport | None, str]:
    """A snapshot without the XML: `nvidia-smi -q` (or `-a`) text, whole or an excerpt, then the
    default table, which lists the GPUs (index, name, bus id, persistence) and what it could not read."""

    reasons = [why]
    for argv in TEXT_CAPTURES:
        result = host.run(argv)
        # "Unable to determine the device handle ..." comes on the error output (exit 255), which a
        # snapshot keeps as the command's error
        error = result.error or ""
        text = result.stdout or (error if "device handle" in error else "")
        if not text.strip():
            continue
        try:
            return parse_nvidia_smi_text(text), ""
        except ParseError as exc:
            reasons.append(f"cmd/{'_'.join(argv)}.txt: {exc.message}")
    table = host.run(NVIDIA_SMI_TABLE)
    if table.stdout.strip():
        report = table_report(table.stdout)
        if report is not None:
            return report, ""
        reasons.append("cmd/nvidia-smi.txt: could not parse it as the nvidia-smi table: no GPU row")
    return None, "; ".join(reasons)


def _with_numa_node(host: Host, gpu: Gpu) -> Gpu:
    address = pci.sysfs_address(gpu.bus_id) if gpu.bus_id else None
    return gpu if address is None else replace(gpu, numa_node=pci.read_numa_node(host, address))


def _read_driver_module(host: Host, b: FactsBuilder) -> tuple[DriverModule | None, str]:
    text = host.read(PROC_DRIVER_VERSION)
    if text is None:
        why = f"{PROC_DRIVER_VERSION} is absent"
        b.unknown("nvidia.kernel_module", why)
        return None, why
    try:
        driver = parse_proc_driver_version(text)
    except ParseError as exc:
        b.unknown("nvidia.kernel_module", exc.message)
        return None, exc.message
    b.set("nvidia.kernel_module", driver.kernel_module,
          f"{PROC_DRIVER_VERSION} does not say which kernel module it is")
    return driver, ""


# -- nvidia-persistenced ------------------------------------------------------------

def probe_persistenced(host: Host, b: FactsBuilder) -> None:
    entries = host.listdir("/proc")
    if entries is None:
        b.unknown("nvidia.persistenced", "/proc is not in the snapshot" if not host.live
                  else "/proc cannot be listed")
        return
    pids = [e for e in entries if e.isdigit()]
    if not pids:
        b.unknown("nvidia.persistenced", "the snapshot records no processes (no /proc/<pid>)")
        return
    # Recorded even when it does not match, so that a replay of a snapshot of
    # a host without the daemon still sees a process list and says False. When
    # init's comm cannot be read, /proc hides other users' processes (hidepid):
    # a daemon not found is then unknown, not absent.
    sees_all = host.read("/proc/1/comm") is not None
    for pid_file in PERSISTENCED_PID_FILES:
        pid = (host.read(pid_file) or "").strip()
        if pid.isdigit() and _is_persistenced(host, pid, record=True):
            b.set("nvidia.persistenced", True)
            return
    # Read every comm without recording it, so a snapshot keeps only the match. Any user can
    # name a process "nvidia-persistenced": one found by name counts only when a system
    # account runs it (the daemon runs as root or as its own system user; the pid file above
    # is written where only they can).
    for pid in pids:
        if _is_persistenced(host, pid, record=False) and _system_account(host, pid):
            host.read(f"/proc/{pid}/comm")
            b.set("nvidia.persistenced", True)
            return
    if not sees_all:
        b.unknown("nvidia.persistenced", "other users' processes are hidden (/proc/1/comm cannot be read: "
                  "/proc mounted with hidepid?); run as root to see the daemon")
        return
    b.set("nvidia.persistenced", False)


def _is_persistenced(host: Host, pid: str, *, record: bool) -> bool:
    comm = host.read(f"/proc/{pid}/comm", record=record)
    return comm is not None and comm.strip() == PERSISTENCED_COMM


# the highest uid of a system account (login.defs SYS_UID_MAX on Debian, Ubuntu and RHEL)
SYS_UID_MAX = 999


def _system_account(host: Host, pid: str) -> bool:
    """The process's real uid is a system account's. A snapshot that kept no status of it
    (snapshots before this check) is taken at its name, as before."""
    status = host.read(f"/proc/{pid}/status")
    if status is None:
        return not host.live
    uid = next((line.split()[1:2] for line in status.splitlines()[:64] if line.startswith("Uid:")), [])
    return bool(uid) and uid[0].isdigit() and int(uid[0]) <= SYS_UID_MAX


# -- CUDA toolkit and cuDNN ---------------------------------------------------------

def probe_cuda_toolkit(host: Host, b: FactsBuilder) -> None:
    reasons = []
    result = host.run(NVCC, timeout_s=NVCC_TIMEOUT_S)
    if not result.ok and host.live and not _on_path("nvcc") and host.exists(CUDA_HOME_NVCC):
        result = host.run([CUDA_HOME_NVCC, "--version"], timeout_s=NVCC_TIMEOUT_S)
    if result.ok:
        try:
            return _set_toolkit(b, parse_nvcc_version(result.stdout), "nvcc --version")
        except ParseError as exc:
            reasons.append(exc.message)
    else:
        reasons.append(result.error or "nvcc --version failed")
    for path, parse in (("/usr/local/cuda/version.json", parse_cuda_version_json),
                        ("/usr/local/cuda/version.txt", parse_cuda_version_txt)):
        text = host.read(path)
        if text is None:
            reasons.append(f"{path} is absent")
            continue
        try:
            return _set_toolkit(b, parse(text), path)
        except ParseError as exc:
            reasons.append(exc.message)
    why = "; ".join(reasons)
    b.unknown("cuda.toolkit_version", why)
    b.unknown("cuda.toolkit_source", why)


def _set_toolkit(b: FactsBuilder, version: str, source: str) -> None:
    b.set("cuda.toolkit_version", version)
    b.set("cuda.toolkit_source", source)


def probe_cudnn(host: Host, b: FactsBuilder) -> None:
    for path in _cudnn_headers(host):
        text = host.read(path)
        if text is None:
            continue
        try:
            version = parse_cudnn_header(text)
        except ParseError:
            continue  # cudnn.h of 8.x+ only includes cudnn_version.h
        b.set("cudnn.version", version)
        b.set("cudnn.source", path)
        return
    found = []
    for folder in CUDNN_LIB_DIRS:
        for name in host.listdir(folder) or ():
            if not name.startswith("libcudnn.so."):  # lib folders hold thousands of files
                continue
            lib_version = parse_cudnn_lib_name(name)
            if lib_version is not None:
                found.append((tuple(int(p) for p in lib_version.split(".")), lib_version, f"{folder}/{name}"))
    if found:
        _, version, path = max(found)
        b.set("cudnn.version", version)
        b.set("cudnn.source", f"library file name {path} (no cudnn_version.h found)")
        return
    why = "no cudnn_version.h in " + ", ".join(CUDNN_HEADER_DIRS) + " and no libcudnn.so.X.Y.Z"
    b.unknown("cudnn.version", why)
    b.unknown("cudnn.source", why)


def _cudnn_headers(host: Host) -> list[str]:
    paths = []
    for folder in CUDNN_HEADER_DIRS:
        paths.append(f"{folder}/cudnn_version.h")
        if folder.endswith("-linux-gnu"):
            # Debian/Ubuntu packages name it cudnn_version_v9.h behind an alternative
            names = host.listdir(folder) or ()
            paths.extend(f"{folder}/{n}" for n in names
                         if n.startswith("cudnn_version_v") and n.endswith(".h"))
        paths.append(f"{folder}/cudnn.h")  # cuDNN 7 and older define the version here
    return [p for p in paths if host.exists(p)]


def _on_path(name: str) -> bool:
    return shutil.which(name) is not None
