"""Whole setups: cards plus the hosts they need, packed into a budget or sized to a target."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwtune.recommend.estimate import Estimate
from hwtune.recommend.llm import cards_for


@dataclass(frozen=True)
class HostCosts:
    """What a host costs without its GPUs, how many cards it takes and what it draws.

    Defaults are round estimates, documented in docs/recommend.md; every one is an option.
    """

    desktop_usd: float = 1500.0  # ATX tower, 8-16 cores, 64 GB, 1,200 W PSU
    desktop_max_cards: int = 2
    desktop_power_w: float = 150.0
    pcie_server_usd: float = 3500.0  # entry 2U single-socket GPU server, 4 x16 slots
    pcie_server_max_cards: int = 4
    pcie_server_power_w: float = 300.0
    baseboard_usd: float = 60000.0  # HGX/OAM 8-GPU baseboard server (NVSwitch, CPUs, NICs)
    baseboard_max_cards: int = 8
    baseboard_power_w: float = 2500.0

    def cost_usd(self, host: str) -> float:
        return {"desktop": self.desktop_usd, "pcie-server": self.pcie_server_usd,
                "baseboard": self.baseboard_usd}[host]

    def power_w(self, host: str) -> float:
        return {"desktop": self.desktop_power_w, "pcie-server": self.pcie_server_power_w,
                "baseboard": self.baseboard_power_w}[host]

    def max_cards(self, host: str, slots: int) -> int:
        if host == "desktop":
            # A desktop board spaces its x16 slots for two dual-slot cards; a wider card
            # covers the second slot.
            return 1 if slots > 2 else self.desktop_max_cards
        if host == "pcie-server":
            return self.pcie_server_max_cards
        return self.baseboard_max_cards


@dataclass(frozen=True)
class Setup:
    estimate: Estimate
    cards: int
    hosts: int
    cards_per_host: int
    gpu_cost_usd: float
    host_cost_usd: float
    power_w: float  # cards at board power plus hosts

    @property
    def total_cost_usd(self) -> float:
        return self.gpu_cost_usd + self.host_cost_usd

    @property
    def throughput_per_s(self) -> float:
        return self.cards * self.estimate.throughput_per_s

    @property
    def throughput_per_usd(self) -> float:
        return self.throughput_per_s / self.total_cost_usd


def make_setup(est: Estimate, cards: int, costs: HostCosts) -> Setup:
    gpu = est.gpu
    per_host = costs.max_cards(gpu.host, gpu.slots)
    hosts = math.ceil(cards / per_host)
    return Setup(
        estimate=est, cards=cards, hosts=hosts, cards_per_host=per_host,
        gpu_cost_usd=cards * (est.price.usd or 0.0),
        host_cost_usd=hosts * costs.cost_usd(gpu.host),
        power_w=cards * gpu.tdp_w + hosts * costs.power_w(gpu.host),
    )


def usable(est: Estimate) -> bool:
    return est.roof is not None and bool(est.price.usd)


def max_cards_within(est: Estimate, budget_usd: float, costs: HostCosts) -> int:
    """The most cards of this GPU, with their hosts, that the budget pays for, in whole
    replicas when the model spans several GPUs."""
    price = est.price.usd or 0.0
    per_host = costs.max_cards(est.gpu.host, est.gpu.slots)
    host = costs.cost_usd(est.gpu.host)
    full_hosts = int(budget_usd // (host + per_host * price))
    left = budget_usd - full_hosts * (host + per_host * price)
    extra = int((left - host) // price) if left >= host + price else 0
    cards = full_hosts * per_host + min(extra, per_host - 1)
    return cards - cards % est.gpus_per_replica


def _rank_key(s: Setup) -> tuple:
    # A GPU whose efficiency is a judgement (no published or measured result) is never ranked
    # above one with evidence behind it; the tables mark it.
    return (s.estimate.judgement, -s.throughput_per_s, -s.throughput_per_usd, s.estimate.gpu.name)


def pack_budget(estimates: list[Estimate], budget_usd: float, costs: HostCosts) -> list[Setup]:
    """One setup per GPU that fits the budget: as many cards as it pays for, best first."""
    setups = []
    for est in estimates:
        if not usable(est):
            continue
        n = max_cards_within(est, budget_usd, costs)
        if n > 0:
            setups.append(make_setup(est, n, costs))
    return sorted(setups, key=_rank_key)


def by_value(setups: list[Setup]) -> list[Setup]:
    return sorted(setups, key=lambda s: (s.estimate.judgement, -s.throughput_per_usd,
                                         -s.throughput_per_s, s.estimate.gpu.name))


def size_for_target(estimates: list[Estimate], target_per_s: float,
                    costs: HostCosts) -> list[Setup]:
    """Per GPU, the fewest cards that reach the target; cheapest setup first."""
    setups = []
    for est in estimates:
        if not usable(est):
            continue
        n = cards_for(target_per_s, est.throughput_per_s, est.gpus_per_replica)
        setups.append(make_setup(est, n, costs))
    return sorted(setups, key=lambda s: (s.estimate.judgement, s.total_cost_usd,
                                         -s.throughput_per_s, s.estimate.gpu.name))


def best_of_class(setups: list[Setup], classes: tuple[str, ...]) -> Setup | None:
    """The first setup (in the given order) whose GPU is of one of these classes."""
    return next((s for s in setups if s.estimate.gpu.gpu_class in classes), None)
