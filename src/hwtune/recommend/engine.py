"""`recommend(request) -> Recommendation`: the one entry point of the core. Pure but for reading
the packaged data and the files the request names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hwtune.errors import ConfigError
from hwtune.recommend.calibrate import Calibration, calibrate_point, measured_efficiencies, read_bench
from hwtune.recommend.catalog import PRECISIONS, Catalog, Efficiency, Workload, load_catalog
from hwtune.recommend.costs import CloudVsBuy, UsageOptions, cloud_vs_buy
from hwtune.recommend.estimate import Estimate, estimate_gpu
from hwtune.recommend.setups import (
    HostCosts, Setup, best_of_class, by_value, pack_budget, size_for_target,
)

DEFAULT_WORKLOAD = "resnet50"
DEFAULT_PRECISION = "fp16"
DEFAULT_BATCH = 32


@dataclass(frozen=True)
class Request:
    workload: str = DEFAULT_WORKLOAD
    model_path: Path | None = None  # an ONNX file to count instead of a built-in workload
    model_shapes: tuple[str, ...] = ()  # NAME=DxD... for the model's dynamic inputs
    precision: str = DEFAULT_PRECISION
    accumulate: str = "fp32"
    batch: int = DEFAULT_BATCH
    budget_usd: float | None = None
    target_fps: float | None = None
    latency_slo_ms: float | None = None
    bench_path: Path | None = None
    bench_gpu: str | None = None  # catalog GPU of bench results whose device names no model
    price_basis: str = "list"
    price_overrides: tuple[tuple[str, float], ...] = ()
    hosts: HostCosts = field(default_factory=HostCosts)
    usage: UsageOptions = field(default_factory=UsageOptions)
    vendors: tuple[str, ...] = ()  # empty: every vendor


@dataclass(frozen=True)
class Comparison:
    """The best server setup beside the best desktop one."""

    server: Setup | None
    desktop: Setup | None

    @property
    def throughput_ratio(self) -> float | None:
        if not (self.server and self.desktop):
            return None
        return self.server.throughput_per_s / self.desktop.throughput_per_s

    @property
    def value_ratio(self) -> float | None:
        if not (self.server and self.desktop):
            return None
        return self.server.throughput_per_usd / self.desktop.throughput_per_usd


@dataclass(frozen=True)
class Recommendation:
    request: Request
    workload: Workload
    estimates: tuple[Estimate, ...]  # every GPU, best throughput per dollar first
    calibrations: tuple[Calibration, ...]
    efficiencies: tuple[Efficiency, ...]  # the rows in force, measured ones included
    budget_setups: tuple[Setup, ...]  # by total throughput
    value_setups: tuple[Setup, ...]  # the same setups by throughput per dollar
    target_setups: tuple[Setup, ...]  # cheapest first
    comparison: Comparison | None
    cloud: tuple[CloudVsBuy, ...]  # for the recommended setup, then server and desktop bests
    warnings: tuple[str, ...]
    catalog: Catalog


def resolve_workload(req: Request, catalog: Catalog) -> Workload:
    if req.model_path is not None:
        from hwtune.recommend.model import workload_from_model

        return workload_from_model(req.model_path, req.model_shapes)
    wl = catalog.workload(req.workload)
    if wl is None:
        names = ", ".join(w.name for w in catalog.workloads)
        raise ConfigError(f"--workload: unknown workload {req.workload!r} (known: {names})")
    return wl


def check_request(req: Request, catalog: Catalog) -> None:
    if req.precision not in PRECISIONS:
        raise ConfigError(f"--precision: {req.precision!r} is not one of {', '.join(PRECISIONS)}")
    if req.bench_gpu is not None and catalog.gpu(req.bench_gpu) is None:
        raise ConfigError(f"--bench-gpu: unknown GPU {req.bench_gpu!r} (see --all for the names)")
    for name, _ in req.price_overrides:
        if catalog.gpu(name) is None:
            raise ConfigError(f"--gpu-price: unknown GPU {name!r} (see --all for the names)")
    for label, value in (("--batch", req.batch), ("--budget", req.budget_usd),
                         ("--target-fps", req.target_fps), ("--latency-ms", req.latency_slo_ms)):
        if value is not None and value <= 0:
            raise ConfigError(f"{label}: must be positive, got {value:g}")


def calibration_line(c: Calibration) -> str:
    head = f"--from-bench result {c.point.index} ({c.point.device or 'no device name'})"
    if not c.accepted:
        return f"{head} ignored: {c.note}"
    used = (f"{head}: measured efficiency {c.efficiency:.3f} of the {c.precision} peak of "
            f"{c.gpu}, used for every {c.family} GPU")
    return f"{used} ({c.note})" if c.note else used


def _value_key(e: Estimate) -> tuple:
    return (e.throughput_per_usd is None, -(e.throughput_per_usd or 0.0),
            -e.throughput_per_s, e.gpu.name)


def recommend(req: Request, catalog: Catalog | None = None) -> Recommendation:
    catalog = catalog or load_catalog()
    check_request(req, catalog)
    workload = resolve_workload(req, catalog)
    base = {(e.family, e.precision): e for e in catalog.efficiencies}
    cals: list[Calibration] = []
    warnings: list[str] = []
    effs = dict(base)
    if req.bench_path is not None:
        cals = [calibrate_point(p, catalog, req.accumulate, req.bench_gpu)
                for p in read_bench(req.bench_path)]
        effs.update(measured_efficiencies(cals, base, str(req.bench_path)))
        warnings += [calibration_line(c) for c in cals]
        if not any(c.accepted for c in cals):
            warnings.append("--from-bench: no result could calibrate a GPU; data efficiencies used")
    measured = {k for k, e in effs.items() if e.basis == "measured"}
    overrides = dict(req.price_overrides)
    gpus = [g for g in catalog.gpus
            if not req.vendors or g.vendor.lower() in {v.lower() for v in req.vendors}]
    estimates = sorted(
        (estimate_gpu(g, workload, req.precision, req.accumulate, effs, measured, req.batch,
                      req.latency_slo_ms, req.price_basis, overrides) for g in gpus),
        key=_value_key,
    )
    budget_setups: list[Setup] = []
    target_setups: list[Setup] = []
    comparison = None
    if req.budget_usd is not None:
        budget_setups = pack_budget(estimates, req.budget_usd, req.hosts)
        comparison = Comparison(best_of_class(budget_setups, ("server",)),
                                best_of_class(budget_setups, ("desktop",)))
        if not budget_setups:
            warnings.append(f"no priced GPU setup fits a budget of ${req.budget_usd:,.0f}")
    if req.target_fps is not None:
        target_setups = size_for_target(estimates, req.target_fps, req.hosts)
        if req.budget_usd is not None:
            target_setups = [s for s in target_setups if s.total_cost_usd <= req.budget_usd]
        if not target_setups:
            warnings.append(f"no setup reaches {req.target_fps:,.0f} inferences/s"
                            + (f" within ${req.budget_usd:,.0f}" if req.budget_usd else ""))
        comparison = comparison or Comparison(best_of_class(target_setups, ("server",)),
                                              best_of_class(target_setups, ("desktop",)))
    primary = (target_setups or budget_setups)[:1]
    bests = (comparison.server, comparison.desktop) if comparison else ()
    cloud_for = primary + [s for s in bests if s and s not in primary]
    by_name = {e.gpu.name: e for e in estimates}
    cloud = tuple(cloud_vs_buy(s, catalog.cloud, by_name, req.usage, req.target_fps)
                  for s in cloud_for)
    return Recommendation(
        request=req, workload=workload, estimates=tuple(estimates), calibrations=tuple(cals),
        efficiencies=tuple(effs[k] for k in sorted(effs)), budget_setups=tuple(budget_setups),
        value_setups=tuple(by_value(budget_setups)), target_setups=tuple(target_setups),
        comparison=comparison, cloud=cloud, warnings=tuple(warnings), catalog=catalog,
    )
