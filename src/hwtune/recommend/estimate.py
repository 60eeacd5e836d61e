"""One estimate per GPU: precision path, efficiency, roofline, price and caveats."""

from __future__ import annotations

from dataclasses import dataclass

from hwtune.errors import ConfigError
from hwtune.recommend.catalog import Efficiency, GpuSpec, Workload
from hwtune.recommend.roofline import (
    PrecisionPath, Roofline, best_roofline, efficiency_key, resolve_precision,
)

GEFORCE_CAVEAT = ("GeForce driver licence: the NVIDIA GeForce/TITAN EULA does not allow "
                  "datacenter deployment (blockchain processing excepted)")


@dataclass(frozen=True)
class Price:
    usd: float | None
    basis: str  # "list", "street" or "user"; "" when there is none
    text: str  # the figure as the data gives it
    confidence: str
    as_of: str


@dataclass(frozen=True)
class Estimate:
    gpu: GpuSpec
    path: PrecisionPath
    efficiency: Efficiency
    efficiency_source: str  # "data" or "measured"
    roof: Roofline | None  # None when the workload cannot run (memory, SLO)
    excluded: str  # why roof is None
    price: Price
    caveats: tuple[str, ...]

    @property
    def throughput_per_s(self) -> float:
        return self.roof.throughput_per_s if self.roof else 0.0

    @property
    def throughput_per_usd(self) -> float | None:
        if not self.roof or not self.price.usd:
            return None
        return self.roof.throughput_per_s / self.price.usd


def parse_street(text: str) -> float | None:
    """'1000' -> 1000; a range '8000-15000' -> its midpoint."""
    parts = [p.strip() for p in text.split("-") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    return sum(values) / len(values) if values else None


def price_of(gpu: GpuSpec, basis: str, overrides: dict[str, float]) -> Price:
    """The card price under the chosen basis; the other figure stands in when one is missing."""
    if gpu.name in overrides:
        return Price(overrides[gpu.name], "user", f"{overrides[gpu.name]:g}", "given by the user", "")
    street = parse_street(gpu.street_price_usd) if gpu.street_price_usd else None
    order = [("list", gpu.launch_msrp_usd), ("street", street)]
    if basis == "street":
        order.reverse()
    for name, value in order:
        if value:
            text = f"{value:g}" if name == "list" else gpu.street_price_usd
            return Price(value, name, text, gpu.price_confidence, gpu.price_as_of)
    return Price(None, "", "", gpu.price_confidence, gpu.price_as_of)


def find_efficiency(effs: dict[tuple[str, str], Efficiency], gpu: GpuSpec,
                    executed: str) -> Efficiency:
    key = (gpu.family, efficiency_key(executed))
    if key not in effs:
        raise ConfigError(f"efficiency.csv: no row for family {key[0]!r}, precision {key[1]!r} "
                          f"(needed by {gpu.name})")
    return effs[key]


def caveats_for(gpu: GpuSpec, path: PrecisionPath, price: Price) -> tuple[str, ...]:
    out = []
    if gpu.name.startswith("GeForce"):
        out.append(GEFORCE_CAVEAT)
    if path.note:
        out.append(path.note)
    if gpu.host == "baseboard":
        out.append("SXM/OAM module: sold in baseboard servers only, not as a loose card")
    if gpu.gpu_class == "server" and gpu.host == "pcie-server" and "passive" in gpu.form_factor:
        out.append("passively cooled: needs server airflow")
    if price.usd and price.basis != "user":
        out.append(f"price is an estimate ({price.basis}, {price.confidence}"
                   + (f", {price.as_of}" if price.as_of else "") + ")")
    if not price.usd:
        out.append("no public price: give one with --gpu-price to rank it")
    if gpu.estimated_fields:
        out.append(f"estimated or unverified figures: {gpu.estimated_fields}")
    return tuple(out)


def estimate_gpu(gpu: GpuSpec, workload: Workload, precision: str, accumulate: str,
                 effs: dict[tuple[str, str], Efficiency], measured: set[tuple[str, str]],
                 batch: int, latency_slo_ms: float | None, price_basis: str,
                 price_overrides: dict[str, float]) -> Estimate:
    path = resolve_precision(gpu, precision, accumulate)
    eff = find_efficiency(effs, gpu, path.executed)
    roof, excluded = best_roofline(gpu, workload, path, eff, batch, latency_slo_ms)
    price = price_of(gpu, price_basis, price_overrides)
    caveats = caveats_for(gpu, path, price)
    if excluded:
        caveats = (excluded,) + caveats
    source = "measured" if (gpu.family, efficiency_key(path.executed)) in measured else "data"
    return Estimate(gpu, path, eff, source, roof, excluded, price, caveats)
