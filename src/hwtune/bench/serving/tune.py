"""What dynamic batching buys within the latency budget: the server search with and without it.

Candidates: no batching, then Triton-style dynamic batching at a max batch
size of 4 and 8, each with a max queue delay of one unbatched request's
service time (capped at an eighth of the budget, so waiting for a batch
never eats much of it). The answer is the candidate with the highest VALID
max QPS; the Triton snippet carries its measured settings and figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwtune.bench.engines import backend
from hwtune.bench.micro.advice import triton_config
from hwtune.bench.result import Executed
from hwtune.bench.serving.batcher import NO_BATCHING, Batching
from hwtune.bench.serving.serve import Model, Report, ServingResult, serve

BATCH_CANDIDATES = (4, 8)
MIN_DELAY_US = 100


@dataclass(frozen=True)
class BatchingTune:
    model: Model
    latency_slo_ms: float
    results: tuple[ServingResult, ...]  # no batching first

    @property
    def baseline(self) -> ServingResult:
        return self.results[0]

    @property
    def best(self) -> ServingResult | None:
        ok = [r for r in self.results if r.valid and r.max_qps]
        return max(ok, key=lambda r: r.max_qps or 0.0) if ok else None

    @property
    def gain(self) -> float | None:
        best, base = self.best, self.baseline
        if best is None or not base.valid or not base.max_qps:
            return None
        return (best.max_qps or 0.0) / base.max_qps

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {
            "model": self.model.name, "backend": self.model.backend, "device": self.model.device,
            "latency_slo_ms": self.latency_slo_ms,
            "candidates": [{"batching": r.batching.to_json(), "max_qps": r.to_json()["max_qps"],
                            "p99_ms": r.to_json()["latency_ms"].get("p99"), "valid": r.valid} for r in self.results],
            "best": best.batching.to_json() if best else None,
            "max_qps_without_batching": self.baseline.max_qps if self.baseline.valid else None,
            "max_qps_best": best.max_qps if best else None,
            "batching_gain": None if self.gain is None else round(self.gain, 3),
            "triton_config": triton_snippet(self) if best else None,
        }


def queue_delay_us(unbatched_service_s: float, slo_ms: float) -> int:
    return max(MIN_DELAY_US, int(min(unbatched_service_s, slo_ms / 1000 / 8) * 1e6))


def tune_batching(model: Model, slo_ms: float, *, duration_s: float, step_s: float,
                  log_base: Path, report: Report | None = None) -> BatchingTune:
    common: dict[str, Any] = dict(latency_slo_ms=slo_ms, duration_s=duration_s,
                                  step_s=step_s, log_base=log_base, report=report)
    base = serve(model, "server", NO_BATCHING, **common)
    service_s = model.instances / base.capacity_sps if base.capacity_sps > 0 else slo_ms / 1000 / 8
    delay = queue_delay_us(service_s, slo_ms)
    results = [base] + [serve(model, "server", Batching(b, delay), **common) for b in BATCH_CANDIDATES]
    return BatchingTune(model, slo_ms, tuple(results))


def triton_snippet(tune: BatchingTune) -> str:
    best = tune.best
    assert best is not None
    m = tune.model
    fixed = m.fixed_service_s is not None
    gpu = not fixed and not m.device.upper().startswith("CPU")
    # each instance is one engine with m.threads: the backend's parameters for one instance
    params = {} if fixed else backend(m.backend).triton_parameters(Executed(m.precision, 1, threads=m.threads), 1, gpu)
    delay_us = best.batching.max_queue_delay_us if best.batching.enabled else None
    lines = triton_config(m.name, None if fixed else m.backend, best.batching.max_batch_size, delay_us,
                          best.instances, gpu, params)
    p99 = best.run.latency_ms.get("p99") if best.run else None
    baseline = f"without batching {tune.baseline.max_qps:,.1f} QPS" if tune.gain else "without batching: no VALID QPS"
    lines.append(f"# measured by hwtune (MLPerf LoadGen server, p99 <= {tune.latency_slo_ms:g} ms): "
                 f"{best.max_qps:,.1f} QPS at p99 {p99:.2f} ms, VALID; " + baseline)
    return "\n".join(lines)
