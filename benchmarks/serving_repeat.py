"""Does the server search repeat? The same `hwtune bench serve --scenario server` run N times in a row.

Each run is a fresh `hwtune` process, as a user would start it (default:
`hwtune bench serve --scenario server --latency-slo 40ms`: the built-in
plate-classifier on every backend found, the default search). Per run and
backend: LoadGen's verdict, the max QPS, its p99, the closed-loop capacity,
the search's runs and wall time, and the CPU other processes took (the
foreign-load meter, the most any of its runs saw) with the load average
before and after, because on a shared machine that is what moves the answer.

Goal (issue 25): every run VALID, and max / min of the max QPS at most 1.2,
on an idle machine.

Usage: python benchmarks/serving_repeat.py [--runs 5] [--backend all] [--model plate-classifier]
       [--slo 40ms] [--json] [-- EXTRA hwtune bench OPTIONS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from hwtune.bench.stats import median_interval


def one_run(args: argparse.Namespace, data_dir: str) -> dict:
    cmd = [sys.executable, "-m", "hwtune", "bench", "serve", "--scenario", "server", "--latency-slo", args.slo,
           "--json", "--no-save", *(["--backend", args.backend] if args.backend != "all" else []),
           *(["--model", args.model] if args.model else []), *args.extra]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                         env={**os.environ, "HWTUNE_DATA_DIR": data_dir})
    wall = time.perf_counter() - t0
    out = {"exit_code": res.returncode, "wall_s": round(wall, 1), "load_before": [round(x, 2) for x in load_before],
           "load_after": [round(x, 2) for x in os.getloadavg()], "results": []}
    if res.returncode not in (0, 6):
        out["error"] = res.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return out
    for r in json.loads(res.stdout)["results"]:
        foreign = [p["foreign_cores"] for p in r["curve"] if p.get("foreign_cores") is not None]
        out["results"].append({
            "backend": r["backend"], "device": r["device"], "valid": r["valid"], "max_qps": r["max_qps"],
            "p99_ms": r["latency_ms"].get("p99"), "capacity_sps": r["capacity_closed_loop_sps"],
            "runs": len(r["curve"]), "elapsed_s": r["elapsed_s"], "invalid_reasons": r["invalid_reasons"],
            "foreign_cores_max": max(foreign) if foreign else None,
            "foreign_cores_confirming": r["foreign_cores"]})
    return out


def summary(runs: list[dict]) -> list[dict]:
    keys = sorted({(r["backend"], r["device"]) for run in runs for r in run["results"]})
    rows = []
    for key in keys:
        got = [r for run in runs for r in run["results"] if (r["backend"], r["device"]) == key]
        qps = [r["max_qps"] for r in got if r["max_qps"]]
        m = median_interval(qps)
        rows.append({"backend": key[0], "device": key[1], "runs": len(runs), "valid": sum(r["valid"] for r in got),
                     "max_qps": [r["max_qps"] for r in got],
                     "median": m.median if m else None, "interval": [m.low, m.high] if m else None,
                     "coverage": round(m.coverage, 4) if m else None,
                     "max_over_min": round(max(qps) / min(qps), 3) if qps else None,
                     "goal_met": len(got) == len(runs) and all(r["valid"] for r in got)
                     and bool(qps) and max(qps) / min(qps) <= 1.2})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", default="all")
    ap.add_argument("--model", default="")
    ap.add_argument("--slo", default="40ms")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("extra", nargs="*", help="more hwtune bench options, after --")
    args = ap.parse_args()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    runs = []
    with tempfile.TemporaryDirectory(prefix="hwtune-serving-repeat-") as data_dir:
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs} (load average {os.getloadavg()[0]:.2f})", file=sys.stderr)
            runs.append(one_run(args, data_dir))
    doc = {"started_utc": started, "machine": platform.node(), "cpus": os.cpu_count(),
           "python": platform.python_version(), "slo": args.slo, "runs": runs, "summary": summary(runs)}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"serving repeatability, p99 budget {args.slo}, {args.runs} runs from {started}\n")
    print("| run | backend | LoadGen | max QPS | p99 ms | capacity/s | runs | search s "
          "| foreign cores (max, confirming) | load avg before -> after | exit |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---|---|---:|")
    for i, run in enumerate(runs, 1):
        if "error" in run:
            print(f"| {i} | - | error: {run['error'][0]} | | | | | | | {run['load_before'][0]} -> "
                  f"{run['load_after'][0]} | {run['exit_code']} |")
        for r in run["results"]:
            verdict = "VALID" if r["valid"] else "not VALID"
            qps = f"{r['max_qps']:.1f}" if r["max_qps"] else "-"
            print(f"| {i} | {r['backend']}/{r['device']} | {verdict} | {qps} | {r['p99_ms']} | {r['capacity_sps']:.0f} "
                  f"| {r['runs']} | {r['elapsed_s']:.0f} | {r['foreign_cores_max']}, {r['foreign_cores_confirming']} "
                  f"| {run['load_before'][0]} -> {run['load_after'][0]} | {run['exit_code']} |")
    print()
    for s in summary(runs):
        spread = (f"median {s['median']:.1f}, interval [{s['interval'][0]:.1f}, {s['interval'][1]:.1f}] "
                  f"({s['coverage'] * 100:.0f}%), max/min {s['max_over_min']}") if s["median"] else "no number"
        print(f"{s['backend']}/{s['device']}: {s['valid']}/{s['runs']} VALID; {spread}; "
              f"goal (all VALID, max/min <= 1.2) {'met' if s['goal_met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
