"""Every setup recommend lists can be built, judged by rules this test states itself (not by
the host table the planner reads): a sweep over budgets x workloads x classes, plus the
unbuildable cases users met, which the rules must reject."""

from __future__ import annotations

import pytest

from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend
from hwtune.recommend.jsonout import to_json

# What a buyer can put in one host, by how the GPU is mounted (industry practice, 2026):
# a desktop tower takes 2 dual-slot cards, a workstation 4 (2 if wider than two slots); a PCIe
# GPU server 4-10 cards; SXM/OAM modules come on 8-GPU boards; GB200 comes as a 72-GPU rack.
MOST_PER_HOST = {"desktop": (4, 2), "pcie-server": (10, 10)}
EXACTLY_PER_HOST = {"baseboard": 8, "rack": 72}


def why_unbuildable(mount: str, slots: int, cards: int, hosts: int, per_host: int,
                    replica: int) -> str:
    """'' when the setup can be built, else the rule it breaks."""
    if replica > per_host or per_host % replica:
        return f"a {replica}-GPU replica does not sit whole in hosts of {per_host}"
    if cards % replica:
        return "cards are not whole replicas"
    if not (hosts - 1) * per_host < cards <= hosts * per_host:
        return f"{cards} cards do not fill {hosts} hosts of {per_host}"
    if mount in EXACTLY_PER_HOST:
        n = EXACTLY_PER_HOST[mount]
        if per_host != n or cards != hosts * n:
            return f"{mount} GPUs come {n} to a host, bought full"
    else:
        most, most_wide = MOST_PER_HOST[mount]
        if per_host > (most_wide if slots > 2 else most):
            return f"{per_host} cards of {slots} slots in one {mount} host"
    return ""


def why_cloud_unbuildable(gpus_per_instance: int, replica: int, instances: int,
                          gpus_needed: int) -> str:
    if gpus_per_instance < replica:
        return f"a {replica}-GPU replica in {gpus_per_instance}-GPU instances"
    if instances * (gpus_per_instance // replica) * replica < gpus_needed:
        return "too few instances for the replicas"
    return ""


@pytest.mark.parametrize("case", [
    ("desktop", 3, 16, 16, 1, 8),  # 16 x RTX 4090 in 16 desktops, 8 per replica
    ("pcie-server", 1, 8, 2, 4, 8),  # 8 x A10 in two four-card servers, 8 per replica
    ("pcie-server", 1, 248, 62, 4, 8),  # 248 L4 in 62 four-card servers, 8 per replica
])
def test_the_rules_reject_the_setups_users_met(case):
    assert why_unbuildable(*case)


def test_the_rules_reject_a_replica_spread_over_single_gpu_instances():
    # 8 single-GPU g6e.xlarge instances quoted for a replica of 8 GPUs
    assert why_cloud_unbuildable(1, 8, 8, 8)
    assert not why_cloud_unbuildable(8, 8, 1, 8)


def test_the_rules_accept_ordinary_setups():
    assert not why_unbuildable("desktop", 2, 4, 2, 2, 1)
    assert not why_unbuildable("baseboard", 0, 16, 2, 8, 2)
    assert not why_unbuildable("pcie-server", 2, 12, 2, 8, 4)


BUDGETS = (10_000, 50_000, 250_000, 1_000_000)
WORKLOADS = (("resnet50", "int8"), ("bert-large", "int8"), ("llama2-70b", "fp8"),
             ("llama3.1-8b", "fp8"), ("mixtral-8x7b", "fp8"), ("gptj-6b", "fp16"))
CLASSES = ((), ("server",), ("workstation",), ("desktop",))


def _check_doc(doc: dict, seen: list[str]) -> list[str]:
    gpus = {g.name: g for g in load_catalog().gpus}
    bad = []
    for key in ("budget_setups", "target_setups"):
        for s in doc[key]:
            g = gpus[s["gpu"]]
            why = why_unbuildable(g.host, g.slots, s["cards"], s["hosts"], s["cards_per_host"],
                                  s["gpus_per_replica"])
            seen.append(s["gpu"])
            if why:
                bad.append(f"{s['cards']} x {s['gpu']} in {s['hosts']} {s['host_type']}: {why}")
    for c in doc["cloud_vs_buy"]:
        for q in c["cloud_quotes"]:
            why = why_cloud_unbuildable(q["gpus_per_instance"], q["gpus_per_replica"],
                                        q["instances"], q["gpus_needed"])
            if why:
                bad.append(f"{q['instances']} x {q['instance_type']}: {why}")
    return bad


@pytest.mark.parametrize("workload,precision", WORKLOADS)
def test_every_listed_setup_is_buildable(workload, precision):
    bad, seen = [], []
    for budget in BUDGETS:
        for classes in CLASSES:
            for basis in ("street", "list"):  # list prices bring the older cards in (A10, ...)
                rec = recommend(Request(workload=workload, precision=precision, budget_usd=budget,
                                        classes=classes, price_basis=basis))
                bad += _check_doc(to_json(rec), seen)
    for target in (10_000.0, 1_000_000.0):
        rec = recommend(Request(workload=workload, precision=precision, target_fps=target))
        bad += _check_doc(to_json(rec), seen)
    assert seen, "the sweep listed no setup at all"
    assert not bad, "\n".join(bad[:20])


def test_host_option_defaults_are_the_data():
    from hwtune.recommend.hostdata import load_hosts
    from hwtune.recommend.setups import HostCosts

    data = {h.name: h for h in load_hosts()}
    d = HostCosts()
    for name, usd, n, w in (("desktop", d.desktop_usd, d.desktop_max_cards, d.desktop_power_w),
                            ("pcie-server", d.pcie_server_usd, d.pcie_server_max_cards,
                             d.pcie_server_power_w),
                            ("baseboard", d.baseboard_usd, d.baseboard_max_cards, d.baseboard_power_w)):
        assert (data[name].usd, data[name].max_gpus, data[name].power_w) == (usd, n, w)


def test_a_replica_larger_than_any_host_of_the_card_is_not_offered():
    rec = recommend(Request(workload="llama2-70b", precision="fp8", classes=("desktop",)))
    e = next(e for e in rec.estimates if e.gpu.name == "GeForce RTX 4090")
    # a 70B model needs more 24 GB cards than one host takes for a three-slot card
    assert e.roof is None and "one host takes at most" in e.excluded
