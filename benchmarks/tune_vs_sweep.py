"""The auto-tuner against an exhaustive sweep of the same space, per device.

For each model and device: the sweep measures every point of the space at
full length; the tuner searches the same space (short windows, then its two
finalists at full length). Wall times are compared. Then the sweep's best and
the tuner's best are measured again, alternating, several rounds, and the
median throughputs compared (when both found the same configuration the
ratio is 1 by construction): the tuner should reach >= 95% of the sweep's
best in <= 1/3 of its time.

Usage: python benchmarks/tune_vs_sweep.py [--models plate-classifier] [--time 1] [--latency-slo MS]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from hwtune.bench.micro.runner import Bench, BenchPlan
from hwtune.bench.micro.tune import TUNE_PRECISIONS, space_for, sweep_device, tune_device
from hwtune.bench.result import BenchResult


def remeasure(bench: Bench, a: BenchResult, b: BenchResult, rounds: int, time_s: float) -> tuple[float, float]:
    fa, fb = [], []
    for _ in range(rounds):
        for cfg, acc in ((a.config, fa), (b.config, fb)):
            out = bench.evaluate(cfg, time_s=time_s)
            assert isinstance(out, BenchResult)
            acc.append(out.throughput_fps)
    return statistics.median(fa), statistics.median(fb)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="plate-classifier")
    ap.add_argument("--backends", default="onnxruntime,openvino")
    ap.add_argument("--time", type=float, default=1.0, help="seconds per point at full length")
    ap.add_argument("--latency-slo", type=float, default=None, help="p99 budget in ms")
    ap.add_argument("--rounds", type=int, default=5, help="alternating re-measurements of the two winners")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for model in args.models.split(","):
        for backend in args.backends.split(","):
            plan = BenchPlan(model=model, backend=backend, devices=("CPU",), precisions=TUNE_PRECISIONS,
                             time_s=args.time, min_count=5)
            bench = Bench(plan)
            info = bench.targets[0]
            space = space_for(bench, info)
            log = lambda m: print("   ", m, file=sys.stderr)  # noqa: E731
            print(f"{model} {backend}: sweep", file=sys.stderr)
            swept = sweep_device(bench, info, args.latency_slo, log, space)
            print(f"{model} {backend}: tune", file=sys.stderr)
            tuned = tune_device(bench, info, args.latency_slo, log, space)
            row = {"model": model, "device": f"{backend}/{info.device}", "space_points": swept.space_size,
                   "latency_slo_ms": args.latency_slo,
                   "sweep_s": round(swept.elapsed_s, 1), "tune_s": round(tuned.elapsed_s, 1),
                   "time_ratio": round(tuned.elapsed_s / swept.elapsed_s, 3),
                   "tune_points": len(tuned.evaluated)}
            if swept.best and tuned.best:
                row.update({"sweep_best": swept.best.config.label(), "tune_best": tuned.best.config.label(),
                            "sweep_best_fps_in_sweep": round(swept.best.throughput_fps, 1)})
                if swept.best.config == tuned.best.config:
                    # The same configuration: the ratio is 1 by construction; re-measuring it would
                    # only measure this machine's run-to-run variation.
                    row.update({"sweep_best_fps": round(swept.best.throughput_fps, 1),
                                "tune_best_fps": round(tuned.best.throughput_fps, 1),
                                "throughput_ratio": 1.0, "same_configuration": True})
                else:
                    s_fps, t_fps = remeasure(bench, swept.best, tuned.best, args.rounds, 2 * args.time)
                    row.update({"sweep_best_fps": round(s_fps, 1), "tune_best_fps": round(t_fps, 1),
                                "throughput_ratio": round(t_fps / s_fps, 3), "same_configuration": False})
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print("\n| model | device | points | sweep s | tune s | time ratio | sweep best | tuner best "
              "| fps sweep best | fps tuner best | ratio |")
        print("|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['model']} | {r['device']} | {r['space_points']} | {r['sweep_s']} | {r['tune_s']} | "
                  f"{r['time_ratio']:.2f} | {r.get('sweep_best', '-')} | {r.get('tune_best', '-')} | "
                  f"{r.get('sweep_best_fps', '-')} | {r.get('tune_best_fps', '-')} | "
                  f"{r.get('throughput_ratio', '-')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
