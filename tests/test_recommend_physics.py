"""The LLM model's physical terms: board power caps a card's tensor rate against its family's
reference card; prefill all-reduces every prompt token; a mixture of experts gains less than
the FP4 rate; and the shape across sequence lengths and GPUs against a published table."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.estimate import power_reference, power_share
from hwtune.recommend.roofline import resolve_precision

CAT = load_catalog()


def share(name: str, precision: str = "fp8") -> float:
    g = CAT.gpu(name)
    return power_share(g, resolve_precision(g, precision), power_reference(CAT, g))


def test_power_limited_cards_get_their_share_of_the_reference_rate():
    # watts per peak FP8 TOPS against H200 SXM (700 W / 1,979): H100 PCIe 350 W / 1,513,
    # H100 NVL 400 W / 1,670.5; the same silicon at 1,000 W (MI325X) against 750 W (MI300X)
    assert share("H100 PCIe 80GB") == pytest.approx((350 / 1513) / (700 / 1979))
    assert share("H100 NVL 94GB") == pytest.approx((400 / 1670.5) / (700 / 1979))
    assert share("Instinct MI325X") == pytest.approx(1000 / 750)
    assert share("H200 SXM 141GB") == 1.0 and share("Instinct MI300X") == 1.0


def test_no_reference_or_a_cpu_in_the_power_figure_leaves_the_rate_alone():
    assert share("GH200 144GB") == 1.0  # its 1,000 W also feeds a Grace CPU
    assert share("L40S") == 1.0  # Ada has no LLM reference card
    assert share("Instinct MI355X", "fp4") == 1.0  # CDNA 4: its own family, no reference


def test_the_power_share_orders_same_family_cards_as_published():
    # MLPerf llama2-70b Offline per GPU: H200 NVL (600 W) 4,000 > H100 NVL (400 W) 1,984;
    # MI325X 4,315 > MI300X 3,416 on the same silicon
    est = {e.gpu.name: e.throughput_per_s for e in
           recommend(Request(workload="llama2-70b", precision="fp8")).estimates if e.roof}
    assert est["H200 NVL 141GB"] > 1.3 * est["H100 NVL 94GB"]
    assert est["Instinct MI325X"] > 1.2 * est["Instinct MI300X"]


def test_mixture_of_experts_takes_its_fp4_work_scale_on_fp4_only():
    m = CAT.llm("mixtral-8x7b")
    assert m.fp4_work_scale > 1 and m.fp4_work_basis.startswith("fit")
    assert CAT.llm("llama2-70b").fp4_work_scale == 1.0

    def flops(workload: str, precision: str) -> float:
        e = next(e for e in recommend(Request(workload=workload, precision=precision)).estimates
                 if e.gpu.name == "B200 SXM 180GB")
        return e.roof.flops_per_inference

    assert flops("mixtral-8x7b", "fp4") == pytest.approx(m.fp4_work_scale * flops("mixtral-8x7b", "fp8"))
    assert flops("llama2-70b", "fp4") == pytest.approx(flops("llama2-70b", "fp8"))
    # and it is what the throughput pays: the full FP4 rate would give more
    full = replace(CAT, llms=tuple(replace(x, fp4_work_scale=1.0) for x in CAT.llms))

    def b200(cat) -> float:
        return next(e.throughput_per_s for e in recommend(
            Request(workload="mixtral-8x7b", precision="fp4"), cat).estimates
            if e.gpu.name == "B200 SXM 180GB")

    assert b200(full) > 1.2 * b200(CAT)


def test_other_chip_generations_of_a_family_are_not_scaled_by_its_reference():
    # MI210 (CDNA 2) and Gaudi 3 share a family with MI300X and Gaudi 2, not their silicon;
    # and the path run decides, not the one asked for (MI210 runs FP8 as FP16)
    assert share("Instinct MI210", "fp16") == 1.0 and share("Instinct MI210", "fp8") == 1.0
    assert share("Gaudi 3") == 1.0 and share("B300 SXM 288GB", "fp4") == 1.0


def test_prompt_tokens_are_all_reduced_in_throughput_and_in_ttft():
    from hwtune.recommend.llm import allreduce_seconds, step_time, with_lengths

    g = CAT.gpu("L40S")
    path = resolve_precision(g, "fp8")
    e = next(x for x in CAT.efficiencies if (x.family, x.kind) == ("intel-gaudi", "llm"))
    base = CAT.llm("llama2-70b")
    long_prompt, long_answer = with_lengths(base, 3000, 200), with_lengths(base, 200, 2000)
    comm = [step_time(g, m, path, e, 4, 64, 1.0)[3] for m in (long_prompt, long_answer)]
    # per generated token 1 + 3000/200 = 16 tokens cross the link, against 1 + 200/2000 = 1.1
    assert comm[0] / comm[1] == pytest.approx(16 / 1.1)
    # and a prompt's own all-reduces add to the time to its first token
    est = next(x for x in recommend(Request(workload="llama2-70b", precision="fp8",
                                            input_tokens=3000, output_tokens=200)).estimates
               if x.gpu.name == "L40S")
    n = est.gpus_per_replica
    assert n > 1
    compute_only = 3000 * 2 * base.active_params / (n * path.peak_tops * 1e12 * est.efficiency.compute)
    pcie = replace(g, interconnect_gbps=g.interconnect_gbps * 0.57)
    assert est.llm.ttft_ms / 1000 > compute_only + 0.9 * allreduce_seconds(pcie, base, n, 3000)


def test_interactive_rows_are_judged_under_mlperfs_interactive_limits():
    from hwtune.recommend.validate import compare, load_published

    row = next(p for p in load_published() if p.scenario == "Interactive" and p.workload == "llama2-70b")
    est = next(e for e in recommend(Request(workload="llama2-70b", precision=row.precision,
                                            ttft_ms=450, tpot_ms=40)).estimates if e.gpu.name == row.gpu)
    assert compare([row])[0].estimate_per_s == pytest.approx(est.throughput_per_s)


def _lengths_benchmark():
    path = Path(__file__).parents[1] / "benchmarks" / "recommend_vs_lengths.py"
    spec = importlib.util.spec_from_file_location("recommend_vs_lengths", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_shape_across_lengths_and_gpus_follows_the_published_table():
    # TensorRT-LLM 0.17's table (benchmarks/data): nothing was fitted on it. Per (model, GPU,
    # tensor-parallel size), est/pub at each of nine lengths against its mean over them; per
    # point, one GPU's est/pub against the H100's. The absolute level is not asserted: the
    # fits are MLPerf submissions, a tuned stack well above that table's defaults.
    # Across GPUs 85%, not 90%: the table's per-GPU rate on NVLink falls faster with the
    # tensor-parallel size than the model's (H100's est/pub rises from 1.06 at TP1 to 1.76 at
    # TP8), so the L40S against H100 at TP4 and TP8 (the 70B, Mixtral) sits at 0.55-0.79
    # (docs/recommend.md). On one GPU, where no link is involved, every L40S point is within.
    bench = _lengths_benchmark()
    rows = bench.rows(CAT)
    rel = [x for _, xs in bench.length_shape(rows).values() for x in xs]
    cross = [x for xs in bench.gpu_shape(rows).values() for x in xs]
    assert len(rel) >= 250 and bench.within(rel) >= 0.9 * len(rel)
    assert len(cross) >= 150 and bench.within(cross) >= 0.85 * len(cross)
    one_gpu = [r["ratio"] / h["ratio"] for r in rows for h in rows
               if r["gpu"] == "L40S" and h["gpu"] == "H100 SXM5 80GB" and r["n"] == h["n"] == 1
               and (r["model"], r["i"], r["o"]) == (h["model"], h["i"], h["o"]) and r["ratio"] and h["ratio"]]
    assert len(one_gpu) >= 9 and bench.within(one_gpu) == len(one_gpu)
