"""One estimate per GPU: precision path, efficiency, roofline, price and caveats."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwtune.errors import ConfigError
from hwtune.recommend.catalog import Efficiency, GpuSpec, Llm, Workload
from hwtune.recommend.llm import LlmPlan, as_roofline, plan_llm
from hwtune.recommend.roofline import (
    PrecisionPath, Roofline, best_roofline, efficiency_chain, resolve_precision,
)

# (scope, kind, precision): scope is a GPU name (its own published result) or a family;
# kind is "" for the default rows, or "encoder"/"llm".
EffTable = dict[tuple[str, str, str], Efficiency]

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
    unit: str = "samples/s"  # "tokens/s" for LLM workloads: generated tokens, Offline
    gpus_per_replica: int = 1
    llm: LlmPlan | None = None

    @property
    def judgement(self) -> bool:
        """No published or measured result behind this GPU's efficiency."""
        return self.efficiency.basis == "judgement"

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


def find_efficiency(effs: EffTable, gpu: GpuSpec, executed: str, kind: str = "") -> Efficiency:
    """The nearest row: this GPU's own, then its family's, for this kind of workload before the
    default; 8/4-bit paths fall back to the 8-bit tensor row. A fitted row taken from another
    kind of workload is shown as carried, not as a fit."""
    for prec in efficiency_chain(executed):
        for scope, k in ((gpu.name, kind), (gpu.family, kind), (gpu.name, ""), (gpu.family, "")):
            e = effs.get((scope, k, prec))
            if e is None:
                continue
            if k != kind and e.basis == "fit":
                return replace(e, basis="carried", source=f"{e.source} (fitted on another workload, carried over)")
            return e
    raise ConfigError(f"efficiency.csv: no row for family {gpu.family!r}, precision "
                      f"{efficiency_chain(executed)[0]!r} (needed by {gpu.name})")


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


def _no_path(gpu: GpuSpec, path: PrecisionPath, price: Price, unit: str) -> Estimate:
    eff = Efficiency(gpu.family, "none", 0.0, 0.0, "judgement", "no peak figure to apply it to")
    return Estimate(gpu, path, eff, "data", None, path.note, price,
                    (path.note,) + caveats_for(gpu, replace(path, note=""), price), unit)


def estimate_gpu(gpu: GpuSpec, workload: Workload, precision: str, accumulate: str,
                 effs: EffTable, batch: int, latency_slo_ms: float | None, price_basis: str,
                 price_overrides: dict[str, float]) -> Estimate:
    path = resolve_precision(gpu, precision, accumulate)
    price = price_of(gpu, price_basis, price_overrides)
    if path.executed == "none":
        return _no_path(gpu, path, price, "samples/s")
    eff = find_efficiency(effs, gpu, path.executed, "" if workload.kind == "cnn" else workload.kind)
    roof, excluded = best_roofline(gpu, workload, path, eff, batch, latency_slo_ms)
    caveats = caveats_for(gpu, path, price)
    if excluded:
        caveats = (excluded,) + caveats
    source = "measured" if eff.basis == "measured" else "data"
    return Estimate(gpu, path, eff, source, roof, excluded, price, caveats)


def estimate_llm_gpu(gpu: GpuSpec, m: Llm, precision: str, effs: EffTable, price_basis: str,
                     price_overrides: dict[str, float], tpot_ms: float | None,
                     ttft_ms: float | None, max_gpus: int = 8) -> Estimate:
    path = resolve_precision(gpu, precision, "fp32")
    price = price_of(gpu, price_basis, price_overrides)
    if path.executed == "none":
        return _no_path(gpu, path, price, "tokens/s")
    eff = find_efficiency(effs, gpu, path.executed, "llm")
    plan, excluded = plan_llm(gpu, m, path, eff, tpot_ms, ttft_ms, max_gpus)
    if excluded and max_gpus < 8:
        excluded += f" (one host takes at most {max_gpus} of this card; a replica stays in one host)"
    caveats = caveats_for(gpu, path, price)
    if excluded:
        caveats = (excluded,) + caveats
    elif plan.gpus_per_replica > 1:
        caveats = (f"the model needs {plan.gpus_per_replica} GPUs per replica (tensor parallel over "
                   f"{gpu.interconnect}, {plan.comm_ms:.1f} ms of each {plan.step_ms:.1f} ms step)",) + caveats
    roof = as_roofline(plan, m, path) if plan else None
    source = "measured" if eff.basis == "measured" else "data"
    return Estimate(gpu, path, eff, source, roof, excluded, price, caveats, "tokens/s",
                    plan.gpus_per_replica if plan else 1, plan)
