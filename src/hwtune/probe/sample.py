"""Live samples for `hwtune watch`: per GPU readings (NVML), per CPU package
frequency, governor and thermal-throttle increments, and the health events
the kernel logged since the watch started.

A Sampler keeps what it needs between samples (the NVML session, the first
throttle counts, the last kernel-log sequence number) and returns plain dicts:
`hwtune watch --json` prints them as they are.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack, suppress
from typing import Any

from hwtune.health.patterns import match_events
from hwtune.host import Host
from hwtune.probe import nvml
from hwtune.probe.kernellog import KMSG, MAX_LOG_BYTES, LogLine
from hwtune.probe.logparse import KERN_FACILITY, parse_kmsg_record

CPU_DIR = "/sys/devices/system/cpu"


class Sampler:
    """`with Sampler(host) as s: s.sample()` as often as wanted."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._stack = ExitStack()
        self._nvml: Any = None
        self._nvml_reason = ""
        self._throttle_start: dict[str, int] = {}
        self._last_seq: int | None = None

    def __enter__(self) -> Sampler:
        try:
            self._nvml = self._stack.enter_context(nvml.Nvml())
        except nvml.NvmlUnavailable as exc:
            self._nvml_reason = str(exc)
        self._last_seq = self._kmsg_last_seq()  # only events logged from now on are shown
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def sample(self) -> dict[str, Any]:
        gpus, gpu_reason = self._gpus()
        packages, cpu_reason = self._cpu_packages()
        events, events_reason = self._new_events()
        return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "gpus": gpus, "gpu_reason": gpu_reason,
                "cpu_packages": packages, "cpu_reason": cpu_reason, "events": events,
                "events_reason": events_reason}

    # -- GPUs -------------------------------------------------------------------------
    def _gpus(self) -> tuple[list[dict[str, Any]], str]:
        if self._nvml is None:
            return [], self._nvml_reason or "NVML is not available"

        try:
            count = self._nvml.device_count()
        except nvml.NvmlUnavailable as exc:
            return [], str(exc)
        out = []
        for i in range(count):
            gpu = self._nvml.read_gpu(i)
            row: dict[str, Any] = {"index": i, "bus_id": gpu.bus_id, "name": gpu.name, "error": gpu.error,
                                   "memory_total_mib": gpu.memory_mib, "power_limit_w": gpu.power_limit_w}
            if gpu.health is not None:
                h = gpu.health
                row.update({"utilization_pct": h.utilization_gpu_pct, "memory_used_mib": h.memory_used_mib,
                            "sm_mhz": h.clocks_sm_mhz, "sm_max_mhz": h.clocks_sm_max_mhz,
                            "mem_mhz": h.clocks_mem_mhz, "mem_max_mhz": h.clocks_mem_max_mhz,
                            "power_w": h.power_draw_w, "temp_c": h.temp_c, "temp_slowdown_c": h.temp_slowdown_c,
                            "throttle_reasons": list(h.throttle_reasons or ())})
            out.append(row)
        return out, ""

    # -- CPU packages -----------------------------------------------------------------
    def _cpu_packages(self) -> tuple[list[dict[str, Any]], str]:
        host = self.host
        cpuinfo = _cpuinfo(host.read("/proc/cpuinfo", record=False) or "")
        names = [n for n in host.listdir(CPU_DIR) or () if re.fullmatch(r"cpu\d+", n)]
        if not names and not cpuinfo:
            return [], f"neither {CPU_DIR} nor /proc/cpuinfo can be read"
        packages: dict[str, dict[str, Any]] = {}
        for name in sorted(names or [f"cpu{n}" for n in cpuinfo], key=lambda n: int(n[3:])):
            cpu = int(name[3:])
            base = f"{CPU_DIR}/{name}"
            pkg = (host.read(f"{base}/topology/physical_package_id", record=False) or "").strip() \
                or cpuinfo.get(cpu, {}).get("physical id", "0")
            khz = _int(host.read(f"{base}/cpufreq/scaling_cur_freq", record=False))
            mhz = khz / 1000 if khz is not None else cpuinfo.get(cpu, {}).get("cpu MHz")
            entry = packages.setdefault(pkg, {"package": pkg, "cpus": 0, "mhz": [], "max_mhz": None,
                                              "governor": None, "throttle_events": None})
            entry["cpus"] += 1
            if mhz is not None:
                entry["mhz"].append(float(mhz))
            max_khz = _int(host.read(f"{base}/cpufreq/cpuinfo_max_freq", record=False))
            if max_khz is not None:
                entry["max_mhz"] = max(entry["max_mhz"] or 0, max_khz / 1000)
            entry["governor"] = entry["governor"] or (
                host.read(f"{base}/cpufreq/scaling_governor", record=False) or "").strip() or None
            count = _int(host.read(f"{base}/thermal_throttle/package_throttle_count", record=False))
            if count is not None:
                entry["throttle_events"] = max(entry["throttle_events"] or 0, count)
        out = []
        for pkg, entry in sorted(packages.items()):
            mhz = entry.pop("mhz")
            entry["freq_mhz"] = round(sum(mhz) / len(mhz), 1) if mhz else None
            entry["freq_max_seen_mhz"] = round(max(mhz), 1) if mhz else None
            count = entry["throttle_events"]
            if count is not None:
                start = self._throttle_start.setdefault(pkg, count)
                entry["throttle_new"] = count - start
            else:
                entry["throttle_new"] = None
            if entry["governor"] is None:
                entry["governor_reason"] = "no cpufreq driver (a VM, or frequency managed by firmware)"
            out.append(entry)
        return out, ""

    # -- kernel log -------------------------------------------------------------------
    def _kmsg(self) -> tuple[list[tuple[int, int, str]] | None, str]:
        chunks, why = self.host.read_records(KMSG, max_bytes=MAX_LOG_BYTES)
        if chunks is None:
            return None, why
        return parse_kmsg_records(chunks), ""

    def _kmsg_last_seq(self) -> int | None:
        records, _ = self._kmsg()
        return max((seq for seq, _, _ in records), default=-1) if records is not None else None

    def _new_events(self) -> tuple[list[dict[str, Any]], str]:
        records, why = self._kmsg()
        if records is None:
            return [], f"kernel log not readable: {why}"
        last = self._last_seq if self._last_seq is not None else -1
        fresh = [(seq, usec, msg) for seq, usec, msg in records if seq > last]
        if fresh:
            self._last_seq = fresh[-1][0]
        events, _ = match_events(LogLine(f"{usec / 1e6:.6f}", msg) for _, usec, msg in fresh)
        return events, ""


def parse_kmsg_records(chunks: list[str]) -> list[tuple[int, int, str]]:
    """(sequence number, microseconds since boot, message) of the kernel's own /dev/kmsg
    records (facility 0: a record userspace wrote has another, root's included); the
    " KEY=value" lines after a record are left out."""
    out = []
    for chunk in chunks:
        for line in chunk.splitlines():
            record = parse_kmsg_record(line)
            if record is not None and record.facility == KERN_FACILITY:
                out.append((record.seq, record.usec, record.text))
    return out


def _cpuinfo(text: str) -> dict[int, dict[str, Any]]:
    cpus: dict[int, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "processor" and value.isdigit():
            current = cpus.setdefault(int(value), {})
        elif current is not None and key == "physical id":
            current["physical id"] = value
        elif current is not None and key == "cpu MHz":
            with suppress(ValueError):
                current["cpu MHz"] = float(value)
    return cpus


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() else None
