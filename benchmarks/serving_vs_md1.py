"""LoadGen's server scenario against queueing theory: a fixed-time model must behave as M/D/1.

The built-in fixed-time model (`fixed:D`) serves one request at a time in
exactly D. Under LoadGen's Poisson arrivals that is an M/D/1 queue, whose
latency distribution is known exactly (hwtune.bench.serving.queueing). Two checks:

1. Fixed loads: LoadGen runs at utilisations rho for --hold seconds each; the
   measured p50/p90/p99 and mean against the exact M/D/1 values at the rate
   LoadGen actually scheduled (its "Scheduled samples per second").
2. The search: `serve()` (what `hwtune bench serve --scenario server` runs) finds the
   max QPS with p99 within the budget that LoadGen calls VALID; against the
   theoretical max rate lambda* (p99 = budget) and against lambda_ES, the rate
   at which a run of that length expects no more overlatency queries than
   LoadGen's early stopping allows (a finite run must stay somewhat below
   lambda* to be VALID); and the p99 measured at the QPS found against the
   theoretical p99 at the rate LoadGen scheduled.

Target: within 10%. Each run also records the CPU other processes used
(foreign cores): on a shared machine, late thread wake-ups add to every
latency LoadGen measures.

Usage: python benchmarks/serving_vs_md1.py [--service-ms 5] [--slo-ms 40] [--hold 30]
       [--rho 0.3,0.5,0.7,0.8] [--step 3] [--duration 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from hwtune.bench.serving import queueing
from hwtune.bench.serving.batcher import NO_BATCHING
from hwtune.bench.serving.loadgen import RunSettings
from hwtune.bench.serving.serve import Server, fixed_model, serve


def _ratio(measured: float | None, theory: float) -> float | None:
    return None if measured is None else round(measured / theory, 3)


def fixed_loads(d: float, slo_ms: float, rhos: list[float], hold_s: float, logs: Path) -> list[dict]:
    rows = []
    server = Server(fixed_model(f"fixed:{d * 1e3:g}ms", d, 0.0), NO_BATCHING, logs / "fixed-loads")
    try:
        for rho in rhos:
            qps = rho / d
            print(f"  rho {rho}: {qps:.1f} QPS for {hold_s:g} s", file=sys.stderr)
            run = server.run(RunSettings("server", hold_s, target_qps=qps, latency_slo_ms=slo_ms))
            rate = run.scheduled_qps or qps
            row = {"rho_target": rho, "qps_target": round(qps, 2), "qps_scheduled": rate,
                   "queries": round(rate * hold_s), "foreign_cores": round(run.foreign_cores or 0.0, 2),
                   "valid": run.valid}
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                theory = queueing.sojourn_quantile(q, rate, d) * 1e3
                row[name] = {"measured_ms": round(run.latency_ms[name], 3), "theory_ms": round(theory, 3),
                             "ratio": _ratio(run.latency_ms[name], theory)}
            mean = queueing.mean_sojourn_s(rate, d) * 1e3
            row["mean"] = {"measured_ms": round(run.latency_ms["mean"], 3), "theory_ms": round(mean, 3),
                           "ratio": _ratio(run.latency_ms["mean"], mean)}
            rows.append(row)
    finally:
        server.close()
    return rows


def search(d: float, slo_ms: float, step_s: float, duration_s: float, logs: Path) -> dict:
    t0 = time.perf_counter()
    res = serve(fixed_model(f"fixed:{d * 1e3:g}ms", d, 0.0), "server", NO_BATCHING,
                latency_slo_ms=slo_ms, duration_s=duration_s, step_s=step_s, log_base=logs / "search",
                report=lambda m: print("  " + m, file=sys.stderr))
    wall = time.perf_counter() - t0
    lam = queueing.max_rate_within(slo_ms / 1e3, 0.99, d)
    lam_es = queueing.max_rate_valid(slo_ms / 1e3, 0.99, d, duration_s)
    out = {"theory_max_qps": round(lam, 2), "theory_valid_qps": round(lam_es, 2), "max_qps": res.max_qps,
           "valid": res.valid, "max_qps_ratio": _ratio(res.max_qps, lam),
           "max_qps_ratio_es": _ratio(res.max_qps, lam_es),
           "wall_s": round(wall, 1), "steps": len(res.curve),
           "foreign_cores": round(res.run.foreign_cores, 2) if res.run and res.run.foreign_cores is not None else None,
           "curve": [p.to_json() for p in res.curve]}
    if res.run is not None and res.max_qps:
        rate = res.run.scheduled_qps or res.max_qps
        p99_theory = queueing.sojourn_quantile(0.99, rate, d) * 1e3
        out.update({"qps_scheduled": rate, "p99_ms": round(res.run.latency_ms["p99"], 3),
                    "p99_theory_ms": round(p99_theory, 3), "p99_ratio": _ratio(res.run.latency_ms["p99"], p99_theory)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--service-ms", type=float, default=5.0)
    ap.add_argument("--slo-ms", type=float, default=40.0)
    ap.add_argument("--rho", default="0.3,0.5,0.7,0.8")
    ap.add_argument("--hold", type=float, default=30.0, help="seconds per fixed-load run")
    ap.add_argument("--step", type=float, default=3.0, help="seconds per search step")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of the search's confirming run")
    ap.add_argument("--logs", type=Path, default=None, help="keep LoadGen's logs here (default: a temporary folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    d = args.service_ms / 1e3
    with tempfile.TemporaryDirectory(prefix="hwtune-md1-") as tmp:
        logs = args.logs or Path(tmp)
        started = datetime.now(UTC).isoformat(timespec="seconds")
        print(f"fixed {args.service_ms:g} ms service, p99 budget {args.slo_ms:g} ms: fixed loads", file=sys.stderr)
        loads = fixed_loads(d, args.slo_ms, [float(x) for x in args.rho.split(",")], args.hold, logs)
        print("search", file=sys.stderr)
        found = search(d, args.slo_ms, args.step, args.duration, logs)
    doc = {"started_utc": started, "machine": platform.node(), "python": platform.python_version(),
           "service_ms": args.service_ms, "slo_ms": args.slo_ms, "hold_s": args.hold, "fixed_loads": loads,
           "search": found}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"M/D/1 check, fixed {args.service_ms:g} ms service, {started}\n")
    print("| rho | QPS scheduled | queries | p50 ms (theory) | p90 ms (theory) | p99 ms (theory) | mean ms (theory) | "
          "p99 ratio | foreign cores |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in loads:
        cells = " | ".join(f"{r[k]['measured_ms']:.2f} ({r[k]['theory_ms']:.2f})"
                           for k in ("p50", "p90", "p99", "mean"))
        print(f"| {r['rho_target']} | {r['qps_scheduled']:.1f} | {r['queries']} | {cells} | {r['p99']['ratio']} | "
              f"{r['foreign_cores']} |")
    f = found
    print(f"\nsearch (p99 <= {args.slo_ms:g} ms, steps {args.step:g} s, confirming run {args.duration:g} s), "
          f"{f['steps']} runs, {f['wall_s']} s:\n")
    print("| QPS offered | run s | p50 ms | p90 ms | p99 ms | p99 in budget | LoadGen | foreign cores |")
    print("|---:|---:|---:|---:|---:|---|---|---:|")
    for p in f["curve"]:
        lat = p["latency_ms"]
        print(f"| {p['qps']:.1f} | {p['min_duration_s']:g} | {lat['p50']} | {lat['p90']} | {lat['p99']} | "
              f"{'yes' if p['within_slo'] else 'no'} | {'VALID' if p['valid'] else 'INVALID'} | {p['foreign_cores']} |")
    mq = f"{f['max_qps']:.1f}" if f["max_qps"] else "none"
    print(f"\nmax QPS {mq} (LoadGen {'VALID' if f['valid'] else 'INVALID'}); theory: lambda* {f['theory_max_qps']} "
          f"(ratio {f['max_qps_ratio']}), lambda_ES for a {args.duration:g} s run {f['theory_valid_qps']} "
          f"(ratio {f['max_qps_ratio_es']}); p99 there {f.get('p99_ms')} ms vs theory {f.get('p99_theory_ms')} ms "
          f"at the scheduled {f.get('qps_scheduled')} QPS: ratio {f.get('p99_ratio')}; "
          f"foreign cores {f['foreign_cores']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
