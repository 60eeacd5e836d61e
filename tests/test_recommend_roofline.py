"""The roofline formula on hand-computed cases, precision fallbacks and known orderings."""

from __future__ import annotations

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.estimate import parse_street, price_of
from hwtune.recommend.roofline import best_roofline, resolve_precision, roofline
from recommend_helpers import eff, gpu, workload


def test_compute_bound_case_by_hand():
    # fp16, batch 10: bytes = 1e6 x 2 / 10 + 1e6 x 2 = 2.2e6
    # compute: 100e12 x 0.5 / 1e9 = 50,000/s; memory: 1000e9 x 0.8 / 2.2e6 = 363,636/s
    r = roofline(gpu(), workload(), resolve_precision(gpu(), "fp16"), eff(), batch=10)
    assert r.bytes_per_inference == pytest.approx(2.2e6)
    assert r.compute_limit_per_s == pytest.approx(50_000)
    assert r.memory_limit_per_s == pytest.approx(363_636.36, rel=1e-6)
    assert r.throughput_per_s == pytest.approx(50_000)
    assert r.bound == "compute"
    assert r.latency_ms == pytest.approx(0.2)


def test_memory_bound_case_by_hand():
    # int8, batch 1, 100 M activations: bytes = 1e6 + 1e8 = 1.01e8
    # memory: 1000e9 x 0.8 / 1.01e8 = 7,920.8/s; compute: 200e12 x 0.5 / 1e9 = 100,000/s
    w = workload(activations=1e8)
    r = roofline(gpu(), w, resolve_precision(gpu(), "int8"), eff(), batch=1)
    assert r.throughput_per_s == pytest.approx(7920.79, rel=1e-5)
    assert r.bound == "memory"


def test_batch_is_lowered_to_fit_memory():
    # fp32: weights 4 MB, 1 GB of activations per inference; 16 GB x 0.9 = 14.4 GB usable -> batch 8
    w = workload(activations=2.5e8)
    r, why = best_roofline(gpu(), w, resolve_precision(gpu(), "fp32"), eff(), 32, None)
    assert why == "" and r.batch == 8


def test_workload_too_big_for_the_board_is_excluded_with_the_reason():
    w = workload(params=1e10)  # 40 GB of FP32 weights on a 16 GB board
    r, why = best_roofline(gpu(), w, resolve_precision(gpu(), "fp32"), eff(), 32, None)
    assert r is None
    assert why.startswith("memory too small: 40.0 GB needed at batch 1, 16 GB on the board")


def test_latency_slo_picks_the_largest_batch_that_meets_it():
    # 50,000/s compute bound: batch 32 takes 0.64 ms, batch 16 0.32 ms, batch 8 0.16 ms.
    r, _ = best_roofline(gpu(), workload(), resolve_precision(gpu(), "fp16"), eff(), 32, 0.3)
    assert r.batch == 8
    r, why = best_roofline(gpu(), workload(), resolve_precision(gpu(), "fp16"), eff(), 32, 0.001)
    assert r is None and "latency SLO" in why


def test_fallbacks_say_why():
    volta = gpu(int8_tops=None, bf16_tensor_tflops=None)
    p = resolve_precision(volta, "int8")
    assert (p.executed, p.peak_tops) == ("fp16", 100.0)
    assert "no INT8 path" in p.note
    kepler = gpu(fp16_tensor_tflops=None, fp16_tensor_fp32acc_tflops=None,
                 bf16_tensor_tflops=None, int8_tops=None)
    p = resolve_precision(kepler, "fp16")
    assert (p.executed, p.peak_tops) == ("fp32", 10.0)
    assert "falls back to FP32" in p.note
    assert resolve_precision(volta, "bf16").note.startswith("no BF16 matrix units")


def test_geforce_accumulate_choice_picks_the_rate():
    g = load_catalog().gpu("GeForce RTX 4090")
    assert resolve_precision(g, "fp16", "fp32").peak_tops == 165.2
    assert resolve_precision(g, "fp16", "fp16").peak_tops == 330.3


def test_int8_resnet50_ordering_of_known_parts():
    rec = recommend(Request(workload="resnet50", precision="int8"))
    fps = {e.gpu.name: e.throughput_per_s for e in rec.estimates}
    assert fps["H100 SXM5 80GB"] > fps["A100 SXM4 80GB"] > fps["L4"] > fps["Tesla T4"]
    assert fps["A100 PCIe 80GB"] > fps["L4"]


def test_bert_large_fp32_does_not_fit_small_boards():
    rec = recommend(Request(workload="bert-large", precision="fp32", batch=64))
    by = {e.gpu.name: e for e in rec.estimates}
    assert by["H100 SXM5 80GB"].roof.batch == 64
    small = by["GeForce RTX 3080 10GB"]
    assert small.roof is not None and small.roof.batch < 64


def test_street_price_ranges_and_basis():
    assert parse_street("8000-15000") == 11500
    assert parse_street("1000") == 1000
    g = gpu(launch_msrp_usd=1599.0, street_price_usd="1800-2750")
    assert price_of(g, "list", {}).usd == 1599
    assert price_of(g, "street", {}).usd == 2275
    assert price_of(gpu(launch_msrp_usd=None, street_price_usd="1000"), "list", {}).basis == "street"
    assert price_of(g, "list", {"Test GPU": 1234.0}).basis == "user"


def test_workload_compute_scale_multiplies_the_compute_limit():
    full = roofline(gpu(), workload(), resolve_precision(gpu(), "fp16"), eff(), batch=10)
    scaled = roofline(gpu(), workload(compute_scale=0.4), resolve_precision(gpu(), "fp16"), eff(),
                      batch=10)
    assert scaled.compute_limit_per_s == pytest.approx(0.4 * full.compute_limit_per_s)
    assert scaled.memory_limit_per_s == full.memory_limit_per_s
