"""Rendering of bench results: rich tables and CSV. Nothing here measures."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

from hwtune.bench.engines import backend
from hwtune.bench.micro.compare import Comparison
from hwtune.bench.micro.runner import BenchRun
from hwtune.bench.result import BenchResult
from hwtune.bench.targets import DeviceList
from hwtune.errors import ConfigError
from hwtune.tables import ID, NUM, Col, Table
from hwtune.text import csv_text

CSV_FIELDS = (
    "backend", "device", "model", "batch", "mode", "precision_requested", "precision_executed",
    "requests_in_flight", "streams", "threads", "throughput_fps", "p50_ms", "p90_ms", "p99_ms", "mean_ms",
    "min_ms", "max_ms", "load_ms", "first_inference_ms", "gflops_per_s", "peak_fraction", "noisy",
    "foreign_cores_before", "foreign_cores_during", "repeats", "throughput_spread_relative",
)


def _short(name: str) -> str:
    try:
        return backend(name).short
    except ConfigError:  # a stored result of a backend this version does not have
        return name


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _noise(r: BenchResult) -> Text:
    worst = max(r.load_before.foreign_cores, r.load_during.foreign_cores)
    if r.noisy:
        return Text(f"NOISY {worst:.2f}", style="bold yellow")
    return Text(f"{worst:.2f}", style="dim")


def _mflops(flops: int) -> str:
    return f"{flops / 1e9:.2f} GFLOP" if flops >= 1e9 else f"{flops / 1e6:.1f} MFLOP"


def results_table(results: list[BenchResult] | tuple[BenchResult, ...], title: str = "") -> Table:
    # integer arithmetic is counted in operations, not floating-point operations
    integer = any("int" in r.executed.precision for r in results)
    t = Table(title, (
        Col("device", ID), Col("precision", ID), Col("batch", NUM), Col("mode", ID, drop=1),
        Col("req/thr", NUM, drop=2), Col("fps", NUM), Col("p50 ms", NUM, drop=3), Col("p90 ms", NUM, drop=3),
        Col("p99 ms", NUM), Col("GOP/s" if integer else "GFLOP/s", NUM, drop=2), Col("peak", NUM, drop=2),
        Col("load+1st ms", NUM, drop=1), Col("foreign", ID)), wide_option="--wide")
    if integer:
        t.notes.append("GOP/s: billions of operations a second (integer ones for int8)")
    for r in results:
        c, e = r.config, r.executed
        prec = c.precision if e.precision == c.precision else f"{c.precision}->{e.precision}"
        fps = _fmt(r.throughput_fps, 1)
        if r.throughput_spread is not None:
            fps += f" ±{r.throughput_spread.relative * 50:.0f}%"
        t.add_row(
            f"{_short(c.backend)}/{c.device}", prec, str(c.batch), c.mode,
            f"{e.requests}/{e.threads if e.threads is not None else '-'}", fps,
            _fmt(r.latency.p50_ms), _fmt(r.latency.p90_ms), _fmt(r.latency.p99_ms),
            _fmt(r.gflops_per_s, 1), "-" if r.peak_fraction is None else f"{r.peak_fraction:.0%}",
            f"{r.load_ms:.0f}+{r.first_inference_ms:.1f}", _noise(r),
        )
    return t


def render_run(run: BenchRun, time_s: float) -> Group:
    lower = " (lower bound: " + ", ".join(run.unknown_ops) + " not counted)" if run.unknown_ops else ""
    title = f"{run.model}: {_mflops(run.flops_per_frame)} per frame{lower}; {time_s:g} s per configuration"
    parts: list[Any] = [results_table(run.results, title)]
    for reason in dict.fromkeys(s.reason for s in run.skipped):
        parts.append(Text(f"skipped: {reason}", style="dim"))
    if run.peaks:
        peaks = ", ".join(f"{k} {v['gflops']:.0f} {'GOP/s' if 'int' in k else 'GFLOP/s'} "
                          f"({v['measured_with']}{', NOISY' if v.get('noisy') else ''})"
                          for k, v in run.peaks.items() if v)
        parts.append(Text(f"peak (measured GEMM): {peaks}", style="dim"))
    for n in run.notes:
        parts.append(Text(n, style="dim"))
    return Group(*parts)


def devices_table(found: DeviceList) -> Group:
    t = Table("", (Col("backend", ID), Col("device", ID), Col("name"), Col("precisions")))
    for d in found.devices:
        t.add_row(d.backend, d.device, d.name, ", ".join(d.precisions))
    return Group(t, *(Text(n, style="dim") for n in found.notes))


def tune_view(tunes: list[Any], settings_by_device: dict[str, dict[str, Any]]) -> Group:
    parts: list[Any] = []
    for tune in tunes:
        dev = f"{tune.device.backend}/{tune.device.device}"
        slo = f" p99 <= {tune.latency_slo_ms:g} ms" if tune.latency_slo_ms is not None else ""
        parts.append(results_table(list(tune.pareto), f"{dev}: throughput vs p99 Pareto front "
                                   f"({len(tune.evaluated)} of {tune.space_size} points measured, "
                                   f"{tune.elapsed_s:.0f} s)"))
        if tune.best is None:
            parts.append(Text(f"{dev}: no configuration met{slo or ' the search'}", style="bold red"))
            continue
        b = tune.best
        parts.append(Text(f"{dev} best{slo}: {b.config.label()}: {b.throughput_fps:,.1f} fps, "
                          f"p99 {b.latency.p99_ms:.2f} ms", style="bold green"))
        s = settings_by_device.get(dev, {})
        for key, value in s.items():  # the backend's own deploy settings, and the model note
            if key not in ("backend", "device", "precision", "batch", "requests_in_flight", "triton_config"):
                # a mapping as JSON, to paste into code or a config as is
                parts.append(Text(f"  {key}: {json.dumps(value) if isinstance(value, dict) else value}"))
        snippet = s.get("triton_config", "").splitlines()
        parts.append(Text("  Triton config.pbtxt:\n" + "\n".join("    " + line for line in snippet)))
    return Group(*parts)


def comparison_table(cmp: Comparison) -> Group:
    t = Table(f"{cmp.before_name} -> {cmp.after_name}", (
        Col("configuration"), Col("fps before", NUM), Col("fps after", NUM), Col("change (95% CI)", NUM),
        Col("p99 before", NUM, drop=1), Col("p99 after", NUM, drop=1), Col("verdict")), wide_option="--wide")
    for p in cmp.pairs:
        names = ("backend", "device", "model", "batch", "mode", "precision", "streams", "threads")
        k = dict(zip(names, p.key, strict=True))
        label = f"{k['backend']}/{k['device']} {k['model']} {k['precision']} b{k['batch']} {k['mode']}"
        if k["streams"] is not None:
            label += f" s{k['streams']}"
        if k["threads"] is not None:
            label += f" t{k['threads']}"
        j = p.to_json()
        ratio, change = j["throughput_fps"]["ratio"], j["throughput_change"]
        if change is not None:
            shown = f"{change['relative']:+.1%} [{change['ci95'][0]:+.1%}, {change['ci95'][1]:+.1%}]"
        else:
            shown = "-" if ratio is None else f"{ratio - 1:+.1%} (no CI)"
        style = {"faster": "green", "slower": "red"}.get(p.verdict.split()[0], "")
        t.add_row(label, _fmt(j["throughput_fps"]["before"], 1), _fmt(j["throughput_fps"]["after"], 1), shown,
                  _fmt(j["p99_ms"]["before"]), _fmt(j["p99_ms"]["after"]), Text(p.verdict, style=style))
    return Group(t, *(Text(n, style="dim") for n in cmp.notes))


def results_csv(results: list[dict[str, Any]]) -> str:
    return csv_text(CSV_FIELDS, [_csv_row(r) for r in results])


def _csv_row(r: dict[str, Any]) -> dict[str, Any]:
    lat = r["latency_ms"]
    return {
        **{k: r.get(k) for k in CSV_FIELDS if k in r},
        "p50_ms": lat["p50"], "p90_ms": lat["p90"], "p99_ms": lat["p99"], "mean_ms": lat["mean"],
        "min_ms": lat["min"], "max_ms": lat["max"],
        "load_ms": r["cold_start"]["load_ms"], "first_inference_ms": r["cold_start"]["first_inference_ms"],
        "foreign_cores_before": r["foreign_load"]["before"]["foreign_cores"],
        "foreign_cores_during": r["foreign_load"]["during"]["foreign_cores"],
        "throughput_spread_relative": (r.get("throughput_spread") or {}).get("relative"),
    }
