"""The settings to use for a measured configuration: runtime options and a Triton snippet.

Triton runs one batch per model instance at a time, so "N requests in flight"
maps to N instances; each onnxruntime instance gets the intra-op threads that
were measured, each OpenVINO instance one stream and its share of the threads.
The queue delay is a starting point: one batch's median service time, never
more than the latency budget left over after p99.
"""

from __future__ import annotations

from typing import Any

from hwtune.bench.engines import backend
from hwtune.bench.result import BenchResult

MIN_QUEUE_DELAY_US = 100


def settings(result: BenchResult, slo_ms: float | None = None, model_name: str = "model") -> dict[str, Any]:
    cfg, ex = result.config, result.executed
    out: dict[str, Any] = {"backend": cfg.backend, "device": cfg.device, "precision": cfg.precision,
                           "batch": cfg.batch, "requests_in_flight": ex.requests}
    out.update(backend(cfg.backend).deploy_settings(cfg, ex))
    if cfg.precision == "int8":
        out["model_note"] = ("int8 = the QDQ model (onnxruntime quantize_static, per-channel int8 weights, "
                             "uint8 activations)")
    out["triton_config"] = triton_snippet(result, slo_ms, model_name)
    return out


def queue_delay_us(result: BenchResult, slo_ms: float | None) -> int:
    delay_ms = result.latency.p50_ms
    if slo_ms is not None:
        delay_ms = min(delay_ms, max(0.0, slo_ms - result.latency.p99_ms))
    return max(MIN_QUEUE_DELAY_US, round(delay_ms * 1000))


def triton_snippet(result: BenchResult, slo_ms: float | None, model_name: str = "model") -> str:
    cfg, ex = result.config, result.executed
    gpu = not cfg.device.upper().startswith("CPU")
    instances = max(1, ex.requests)
    return "\n".join(triton_config(model_name, cfg.backend, cfg.batch, queue_delay_us(result, slo_ms), instances,
                                   gpu, backend(cfg.backend).triton_parameters(ex, instances, gpu),
                                   preferred_batch=cfg.batch))


def triton_config(name: str, backend_name: str | None, max_batch: int, delay_us: int | None, instances: int,
                  gpu: bool, params: dict[str, str], preferred_batch: int | None = None) -> list[str]:
    """The lines of a Triton config.pbtxt, for both tuners: no dynamic_batching without a delay,
    no backend line for the built-in fixed-time model (`backend_name` None)."""
    lines = [f'name: "{name}"',
             f'backend: "{backend_name}"' if backend_name else "# backend: none (hwtune's built-in fixed-time model)",
             f"max_batch_size: {max_batch}"]
    if delay_us is not None:
        lines.append("dynamic_batching {")
        if preferred_batch:
            lines.append(f"  preferred_batch_size: [ {preferred_batch} ]")
        lines += [f"  max_queue_delay_microseconds: {delay_us}", "}"]
    lines.append(f"instance_group [ {{ count: {instances}, kind: {'KIND_GPU' if gpu else 'KIND_CPU'} }} ]")
    lines += [f'parameters: {{ key: "{key}" value: {{ string_value: "{value}" }} }}' for key, value in params.items()]
    return lines
