"""The `--json` document: every estimate and every input, each figure traceable to its data row."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from hwtune.recommend.catalog import Llm
from hwtune.recommend.costs import DAYS_PER_YEAR, CloudQuote, CloudVsBuy, UnitCost, unit_cost
from hwtune.recommend.engine import Recommendation
from hwtune.recommend.estimate import Estimate
from hwtune.recommend.feed import CpuFeed
from hwtune.recommend.labels import EFFICIENCY_LABELS, PRICE_BASES
from hwtune.recommend.loo import expected_error
from hwtune.recommend.setups import HostCosts, Setup, cheapest_choice
from hwtune.recommend.validate import load_published

# /2: adds unit, gpus_per_replica, efficiency_judgement, llm, cost_per_million; fp8/fp4.
# /3: adds expected_error and calibrated_by per estimate, host types (inputs.host_types; per
# setup host_type, host_gpu_link, host_cpu_cores, host_memory_gb), price_source, left_out,
# legend, the utilization of a cloud comparison, input/output tokens. Every /2 field is kept.
# With a measured image pipeline (and only then), each setup has cpu_feed.
SCHEMA = "hwtune.recommend/3"


def _r(x: float | None) -> float | None:
    """Six significant digits: enough to trace a figure, stable across platforms."""
    return None if x is None else float(f"{x:.6g}")


def selected_estimates(rec: Recommendation, show_all: bool, top: int) -> list[Estimate]:
    """The top estimates, plus every GPU a setup or a cloud quote uses; all of them with show_all."""
    if show_all:
        return list(rec.estimates)
    used = {s.estimate.gpu.name for s in rec.budget_setups[:top] + rec.target_setups[:top]}
    used |= {q.estimate.gpu.name for c in rec.cloud for q in c.quotes[:1]}
    return [e for i, e in enumerate(rec.estimates) if i < top or e.gpu.name in used]


def card_unit_cost(e: Estimate, rec: Recommendation) -> UnitCost:
    """The cost per million units of one card, with its share of its host's price and power."""
    hosts: HostCosts = rec.request.hosts
    c = cheapest_choice(e.gpu, e.gpus_per_replica, hosts)
    per_host = c.cards_per_host if c else 1
    return unit_cost(e, rec.catalog.cloud, rec.request.usage, (c.host.usd if c else 0.0) / per_host,
                     (c.host.power_w if c else 0.0) / per_host)


def cost_json(e: Estimate, rec: Recommendation) -> dict | None:
    c = card_unit_cost(e, rec)
    if c.owned_usd is None and c.cloud_usd is None:
        return None
    return {
        "per": "million tokens" if e.unit == "tokens/s" else "million samples",
        "owned_usd": _r(c.owned_usd), "cloud_usd": _r(c.cloud_usd),
        "cloud_offer": None if c.cloud_offer is None else {
            "provider": c.cloud_offer.provider, "instance_type": c.cloud_offer.instance_type,
            "usd_per_gpu_hour": c.cloud_offer.price_usd_per_gpu_hour, "as_of": c.cloud_offer.as_of},
        "basis": (f"at full use: card plus its share of a {e.gpu.host} host over "
                  f"{rec.request.usage.years:g} years of {rec.request.usage.hours_per_year:g} h, "
                  f"power at ${rec.request.usage.kwh_price_usd:g}/kWh; cloud: on-demand per GPU-hour"),
    }


def llm_json(e: Estimate) -> dict | None:
    p = e.llm
    if p is None:
        return None
    return {
        "gpus_per_replica": p.gpus_per_replica, "batch_per_replica": p.batch,
        "weights_gb": _r(p.weights_gb), "kv_gb_per_sequence": _r(p.kv_gb_per_sequence),
        "kv_bytes_per_value": p.kv_bytes_per_value, "tpot_ms": _r(p.step_ms),
        "ttft_ms": _r(p.ttft_ms), "comm_ms_per_step": _r(p.comm_ms),
    }


def calibrated_by(e: Estimate, rec: Recommendation) -> list[str]:
    """The published results behind this GPU's efficiency: its own and its family's, for the
    same kind of workload (LLM or not)."""

    llm = rec.llm is not None
    out = []
    for p in load_published():
        g = rec.catalog.gpu(p.gpu)
        same_kind = (rec.catalog.llm(p.workload) is not None) == llm
        if same_kind and p.scenario == "Offline" and p.use == "fit" and (
                p.gpu == e.gpu.name or (g is not None and g.family == e.gpu.family)):
            out.append(f"{p.gpu} {p.workload} {p.round} ({p.submitter} {p.system})")
    return out


def expected_error_json(rec: Recommendation, e: Estimate) -> dict | None:
    """The error measured for GPUs without a result of their own (leave-one-out); a GPU with
    its own published result for this workload says so (its estimate was fitted near it)."""

    a = expected_error(rec.catalog, rec.workload_name, rec.request.model_path is not None)
    if a is None:
        return None
    own = any(p.gpu == e.gpu.name and p.workload == rec.workload_name for p in load_published())
    return {"scope": a.scope, "median_abs": a.median_abs_error, "worst_abs": a.worst_abs_error,
            "gpus": a.gpus, "method": f"leave-one-out: {a.method}", "as_of": a.date,
            "own_published_result": own}


def estimate_json(e: Estimate, rec: Recommendation | None = None) -> dict:
    roof = e.roof
    g = e.gpu
    extra = {} if rec is None else {
        "expected_error": expected_error_json(rec, e), "calibrated_by": calibrated_by(e, rec)}
    return extra | {
        "gpu": g.name, "vendor": g.vendor, "class": g.gpu_class, "architecture": g.architecture,
        "family": g.family, "precision": e.path.requested, "precision_executed": e.path.executed,
        "fallback": e.path.note or None,
        "throughput_per_s": _r(e.throughput_per_s) if roof else None,
        "unit": e.unit, "gpus_per_replica": e.gpus_per_replica,
        "efficiency_judgement": e.judgement,
        "price_usd": _r(e.price.usd), "throughput_per_usd": _r(e.throughput_per_usd),
        "batch": roof.batch if roof else None, "bound": roof.bound if roof else None,
        "latency_ms": _r(roof.latency_ms) if roof else None,
        "compute_limit_per_s": _r(roof.compute_limit_per_s) if roof else None,
        "memory_limit_per_s": _r(roof.memory_limit_per_s) if roof else None,
        "flops_per_inference": _r(roof.flops_per_inference) if roof else None,
        "bytes_per_inference": _r(roof.bytes_per_inference) if roof else None,
        "memory_needed_gb": _r(roof.memory_needed_gb) if roof else None,
        "excluded": e.excluded or None,
        "peak_tops": _r(e.path.peak_tops), "peak_field": e.path.peak_field,
        "compute_efficiency": _r(e.efficiency.compute), "memory_efficiency": _r(e.efficiency.memory),
        "efficiency_basis": e.efficiency.basis, "efficiency_source": e.efficiency.source,
        "efficiency_row": {"file": "efficiency.csv", "family": e.efficiency.family,
                           "gpu": e.efficiency.gpu or None, "kind": e.efficiency.kind or None,
                           "precision": e.efficiency.precision},
        "memory_gb": g.memory_gb, "mem_bw_gbps": g.mem_bw_gbps, "tdp_w": g.tdp_w,
        "host": g.host, "form_factor": g.form_factor,
        "price_basis": e.price.basis or None, "price_figure": e.price.text or None,
        "price_confidence": e.price.confidence, "price_as_of": e.price.as_of or None,
        "price_source": e.price.source or None,
        "estimated_fields": g.estimated_fields or None,
        "data_row": {"file": "gpus.csv", "row": g.row, "source": g.source, "checked": g.checked},
        "caveats": list(e.caveats),
        "fp8_tops": g.fp8_tops, "fp4_tops": g.fp4_tops, "interconnect": g.interconnect,
        "llm": llm_json(e),
        "cost_per_million": cost_json(e, rec) if rec is not None else None,
    }


def setup_json(s: Setup) -> dict:
    return {
        "gpu": s.estimate.gpu.name, "class": s.estimate.gpu.gpu_class, "host": s.estimate.gpu.host,
        "efficiency_judgement": s.estimate.judgement, "gpus_per_replica": s.estimate.gpus_per_replica,
        "cards": s.cards, "hosts": s.hosts, "cards_per_host": s.cards_per_host,
        "host_type": s.host_type.name,
        "host_gpu_link": s.host_type.gpu_link,
        "host_cpu_cores": s.host_type.cpu_cores,
        "host_memory_gb": s.host_type.memory_gb,
        "gpu_cost_usd": _r(s.gpu_cost_usd), "host_cost_usd": _r(s.host_cost_usd),
        "total_cost_usd": _r(s.total_cost_usd), "throughput_per_s": _r(s.throughput_per_s),
        "throughput_per_usd": _r(s.throughput_per_usd), "power_w": _r(s.power_w),
        **({"cpu_feed": feed_json(s.cpu_feed)} if s.cpu_feed else {}),
    }


def feed_json(f: CpuFeed) -> dict:
    p = f.pipeline
    return {
        "needed_cores": _r(f.needed_cores), "host_cores": f.host_cores, "short": f.short,
        "feeds_fraction": _r(f.feeds_fraction), "rate_per_host": _r(f.rate_per_host),
        "feeds_per_s": None if math.isinf(f.feeds_per_s) else _r(f.feeds_per_s),
        "cpu_ms_per_request": {k: _r(v) for k, v in p.cpu_ms}, "decoder": p.decoder,
        "images": p.images, "source": p.source,
    }


def quote_json(q: CloudQuote) -> dict:
    o = q.offer
    return {
        "provider": o.provider, "service": o.service, "instance_type": o.instance_type,
        "catalog_gpu": o.catalog_gpu, "gpus_needed": q.gpus_needed, "instances": q.instances,
        "gpus_per_instance": o.gpu_count, "gpus_per_replica": q.estimate.gpus_per_replica,
        "usd_per_hour": _r(q.usd_per_hour), "usd_per_year": _r(q.usd_per_year),
        "throughput_per_gpu_per_s": _r(q.estimate.throughput_per_s),
        "price_as_of": o.as_of, "status": o.status,
        "data_row": {"file": "cloud.csv", "row": o.row, "source": o.source},
    }


def cloud_json(c: CloudVsBuy) -> dict:
    return {
        "setup": setup_json(c.setup),
        "cloud_throughput_per_s": _r(c.throughput_per_s),
        "year_convention": f"{DAYS_PER_YEAR} days x {c.usage.hours_per_day:g} h = "
                           f"{c.usage.hours_per_year:g} h",
        "utilization": _r(c.usage.utilization),
        "cloud_cheapest": quote_json(c.quotes[0]) if c.quotes else None,
        "cloud_quotes": [quote_json(q) for q in c.quotes],
        "cloud_offers_not_used": [
            {"provider": o.provider, "instance_type": o.instance_type, "reason": why,
             "data_row": {"file": "cloud.csv", "row": o.row}}
            for o, why in c.unmatched
        ],
        "power_kwh_per_year": _r(c.power_kwh_per_year),
        "power_usd_per_year": _r(c.power_usd_per_year),
        "own_usd_total": _r(c.own_usd_total), "cloud_usd_total": _r(c.cloud_usd_total),
        "years": c.usage.years, "break_even_months": _r(c.break_even_months),
    }


def llm_workload_json(m: Llm) -> dict[str, Any]:
    return {
        "name": m.name, "kind": "llm", "description": m.description,
        "total_params": _r(m.total_params), "active_params": _r(m.active_params),
        "layers": m.layers, "hidden": m.hidden, "kv_heads": m.kv_heads, "head_dim": m.head_dim,
        "max_input_tokens": m.max_input_tokens, "max_output_tokens": m.max_output_tokens,
        "output_tokens_mean": m.output_tokens_mean, "work_per_token": m.work_per_token,
        "work_per_token_basis": m.work_per_token_basis, "dataset": m.dataset,
        "params_source": m.params_source, "length_source": m.length_source,
        "prompt_tokens": _r(m.prompt_tokens or m.dataset_prompt_tokens),
        "lengths_basis": m.lengths_basis or "the dataset's",
        "data_row": {"file": "llms.csv", "row": m.row},
    }


def request_json(rec: Recommendation) -> dict:
    q, w = rec.request, rec.subject
    return {
        "workload": llm_workload_json(w) if isinstance(w, Llm) else {
            "name": w.name, "description": w.description, "input": w.input,
            "flops_per_inference": _r(w.flops_per_inference), "params": _r(w.params),
            "activations": _r(w.activations), "flops_source": w.flops_source,
            "activations_source": w.activations_source,
            "compute_scale": w.compute_scale, "compute_scale_basis": w.compute_scale_basis,
            "kind": w.kind, "seq_len": w.seq_len or None, "seq_len_basis": (
                "given with --seq-len" if q.seq_len else w.seq_len_basis) or None,
            "padded_seq_len": w.padded_seq_len or None,
            "data_row": {"file": "workloads.csv", "row": w.row} if w.row else None,
        },
        "model_path": str(q.model_path) if q.model_path else None,
        "model_shapes": list(q.model_shapes),
        "precision": q.precision, "accumulate": q.accumulate, "max_batch": q.batch,
        "budget_usd": q.budget_usd, "target_fps": q.target_fps, "latency_slo_ms": q.latency_slo_ms,
        "from_bench": str(q.bench_path) if q.bench_path else None, "bench_gpu": q.bench_gpu,
        "price_basis": q.price_basis, "gpu_prices": dict(q.price_overrides),
        "vendors": list(q.vendors), "classes": list(q.classes),
        "fleet_classes": list(rec.fleet_classes), "seq_len": q.seq_len,
        "ttft_ms": q.ttft_ms, "tpot_ms": q.tpot_ms, "unit": rec.unit,
        "input_tokens": q.input_tokens, "output_tokens": q.output_tokens,
        "hosts": {k: v for k, v in asdict(q.hosts).items() if k != "types"},
        "host_types": [{"name": h.name, "takes": h.mount, "max_gpus": h.max_gpus,
                        "max_wide_gpus": h.max_wide_gpus, "sold_full": h.sold_full,
                        "gpu_link": h.gpu_link, "cpu_cores": h.cpu_cores, "memory_gb": h.memory_gb,
                        "usd": h.usd, "power_w": h.power_w, "as_of": h.as_of,
                        "data_row": {"file": "hosts.csv", "row": h.row, "source": h.source}}
                       for h in q.hosts.table()],
        "usage": asdict(q.usage),
    }


def to_json(rec: Recommendation, show_all: bool = False, top: int = 10) -> dict:
    comp = rec.comparison
    return {
        "schema": SCHEMA,
        "inputs": request_json(rec),
        "estimates": [estimate_json(e, rec) for e in selected_estimates(rec, show_all, top)],
        "budget_setups": [setup_json(s) for s in rec.budget_setups],
        "best_value_setups": [setup_json(s) for s in rec.value_setups],
        "target_setups": [setup_json(s) for s in rec.target_setups],
        "server_vs_desktop": None if comp is None else {
            "server": setup_json(comp.server) if comp.server else None,
            "desktop": setup_json(comp.desktop) if comp.desktop else None,
            "throughput_ratio": _r(comp.throughput_ratio),
            "throughput_per_usd_ratio": _r(comp.value_ratio),
        },
        "cloud_vs_buy": [cloud_json(c) for c in rec.cloud],
        "efficiencies": [
            {"family": e.family, "gpu": e.gpu or None, "kind": e.kind or None,
             "precision": e.precision, "compute": _r(e.compute),
             "memory": _r(e.memory), "basis": e.basis, "source": e.source}
            for e in rec.efficiencies
        ],
        "calibration": [
            {"result": c.point.index, "device": c.point.device, "model": c.point.model,
             "gpu": c.gpu, "precision": c.precision, "achieved_tops": _r(c.achieved_tops),
             "peak_tops": _r(c.peak_tops), "efficiency": _r(c.efficiency),
             "accepted": c.accepted, "note": c.note or None}
            for c in rec.calibrations
        ],
        "left_out": [{"gpu": g, "reason": why} for g, why in rec.left_out],
        "legend": {"efficiency": EFFICIENCY_LABELS, "price": PRICE_BASES},
        "warnings": list(rec.warnings),
    }
