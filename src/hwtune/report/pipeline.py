"""The request pipeline on the report page: where the milliseconds of a request go (a stacked bar
per decoder) and the cores each stage needs at the model's rate, from the newest saved
`hwtune bench run --pipeline image` run. Pure: a saved run's dict in, HTML out."""

from __future__ import annotations

from html import escape
from typing import Any

from hwtune.report.layout import cell, table
from hwtune.report.svg import PALETTE, Axis, fmt, stacked_bars


def newest_pipeline_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = [r for r in runs if isinstance(r.get("decoders"), list) and r.get("pipeline") and r["decoders"]]
    return found[-1] if found else None


def pipeline_section(runs: list[dict[str, Any]]) -> str:
    doc = newest_pipeline_run(runs)
    if doc is None:
        return ""
    try:
        return _section(doc)
    except (KeyError, TypeError, ValueError, StopIteration):  # a hand-edited or older file: said, not drawn
        return '<h3>Request pipeline</h3><p class="note">the newest pipeline run could not be read</p>'


def _section(doc: dict[str, Any]) -> str:
    runs = doc["decoders"]
    names = [s["stage"] for s in runs[0]["stages"]]
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    bars = [(str(r["decoder"]), [(s["stage"], float(s["mean_ms"]), colors[s["stage"]]) for s in r["stages"]])
            for r in runs]
    m = doc.get("model") or {}
    chart = stacked_bars(f"Where a request's milliseconds go: {m.get('name')} on {m.get('backend')}/"
                         f"{m.get('device')}", bars, Axis("mean ms per request, by stage"))
    first = runs[0]
    neck = first["bottleneck"]
    rows = [(escape(s["stage"]), cell(s["p50_ms"]), cell(s["p99_ms"]), cell(s["cpu_ms"]),
             cell(s["requests_per_s_per_core"]), cell(neck["cores_needed"].get(s["stage"])))
            for s in first["stages"]]
    rows.append(("<b>all stages</b>", cell(first["end_to_end_ms"]["p50"]), cell(first["end_to_end_ms"]["p99"]),
                 "", "", cell(neck["cores_needed_total"])))
    cores = table(("stage", "p50 ms", "p99 ms", "CPU ms", "requests/s per core",
                   f"cores at {fmt(neck['model_rate_qps'])} QPS"), rows)
    return ("<h3>Request pipeline</h3>" + f'<div class="charts">{chart}</div>'
            + f"<p><b>{escape(str(first['finding']))}</b></p>"
            + f'<p class="note">cores per stage with {escape(str(first["decoder"]))} on '
            + f'{neck["host_cores"]} usable cores</p>' + cores)
