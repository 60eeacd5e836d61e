"""Health sources: the kernel log's events, PCIe AER counters, EDAC, CPU
thermal throttling, the nvidia-smi table's unreadable fields.

Each source is read here and set as facts as observed (counters and matched
log events); what they mean is judged by the checks in `checks/health.py`.
The GPUs' own readings (ECC, remapped rows, throttle reasons) come with the
GPU records from NVML or nvidia-smi (`probe/gpu.py`).
"""

from __future__ import annotations

import re
import shutil

from hwtune.facts import FactsBuilder
from hwtune.health.patterns import match_events
from hwtune.host import Host
from hwtune.probe import pci
from hwtune.probe.kernellog import read_kernel_log
from hwtune.probe.logparse import NOT_RECORDED
from hwtune.probe.nvsmi_text import parse_nvidia_smi_table

EDAC_MC = "/sys/devices/system/edac/mc"
CPU_DIR = "/sys/devices/system/cpu"
AER_FILES = (("correctable", "aer_dev_correctable", "TOTAL_ERR_COR"),
             ("nonfatal", "aer_dev_nonfatal", "TOTAL_ERR_NONFATAL"),
             ("fatal", "aer_dev_fatal", "TOTAL_ERR_FATAL"))
NVIDIA_SMI_TABLE = ["nvidia-smi"]
LSPCI = ["lspci", "-vvv"]
LSPCI_TIMEOUT_S = 10.0
_PCI_ADDRESS = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")


def probe_health(host: Host, b: FactsBuilder) -> None:
    probe_kernel_log(host, b)
    probe_aer(host, b)
    probe_lspci_aer(host, b)
    probe_edac(host, b)
    probe_thermal_throttle(host, b)
    probe_nvidia_smi_table(host, b)


LOG_FACTS = ("kernel.log_source", "kernel.log_only", "kernel.log_events", "kernel.log_events_dropped",
             "kernel.log_provenance", "kernel.log_coverage")


def probe_kernel_log(host: Host, b: FactsBuilder) -> None:
    log = read_kernel_log(host)
    if log.source is None:
        for fact_id in LOG_FACTS:
            b.unknown(fact_id, log.reason)
        return
    events, dropped = match_events(log.lines)
    if log.provenance == NOT_RECORDED:  # each event's evidence says so
        for event in events:
            event["facility"] = "not recorded"
    b.set("kernel.log_source", log.source)
    b.set("kernel.log_only", log.only or "")  # "": the whole log; "NVRM": a grep capture
    b.set("kernel.log_events", events)
    b.set("kernel.log_events_dropped", dropped)
    b.set("kernel.log_provenance", log.provenance)
    b.set("kernel.log_coverage", log.coverage)


# -- PCIe AER counters --------------------------------------------------------------

def parse_aer_counters(text: str) -> dict[str, int]:
    """aer_dev_correctable & co: "RxErr 0\\nBadTLP 2\\n...TOTAL_ERR_COR 2"."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def gpu_upstream_ports(link_target: str) -> list[str]:
    """The PCI addresses above a device in its sysfs path, nearest first:
    "../../../devices/pci0000:80/0000:80:01.1/0000:81:00.0" -> ["0000:80:01.1"]."""
    parts = [p for p in link_target.split("/") if _PCI_ADDRESS.fullmatch(p)]
    return list(reversed(parts[:-1]))


def probe_aer(host: Host, b: FactsBuilder) -> None:
    # the NVIDIA devices probe_nvidia listed, when it ran first; else list them here
    if "pci.nvidia_devices" in b.values:
        addresses = [d["address"] for d in b.values["pci.nvidia_devices"] or ()]
        listed, source = b.values["pci.nvidia_devices"] is not None, b.values.get("pci.source")
        reason = b.unavailable.get("pci.nvidia_devices", "")
    else:
        listing = pci.read_nvidia_gpus(host)
        addresses = [d.address for d in listing.devices or ()]
        listed, source, reason = listing.devices is not None, listing.source, listing.reason
    if not listed or source != "sysfs":
        b.unknown("pci.aer", reason or "no sysfs PCI tree to read AER counters from")
        return
    entries, seen = [], set()
    for gpu_address in addresses:
        target = host.readlink(f"{pci.SYSFS_PCI}/{gpu_address}") or ""
        ports = [("upstream port", a) for a in gpu_upstream_ports(target)]
        for role, address in [("gpu", gpu_address)] + ports:
            if address in seen:
                continue
            seen.add(address)
            counts = _read_aer(host, address)
            if counts is not None:
                entries.append({"address": address, "role": role, "gpu": gpu_address, **counts})
    if not addresses:
        b.unknown("pci.aer", "no NVIDIA GPU on the PCI bus")
    elif not entries:
        b.unknown("pci.aer", "no aer_dev_* counters in sysfs (kernel before 4.17, or AER not enabled)")
    else:
        b.set("pci.aer", entries)


def _read_aer(host: Host, address: str) -> dict[str, int] | None:
    folder = pci.device_folder(host, address) or f"{pci.SYSFS_PCI}/{address}"
    counts = {}
    for key, name, total_key in AER_FILES:
        text = host.read(f"{folder}/{name}")
        if text is not None:
            counters = parse_aer_counters(text)
            counts[key] = counters.get(total_key, sum(counters.values()))
    return counts or None


def snapshot_commands(host: Host) -> list[list[str]]:
    """`lspci -vvv` where lspci is installed: a replay then sees the AER
    status bits even of a host whose sysfs had no counters. Recorded through
    the Runner like every command (10 s timeout, output capped)."""
    return [list(LSPCI)] if host.live and shutil.which(LSPCI[0]) else []


def probe_lspci_aer(host: Host, b: FactsBuilder) -> None:
    """The AER status bits of the NVIDIA GPUs and the bridges above them, from
    `lspci -vvv`: read only where sysfs gave no AER counters (pci.aer unknown)."""
    if b.values.get("pci.aer") is not None:
        b.unknown("pci.lspci_aer", "not read: sysfs has the AER counters (pci.aer)")
        return
    if b.values.get("pci.nvidia_devices") == []:
        b.unknown("pci.lspci_aer", "no NVIDIA GPU on the PCI bus")
        return
    result = host.run(LSPCI, timeout_s=LSPCI_TIMEOUT_S)
    if not result.ok or not result.stdout:
        b.unknown("pci.lspci_aer", f"no lspci -vvv output: {result.error or 'empty'}")
        return
    from hwtune.probe.lspci import nvidia_link_errors, parse_lspci  # its patterns compile on import

    links = nvidia_link_errors(parse_lspci(result.stdout))
    if not links:
        b.unknown("pci.lspci_aer", "lspci -vvv lists no NVIDIA GPU")
    elif not any(link["aer"] for link in links):
        denied = any(link["caps_denied"] for link in links)
        b.unknown("pci.lspci_aer", "lspci -vvv shows no AER capability on the GPU links" + (
            " (capabilities: <access denied>: it ran without root)" if denied else ""))
    else:
        b.set("pci.lspci_aer", links)


# -- EDAC and CPU thermal throttling ------------------------------------------------

def probe_edac(host: Host, b: FactsBuilder) -> None:
    names = host.listdir(EDAC_MC)
    controllers = [n for n in names or () if re.fullmatch(r"mc\d+", n)]
    if not controllers:
        b.unknown("memory.edac", f"{EDAC_MC} lists no memory controller (no EDAC driver for this platform, a VM, "
                  "or not in the snapshot)")
        return
    out = []
    for mc in controllers:
        ce, ue = (_int(host.read_line(f"{EDAC_MC}/{mc}/{name}")) for name in ("ce_count", "ue_count"))
        out.append({"mc": mc, "ce": ce, "ue": ue})
    b.set("memory.edac", out)


def probe_thermal_throttle(host: Host, b: FactsBuilder) -> None:
    """Throttle events per physical core and per package. SMT siblings show their core's one
    counter (and every CPU of a package the package's): each is counted once."""
    cpus = [n for n in host.listdir(CPU_DIR) or () if re.fullmatch(r"cpu\d+", n)]
    cores: dict[tuple[str, str], int] = {}
    packages: dict[str, int] = {}
    seen = False
    for cpu in cpus:
        folder = f"{CPU_DIR}/{cpu}/thermal_throttle"
        core = _int(host.read_line(f"{folder}/core_throttle_count"))
        package = _int(host.read_line(f"{folder}/package_throttle_count"))
        if core is None and package is None:
            continue
        seen = True
        pkg = host.read_line(f"{CPU_DIR}/{cpu}/topology/physical_package_id") or "?"
        core_id = host.read_line(f"{CPU_DIR}/{cpu}/topology/core_id")
        if core is not None:
            key = (pkg, core_id) if core_id is not None else (pkg, cpu)  # no topology: each CPU its own core
            cores[key] = max(cores.get(key, 0), core)
        if package is not None:
            packages[pkg] = max(packages.get(pkg, 0), package)
    if not seen:
        b.unknown("cpu.thermal_throttle", "no thermal_throttle counters in sysfs (Intel CPUs with the "
                  "therm_throt driver have them; AMD CPUs and most VMs do not)")
        return
    b.set("cpu.thermal_throttle", {"core_events": sum(cores.values()), "package_events": packages})


# -- the nvidia-smi table -----------------------------------------------------------

def probe_nvidia_smi_table(host: Host, b: FactsBuilder) -> None:
    """Recorded captures only (the fact is absent otherwise): live, NVML and
    `nvidia-smi -q -x` say which readings fail, per field."""
    if host.live:
        return

    result = host.run(NVIDIA_SMI_TABLE)
    # nvidia-smi exits 255 on "Unable to determine the device handle ...": a
    # snapshot keeps that line as the command's error
    found = parse_nvidia_smi_table(result.stdout or result.error or "")
    if not result.ok and not found:
        return
    b.set("gpu.table_errors", [r.to_fact() for r in found])


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
