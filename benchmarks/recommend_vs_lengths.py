"""Compare `hwtune recommend --input-tokens I --output-tokens O` with published throughput
measured at several input/output lengths: does the estimate keep the shape across lengths
and across GPUs?

    python benchmarks/recommend_vs_lengths.py            # every row, then the summaries
    python benchmarks/recommend_vs_lengths.py --summary  # the summaries only

The published figures are benchmarks/data/trtllm_v0.17_lengths.csv (TensorRT-LLM's
performance overview for release 0.17; SOURCES in benchmarks/data/SOURCES.md): maximum
throughput of Llama 3.1 8B, Llama 3.1 70B and Mixtral 8x7B on H100 SXM, H200 SXM and L40S
(FP8) and A100 SXM 80GB (FP16), at tensor-parallel sizes 1-8 and nine (input, output)
pairs from 128/128 to 20000/2000, tokens/s of the whole tensor-parallel group. Each row is
estimated on the row's own GPU count (one replica of that many GPUs), per GPU.

Nothing here was fitted on these rows. Llama 3.1 70B is estimated as llama2-70b's
architecture (80 layers, hidden 8192, 8 KV heads of 128; the same shapes) with Llama 3.1
70B's 70.6 B parameters. Runs in about a second; nothing is measured on this machine.
"""

from __future__ import annotations

import argparse
import csv
import math
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from hwtune.recommend.catalog import Catalog, Llm, load_catalog
from hwtune.recommend.engine import efficiency_table
from hwtune.recommend.estimate import llm_efficiency, power_reference
from hwtune.recommend.llm import plan_replica, with_lengths
from hwtune.recommend.roofline import resolve_precision

DATA = Path(__file__).parent / "data" / "trtllm_v0.17_lengths.csv"
MODELS = {"Llama 3.1 8B": ("llama3.1-8b", None), "Llama 3.1 70B": ("llama2-70b", 70.55e9),
          "Mixtral 8x7B": ("mixtral-8x7b", None)}
BAND = 0.35


def model_for(cat: Catalog, name: str) -> Llm:
    base, params = MODELS[name]
    m = cat.llm(base)
    assert m is not None
    return replace(m, total_params=params, active_params=params) if params else m


def estimate(cat: Catalog, m: Llm, gpu_name: str, precision: str, n: int, i: int, o: int) -> float | None:
    """Tokens/s per GPU of one replica of n GPUs, as `recommend` computes it."""
    gpu = cat.gpu(gpu_name)
    assert gpu is not None, gpu_name
    path = resolve_precision(gpu, precision, "fp32")
    eff, run_on = llm_efficiency(gpu, path, efficiency_table(cat.efficiencies), power_reference(cat, gpu))
    plan, _ = plan_replica(run_on, with_lengths(m, i, o), path, eff, n, None, None)
    return plan.tokens_per_s if plan else None


def rows(cat: Catalog) -> list[dict]:
    out = []
    with DATA.open(newline="") as f:
        for r in csv.DictReader(f):
            n, i, o = int(r["tp"]), int(r["input_tokens"]), int(r["output_tokens"])
            pub = float(r["tokens_per_s_per_tp_group"]) / n
            est = estimate(cat, model_for(cat, r["model"]), r["gpu"], r["precision"], n, i, o)
            out.append({**r, "n": n, "i": i, "o": o, "pub": pub, "est": est,
                        "ratio": est / pub if est else None})
    return out


def spread(ratios: list[float]) -> float:
    return max(ratios) / min(ratios)


def length_shape(rs: list[dict]) -> dict[tuple[str, str, int], tuple[float, list[float]]]:
    """Per (model, GPU, TP): the geometric mean of est/pub over the lengths (the level) and
    each length's est/pub divided by it (1.00: the length-to-length shape is exact)."""
    groups: dict[tuple[str, str, int], list[dict]] = {}
    for r in rs:
        if r["ratio"]:
            groups.setdefault((r["model"], r["gpu"], r["n"]), []).append(r)
    out = {}
    for key, g in sorted(groups.items()):
        gm = math.exp(sum(math.log(r["ratio"]) for r in g) / len(g))
        out[key] = (gm, [r["ratio"] / gm for r in g])
    return out


def gpu_shape(rs: list[dict], base: str = "H100 SXM5 80GB") -> dict[str, list[float]]:
    """Per GPU: its est/pub divided by the base GPU's at the same model, TP and lengths
    (1.00: the GPU-to-GPU ratio is exact)."""
    by: dict[tuple[str, int, int, int], dict[str, float]] = {}
    for r in rs:
        if r["ratio"]:
            by.setdefault((r["model"], r["n"], r["i"], r["o"]), {})[r["gpu"]] = r["ratio"]
    out: dict[str, list[float]] = {}
    for g in by.values():
        if base in g:
            for gpu, ratio in g.items():
                if gpu != base:
                    out.setdefault(gpu, []).append(ratio / g[base])
    return out


def within(xs: list[float]) -> int:
    return sum(1 for x in xs if abs(x - 1) <= BAND)


def summaries(rs: list[dict]) -> None:
    ok = [r for r in rs if r["ratio"]]
    print(f"{len(rs)} published rows, {len(ok)} estimated "
          f"({len(rs) - len(ok)} do not fit in the row's GPUs by this model)")
    print(f"within +-{BAND:.0%} of the published figure: {within([r['ratio'] for r in ok])}/{len(ok)} "
          f"rows; est/pub median {statistics.median(r['ratio'] for r in ok):.2f}, "
          f"min {min(r['ratio'] for r in ok):.2f}, max {max(r['ratio'] for r in ok):.2f}")
    print()
    print("Shape across lengths: per (model, GPU, TP), est/pub at each length divided by its")
    print("geometric mean over the lengths (1.00 = the length-to-length shape is exact):")
    shapes = length_shape(rs)
    for (model, gpu, n), (level, rel) in shapes.items():
        print(f"  {model:<13} {gpu[:14]:<14} TP{n}  level {level:4.2f}  shape "
              + " ".join(f"{x:4.2f}" for x in rel))
    rels = [x for _, rel in shapes.values() for x in rel]
    print(f"  lengths in shape within +-{BAND:.0%}: {within(rels)}/{len(rels)}")
    print()
    print("Shape across GPUs: per (model, TP, lengths) with two or more GPUs, est/pub of each")
    print("GPU divided by the H100's (1.00 = the GPU-to-GPU ratio is exact):")
    per_gpu = gpu_shape(rs)
    for gpu, rel in sorted(per_gpu.items()):
        print(f"  {gpu:<16} vs H100: median {statistics.median(rel):4.2f}, "
              f"min {min(rel):4.2f}, max {max(rel):4.2f} ({len(rel)} points)")
    cross = [x for rel in per_gpu.values() for x in rel]
    print(f"  GPU-to-GPU ratios within +-{BAND:.0%}: {within(cross)}/{len(cross)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", action="store_true", help="the summaries only")
    args = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
          f"{platform.machine()} {platform.system()} (estimates only, nothing measured)")
    cat = load_catalog()
    rs = rows(cat)
    if not args.summary:
        print(f"{'model':<13} {'GPU':<14} {'TP':>2} {'in':>6} {'out':>5} {'published/GPU':>13} "
              f"{'estimate':>9} {'est/pub':>7}")
        for r in rs:
            est = f"{r['est']:9,.0f}" if r["est"] else f"{'no fit':>9}"
            ratio = f"{r['ratio']:7.2f}" if r["ratio"] else f"{'-':>7}"
            print(f"{r['model']:<13} {r['gpu'][:14]:<14} {r['n']:>2} {r['i']:>6} {r['o']:>5} "
                  f"{r['pub']:13,.0f} {est} {ratio}")
        print()
    summaries(rs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
