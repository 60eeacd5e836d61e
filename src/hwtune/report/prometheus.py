"""`hwtune check --format prometheus`: the text format for node_exporter's textfile collector.

Metric names follow https://prometheus.io/docs/practices/naming/ (base units,
`_seconds`, `_bytes`, `_info`); a check's status is an enum as one series per
status with the current one at 1 (the `node_systemd_unit_state` pattern), so
`hwtune_check_status{status="fail"} == 1` selects every failing check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from hwtune import __version__
from hwtune.report.bench import latest_by_config
from hwtune.text import inert

STATUSES = ("pass", "warn", "fail", "skip", "error")

# (label, fact id): key facts carried as labels of hwtune_host_info.
INFO_FACTS = (
    ("cpu_model", "cpu.model"), ("cpu_vendor", "cpu.vendor"), ("arch", "cpu.arch"),
    ("kernel", "kernel.release"), ("os", "os.pretty_name"), ("cpufreq_driver", "cpufreq.driver"),
    ("virt", "virt.container"), ("product", "virt.dmi_product"), ("nvidia_driver", "nvidia.driver_version"),
)

# (metric, help, fact id, scale to base unit)
NUMBER_FACTS = (
    ("hwtune_cpu_logical_cpus", "Logical CPUs (hardware threads) online.", "cpu.threads", 1),
    ("hwtune_cpu_sockets", "CPU sockets (packages).", "cpu.sockets", 1),
    ("hwtune_memory_total_bytes", "Total memory in bytes (MemTotal).", "mem.total_kib", 1024),
    ("hwtune_numa_nodes", "NUMA nodes.", "numa.nodes", 1),
)


def _label_value(value: Any) -> str:
    text = "" if value is None else inert(str(value))  # a host's value never sends ESC to a terminal
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, Any]]) -> str:
    return "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str, kind: str = "gauge") -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: Iterable[tuple[str, Any]], value: float) -> None:
        pairs = list(labels)
        self.lines.append(f"{name}{_labels(pairs) if pairs else ''} {_number(value)}")


def _checks(w: _Writer, report_json: Mapping[str, Any]) -> None:
    profile = report_json.get("profile", "")
    results = list(report_json.get("results", []))
    w.family("hwtune_check_status", "Status of each hwtune check: 1 on the series of its current status "
             "(pass, warn, fail, skip, error), 0 on the others.")
    for r in results:
        current = str(r.get("status", "")).lower()
        for status in STATUSES:
            w.sample("hwtune_check_status", [("check", r.get("id", "")), ("profile", profile), ("status", status)],
                     1 if status == current else 0)
    w.family("hwtune_checks", "Number of hwtune checks in each status in the last check.")
    for status in STATUSES:
        n = sum(1 for r in results if str(r.get("status", "")).lower() == status)
        w.sample("hwtune_checks", [("profile", profile), ("status", status)], n)


def _facts(w: _Writer, report_json: Mapping[str, Any], facts_json: Mapping[str, Any]) -> None:
    facts = facts_json.get("facts", {}) if facts_json else {}
    w.family("hwtune_host_info", "Key facts hwtune probed on this host, as labels; the value is always 1.")
    labels = [(label, facts.get(fid) if facts.get(fid) is not None else "") for label, fid in INFO_FACTS]
    labels += [("profile", report_json.get("profile", "")), ("hwtune_version", __version__)]
    w.sample("hwtune_host_info", labels, 1)
    for metric, help_text, fid, scale in NUMBER_FACTS:
        value = facts.get(fid)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            w.family(metric, help_text)
            w.sample(metric, [], value * scale)
    gpus = facts_json.get("gpus") if facts_json else None
    if isinstance(gpus, list):
        w.family("hwtune_gpus", "GPUs hwtune found (NVIDIA, through NVML or nvidia-smi).")
        w.sample("hwtune_gpus", [], len(gpus))


def _bench(w: _Writer, bench_results: list[dict[str, Any]]) -> None:
    latest = latest_by_config(bench_results)
    if not latest:
        return
    keys = ("backend", "device", "model", "precision", "batch", "mode")

    def labels(r: Mapping[str, Any]) -> list[tuple[str, Any]]:
        values = {k: r.get(k) for k in keys}
        values["precision"] = r.get("precision_executed") or r.get("precision_requested")
        return [(k, values[k]) for k in keys]

    w.family("hwtune_bench_throughput_samples_per_second", "Throughput of the newest hwtune bench run for "
             "this backend, device, model, precision, batch and mode, in samples (batch items) per second.")
    for r in latest:
        w.sample("hwtune_bench_throughput_samples_per_second", labels(r), float(r["throughput_fps"]))
    w.family("hwtune_bench_latency_seconds", "Per-request latency percentile of that run, in seconds.")
    for r in latest:
        for q, quantile in (("p50", "50"), ("p99", "99")):
            ms = (r.get("latency_ms") or {}).get(q)
            if isinstance(ms, (int, float)):
                w.sample("hwtune_bench_latency_seconds", labels(r) + [("percentile", quantile)], ms / 1000)
    stamps = [r for r in latest if r.get("_run_time_s") is not None]
    if stamps:
        w.family("hwtune_bench_timestamp_seconds", "When that bench run was made, in seconds since the epoch.")
        for r in stamps:
            w.sample("hwtune_bench_timestamp_seconds", labels(r), float(r["_run_time_s"]))


def render_prometheus(report_json: Mapping[str, Any], facts_json: Mapping[str, Any] | None,
                      bench_results: list[dict[str, Any]], now_s: float) -> str:
    """The textfile-collector document for one host.

    bench_results: result dicts of saved bench runs (the `results` of each run),
    optionally carrying `_run_time_s` (the run's time); the newest per
    configuration is exported.
    """
    w = _Writer()
    _checks(w, report_json)
    _facts(w, report_json, facts_json or {})
    _bench(w, bench_results)
    w.family("hwtune_last_check_timestamp_seconds", "When hwtune check last ran, in seconds since the epoch.")
    w.sample("hwtune_last_check_timestamp_seconds", [], float(now_s))
    return "\n".join(w.lines) + "\n"
