"""Budget packing, target sizing, server vs desktop, and cloud vs buy on hand-computed cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwtune.recommend.catalog import CloudOffer
from hwtune.recommend.costs import UsageOptions, cloud_vs_buy
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.estimate import estimate_gpu
from hwtune.recommend.setups import (
    HostCosts,
    host_choices,
    make_setup,
    max_cards_within,
    pack_budget,
    size_for_target,
)
from recommend_helpers import effs, gpu, workload

HOSTS = HostCosts(desktop_usd=1500, desktop_max_cards=2, desktop_power_w=100,
                  pcie_server_usd=3500, pcie_server_max_cards=4, pcie_server_power_w=300,
                  baseboard_usd=60000, baseboard_max_cards=8, baseboard_power_w=2000)


def est(**gpu_changes):
    g = gpu(**gpu_changes)
    return estimate_gpu(g, workload(), "fp16", "fp32", effs(), 32, None, "list", {})


def on(e, costs=HOSTS, host=None):
    """The host choice of this card (the named host type, else the first that takes it)."""
    cs = host_choices(e.gpu, e.gpus_per_replica, costs)
    return next(c for c in cs if host is None or c.host.name == host)


def desktop_card(price=1000.0, slots=2, name="Card"):
    return est(name=name, gpu_class="desktop", host="desktop", slots=slots, launch_msrp_usd=price)


def test_max_cards_by_hand():
    card = desktop_card()
    # $5,000: one host with 2 cards = $3,500; $1,500 left buys a host but no card -> 2
    assert max_cards_within(card, 5000, on(card)) == 2
    # $6,000: $3,500 + a second host and one card ($2,500) -> 3
    assert max_cards_within(card, 6000, on(card)) == 3
    assert max_cards_within(card, 2400, on(card)) == 0


def test_wide_card_takes_a_desktop_host_of_its_own():
    wide = desktop_card(slots=3)
    s = make_setup(wide, 2, on(wide, host="desktop"))
    assert (s.hosts, s.cards_per_host, s.total_cost_usd) == (2, 1, 5000)
    # a workstation takes two wide cards, a desktop one
    assert on(wide, host="workstation").cards_per_host == 2


def test_sxm_modules_come_on_a_full_eight_gpu_board():
    sxm = est(host="baseboard", slots=0, launch_msrp_usd=30000.0)
    c = on(sxm)
    assert c.cards_per_host == 8 and c.host.sold_full
    s = make_setup(sxm, 8, c)
    assert s.total_cost_usd == 8 * 30000 + 60000
    assert s.power_w == 8 * 100 + 2000
    assert max_cards_within(sxm, 299_999, c) == 0 and max_cards_within(sxm, 300_000, c) == 8


@given(price=st.floats(50, 40000), host=st.floats(0, 60000), per_host=st.integers(1, 8),
       budget=st.floats(0, 500000), slots=st.sampled_from([1, 2]))
def test_packing_spends_no_more_than_the_budget_and_leaves_no_room_for_one_more(
        price, host, per_host, budget, slots):
    hosts = HostCosts(pcie_server_usd=host, pcie_server_max_cards=per_host)
    e = est(launch_msrp_usd=price, slots=slots)
    c = on(e, hosts, "pcie-server")
    n = max_cards_within(e, budget, c)
    if n:
        assert make_setup(e, n, c).total_cost_usd <= budget * (1 + 1e-9)
    assert make_setup(e, n + 1, c).total_cost_usd > budget * (1 - 1e-9)


def test_pack_budget_ranks_by_throughput_and_skips_unpriced_and_unaffordable():
    cheap = desktop_card(price=500.0, name="Cheap")  # 50,000/s each: 4 cards, 200,000/s
    fast = est(name="Fast", gpu_class="desktop", host="desktop", launch_msrp_usd=2000.0,
               fp16_tensor_fp32acc_tflops=500.0)  # 250,000/s: 1 card
    unpriced = est(name="NoPrice", launch_msrp_usd=None)
    dear = est(name="Dear", launch_msrp_usd=50000.0)
    setups = pack_budget([cheap, fast, unpriced, dear], 5000, HOSTS)
    assert [s.estimate.gpu.name for s in setups] == ["Fast", "Cheap"]
    assert [s.cards for s in setups] == [1, 4]  # Cheap: 2 hosts, 4 cards = $5,000


def test_size_for_target_takes_the_fewest_cards():
    setups = size_for_target([desktop_card()], 120_000, HOSTS)  # 50,000/s per card
    assert setups[0].cards == 3 and setups[0].hosts == 2


def _offer(price_per_hour, gpus=1, name="Test GPU", status="current list"):
    return CloudOffer("Cloud", "VM", f"vm{gpus}", name, name, gpus, "r", price_per_hour,
                      price_per_hour / gpus, "2026", status, "test", "", 2)


def test_cloud_vs_buy_by_hand():
    e = desktop_card(price=1000.0)  # 50,000/s, 100 W
    setup = make_setup(e, 2, on(e))  # $3,500, 100,000/s, 2 x 100 W + 100 W host = 300 W
    usage = UsageOptions(hours_per_day=24, years=3, kwh_price_usd=0.15)
    offers = (_offer(1.0), _offer(10.0, gpus=8), _offer(0.1, status="historical"))
    c = cloud_vs_buy(setup, offers, {"Test GPU": e}, usage)
    assert c.power_kwh_per_year == pytest.approx(0.3 * 8760)
    assert c.power_usd_per_year == pytest.approx(394.2)
    best = c.quotes[0]
    assert (best.gpus_needed, best.instances, best.usd_per_year) == (2, 2, pytest.approx(17520))
    assert c.own_usd_total == pytest.approx(3500 + 3 * 394.2)
    assert c.break_even_months == pytest.approx(3500 / ((17520 - 394.2) / 12))
    assert [why for _, why in c.unmatched] == ["status historical"]


def test_renting_cheaper_than_power_never_breaks_even():
    e = desktop_card()
    c = cloud_vs_buy(make_setup(e, 1, on(e)), (_offer(0.001),), {"Test GPU": e},
                     UsageOptions(kwh_price_usd=1.0))
    assert c.break_even_months is None


def test_budget_5000_with_real_data_compares_server_and_desktop():
    rec = recommend(Request(budget_usd=5000))
    c = rec.comparison
    assert c.server.estimate.gpu.gpu_class == "server"
    assert c.desktop.estimate.gpu.gpu_class == "desktop"
    assert c.server.total_cost_usd <= 5000 and c.desktop.total_cost_usd <= 5000
    assert c.value_ratio == pytest.approx(c.server.throughput_per_usd / c.desktop.throughput_per_usd)
    assert all(s.total_cost_usd <= 5000 for s in rec.budget_setups)
    assert rec.cloud and rec.cloud[0].quotes


def test_target_fps_returns_the_cheapest_setup_meeting_target_and_slo():
    rec = recommend(Request(target_fps=2000, latency_slo_ms=10, workload="bert-base"))
    cheapest = rec.target_setups[0]
    assert cheapest.throughput_per_s >= 2000
    assert cheapest.estimate.roof.latency_ms <= 10
    assert cheapest.total_cost_usd == min(s.total_cost_usd for s in rec.target_setups)
    n = math.ceil(2000 / cheapest.estimate.throughput_per_s)
    assert cheapest.cards == n


def test_target_and_budget_together_keep_setups_within_the_budget():
    rec = recommend(Request(target_fps=50000, budget_usd=20000, precision="int8"))
    assert rec.target_setups and all(s.total_cost_usd <= 20000 for s in rec.target_setups)
    rec = recommend(Request(target_fps=1e9, budget_usd=5000))
    assert not rec.target_setups and any("no setup reaches" in w for w in rec.warnings)
