"""Fidelity: hwtune's throughput against OpenVINO's benchmark_app and a plain onnxruntime loop.

On the same exported model, device, precision, batch and streams, in one run,
alternating tool by tool for several rounds (so drift and foreign load hit
every tool alike) and waiting before each measurement for the CPU to be
quiet (foreign load under 0.1 cores, for at most 20 s), this prints the median throughput of each and the ratio
hwtune / reference: the median of the per-round ratios over the rounds in
which neither side saw foreign load (all rounds when none was quiet).
Target: each ratio between 0.95 and 1.05.

- OpenVINO async: `benchmark_app -hint none -nstreams S -nireq S -api async
  -shape ... -infer_precision ...` against `hwtune bench run --backend openvino
  --mode async --streams S`.
- OpenVINO sync: `benchmark_app -api sync -hint latency` against hwtune's
  sync mode (PERFORMANCE_HINT=LATENCY).
- onnxruntime: a plain `InferenceSession.run` loop (default session options)
  against hwtune's sync mode with the same defaults.

Usage: python benchmarks/vs_benchmark_app.py [--time 2] [--rounds 7] [--models plate-classifier,resnet-block]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hwtune.bench import store
from hwtune.bench.feeds import make_feeds, read_input_types
from hwtune.bench.micro.runner import Bench, BenchPlan
from hwtune.bench.modelfile import export_model, open_model
from hwtune.bench.noise import LoadMeter, sample_before
from hwtune.bench.result import BenchResult, RunConfig
from hwtune.run import Runner

OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}


def benchmark_app_argv() -> list[str]:
    exe = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    if Path(exe).exists():
        return [exe]
    return [sys.executable, "-m", "openvino.tools.benchmark.main"]


def run_benchmark_app(model: Path, shapes: dict[str, tuple[int, ...]], precision: str, mode: str, streams: int,
                      time_s: float) -> float:
    shape = ",".join(f"{k}[{','.join(map(str, v))}]" for k, v in shapes.items())
    argv = benchmark_app_argv() + ["-m", str(model), "-d", "CPU", "-shape", shape, "-t", str(round(time_s)),
                                  "-infer_precision", OV_PRECISION[precision]]
    if mode == "async":
        argv += ["-api", "async", "-hint", "none", "-nstreams", str(streams), "-nireq", str(streams)]
    else:
        argv += ["-api", "sync", "-hint", "latency"]
    res = Runner().run(argv, timeout_s=time_s + 120)
    m = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", res.stdout)
    if not res.ok or not m:
        raise SystemExit(f"benchmark_app failed: {res.error or res.stdout[-500:]}")
    return float(m.group(1))


def run_plain_ort(model: Path, shapes: dict[str, tuple[int, ...]], time_s: float) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feeds = make_feeds(shapes, read_input_types(model))
    batch = next(iter(shapes.values()))[0]
    end = time.perf_counter() + min(1.0, 0.1 * time_s)
    while time.perf_counter() < end:  # the same warm-up hwtune does, outside the timed window
        sess.run(None, feeds)
    n = 0
    start = time.perf_counter()
    while True:
        sess.run(None, feeds)
        n += 1
        now = time.perf_counter()
        if now - start >= time_s:
            return n * batch / (now - start)


def wait_quiet(max_wait_s: float = 20.0) -> float:
    """Wait (a while) for other processes to leave the CPU alone; returns the last foreign load seen."""
    deadline = time.perf_counter() + max_wait_s
    while True:
        load = sample_before(0.5).foreign_cores
        if load < 0.1 or time.perf_counter() > deadline:
            return load


def hwtune_fps(bench: Bench, cfg: RunConfig) -> BenchResult:
    out = bench.evaluate(cfg)
    assert isinstance(out, BenchResult), out
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--models", default="plate-classifier,resnet-block")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="hwtune-fidelity-"))
    print(f"foreign load before: {sample_before(1.0).foreign_cores:.2f} cores", file=sys.stderr)
    for model in args.models.split(","):
        path = export_model(model, tmp / f"{model}.onnx", "fp32", store.models_dir())
        shapes = open_model(model, (), store.models_dir()).shapes(args.batch)
        plan = BenchPlan(model=model, devices=("CPU",), time_s=args.time, measure_peak=False)
        bench = Bench(plan)
        cases = [(p, m) for p in args.precisions.split(",") for m in ("async", "sync")]
        cases.append(("fp32", "ort-sync"))
        for precision, mode in cases:
            ref, ours, quiet = [], [], []
            for _ in range(args.rounds):
                wait_quiet()
                meter = LoadMeter(include_children=True).start()
                if mode == "ort-sync":
                    ref.append(run_plain_ort(path, shapes, args.time))
                else:
                    ref.append(run_benchmark_app(path, shapes, precision, mode, args.streams, args.time))
                ref_load = meter.stop()
                wait_quiet()
                if mode == "ort-sync":
                    r = hwtune_fps(bench, RunConfig("onnxruntime", "CPU", args.batch, "sync", precision))
                else:
                    r = hwtune_fps(bench, RunConfig("openvino", "CPU", args.batch, mode, precision,
                                                    streams=args.streams if mode == "async" else None))
                ours.append(r.throughput_fps)
                quiet.append(not ref_load.noisy and not r.load_during.noisy)
            ratios = [o / f for o, f in zip(ours, ref, strict=True)]
            kept = [x for x, q in zip(ratios, quiet, strict=True) if q] or ratios
            row = {
                "model": model, "precision": precision, "batch": args.batch,
                "case": {"async": f"openvino async, {args.streams} streams", "sync": "openvino sync",
                         "ort-sync": "onnxruntime sync"}[mode],
                "reference": "plain InferenceSession.run loop" if mode == "ort-sync" else "benchmark_app",
                "reference_fps": round(statistics.median(ref), 2), "hwtune_fps": round(statistics.median(ours), 2),
                "round_ratios": [round(x, 3) for x in ratios], "quiet_rounds": sum(quiet),
                "reference_rounds": [round(x, 1) for x in ref], "hwtune_rounds": [round(x, 1) for x in ours],
                # how much each tool varies against itself, round to round: (max - min) / median
                "reference_spread": round((max(ref) - min(ref)) / statistics.median(ref), 3),
                "hwtune_spread": round((max(ours) - min(ours)) / statistics.median(ours), 3),
                # the median of per-round ratios over rounds where neither side saw foreign load
                "ratio": round(statistics.median(kept), 3),
            }
            rows.append(row)
            print(f"{model:20} {precision:5} {row['case']:28} {row['reference']:32} ref {row['reference_fps']:9.1f} "
                  f"hwtune {row['hwtune_fps']:9.1f}  ratio {row['ratio']:.3f}  quiet rounds {sum(quiet)}/{args.rounds} "
                  f"spread ref {row['reference_spread']:.2f} hwtune {row['hwtune_spread']:.2f} {row['round_ratios']}",
                  file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"time_s": args.time, "rounds": args.rounds, "rows": rows}, indent=1))
    else:
        print("\n| model | precision | case | reference | reference fps | hwtune fps | ratio | quiet rounds "
              "| spread reference | spread hwtune |")
        print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['model']} | {r['precision']} | {r['case']} | {r['reference']} | {r['reference_fps']:.1f} "
                  f"| {r['hwtune_fps']:.1f} | {r['ratio']:.3f} | {r['quiet_rounds']}/{args.rounds} "
                  f"| {r['reference_spread']:.0%} | {r['hwtune_spread']:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
