"""`recommend(request) -> Recommendation`: the one entry point of the core. Pure but for reading
the packaged data and the files the request names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hwtune.recommend.calibrate import Calibration, calibrate_point, measured_efficiencies, read_bench
from hwtune.recommend.catalog import (
    CLASSES,
    PRECISIONS,
    Catalog,
    Efficiency,
    Llm,
    Workload,
    load_catalog,
)
from hwtune.recommend.costs import CloudVsBuy, UsageOptions, cloud_vs_buy
from hwtune.recommend.estimate import (
    EffTable,
    Estimate,
    estimate_gpu,
    estimate_llm_gpu,
    power_reference,
)
from hwtune.recommend.feed import PipelineCpu, image_input
from hwtune.recommend.invalid import InvalidRequest
from hwtune.recommend.llm import with_lengths
from hwtune.recommend.model import workload_from_model
from hwtune.recommend.pipelinefile import read_pipeline_cpu
from hwtune.recommend.prices import why_unpriced
from hwtune.recommend.roofline import encoder_at
from hwtune.recommend.setups import (
    HostCosts,
    Setup,
    best_of_class,
    by_value,
    largest_replica,
    pack_budget,
    size_for_target,
    with_feed,
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
    price_basis: str = "street"  # what a buyer pays now; "list" for launch list prices
    price_overrides: tuple[tuple[str, float], ...] = ()
    hosts: HostCosts = field(default_factory=HostCosts)
    usage: UsageOptions = field(default_factory=UsageOptions)
    vendors: tuple[str, ...] = ()  # empty: every vendor
    classes: tuple[str, ...] = ()  # empty: every class, but fleet plans take server cards only
    seq_len: float | None = None  # tokens per sample for an encoder workload
    ttft_ms: float | None = None  # LLM serving limits
    tpot_ms: float | None = None
    input_tokens: float | None = None  # LLM: mean prompt tokens per request; None: the dataset's
    output_tokens: float | None = None  # LLM: mean generated tokens per request
    pipeline_path: Path | None = None  # a saved `bench run --pipeline image` result: the CPU feed per setup


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
    subject: Workload | Llm  # what was estimated: a built-in or counted workload, or an LLM
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
    fleet_classes: tuple[str, ...] = ()  # classes the target setups were drawn from
    left_out: tuple[tuple[str, str], ...] = ()  # (GPU, why) for every GPU no plan lists

    @property
    def workload(self) -> Workload | None:
        """None for an LLM."""
        return self.subject if isinstance(self.subject, Workload) else None

    @property
    def llm(self) -> Llm | None:
        return self.subject if isinstance(self.subject, Llm) else None

    @property
    def unit(self) -> str:
        return "tokens/s" if self.llm else "samples/s"

    @property
    def workload_name(self) -> str:
        return self.subject.name


def resolve_workload(req: Request, catalog: Catalog) -> Workload | Llm:
    if req.model_path is not None:
        return workload_from_model(req.model_path, req.model_shapes)
    m = catalog.llm(req.workload)
    if m is not None:
        return with_lengths(m, req.input_tokens, req.output_tokens)
    wl = catalog.workload(req.workload)
    if wl is None:
        names = ", ".join(catalog.workload_names())
        raise InvalidRequest("workload", "unknown workload {name!r} (known: {known})",
                             name=req.workload, known=names)
    if wl.kind == "encoder":
        seq = req.seq_len or wl.seq_len
        if seq > wl.padded_seq_len:
            raise InvalidRequest("seq_len", "{seq:g} tokens is more than {name}'s maximum of {most}",
                                 seq=seq, name=wl.name, most=wl.padded_seq_len)
        wl = encoder_at(wl, seq)
    return wl


def _known(field: str, what: str, values: tuple[str, ...], known: list[str]) -> tuple[str, ...]:
    """Case-insensitive match against the known names, returned as the data spells them."""
    by_lower = {k.lower(): k for k in known}
    out = []
    for v in values:
        if v.lower() not in by_lower:
            raise InvalidRequest(field, "unknown {what} {value!r} (known: {known})",
                                 what=what, value=v, known=", ".join(known))
        out.append(by_lower[v.lower()])
    return tuple(out)


def check_request(req: Request, catalog: Catalog) -> None:
    if req.precision not in PRECISIONS:
        raise InvalidRequest("precision", "{value!r} is not one of {known}",
                             value=req.precision, known=", ".join(PRECISIONS))
    _known("vendors", "vendor", req.vendors, catalog.vendors)
    _known("classes", "class", req.classes, list(CLASSES))
    is_llm = req.model_path is None and catalog.llm(req.workload) is not None
    wl = catalog.workload(req.workload) if req.model_path is None else None
    if req.seq_len is not None and not (wl and wl.kind == "encoder"):
        encoders = ", ".join(w.name for w in catalog.workloads if w.kind == "encoder")
        raise InvalidRequest("seq_len", "applies to encoder workloads ({encoders}), not {workload!r}",
                             encoders=encoders, workload=req.workload)
    if is_llm and req.latency_slo_ms is not None:
        raise InvalidRequest("latency_slo_ms", "limits a batch of a non-LLM workload; for an LLM give "
                             "{ttft_ms} and/or {tpot_ms}")
    for key, value in (("ttft_ms", req.ttft_ms), ("tpot_ms", req.tpot_ms),
                       ("input_tokens", req.input_tokens), ("output_tokens", req.output_tokens)):
        if value is not None and not is_llm:
            raise InvalidRequest(key, "applies to LLM workloads ({llms}), not {workload!r}",
                                 llms=", ".join(m.name for m in catalog.llms), workload=req.workload)
    unknown_gpu = "unknown GPU {name!r} (see {catalog_listing} for the names)"
    if req.bench_gpu is not None and catalog.gpu(req.bench_gpu) is None:
        raise InvalidRequest("bench_gpu", unknown_gpu, name=req.bench_gpu)
    for name, _ in req.price_overrides:
        if catalog.gpu(name) is None:
            raise InvalidRequest("price_overrides", unknown_gpu, name=name)
    for key, amount in (("batch", req.batch), ("budget_usd", req.budget_usd),
                        ("target_fps", req.target_fps), ("latency_slo_ms", req.latency_slo_ms),
                        ("seq_len", req.seq_len), ("ttft_ms", req.ttft_ms), ("tpot_ms", req.tpot_ms),
                        ("input_tokens", req.input_tokens), ("output_tokens", req.output_tokens)):
        if amount is not None and amount <= 0:
            raise InvalidRequest(key, "must be positive, got {amount:g}", amount=amount)
    m = catalog.llm(req.workload) if is_llm else None
    if m is not None and (req.input_tokens or req.output_tokens):
        prompt = req.input_tokens or m.dataset_prompt_tokens
        answer = req.output_tokens or m.dataset_output_tokens
        if prompt + answer > m.context_tokens:
            field = "input_tokens" if req.input_tokens else "output_tokens"
            raise InvalidRequest(field, "{prompt:g} prompt and {answer:g} answer tokens exceed {model}'s "
                                 "{context:,}-token window", prompt=prompt, answer=answer, model=m.name,
                                 context=m.context_tokens)


def _why_no_setup(estimates: list[Estimate], req: Request) -> str:
    """Why a budget plan is empty: the limits, where no GPU meets them, else the budget."""
    if any(e.roof is not None for e in estimates):
        return f"no priced GPU setup fits a budget of ${req.budget_usd:,.0f}"
    for limit, given in (("TPOT", req.tpot_ms), ("TTFT", req.ttft_ms)):
        fastest = min(((float(m.group(1)), e.gpu.name) for e in estimates if e.excluded
                       and (m := re.match(limit + r" ([0-9.]+) ms", e.excluded))), default=None)
        if given and fastest:
            return (f"no GPU meets {limit} {given:g} ms: the fastest, {fastest[1]}, takes {fastest[0]:g} ms "
                    + ("a step with one sequence" if limit == "TPOT" else "for one prompt"))
    return "no GPU can run it as asked (each GPU's reason is above)"


def calibration_line(c: Calibration) -> str:
    head = f"--from-bench result {c.point.index} ({c.point.device or 'no device name'})"
    if not c.accepted:
        return f"{head} ignored: {c.note}"
    used = (f"{head}: measured efficiency {c.efficiency:.3f} of the {c.precision} peak of "
            f"{c.gpu}, used for every {c.family} GPU")
    return f"{used} ({c.note})" if c.note else used


def _value_key(e: Estimate) -> tuple:
    # Best value first, but a GPU whose efficiency is a judgement never above one with a
    # published or measured result behind it (the tables mark it too).
    return (e.throughput_per_usd is None, e.judgement, -(e.throughput_per_usd or 0.0),
            -e.throughput_per_s, e.gpu.name)


def efficiency_table(rows: tuple[Efficiency, ...] | list[Efficiency]) -> EffTable:
    return {(e.gpu or e.family, e.kind, e.precision): e for e in rows}


def fleet_classes(req: Request) -> tuple[str, ...]:
    """Fleet plans use datacenter-licensed (server) cards unless the user names the classes."""
    return req.classes or ("server",)


def _why_left_out(e: Estimate) -> str:
    if e.roof is None:
        ex = e.excluded
        return "too little memory" if ("do not fit" in ex or "memory too small" in ex) else ex
    if not e.price.usd:
        return why_unpriced(e.gpu)
    return ""


def left_out_of_plan(catalog: Catalog, gpus: list, estimates: list[Estimate],
                     fleet: tuple[str, ...] | None, *plans: list[Setup]) -> list[tuple[str, str]]:
    """Every catalog GPU that no plan lists, with the reason: filtered by vendor or class, not
    of the fleet's classes, cannot run the workload, no price, or over the budget."""
    listed = {s.estimate.gpu.name for plan in plans for s in plan}
    chosen = {g.name for g in gpus}
    out = []
    for g in catalog.gpus:
        if g.name not in chosen:
            out.append((g.name, "filtered out by the vendor or class asked for"))
    for e in estimates:
        if e.gpu.name in listed:
            continue
        # a fleet plan alone takes its classes only: that is the first reason for any other card
        why = (f"class {e.gpu.gpu_class}: the fleet plan takes {', '.join(fleet)} GPUs"
               if fleet and e.gpu.gpu_class not in fleet else _why_left_out(e))
        out.append((e.gpu.name, why or "no setup of it fits the budget"))
    return out


def left_out_lines(left: list[tuple[str, str]]) -> list[str]:
    """One warning per reason, naming every GPU it applies to."""
    by_why: dict[str, list[str]] = {}
    for name, why in left:
        by_why.setdefault(why, []).append(name)
    return [f"left out ({why}): {', '.join(names)}" for why, names in by_why.items()]


def read_feed(req: Request, workload: Workload | Llm, catalog: Catalog) -> PipelineCpu | None:
    """The measured image pipeline's CPU time, for an image workload only."""
    if req.pipeline_path is None:
        return None
    if isinstance(workload, Llm) or workload.kind != "cnn":
        images = ", ".join(w.name for w in catalog.workloads if w.kind == "cnn")
        what = "a language model" if isinstance(workload, Llm) else f"an {workload.kind}: its requests are text"
        raise InvalidRequest("pipeline_path", "an image pipeline feeds image workloads ({images}), "
                             "not {name}, {what}", str(req.pipeline_path), images=images, name=workload.name,
                             what=what)
    if req.model_path is not None and not image_input(workload.input):
        raise InvalidRequest("pipeline_path", "an image pipeline feeds a model with one image input "
                             "(N x 3 x H x W or N x H x W x 3), not {shape}", str(req.pipeline_path),
                             shape=workload.input)
    return read_pipeline_cpu(req.pipeline_path)


def recommend(req: Request, catalog: Catalog | None = None) -> Recommendation:
    catalog = catalog or load_catalog()
    check_request(req, catalog)
    vendors = _known("vendors", "vendor", req.vendors, catalog.vendors)
    classes = _known("classes", "class", req.classes, list(CLASSES))
    workload = resolve_workload(req, catalog)
    llm = workload if isinstance(workload, Llm) else None
    pipeline = read_feed(req, workload, catalog)
    base = efficiency_table(catalog.efficiencies)
    cals: list[Calibration] = []
    warnings: list[str] = []
    effs = dict(base)
    if req.bench_path is not None:
        cals = [calibrate_point(p, catalog, req.accumulate, req.bench_gpu)
                for p in read_bench(req.bench_path)]
        by_family = {(e.family, e.precision): e for e in catalog.efficiencies if not (e.gpu or e.kind)}
        for (family, prec), e in measured_efficiencies(cals, by_family, str(req.bench_path)).items():
            effs[(family, "", prec)] = e
        warnings += [calibration_line(c) for c in cals]
        if not any(c.accepted for c in cals):
            warnings.append("--from-bench: no result could calibrate a GPU; data efficiencies used")
    overrides = dict(req.price_overrides)
    gpus = [g for g in catalog.gpus
            if (not vendors or g.vendor in vendors) and (not classes or g.gpu_class in classes)]
    if isinstance(workload, Llm):
        ests = (estimate_llm_gpu(g, workload, req.precision, effs, req.price_basis, overrides,
                                 req.tpot_ms, req.ttft_ms, largest_replica(g, req.hosts),
                                 power_reference(catalog, g))
                for g in gpus)
    else:
        ests = (estimate_gpu(g, workload, req.precision, req.accumulate, effs, req.batch,
                             req.latency_slo_ms, req.price_basis, overrides) for g in gpus)
    estimates = sorted(ests, key=_value_key)
    if llm and (req.ttft_ms or req.tpot_ms):
        warnings.append("--ttft/--tpot are met on the mean decode step and one idle prefill; MLPerf "
                        "applies them at the 99th percentile under load: its Server results (2 s / "
                        "100-200 ms) are mostly within 35% of this estimate, its Interactive ones "
                        "(0.5 s / 30-40 ms) up to 2.5x below it (docs/recommend.md)")
    budget_setups: list[Setup] = []
    target_setups: list[Setup] = []
    comparison = None
    unit = "tokens/s" if llm else "inferences/s"
    if req.budget_usd is not None:
        budget_setups = with_feed(pack_budget(estimates, req.budget_usd, req.hosts), pipeline)
        comparison = Comparison(best_of_class(budget_setups, ("server",)),
                                best_of_class(budget_setups, ("desktop",)))
        if not budget_setups:
            warnings.append(_why_no_setup(estimates, req))
    fleet = fleet_classes(req)
    if req.target_fps is not None:
        target_setups = with_feed(size_for_target([e for e in estimates if e.gpu.gpu_class in fleet],
                                                  req.target_fps, req.hosts), pipeline)
        if not req.classes:
            warnings.append("fleet plan: server-class (datacenter-licensed) GPUs only; "
                            "--class desktop or --class workstation adds those cards")
        if req.budget_usd is not None:
            target_setups = [s for s in target_setups if s.total_cost_usd <= req.budget_usd]
        if not target_setups:
            warnings.append(f"no setup reaches {req.target_fps:,.0f} {unit}"
                            + (f" within ${req.budget_usd:,.0f}" if req.budget_usd else ""))
        comparison = comparison or Comparison(best_of_class(target_setups, ("server",)),
                                              best_of_class(target_setups, ("desktop",)))
    if pipeline and req.budget_usd is None and req.target_fps is None:
        warnings.append(f"pipeline result {pipeline.source}: its CPU feed is checked on planned "
                        "setups only (with a budget or a target rate)")
    left_out: list[tuple[str, str]] = []
    if req.budget_usd is not None or req.target_fps is not None:
        left_out = left_out_of_plan(catalog, gpus, estimates, fleet if req.target_fps is not None
                                    and req.budget_usd is None else None, budget_setups, target_setups)
        warnings += left_out_lines(left_out)
    primary = (target_setups or budget_setups)[:1]
    bests = (comparison.server, comparison.desktop) if comparison else ()
    cloud_for = primary + [s for s in bests if s and s not in primary]
    by_name = {e.gpu.name: e for e in estimates}
    cloud = tuple(cloud_vs_buy(s, catalog.cloud, by_name, req.usage, req.target_fps)
                  for s in cloud_for)
    return Recommendation(
        request=req, subject=workload, estimates=tuple(estimates),
        calibrations=tuple(cals), efficiencies=tuple(effs[k] for k in sorted(effs)),
        budget_setups=tuple(budget_setups), value_setups=tuple(by_value(budget_setups)),
        target_setups=tuple(target_setups), comparison=comparison, cloud=cloud,
        warnings=tuple(warnings), catalog=catalog, fleet_classes=fleet if req.target_fps else (),
        left_out=tuple(left_out),
    )
