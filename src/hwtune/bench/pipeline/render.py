"""The pipeline result as terminal tables, drawn from its JSON document. Nothing here measures."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from hwtune.bench.pipeline.agree import TOLERANCE
from hwtune.tables import ID, NUM, Col, Table


def _f(x: Any, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _table(title: str, cols: tuple[str, ...], last: str = NUM) -> Table:
    """The first column names the row; the others are numbers (the last may be a name)."""
    kinds = [ID] + [NUM] * (len(cols) - 2) + [last]
    return Table(title, [Col(c, k) for c, k in zip(cols, kinds, strict=True)])


def stage_table(run: dict[str, Any]) -> Table:
    neck = run["bottleneck"]
    t = _table(f"Stages with {run['decoder']} ({run['requests']} requests)",
               ("stage", "p50 ms", "p99 ms", "CPU ms", "req/s/core", f"cores@{neck['model_rate_qps']:,.0f}"))
    for s in run["stages"]:
        cores = neck["cores_needed"].get(s["stage"])
        t.add_row(s["stage"], _f(s["p50_ms"], 2), _f(s["p99_ms"], 2), _f(s["cpu_ms"], 2),
                  _f(s["requests_per_s_per_core"], 0), "-" if cores is None else f"{cores:.2f}")
    e2e = run["end_to_end_ms"]
    t.add_row(Text("end to end", style="bold"), _f(e2e["p50"], 2), _f(e2e["p99"], 2), "", "",
              f"{neck['cores_needed_total']:.2f}")
    return t


def decoder_table(doc: dict[str, Any]) -> Table:
    t = _table("Decoders", ("decoder", "decode p50", "decode CPU", "e2e p50", "host QPS", "limit"), last=ID)
    for r in doc["decoders"]:
        d = next(s for s in r["stages"] if s["stage"] == "decode")
        t.add_row(r["decoder"], _f(d["p50_ms"], 2), _f(d["cpu_ms"], 2), _f(r["end_to_end_ms"]["p50"], 2),
                  _f(r["bottleneck"]["host_qps"], 0), r["bottleneck"]["limiting_stage"])
    return t


def agreement_line(doc: dict[str, Any]) -> Text:
    present = {k.split()[-1] for k in doc["images"]["kinds"]}
    tol = "; ".join(f"{f.upper()} " + ("identical" if m == 0 else f"mean <= {m:g}, p99 <= {p:g}")
                    for f, (m, p) in TOLERANCE.items() if f in present)
    bad = [a for a in doc["agreement"] if not a["within"]]
    if not doc["agreement"]:
        return Text("decoders compared: only Pillow ran", style="dim")
    if not bad:
        worst = max((a["mean_abs_diff"] or 0.0) for a in doc["agreement"])
        return Text(f"decoders agree with Pillow within tolerance ({tol}; worst mean {worst:.2f} levels)")
    a = bad[0]
    why = a["error"] or f"mean {a['mean_abs_diff']:.2f}, p99 {a['p99_abs_diff']:g} levels"
    return Text(f"DISAGREE: {a['decoder']} on {a['image']}: {why} ({len(bad)} image(s) in all; "
                f"tolerance {tol})", style="bold red")


def pipeline_view(doc: dict[str, Any]) -> Group:
    m, im = doc["model"], doc["images"]
    kinds = ", ".join(f"{n} x {k}" for k, n in im["kinds"].items())
    head = [Text(f"pipeline {doc['pipeline']}: {m['name']} on {m['backend']}/{m['device']} ({m['input']}), "
                 f"resizer {doc['resizer']}"),
            Text(f"images: {im['source']}: {kinds}")]
    if im["refused_count"]:
        reasons = ", ".join(f"{n} {k}" for k, n in im["refused_by_reason"].items())
        head.append(Text(f"refused: {im['refused_count']} file(s): {reasons}", style="yellow"))
        for r in im["refused"][:5]:
            head.append(Text(f"  {r['file']}: {r['reason']}", style="dim"))
    parts: list[Any] = head
    if doc["decoders"]:
        first = doc["decoders"][0]
        parts += [stage_table(first), decoder_table(doc),
                  Text(f"stages add up to {first['stages_over_end_to_end']:.0%} of the end-to-end time "
                       f"measured on its own (the plain loop), {first['stages_over_end_to_end_cpu']:.0%} of its "
                       "CPU time", style="dim"),
                  Text(f"limiting stage: {first['finding']}", style="bold")]
        if doc["alternatives"]:
            parts.append(Text("would change it:"))
            parts += [Text(f"  - {a}") for a in doc["alternatives"]]
    parts.append(agreement_line(doc))
    pin = doc.get("pin_stages")
    if pin:
        parts.append(Text(f"--pin-stages: preprocessing on cores {pin['preprocess_cores']}, model on "
                          f"{pin['model_cores']}: {pin['pinned_rps_median']:,.1f} req/s pinned, "
                          f"{pin['unpinned_rps_median']:,.1f} unpinned (medians of {len(pin['pinned_rps'])})"))
    parts += [Text(f"note: {n}", style="dim") for n in doc["notes"]]
    return Group(*parts)
