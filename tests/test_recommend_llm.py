"""LLM serving: what fits where, how many GPUs a replica takes, what limits it, what it costs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.llm import MAX_BATCH, max_batch, plan_llm, plan_replica, step_time
from hwtune.recommend.roofline import resolve_precision
from recommend_helpers import eff, gpu

CAT = load_catalog()
LLAMA70 = CAT.llm("llama2-70b")


def by_gpu(workload: str, precision: str, **req) -> dict:
    rec = recommend(Request(workload=workload, precision=precision, **req))
    return {e.gpu.name: e for e in rec.estimates}


def test_llama2_70b_needs_several_24gb_cards_but_one_141gb_card():
    est = by_gpu("llama2-70b", "fp8")
    # 69 B parameters at one byte: 69 GB of weights. 24 GB cards need four at
    # least; an 80 GB card holds the weights but little KV cache; 141 GB holds both.
    assert est["L4"].gpus_per_replica >= 4
    assert est["H100 SXM5 80GB"].gpus_per_replica >= 2  # 69 GB of FP8 weights and the KV cache
    h200 = est["H200 SXM 141GB"]
    assert plan_replica(h200.gpu, CAT.llm("llama2-70b"), h200.path, h200.efficiency, 1, None, None)[0]
    for name in ("L4", "H100 SXM5 80GB", "H200 SXM 141GB"):
        p = est[name].llm
        n = p.gpus_per_replica
        # the KV cache gets 90% of what the weights and a 2 GB reserve per GPU leave
        kv_room = 0.9 * (n * (est[name].gpu.memory_gb - 2) - p.weights_gb)
        assert p.batch * p.kv_gb_per_sequence <= kv_room + 1e-6, name
        assert p.batch >= 1


def test_a_model_that_fits_nowhere_says_why():
    est = by_gpu("llama2-70b", "fp16")
    a2 = est["A2"]  # 16 GB: 138 GB of FP16 weights do not fit on eight of them either
    assert a2.roof is None and "do not fit in 8 x 16 GB" in a2.excluded


def test_kv_cache_bounds_the_batch_by_hand():
    g = gpu(memory_gb=100.0, mem_bw_gbps=2000.0, fp8_tops=1000.0)
    path = resolve_precision(g, "fp8")
    m = replace(LLAMA70, total_params=50e9, active_params=50e9, max_input_tokens=1000,
                max_output_tokens=1000, output_tokens_mean=None)
    # 100 GB - 2 GB reserved for the runtime - 50 GB of FP8 weights = 48 GB free, 90% of it
    # (43.2 GB) for K/V; with a paged cache a sequence holds its prompt (half the longest, 500)
    # and half its answer (250) on average: 750 tokens of 2 x 80 layers x 8 heads x 128 x 1
    # byte = 163,840 B each.
    assert max_batch(g, m, path, 1, 1.0) == int(43.2e9 // (163840 * 750))
    # but one sequence of the longest length (2,000 tokens) must fit
    assert max_batch(replace(g, memory_gb=52.3), m, path, 1, 1.0) == 0  # 0.27 GB for K/V < 0.33
    assert max_batch(replace(g, memory_gb=2000.0), m, path, 1, 1.0) == MAX_BATCH  # the cap


def test_step_time_by_hand():
    g = gpu(mem_bw_gbps=1000.0, fp8_tops=500.0, interconnect_gbps=100.0)
    path = resolve_precision(g, "fp8")
    m = replace(LLAMA70, total_params=10e9, active_params=5e9, work_per_token=2.0, layers=10,
                hidden=1000, max_input_tokens=600, max_output_tokens=400, output_tokens_mean=None)
    e = eff(compute=0.5, memory=0.5)
    step, _memory, compute, comm = step_time(g, m, path, e, 2, 100, 1.0)
    bw = 2 * 1000e9 * 0.5
    weights = 10e9 / bw
    kv = 2 * 10 * 8 * 128 * 400 * 100 / bw  # 400 = the prompt (300) and half the answer (100)
    matmul = 100 * 2 * 5e9 * 2.0 / (2 * 500e12 * 0.5)
    # two all-reduces per layer for every token processed: 1 + prompt (300) / answer (200)
    # tokens per generated token, since prefill all-reduces the prompt's tokens too
    ar = 4 * 10 * 100 * 2.5 * 1000 * 2 * 0.5 / 100e9
    assert compute == pytest.approx(matmul)
    assert comm == pytest.approx(ar)
    assert step == pytest.approx(weights + matmul + kv + ar)


def test_mixture_of_experts_reads_all_weights_but_computes_with_the_active_ones():
    est = by_gpu("mixtral-8x7b", "fp8")["H200 SXM 141GB"]
    m = CAT.llm("mixtral-8x7b")
    assert est.llm.weights_gb == pytest.approx(m.total_params / 1e9)
    assert est.roof.flops_per_inference == pytest.approx(2 * m.active_params * m.work_per_token)


def test_tpot_limit_costs_throughput_and_can_call_for_tensor_parallelism():
    # One step reads all 69 GB of weights (19.2 ms on H200 at 75% of 4.8 TB/s): a 21 ms TPOT
    # leaves one GPU room for few sequences; two GPUs each read half the weights.
    free = by_gpu("llama2-70b", "fp8")["H200 SXM 141GB"]
    tight = by_gpu("llama2-70b", "fp8", tpot_ms=21.0)["H200 SXM 141GB"]
    assert tight.gpus_per_replica >= free.gpus_per_replica and tight.gpus_per_replica >= 2
    assert tight.llm.step_ms <= 21.0 < free.llm.step_ms
    assert tight.llm.comm_ms > 0
    assert tight.throughput_per_s < free.throughput_per_s


def test_ttft_limit_excludes_a_replica_too_slow_to_prefill():
    est = by_gpu("llama2-70b", "fp8", ttft_ms=1.0)["H200 SXM 141GB"]
    assert est.roof is None and "TTFT" in est.excluded


def test_fp8_falls_back_visibly_on_a_gpu_without_it():
    est = by_gpu("llama3.1-8b", "fp8")
    a100 = est["A100 SXM4 80GB"]  # Ampere: no FP8 units
    assert a100.path.requested == "fp8" and a100.path.executed == "fp16"
    assert "no FP8 units" in a100.path.note and a100.path.note in a100.caveats
    assert a100.llm.weights_gb == pytest.approx(CAT.llm("llama3.1-8b").total_params * 2 / 1e9)
    assert est["H100 SXM5 80GB"].path.executed == "fp8"


def test_fp4_runs_on_blackwell_and_falls_back_to_fp8_on_hopper():
    est = by_gpu("llama2-70b", "fp4")
    assert est["B200 SXM 180GB"].path.executed == "fp4"
    assert est["H200 SXM 141GB"].path.executed == "fp8"
    assert "no FP4 units" in est["H200 SXM 141GB"].path.note


def test_replica_size_is_the_one_with_most_tokens_per_gpu():
    g = CAT.gpu("H100 SXM5 80GB")
    path = resolve_precision(g, "fp8")
    e = next(x for x in CAT.efficiencies if (x.family, x.kind) == ("nvidia-hopper", "llm"))
    best, _ = plan_llm(g, LLAMA70, path, e)
    for n in (1, 2, 4, 8):
        other, _ = plan_llm(g, LLAMA70, path, e, max_gpus=n)
        assert other is None or other.tokens_per_s <= best.tokens_per_s * 1.0001


def test_serving_limits_come_with_their_known_optimism():
    rec = recommend(Request(workload="llama2-70b", precision="fp8", tpot_ms=40.0))
    assert any("99th percentile" in w for w in rec.warnings)
    assert not any("99th percentile" in w for w in recommend(Request(workload="llama2-70b")).warnings)


def test_user_lengths_move_kv_cache_batch_and_prefill():
    from hwtune.recommend.engine import Request, recommend

    def h200(**kw):
        rec = recommend(Request(workload="llama2-70b", precision="fp8", **kw))
        return next(e for e in rec.estimates if e.gpu.name == "H200 SXM 141GB")

    base, long_prompt, long_answer = h200(), h200(input_tokens=3000, output_tokens=200), \
        h200(input_tokens=200, output_tokens=2000)
    # a longer sequence keeps more KV cache per sequence: fewer sequences fit
    assert long_prompt.llm.kv_gb_per_sequence > base.llm.kv_gb_per_sequence
    assert long_prompt.llm.batch < base.llm.batch
    # long prompts and short answers cost more compute per generated token than the reverse
    assert long_prompt.throughput_per_s < long_answer.throughput_per_s
    # the prefill of one prompt (TTFT) follows the prompt's own length
    assert long_prompt.llm.ttft_ms > base.llm.ttft_ms > h200(input_tokens=100).llm.ttft_ms
    # the dataset's mean lengths keep the fitted work per token (only the KV cache, sized by
    # the dataset's longest sequence by default, changes)
    m = recommend(Request(workload="llama2-70b")).llm
    same = recommend(Request(workload="llama2-70b", input_tokens=m.dataset_prompt_tokens,
                             output_tokens=m.dataset_output_tokens)).llm
    assert same.work_per_token == pytest.approx(m.work_per_token)


@pytest.mark.parametrize("args, said", [
    (["--workload", "llama2-70b", "--input-tokens", "4000", "--output-tokens", "200"],
     "--input-tokens: 4000 prompt and 200 answer tokens exceed llama2-70b's 4,096-token window"),
    (["--workload", "gptj-6b", "--output-tokens", "3000"], "exceed gptj-6b's 2,048-token window"),
])
def test_a_request_longer_than_the_models_window_is_refused(args, said):
    from typer.testing import CliRunner

    from hwtune.cli import app

    r = CliRunner().invoke(app, ["recommend", "--precision", "fp8", *args])
    assert r.exit_code == 2 and said in r.output and "Traceback" not in r.output


def test_the_plan_names_the_lengths_it_was_sized_for():
    from typer.testing import CliRunner

    from hwtune.cli import app

    r = CliRunner().invoke(app, ["recommend", "--workload", "llama3.1-8b", "--precision", "fp8",
                                 "--input-tokens", "3000", "--output-tokens", "500", "--tpot", "40"])
    head = " ".join(r.output.split("Best setups")[0].split("\n")[:4])
    assert r.exit_code == 0 and "3000 prompt and 500 answer tokens per request" in " ".join(head.split())
    assert "within TPOT 40 ms" in " ".join(head.split()) and "TTFT -" not in r.output


def test_an_empty_plan_names_the_limit_no_gpu_meets_not_the_budget():
    from typer.testing import CliRunner

    from hwtune.cli import app

    r = CliRunner().invoke(app, ["recommend", "--workload", "llama2-70b", "--precision", "fp8",
                                 "--budget", "100000", "--tpot", "1"])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "no GPU meets TPOT 1 ms: the fastest," in text
    assert "no priced GPU setup fits a budget" not in text


def test_setups_past_the_table_are_named():
    from hwtune.recommend.engine import Request, recommend
    from hwtune.recommend.render import more_note

    rec = recommend(Request(workload="llama2-70b", precision="fp8", budget_usd=1_000_000))
    assert len(rec.budget_setups) > 10
    note = " ".join(more_note(list(rec.budget_setups), 10))
    assert f"{len(rec.budget_setups) - 10} more not shown (--top {len(rec.budget_setups)} shows them)" in note
    assert all(s.estimate.gpu.name in note for s in rec.budget_setups[10:])
    assert more_note(list(rec.budget_setups), len(rec.budget_setups)) == []


def test_a_plans_caveats_speak_of_the_gpus_it_shows():
    from typer.testing import CliRunner

    from hwtune.cli import app

    r = CliRunner().invoke(app, ["recommend", "--budget", "20000", "--workload", "mixtral-8x7b",
                                 "--precision", "fp4"], env={"COLUMNS": "200"})
    caveats = r.output.split("Caveats")[1]
    table = r.output.split("Caveats")[0]
    named = {line[2:].split(":")[0] for line in caveats.splitlines() if line.startswith("- ") and ":" in line
             and not line.startswith(("- left out", "- Prices", "- Throughput", "- GeForce driver"))}
    # each GPU a caveat names is in the plan's table, or is named with its reason for being left out
    assert named and all(name in table or "do not fit" in caveats.split(name + ":")[1].split("\n")[0]
                         for name in named)
    assert "H100 NVL 94GB: no FP4 units" not in caveats  # not in the plan: named once, in "left out"
