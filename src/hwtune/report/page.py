"""`hwtune report`: one HTML page for one host, from the JSON the other commands write.

Every input but the check report is optional; a missing one is a line on the
page ("no bench runs saved yet"), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from hwtune.report import bench
from hwtune.report.layout import STATUS_COLOR, badge, cell, counts_line, empty, page, table
from hwtune.report.pipeline import pipeline_section
from hwtune.report.svg import PALETTE, Axis, Series, bar_chart, fmt, xy_chart

PROBLEMS = ("FAIL", "ERROR", "WARN")
MAX_CHARTS = 4  # per kind; a page is read at a glance, the JSON keeps the rest
QUANTILE_DASH = (("p50", ""), ("p90", "2 3"), ("p99", "7 4"))


@dataclass(frozen=True)
class ReportInputs:
    hostname: str
    report: dict[str, Any]  # `hwtune check --json`
    generated: str  # when the page was made, ISO 8601
    facts: dict[str, Any] | None = None  # `hwtune facts --json`
    bench_runs: list[dict[str, Any]] = field(default_factory=list)  # inputs.load_bench_runs().docs
    recommend: dict[str, Any] | None = None  # `hwtune recommend --json`
    journals: list[dict[str, Any]] = field(default_factory=list)  # apply journals
    notes: list[str] = field(default_factory=list)  # inputs passed over, with the reason


def _gib(kib: Any) -> str | None:
    return f"{kib / 1024 ** 2:.1f} GiB" if isinstance(kib, (int, float)) else None


def summary_rows(facts_json: dict[str, Any] | None) -> list[tuple[str, Any]]:
    f = (facts_json or {}).get("facts", {})
    topo = [f.get(k) for k in ("cpu.sockets", "cpu.cores", "cpu.threads")]
    gpus = (facts_json or {}).get("gpus") or []
    names: dict[str, int] = {}
    for g in gpus:
        names[g.get("name") or "unknown GPU"] = names.get(g.get("name") or "unknown GPU", 0) + 1
    rows = [
        ("CPU", f.get("cpu.model")),
        ("sockets/cores/threads", " / ".join(str(v) if v is not None else "?" for v in topo)),
        ("memory", _gib(f.get("mem.total_kib"))),
        ("NUMA nodes", f.get("numa.nodes")),
        ("kernel", f.get("kernel.release")),
        ("OS", f.get("os.pretty_name")),
        ("machine", " ".join(str(f[k]) for k in ("virt.dmi_vendor", "virt.dmi_product") if f.get(k)) or None),
        ("container", f.get("virt.container")),
        ("cpufreq driver", f.get("cpufreq.driver")),
        ("governors", f.get("cpufreq.governors")),
        ("boost", f.get("cpufreq.boost")),
        ("THP", f.get("mm.thp_enabled")),
        ("GPUs", ", ".join(f"{n} x {name}" for name, n in names.items()) if gpus else "none found"),
        ("NVIDIA driver", f.get("nvidia.driver_version")),
        ("ONNX Runtime", f.get("onnxruntime.version")),
        ("OpenVINO", f.get("openvino.version")),
    ]
    return [(k, v) for k, v in rows if v not in (None, "", "? / ? / ?")]


def _summary(inp: ReportInputs) -> str:
    rows = summary_rows(inp.facts)
    if not rows:
        return "<h2>Host</h2>" + empty("no facts were given (hwtune facts --json)")
    items = "".join(f"<div><b>{escape(k)}</b> {cell(v)}</div>" for k, v in rows)
    return f'<h2>Host</h2><div class="summary">{items}</div>'


def _findings(report: dict[str, Any]) -> str:
    results = report.get("results", [])
    problems = sorted((r for r in results if r.get("status") in PROBLEMS),
                      key=lambda r: PROBLEMS.index(r["status"]) if r["status"] != "ERROR" else 0.5)
    parts = [f"<h2>Findings</h2><p>{counts_line(report.get('counts', {}))}</p>"]
    if not problems:
        parts.append(empty("nothing to fix: every check passed or was skipped"))
    for r in problems:
        color = STATUS_COLOR.get(r["status"], "#999")
        fix = f'<div>fix:</div><pre class="fix">{escape(r["fix"])}</pre>' if r.get("fix") else ""
        source = r.get("source") or ""
        link = (f' <a href="{escape(source.split()[0])}" rel="noreferrer">source</a>'
                if source.startswith(("https://", "http://")) else escape(source))
        parts.append(
            f'<div class="finding" style="--c:{color}">{badge(r["status"])} <b>{escape(r.get("id", ""))}</b> '
            f'{escape(r.get("title", ""))}<div>{escape(r.get("message") or "")}</div>'
            f'<div>observed: <code>{cell(r.get("observed"))}</code>; expected: <code>{cell(r.get("expected"))}</code>'
            f'</div>{fix}<div class="why">why: {escape(r.get("rationale") or "")}{link}</div></div>')
    return "".join(parts)


def _all_checks(report: dict[str, Any]) -> str:
    rows = [(badge(r.get("status", "?")), f"<code>{escape(r.get('id', ''))}</code>", escape(r.get("title", "")),
             cell(r.get("observed")) if r.get("status") != "SKIP" else escape(f"skipped: {r.get('message')}"),
             cell(r.get("expected"))) for r in report.get("results", [])]
    return "<h2>Every check</h2>" + table(("status", "check", "title", "observed", "expected"), rows)


def _colors(labels: list[str]) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def latency_charts(results: list[dict[str, Any]]) -> list[str]:
    charts = []
    for model, groups in list(bench.latency_by_batch(results).items())[:MAX_CHARTS]:
        colors = _colors(list(groups))
        series = []
        for label, points in groups.items():
            for i, (q, dash) in enumerate(QUANTILE_DASH):
                pts = tuple((p[0], p[i + 1]) for p in points)
                tips = tuple(f"{label} batch {p[0]}: {q} {fmt(p[i + 1])} ms" for p in points)
                series.append(Series(label, pts, colors[label], dash, tips=tips))
        styles = tuple(Series(q, (), "#555", dash, marker=False) for q, dash in QUANTILE_DASH)
        charts.append(xy_chart(f"Latency percentiles vs batch: {model} (sync)", series,
                               Axis("batch size (samples per request, log scale)", log2=True),
                               Axis("latency per request (ms)"), legend_extra=styles))
    return charts


def throughput_charts(results: list[dict[str, Any]]) -> list[str]:
    charts = []
    for model, groups in list(bench.throughput_by_streams(results).items())[:MAX_CHARTS]:
        colors = _colors(list(groups))
        series = [Series(label, tuple(points), colors[label],
                         tips=tuple(f"{label}: {s} streams, {fmt(t)} samples/s" for s, t in points))
                  for label, points in groups.items()]
        charts.append(xy_chart(f"Throughput vs streams: {model} (async)", series,
                               Axis("streams (requests in flight)"), Axis("throughput (samples/s)")))
    return charts


def _tips(configs: dict[tuple[float, float], str], pts: list[tuple[float, float]]) -> tuple[str, ...]:
    return tuple(f"{configs[p]}: p99 {fmt(p[0])} ms, {fmt(p[1])} samples/s" for p in pts)


def pareto_charts(results: list[dict[str, Any]]) -> list[str]:
    charts = []
    for title, points in list(bench.tuner_points(results).items())[:MAX_CHARTS]:
        xy = [(r["latency_ms"]["p99"], r["throughput_fps"]) for r in points]
        configs = {(r["latency_ms"]["p99"], r["throughput_fps"]): bench.config_text(r) for r in points}
        front = bench.pareto_front(xy)
        others = [p for p in xy if p not in front]
        series = [Series("configurations tried", tuple(others), "#999999", line=False, tips=_tips(configs, others)),
                  Series("Pareto front (nothing beats these on both throughput and p99)", tuple(front),
                         PALETTE[3], tips=_tips(configs, front))]
        charts.append(xy_chart(f"Pareto front: {title}", series,
                               Axis("p99 latency (ms)"), Axis("throughput (samples/s)")))
    return charts


def serving_charts(results: list[dict[str, Any]]) -> list[str]:
    """QPS vs p99 of the server scenario's search, the budget as a line, the max QPS LoadGen called VALID."""
    charts = []
    for title, entry in list(bench.serving_curves(results).items())[:MAX_CHARTS]:
        colors = _colors(list(entry["series"]))
        series = [Series(label, tuple((q, p) for q, p, _ in pts), colors[label], tips=tuple(t for *_, t in pts))
                  for label, pts in entry["series"].items()]
        qps = [q for pts in entry["series"].values() for q, _, _ in pts]
        if entry["slo_ms"] and qps:
            budget = ((0.0, entry["slo_ms"]), (max(qps), entry["slo_ms"]))
            series.append(Series(f"p99 budget {entry['slo_ms']:g} ms", budget, "#999999", dash="6 4", marker=False))
        if entry["max"]:
            series.append(Series("max QPS (LoadGen VALID)", tuple((q, p) for q, p, _ in entry["max"]), PALETTE[3],
                                 line=False, tips=tuple(t for *_, t in entry["max"])))
        charts.append(xy_chart(f"Server scenario: QPS vs p99, {title}", series,
                               Axis("offered load (queries/s, Poisson)"),
                               Axis("p99 latency (ms, log scale)", log2=True)))
    return charts


def _bench(inp: ReportInputs) -> str:
    head = "<h2>Benchmarks</h2>"
    if not inp.bench_runs:
        return head + empty("no bench runs saved yet (run: hwtune bench)")
    results = [r for run in inp.bench_runs for r in run["results"]]
    charts = latency_charts(results) + throughput_charts(results) + pareto_charts(results) + serving_charts(results)
    newest = inp.bench_runs[-1]
    rows = [(escape(f"{r.get('backend')}/{r.get('device')}"), escape(str(r.get("model"))),
             escape(f"{r.get('precision_requested')} -> {bench.precision(r)}"), cell(r.get("batch")),
             escape(str(r.get("mode"))), cell(bench.streams_of(r)), cell(r.get("threads")),
             f'<span class="num">{fmt(r["throughput_fps"])}</span>',
             *(cell(r["latency_ms"].get(q)) for q in ("p50", "p90", "p99")),
             "noisy" if r.get("noisy") else "") for r in newest["results"]]
    note = (f'<p class="note">{len(inp.bench_runs)} saved run(s); charts use the newest run that measured each '
            f"series. Newest run: {escape(newest['_run'])}.</p>")
    body = ('<div class="charts">' + "".join(charts) + "</div>") if charts else \
        empty("the saved runs have too few points to draw (one batch size, no async streams, no tuner)")
    return head + note + body + "<h3>Newest run</h3>" + table(
        ("device", "model", "precision asked -> run", "batch", "mode", "streams", "threads", "samples/s",
         "p50 ms", "p90 ms", "p99 ms", ""), rows) + pipeline_section(inp.bench_runs)


def value_chart(doc: dict[str, Any]) -> str:
    rows = [e for e in doc.get("estimates", []) if isinstance(e, dict) and bench.finite(e.get("price_usd"))
            and e["price_usd"] > 0 and bench.finite(e.get("throughput_per_s"))]
    rows.sort(key=lambda e: e["throughput_per_s"] / e["price_usd"], reverse=True)
    classes = _colors(sorted({str(e.get("class", "")) for e in rows}))
    bars = [(f"{e.get('gpu')} {e.get('precision', '')}".strip(), 1000 * e["throughput_per_s"] / e["price_usd"],
             classes[str(e.get("class", ""))],
             f"{e.get('gpu')} ({e.get('class')}, {e.get('precision')}): {fmt(e['throughput_per_s'])}/s "
             f"for {e['price_usd']:,.0f} USD") for e in rows[:20]]
    chart = bar_chart("Performance per dollar", bars, Axis("throughput per 1,000 USD (inferences/s)"))
    legend = " ".join(f'<span style="color:{c}">&#9632;</span> {escape(k or "?")}' for k, c in classes.items())
    return (f'<div class="charts">{chart}</div><p class="note">colour: GPU class: {legend}</p>') if chart else ""


def _recommend(inp: ReportInputs) -> str:
    head = "<h2>Performance per dollar</h2>"
    if not inp.recommend:
        return head + empty("no recommendation given (hwtune recommend --json > rec.json; then --recommend rec.json)")
    chart = value_chart(inp.recommend)
    params = ", ".join(f"{escape(k)}: {cell(v)}" for k, v in inp.recommend.items()
                       if isinstance(v, (str, int, float)) and not isinstance(v, bool))
    return head + (f'<p class="note">{params}</p>' if params else "") + (
        chart or empty("no estimate has a price"))


def _history(inp: ReportInputs) -> str:
    head = "<h2>Apply history</h2>"
    if not inp.journals:
        return head + empty("no apply journal on this host (hwtune apply has not been run)")
    parts = [head]
    journals = sorted(inp.journals, key=lambda j: str(j.get("started", "")), reverse=True)
    rows = [(f"<code>{escape(str(j.get('id')))}</code>", cell(j.get("started")), cell(j.get("profile")),
             escape(str(j.get("state"))), f'<span class="num">{len(j["steps"])}</span>', cell(j.get("finished")),
             cell(j.get("error"))) for j in journals]
    parts.append(table(("journal", "started", "profile", "state", "changes", "finished", "error"), rows))
    for j in journals:
        if j["steps"]:
            steps = [(f"<code>{escape(str(s.get('key')))}</code>", cell(s.get("where")), cell(s.get("old")),
                      cell(s.get("new"))) for s in j["steps"]]
            parts.append(f"<details><summary>{escape(str(j.get('id')))}: {len(steps)} change(s)</summary>"
                         + table(("key", "where", "old", "new"), steps) + "</details>")
    return "".join(parts)


def render_host_report(inp: ReportInputs) -> str:
    report = inp.report
    sub = (f"{badge(report.get('status', '?'))} profile <b>{escape(str(report.get('profile')))}</b> &middot; "
           f"{counts_line(report.get('counts', {}))}")
    notes = "".join(f'<p class="note">skipped input: {escape(n)}</p>' for n in inp.notes)
    body = (_summary(inp) + _findings(report) + _bench(inp) + _recommend(inp) + _history(inp) + _all_checks(report)
            + notes)
    return page(f"hwtune report: {inp.hostname}", sub, body, inp.generated)
