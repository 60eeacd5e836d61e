"""Rendering of serving results: rich tables and CSV. Nothing here measures."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from hwtune.tables import ID, NUM, Col, Table
from hwtune.text import csv_text

CSV_FIELDS = ("scenario", "backend", "device", "model", "max_batch_size", "max_queue_delay_us", "instances",
              "max_qps", "samples_per_s", "p50_ms", "p90_ms", "p99_ms", "latency_slo_ms", "valid", "shortened",
              "loadgen_log_dir")


def _f(x: Any, digits: int = 2) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def results_table(results: list[dict[str, Any]], title: str) -> Table:
    t = Table(title, (
        Col("model", ID), Col("device", ID), Col("batching", drop=1), Col("inst", NUM, drop=2), Col("max QPS", NUM),
        Col("samples/s", NUM, drop=2), Col("p50 ms", NUM, drop=3), Col("p90 ms", NUM, drop=3), Col("p99 ms", NUM),
        Col("LoadGen", ID), Col("foreign", ID)), wide_option="--wide")
    for r in results:
        b = r["batching"]
        batching = f"<= {b['max_batch_size']}, {b['max_queue_delay_us']} us" if b["max_batch_size"] > 1 else "none"
        lat = r["latency_ms"]
        t.add_row(r["model"], f"{r['backend']}/{r['device']}", batching, str(r["instances"]),
                  _f(r.get("max_qps"), 1), _f(r.get("throughput_fps"), 1), _f(lat.get("p50")), _f(lat.get("p90")),
                  _f(lat.get("p99")), Text("VALID" if r["valid"] else "INVALID",
                                           style="green" if r["valid"] else "bold red"), _foreign(r))
    return t


def _foreign(r: dict[str, Any]) -> Text:
    """CPU other processes used during the reported run (cores): what disturbed it, if anything."""
    f = r.get("foreign_cores")
    if f is None:
        return Text("-", style="dim")
    return Text(f"NOISY {f:.2f}", style="bold yellow") if r.get("noisy") else Text(f"{f:.2f}", style="dim")


def curve_table(r: dict[str, Any]) -> Table:
    t = Table(f"{r['model']} ({r['backend']}/{r['device']}): QPS vs p99, the search's runs", (
        Col("QPS", NUM), Col("p50 ms", NUM, drop=2), Col("p90 ms", NUM, drop=2), Col("p99 ms", NUM),
        Col("run s", NUM, drop=1), Col("p99 in budget", ID), Col("LoadGen", ID), Col("foreign", NUM)),
        wide_option="--wide")
    for p in r.get("curve", []):
        lat = p["latency_ms"]
        t.add_row(_f(p["qps"], 1), _f(lat["p50"]), _f(lat["p90"]), _f(lat["p99"]), f"{p['min_duration_s']:g}",
                  "yes" if p["within_slo"] else "no", "VALID" if p["valid"] else "INVALID",
                  _f(p.get("foreign_cores")))
    return t


def scenario_view(doc: dict[str, Any]) -> Group:
    slo = doc.get("latency_slo_ms")
    title = f"{doc['scenario']} scenario (MLPerf LoadGen)" + (f", p99 budget {slo:g} ms" if slo else "")
    parts: list[Any] = [results_table(doc["results"], title)]
    if doc["scenario"] == "server":
        for r in doc["results"]:
            parts.append(curve_table(r))
    for t in doc.get("batching_tune", []):
        gain = t.get("batching_gain")
        label = f"{t['model']} on {t['backend']}/{t['device']}"
        if t["best"] is None:
            parts.append(Text(f"{label}: no batching setting reached a VALID max QPS within {slo:g} ms",
                              style="bold red"))
            continue
        base = t["max_qps_without_batching"]
        parts.append(Text(f"{label}: dynamic batching buys {_gain_text(gain)} within p99 <= {slo:g} ms "
                          f"({_f(base, 1)} -> {_f(t['max_qps_best'], 1)} QPS)", style="bold green"))
        parts.append(Text("  Triton config.pbtxt:\n" + "\n".join("    " + x for x in t["triton_config"].splitlines())))
    for r in doc["results"]:
        if r.get("invalid_reasons"):
            parts.append(Text(_invalid_line(r), style="yellow"))
    for rep in doc.get("repeats", []):
        parts.append(Text(_repeat_line(rep)))
    for r in doc["results"]:
        for n in r.get("notes", []):
            parts.append(Text(n, style="dim"))
            break
        break
    parts.append(Text("LoadGen logs: " + ", ".join(r["loadgen_log_dir"] or "-" for r in doc["results"]), style="dim"))
    return Group(*parts)


def _invalid_line(r: dict[str, Any]) -> str:
    head = f"{r['model']} ({r['backend']}/{r['device']}): "
    if r.get("max_qps") is not None and not r["valid"]:
        p99 = r["latency_ms"].get("p99")
        head += f"{r['max_qps']:,.1f} QPS at p99 {_f(p99)} ms, "
        return head + "; ".join(r["invalid_reasons"])
    return head + "LoadGen INVALID: " + "; ".join(r["invalid_reasons"])


def _repeat_line(rep: dict[str, Any]) -> str:
    each = ", ".join("-" if q is None else f"{q:,.1f}" + ("" if ok else " (not VALID)")
                     for q, ok in zip(rep["max_qps"], rep["valid"], strict=True))
    label = f"{rep['model']} ({rep['backend']}/{rep['device']}): max QPS of {rep['runs']} runs: {each}"
    if rep["median_qps"] is None:
        return label
    low, high = rep["interval_qps"]
    return (f"{label}; median {rep['median_qps']:,.1f}, interval [{low:,.1f}, {high:,.1f}] "
            f"({rep['interval_coverage'] * 100:.0f}% coverage), max/min {rep['max_over_min']:.2f}")


def _gain_text(gain: float | None) -> str:
    if gain is None:
        return "an unknown amount (no VALID QPS without it)"
    return f"{(gain - 1) * 100:+.0f}% QPS" if abs(gain - 1) >= 0.005 else "nothing"


def results_csv(results: list[dict[str, Any]]) -> str:
    return csv_text(CSV_FIELDS, [_csv_row(r) for r in results])


def _csv_row(r: dict[str, Any]) -> dict[str, Any]:
    lat = r["latency_ms"]
    return {**{k: r.get(k) for k in CSV_FIELDS if k in r}, **r["batching"],
            "samples_per_s": r.get("throughput_fps"), "p50_ms": lat.get("p50"), "p90_ms": lat.get("p90"),
            "p99_ms": lat.get("p99")}
