"""Today's market: the GPUs a buyer orders in December 2026 have a dated price with a basis and
a source; street is the default basis; no GPU leaves a plan without its reason."""

from __future__ import annotations

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.jsonout import to_json
from hwtune.recommend.labels import PRICE_BASES
from hwtune.recommend.prices import payback_hours, price_of

GPUS = {g.name: g for g in load_catalog().gpus}
BUYERS_2026 = ("H100 SXM5 80GB", "H100 PCIe 80GB", "H200 SXM 141GB", "B200 SXM 180GB",
               "B300 SXM 288GB", "GB200 (B200 186GB, NVL72)", "Instinct MI300X", "Instinct MI325X",
               "Gaudi 3", "L40S", "L4", "RTX PRO 6000 Blackwell Server Edition",
               "RTX PRO 6000 Blackwell Workstation Edition", "GeForce RTX 5090", "GeForce RTX 5080",
               "GeForce RTX 4090", "Instinct MI355X")


@pytest.mark.parametrize("name", BUYERS_2026)
def test_buyer_gpus_have_a_dated_sourced_price(name):
    p = price_of(GPUS[name], "street", {})
    assert p.usd and p.basis in PRICE_BASES and p.as_of and p.source, (name, p)


def test_street_is_the_default_and_a_stale_launch_price_does_not_stand_in():
    assert Request().price_basis == "street"
    assert price_of(GPUS["GeForce RTX 4090"], "street", {}).usd > GPUS["GeForce RTX 4090"].launch_msrp_usd
    assert price_of(GPUS["Tesla K80"], "street", {}).usd is None  # not $5,000 from 2014
    assert price_of(GPUS["Tesla K80"], "list", {}).usd == 5000


def test_rack_only_gpus_are_priced_as_their_system():
    p = price_of(GPUS["GB200 (B200 186GB, NVL72)"], "street", {})
    assert p.basis == "system" and "72" in p.text
    rec = recommend(Request(workload="llama2-70b", precision="fp8", budget_usd=5_000_000))
    gb = [s for s in rec.budget_setups if s.estimate.gpu.name.startswith("GB200")]
    assert gb and gb[0].cards % 72 == 0 and gb[0].cards_per_host == 72


def test_cloud_derived_price_uses_the_documented_payback():
    p = price_of(GPUS["Instinct MI325X"], "street", {})
    assert p.basis == "cloud-derived"
    assert p.usd == pytest.approx(1.95 * payback_hours())
    assert 1000 < payback_hours() < 20000  # hours of rent that buy a GPU, from the data


@pytest.mark.parametrize("req", [
    Request(workload="llama2-70b", precision="fp8", budget_usd=1_000_000),
    Request(workload="resnet50", budget_usd=10_000, classes=("desktop",)),
    Request(workload="llama3.1-8b", precision="fp8", target_fps=50_000),
])
def test_no_gpu_leaves_a_plan_silently(req):
    doc = to_json(recommend(req))
    listed = {s["gpu"] for s in doc["budget_setups"] + doc["target_setups"]}
    left = {x["gpu"]: x["reason"] for x in doc["left_out"]}
    assert set(GPUS) == listed | set(left)
    assert not listed & set(left)
    for name, why in left.items():
        assert why and any(name in w and why in w for w in doc["warnings"]), name


def test_a_million_dollar_70b_plan_compares_hgx_and_mi300_class_systems():
    rec = recommend(Request(workload="llama2-70b", precision="fp8", budget_usd=1_000_000))
    names = {s.estimate.gpu.name for s in rec.budget_setups}
    assert {"H200 SXM 141GB", "B200 SXM 180GB"} <= names
    assert names & {"Instinct MI300X", "Instinct MI325X"}
