"""Whole setups: cards plus the hosts they need, packed into a budget or sized to a target.

Every setup is buildable: a host type from `data/hosts.csv` that takes this card, with a
replica's tensor-parallel group inside one host (cards per host are whole replicas), and
hosts sold only full (8-GPU boards, racks) bought full. A replica larger than any host that
takes the card is not offered: pipeline parallelism across hosts is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from hwtune.recommend.catalog import GpuSpec
from hwtune.recommend.estimate import Estimate
from hwtune.recommend.feed import CpuFeed, PipelineCpu, cpu_feed
from hwtune.recommend.hostdata import HostType, load_hosts
from hwtune.recommend.llm import cards_for


@dataclass(frozen=True)
class HostCosts:
    """The user's overrides of the three common host types; every other figure is data.

    The defaults equal `data/hosts.csv` (a test holds them together).
    """

    desktop_usd: float = 1500.0
    desktop_max_cards: int = 2
    desktop_power_w: float = 150.0
    pcie_server_usd: float = 3500.0
    pcie_server_max_cards: int = 4
    pcie_server_power_w: float = 300.0
    baseboard_usd: float = 60000.0
    baseboard_max_cards: int = 8
    baseboard_power_w: float = 2500.0
    types: tuple[HostType, ...] = field(default=(), compare=False, repr=False)

    def table(self) -> tuple[HostType, ...]:
        """The host types in force: the data's, with the overrides applied."""
        over = {
            "desktop": (self.desktop_usd, self.desktop_max_cards, self.desktop_power_w),
            "pcie-server": (self.pcie_server_usd, self.pcie_server_max_cards, self.pcie_server_power_w),
            "baseboard": (self.baseboard_usd, self.baseboard_max_cards, self.baseboard_power_w),
        }
        out = []
        for h in self.types or load_hosts():
            if h.name in over:
                usd, n, w = over[h.name]
                wide = min(h.max_wide_gpus, n) if h.max_wide_gpus else 0
                h = replace(h, usd=usd, max_gpus=n, max_wide_gpus=wide, power_w=w)
            out.append(h)
        return tuple(out)


@dataclass(frozen=True)
class HostChoice:
    host: HostType
    cards_per_host: int  # whole replicas; all of the host's positions when it is sold full


def host_choices(gpu: GpuSpec, replica: int, costs: HostCosts) -> list[HostChoice]:
    """Host types that take this card and hold whole replicas of `replica` GPUs."""
    out = []
    for h in costs.table():
        cap = h.capacity(gpu.slots)
        if h.mount != gpu.host or cap < replica:
            continue
        if h.sold_full:
            if cap % replica == 0:
                out.append(HostChoice(h, cap))
        else:
            out.append(HostChoice(h, cap // replica * replica))
    return out


def largest_replica(gpu: GpuSpec, costs: HostCosts) -> int:
    """The most GPUs one host takes for this card: the largest tensor-parallel group offered."""
    return max((h.capacity(gpu.slots) for h in costs.table() if h.mount == gpu.host), default=0)


def cheapest_choice(gpu: GpuSpec, replica: int, costs: HostCosts) -> HostChoice | None:
    """The host type with the lowest host cost per card (for a card's share of its host)."""
    return min(host_choices(gpu, replica, costs), default=None,
               key=lambda c: (c.host.usd / c.cards_per_host, c.host.name))


@dataclass(frozen=True)
class Setup:
    estimate: Estimate
    cards: int
    hosts: int
    cards_per_host: int
    gpu_cost_usd: float
    host_cost_usd: float
    power_w: float  # cards at board power plus hosts
    host_type: HostType
    cpu_feed: CpuFeed | None = None  # with a measured image pipeline: can the hosts' CPUs feed it

    @property
    def total_cost_usd(self) -> float:
        return self.gpu_cost_usd + self.host_cost_usd

    @property
    def throughput_per_s(self) -> float:
        return self.cards * self.estimate.throughput_per_s

    @property
    def throughput_per_usd(self) -> float:
        return self.throughput_per_s / self.total_cost_usd


def make_setup(est: Estimate, cards: int, choice: HostChoice) -> Setup:
    h = choice.host
    hosts = math.ceil(cards / choice.cards_per_host)
    return Setup(
        estimate=est, cards=cards, hosts=hosts, cards_per_host=choice.cards_per_host,
        gpu_cost_usd=cards * (est.price.usd or 0.0), host_cost_usd=hosts * h.usd,
        power_w=cards * est.gpu.tdp_w + hosts * h.power_w, host_type=h,
    )


def with_feed(setups: list[Setup], pipeline: PipelineCpu | None) -> list[Setup]:
    """The setups, each with its hosts' CPU feed of the measured pipeline (unchanged without one)."""
    if pipeline is None:
        return setups
    return [replace(s, cpu_feed=cpu_feed(s.throughput_per_s, s.cards, s.cards_per_host,
                                         s.host_type.cpu_cores, pipeline)) if s.host_type else s
            for s in setups]


def usable(est: Estimate) -> bool:
    return est.roof is not None and bool(est.price.usd)


def max_cards_within(est: Estimate, budget_usd: float, choice: HostChoice) -> int:
    """The most cards of this GPU in hosts of this type that the budget pays for, in whole
    replicas, each replica inside one host."""
    price = est.price.usd or 0.0
    per_host, host, r = choice.cards_per_host, choice.host.usd, est.gpus_per_replica
    full = host + per_host * price
    full_hosts = int(budget_usd // full) if full > 0 else 0
    if choice.host.sold_full:
        return full_hosts * per_host
    left = budget_usd - full_hosts * full
    extra = int((left - host) // price) if left >= host + price else 0
    extra = min(extra, per_host - 1)
    return full_hosts * per_host + extra - extra % r


def _rank_key(s: Setup) -> tuple:
    # A GPU whose efficiency is a judgement (no published or measured result) is never ranked
    # above one with evidence behind it; the tables mark it.
    return (s.estimate.judgement, -s.throughput_per_s, -s.throughput_per_usd, s.estimate.gpu.name)


def best_within(est: Estimate, budget_usd: float, costs: HostCosts) -> Setup | None:
    """The host type giving the most cards within the budget (then the cheaper setup)."""
    best = None
    for c in host_choices(est.gpu, est.gpus_per_replica, costs):
        n = max_cards_within(est, budget_usd, c)
        if n <= 0:
            continue
        s = make_setup(est, n, c)
        if best is None or (s.cards, -s.total_cost_usd) > (best.cards, -best.total_cost_usd):
            best = s
    return best


def pack_budget(estimates: list[Estimate], budget_usd: float, costs: HostCosts) -> list[Setup]:
    """One setup per GPU that fits the budget: as many cards as it pays for, best first."""
    setups = [s for s in (best_within(e, budget_usd, costs) for e in estimates if usable(e)) if s]
    return sorted(setups, key=_rank_key)


def by_value(setups: list[Setup]) -> list[Setup]:
    return sorted(setups, key=lambda s: (s.estimate.judgement, -s.throughput_per_usd,
                                         -s.throughput_per_s, s.estimate.gpu.name))


def cheapest_for(est: Estimate, target_per_s: float, costs: HostCosts) -> Setup | None:
    n = cards_for(target_per_s, est.throughput_per_s, est.gpus_per_replica)
    setups = []
    for c in host_choices(est.gpu, est.gpus_per_replica, costs):
        cards = math.ceil(n / c.cards_per_host) * c.cards_per_host if c.host.sold_full else n
        setups.append(make_setup(est, cards, c))
    return min(setups, default=None, key=lambda s: (s.total_cost_usd, s.host_type.name))


def size_for_target(estimates: list[Estimate], target_per_s: float,
                    costs: HostCosts) -> list[Setup]:
    """Per GPU, the cheapest buildable setup that reaches the target; cheapest first."""
    setups = [s for s in (cheapest_for(e, target_per_s, costs) for e in estimates if usable(e)) if s]
    return sorted(setups, key=lambda s: (s.estimate.judgement, s.total_cost_usd,
                                         -s.throughput_per_s, s.estimate.gpu.name))


def best_of_class(setups: list[Setup], classes: tuple[str, ...]) -> Setup | None:
    """The first setup (in the given order) whose GPU is of one of these classes."""
    return next((s for s in setups if s.estimate.gpu.gpu_class in classes), None)
