"""Leave-one-out: a GPU's estimate fitted without its own published results, the error users
meet on a GPU without a result; the recorded errors are what the refit gives."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.loo import LLM_FAMILIES, error_summary, leave_one_out, load_accuracy, loo_rows
from hwtune.recommend.validate import load_published

CAT = load_catalog()
PUB = list(load_published())


def _scaled(gpu: str, factor: float) -> list:
    return [replace(p, per_gpu=p.per_gpu * factor) if p.gpu == gpu else p for p in PUB]


def _estimates(published: list, gpu: str) -> list[float]:
    return [c.estimate_per_s for c in leave_one_out(CAT, published, gpu)]


@pytest.mark.parametrize("gpu", ["H200 SXM 141GB", "Instinct MI300X", "H100 PCIe 80GB", "Tesla T4",
                                 "B200 SXM 180GB", "RTX PRO 6000 Blackwell Server Edition", "L40S",
                                 "Instinct MI355X"])
def test_a_gpus_own_results_do_not_move_its_leave_one_out_estimate(gpu):
    assert _estimates(PUB, gpu) == _estimates(_scaled(gpu, 3.0), gpu)


def test_another_gpus_results_do_move_it():
    # H100 SXM's LLM estimate rests on the work per token fitted on H200's results: the
    # refit must see a change there (else the test above could not fail).
    before = _estimates(PUB, "H100 SXM5 80GB")
    after = _estimates(_scaled("H200 SXM 141GB", 3.0), "H100 SXM5 80GB")
    assert before != after


def test_mixtrals_fp4_scale_is_refitted_without_the_gpu_it_was_fitted_on():
    # B200's Mixtral FP4 result fitted the scale; without it, RTX PRO 6000's result does
    before = _estimates(PUB, "B200 SXM 180GB")
    after = _estimates(_scaled("RTX PRO 6000 Blackwell Server Edition", 3.0), "B200 SXM 180GB")
    assert before != after


def test_the_recorded_errors_are_the_refits():
    rows = loo_rows(CAT, PUB)
    recorded = load_accuracy()
    summary = error_summary(rows, CAT)
    assert {s for s, *_ in summary} == set(recorded)
    for scope, n, med, worst in summary:
        a = recorded[scope]
        assert a.gpus == n
        assert a.median_abs_error == pytest.approx(med, abs=0.001)
        assert a.worst_abs_error == pytest.approx(worst, abs=0.001)


def test_json_estimates_carry_their_expected_error():
    from hwtune.recommend.engine import Request, recommend
    from hwtune.recommend.jsonout import to_json

    doc = to_json(recommend(Request(workload="llama2-70b", precision="fp8")))
    assert doc["schema"] == "hwtune.recommend/3"
    e = doc["estimates"][0]
    assert e["expected_error"]["scope"] == "llama2-70b"
    assert e["expected_error"]["median_abs"] == load_accuracy()["llama2-70b"].median_abs_error
    # /2 fields kept
    for key in ("throughput_per_s", "unit", "gpus_per_replica", "efficiency_judgement", "llm",
                "cost_per_million", "fp8_tops", "fp4_tops"):
        assert key in e


def test_a_family_with_llm_results_has_its_llm_efficiency_fitted_on_them():
    # Carried from a family's ResNet-50 fit, the LLM efficiency overrated the L40S 1.6x and the
    # RTX PRO 6000 1.15-1.35x: ResNet-50 says little of how near a card's LLM kernels run to
    # its peak. Every family with a published LLM result has its own LLM row, fitted on one of
    # them and refitted in leave-one-out; Hopper's is the anchor the work factors are fitted on.
    llms = {m.name for m in CAT.llms}
    families = {CAT.known_gpu(p.gpu).family for p in PUB if p.workload in llms}
    assert {"nvidia-ada", "nvidia-blackwell", "amd-cdna4"} <= families
    for family in families - {"nvidia-hopper"}:
        rows = [e for e in CAT.efficiencies if (e.family, e.kind, e.gpu) == (family, "llm", "")]
        assert [e for e in rows if e.basis == "fit"], family
        assert family in LLM_FAMILIES, family
        assert [p for p in PUB if p.use == "fit" and p.workload in llms
                and CAT.known_gpu(p.gpu).family == family], family


@pytest.mark.parametrize("gpu", ["L40S", "RTX PRO 6000 Blackwell Server Edition", "Instinct MI355X",
                                 "B200 SXM 180GB", "Instinct MI300X", "Gaudi 2"])
def test_the_family_value_its_results_fitted_is_refitted_without_them(gpu):
    # Scaling a GPU's results cannot show a parameter that was fitted on them and never
    # refitted (the catalog's value stays): spoil the value itself instead.
    family = CAT.known_gpu(gpu).family
    spoiled = replace(CAT, efficiencies=tuple(
        replace(e, compute=0.9) if (e.family, e.kind, e.gpu) == (family, "llm", "") else e
        for e in CAT.efficiencies))
    assert _estimates_on(spoiled, gpu) == pytest.approx(_estimates_on(CAT, gpu))


def test_the_pcie_share_its_result_fitted_is_refitted_without_it():
    spoiled = replace(CAT, efficiencies=tuple(
        replace(e, compute=0.05) if e.family == "pcie-link" else e for e in CAT.efficiencies))
    assert _estimates_on(spoiled, "H100 PCIe 80GB") == pytest.approx(_estimates_on(CAT, "H100 PCIe 80GB"))


def _estimates_on(cat, gpu: str) -> list[float]:
    return [c.estimate_per_s for c in leave_one_out(cat, PUB, gpu)]
