"""One estimate per GPU: precision path, efficiency, roofline, price and caveats."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwtune.errors import ConfigError
from hwtune.recommend.catalog import Catalog, Efficiency, GpuSpec, Llm, Workload
from hwtune.recommend.labels import RANKED_LAST
from hwtune.recommend.llm import LlmPlan, as_roofline, plan_llm
from hwtune.recommend.prices import Price, parse_street, price_of, why_unpriced  # noqa: F401 (re-exported)
from hwtune.recommend.roofline import (
    PrecisionPath,
    Roofline,
    best_roofline,
    efficiency_chain,
    resolve_precision,
)

# (scope, kind, precision): scope is a GPU name (its own published result) or a family;
# kind is "" for the default rows, or "encoder"/"llm".
EffTable = dict[tuple[str, str, str], Efficiency]

GEFORCE_CAVEAT = ("GeForce driver licence: the NVIDIA GeForce/TITAN EULA does not allow "
                  "datacenter deployment (blockchain processing excepted)")


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
        return self.efficiency.basis in RANKED_LAST

    @property
    def throughput_per_s(self) -> float:
        return self.roof.throughput_per_s if self.roof else 0.0

    @property
    def throughput_per_usd(self) -> float | None:
        if not self.roof or not self.price.usd:
            return None
        return self.roof.throughput_per_s / self.price.usd


# An LLM's compute fraction is a property of the kernels, not of the number format: a family's
# LLM row at one precision stands for the others before any convolution-net row does (else an
# H100's own ResNet-50 row would set its FP16 LLM figure while an H200 took its family's).
LLM_CARRY = ("fp8", "fp4", "int8", "fp16")


def find_efficiency(effs: EffTable, gpu: GpuSpec, executed: str, kind: str = "") -> Efficiency:
    """The nearest row: rows for this kind of workload first (this GPU's own, then its
    family's), then the default rows; 8/4-bit paths fall back to the 8-bit tensor row. A fitted
    row taken from another kind of workload is shown as carried, not as a fit."""
    chain = efficiency_chain(executed)
    kind_chain = chain + tuple(p for p in LLM_CARRY if p not in chain) if kind == "llm" else chain
    for scopes, precs in ((((gpu.name, kind), (gpu.family, kind)), kind_chain),
                          (((gpu.name, ""), (gpu.family, "")), chain)):
        for prec in precs:
            for scope, k in scopes:
                e = effs.get((scope, k, prec))
                if e is None:
                    continue
                if (k != kind or prec not in chain) and e.basis == "fit":
                    return replace(e, basis="carried",
                                   source=f"{e.source} (fitted on another workload or precision, carried over)")
                return e
    raise ConfigError(f"efficiency.csv: no row for family {gpu.family!r}, precision "
                      f"{chain[0]!r} (needed by {gpu.name})")


# efficiency.csv's row for the share of a PCIe link's bandwidth that a tensor-parallel
# all-reduce achieves (no GPU-to-GPU link: through PCIe switches or the CPU's root complex).
PCIE_LINK_ROW = ("pcie-link", "llm", "fp8")


def plain_pcie(gpu: GpuSpec) -> bool:
    """GPU-to-GPU traffic crosses PCIe: no NVLink, Infinity Fabric or on-chip RoCE links."""
    return not any(w in gpu.interconnect for w in ("NVLink", "Infinity Fabric", "RoCE"))


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
        out.append(f"{why_unpriced(gpu)}: give one with --gpu-price to rank it")
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


# The card each fitted LLM efficiency was chosen on (efficiency.csv, published.csv): its board
# power per peak tensor TOPS is what the family's efficiency assumes.
POWER_REFERENCE = {"nvidia-hopper": "H200 SXM 141GB", "nvidia-blackwell-dc": "B200 SXM 180GB",
                   "amd-cdna": "Instinct MI300X", "intel-gaudi": "Gaudi 2"}


def power_reference(catalog: Catalog, gpu: GpuSpec) -> GpuSpec | None:
    """The card the family's LLM efficiency was fitted on, where the family has one."""
    return catalog.gpu(POWER_REFERENCE[gpu.family]) if gpu.family in POWER_REFERENCE else None


def _silicon(gpu: GpuSpec) -> str:
    """The chip generation a card's architecture names: "Hopper (GH100) + Grace" is Hopper."""
    return gpu.architecture.split(" (")[0].split(" +")[0].strip()


def _power_feeds_a_cpu(gpu: GpuSpec) -> bool:
    """A superchip module ("Hopper (GH100) + Grace"): its listed power also feeds the CPU."""
    return " + " in gpu.architecture


def power_share(gpu: GpuSpec, path: PrecisionPath, reference: GpuSpec | None) -> float:
    """How much of the family's fitted LLM efficiency this card sustains, by board power.

    A large batch of LLM work keeps the tensor units busy until the board reaches its power
    limit, so a card sustains tensor throughput in proportion to its watts per peak TOPS of
    the path it runs, against the family's reference card of the same chip generation (H100
    PCIe at 350 W and H100 NVL at 400 W against H200 SXM at 700 W: 0.65 and 0.68; MI325X at
    1,000 W against MI300X at 750 W, the same silicon: 1.33). Never more than the path's
    peak; 1 where the family has no reference, for another generation than the reference's
    (MI210 against MI300X, Gaudi 3 against Gaudi 2, B300 against B200), for the reference
    itself, and for modules whose power also feeds a CPU."""
    if (reference is None or _power_feeds_a_cpu(gpu) or not (gpu.tdp_w and reference.tdp_w)
            or _silicon(gpu) != _silicon(reference)):
        return 1.0
    ref_path = resolve_precision(reference, path.executed, "fp32")
    if ref_path.executed != path.executed or not ref_path.peak_tops or not path.peak_tops:
        return 1.0
    return (gpu.tdp_w / path.peak_tops) / (reference.tdp_w / ref_path.peak_tops)


def llm_efficiency(gpu: GpuSpec, path: PrecisionPath, effs: EffTable,
                   power_reference: GpuSpec | None) -> tuple[Efficiency, GpuSpec]:
    """The efficiency an LLM plan runs at on this card, its power share applied (not to a
    row fitted on the card itself), and the card with its PCIe all-reduce share applied to
    the link where GPUs talk over plain PCIe."""
    eff = find_efficiency(effs, gpu, path.executed, "llm")
    if eff.gpu != gpu.name and (share := power_share(gpu, path, power_reference)) != 1.0:
        eff = replace(eff, compute=min(1.0, eff.compute * share))
    link = effs.get(PCIE_LINK_ROW)
    run_on = replace(gpu, interconnect_gbps=gpu.interconnect_gbps * link.compute) \
        if link is not None and plain_pcie(gpu) else gpu
    return eff, run_on


def estimate_llm_gpu(gpu: GpuSpec, m: Llm, precision: str, effs: EffTable, price_basis: str,
                     price_overrides: dict[str, float], tpot_ms: float | None,
                     ttft_ms: float | None, max_gpus: int = 8,
                     power_reference: GpuSpec | None = None) -> Estimate:
    path = resolve_precision(gpu, precision, "fp32")
    price = price_of(gpu, price_basis, price_overrides)
    if path.executed == "none":
        return _no_path(gpu, path, price, "tokens/s")
    eff, run_on = llm_efficiency(gpu, path, effs, power_reference)
    plan, excluded = plan_llm(run_on, m, path, eff, tpot_ms, ttft_ms, max_gpus)
    if excluded and max_gpus < 8:
        excluded += f" (one host takes at most {max_gpus} of this card; a replica stays in one host)"
    caveats = caveats_for(gpu, path, price)
    if excluded:
        caveats = (excluded,) + caveats
    elif plan is not None and plan.gpus_per_replica > 1:  # plan_llm gives a plan or why not
        caveats = (f"the model needs {plan.gpus_per_replica} GPUs per replica (tensor parallel over "
                   f"{gpu.interconnect}, {plan.comm_ms:.1f} ms of each {plan.step_ms:.1f} ms step)",) + caveats
    roof = as_roofline(plan, m, path) if plan else None
    source = "measured" if eff.basis == "measured" else "data"
    return Estimate(gpu, path, eff, source, roof, excluded, price, caveats, "tokens/s",
                    plan.gpus_per_replica if plan else 1, plan)
