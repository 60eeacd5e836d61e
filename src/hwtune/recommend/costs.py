"""Cloud versus buying: the yearly cloud bill for the same throughput, the cost of owning, break-even."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwtune.recommend.catalog import CloudOffer
from hwtune.recommend.estimate import Estimate
from hwtune.recommend.llm import cards_for
from hwtune.recommend.setups import Setup

DAYS_PER_YEAR = 365  # a year is 365 days: 8,760 h at 24 h a day


# A serving fleet is sized for its peak; traffic follows the day, and fleets with serious
# traffic rarely sustain more than 40-50% utilization (docs/recommend.md gives the sources), so
# the default is 12 full-load hours a day: 50%.
DEFAULT_HOURS_PER_DAY = 12.0


@dataclass(frozen=True)
class UsageOptions:
    hours_per_day: float = DEFAULT_HOURS_PER_DAY  # hours a day at full load (autoscaled cloud bill, power)
    years: float = 3.0
    kwh_price_usd: float = 0.15

    @property
    def utilization(self) -> float:
        return self.hours_per_day / 24.0

    @property
    def hours_per_year(self) -> float:
        return self.hours_per_day * DAYS_PER_YEAR


@dataclass(frozen=True)
class CloudQuote:
    offer: CloudOffer
    estimate: Estimate  # the catalog GPU behind the offer, for the same workload
    gpus_needed: int
    instances: int
    usd_per_hour: float
    usd_per_year: float


@dataclass(frozen=True)
class CloudVsBuy:
    setup: Setup
    usage: UsageOptions
    throughput_per_s: float  # what the cloud must deliver: the target, else the setup's throughput
    quotes: tuple[CloudQuote, ...]  # cheapest first
    unmatched: tuple[tuple[CloudOffer, str], ...]  # offers not usable, with the reason
    power_kwh_per_year: float
    power_usd_per_year: float
    own_usd_total: float  # purchase plus power over the years
    cloud_usd_total: float | None  # cheapest quote over the years
    break_even_months: float | None  # None: renting stays cheaper than the power bill


def quote(offer: CloudOffer, est: Estimate, target_per_s: float, usage: UsageOptions) -> CloudQuote:
    """Instances that each hold whole replicas (tensor parallelism never spans instances)."""
    r = est.gpus_per_replica
    gpus = cards_for(target_per_s, est.throughput_per_s, r)
    instances = math.ceil(gpus // r / (offer.gpu_count // r))
    hourly = instances * offer.price_usd_per_hour
    return CloudQuote(offer, est, gpus, instances, hourly, hourly * usage.hours_per_year)


def cloud_quotes(offers: tuple[CloudOffer, ...], estimates: dict[str, Estimate],
                 target_per_s: float, usage: UsageOptions
                 ) -> tuple[list[CloudQuote], list[tuple[CloudOffer, str]]]:
    quotes, unmatched = [], []
    for offer in offers:
        if not offer.current:
            unmatched.append((offer, f"status {offer.status}"))
            continue
        if not offer.catalog_gpu:
            unmatched.append((offer, f"GPU {offer.gpu!r} not mapped to the catalog"))
            continue
        est = estimates.get(offer.catalog_gpu)
        if est is None or est.roof is None:
            why = est.excluded if est else "GPU not estimated"
            unmatched.append((offer, f"{offer.catalog_gpu}: {why}"))
            continue
        if offer.gpu_count < est.gpus_per_replica:
            unmatched.append((offer, f"{offer.gpu_count} GPU(s) per instance; a replica needs "
                                     f"{est.gpus_per_replica} in one instance"))
            continue
        quotes.append(quote(offer, est, target_per_s, usage))
    quotes.sort(key=lambda q: (q.usd_per_year, q.offer.provider, q.offer.instance_type))
    return quotes, unmatched


def cloud_vs_buy(setup: Setup, offers: tuple[CloudOffer, ...], estimates: dict[str, Estimate],
                 usage: UsageOptions, target_per_s: float | None = None) -> CloudVsBuy:
    """Renting what the setup delivers (or only the target, when one is given) against owning it."""
    need = min(target_per_s, setup.throughput_per_s) if target_per_s else setup.throughput_per_s
    quotes, unmatched = cloud_quotes(offers, estimates, need, usage)
    kwh = setup.power_w / 1000.0 * usage.hours_per_year
    power_usd = kwh * usage.kwh_price_usd
    own = setup.total_cost_usd + power_usd * usage.years
    cloud_total = quotes[0].usd_per_year * usage.years if quotes else None
    months = None
    if quotes:
        saving_per_month = (quotes[0].usd_per_year - power_usd) / 12.0
        if saving_per_month > 0:
            months = setup.total_cost_usd / saving_per_month
    return CloudVsBuy(setup, usage, need, tuple(quotes), tuple(unmatched), kwh, power_usd, own,
                      cloud_total, months)


@dataclass(frozen=True)
class UnitCost:
    """What a million outputs (tokens for an LLM, samples otherwise) cost on one GPU at full use."""

    owned_usd: float | None  # card and its share of a host over the years, plus power
    cloud_usd: float | None  # the cheapest current on-demand offer for this GPU
    cloud_offer: CloudOffer | None


def unit_cost(est: Estimate, offers: tuple[CloudOffer, ...], usage: UsageOptions,
              host_usd_per_card: float, host_w_per_card: float) -> UnitCost:
    if est.roof is None or est.throughput_per_s <= 0:
        return UnitCost(None, None, None)
    per_hour = est.throughput_per_s * 3600.0
    owned = None
    if est.price.usd:
        hours = usage.years * usage.hours_per_year
        capital = (est.price.usd + host_usd_per_card) / hours
        power = (est.gpu.tdp_w + host_w_per_card) / 1000.0 * usage.kwh_price_usd
        owned = (capital + power) / per_hour * 1e6
    mine = [o for o in offers if o.current and o.catalog_gpu == est.gpu.name]
    best = min(mine, key=lambda o: (o.price_usd_per_gpu_hour, o.provider, o.instance_type), default=None)
    cloud = best.price_usd_per_gpu_hour / per_hour * 1e6 if best else None
    return UnitCost(owned, cloud, best)
