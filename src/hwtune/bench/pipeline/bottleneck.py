"""The bottleneck in numbers a planner uses: pure functions of the measured stage figures.

- CPU time per request of a stage: the process's CPU time across it, mean.
- Requests per second one core sustains for a stage: 1000 / its CPU ms.
- The model's rate, the rate the CPU stages must feed: on an accelerator (a
  GPU, or the fixed-time model standing for one), 1000 / its mean wall ms;
  on the host CPU, what it sustains with every usable core to itself (cores
  x 1000 / its CPU ms), as one single-threaded instance per core would.
- Cores a stage needs at that rate: rate x its CPU seconds per request. The
  model needs cores only when it runs on the host CPU (a GPU model, or the
  fixed-time model standing for one, needs none here).
- The host's rate: the model's, when the cores needed add up to at most the
  cores usable here; else the usable cores divided by the CPU seconds all
  host stages take per request, and the stage with the most CPU limits it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hwtune.bench.metrics import nearest_rank


@dataclass(frozen=True)
class StageFigures:
    name: str
    p50_ms: float
    p99_ms: float
    mean_ms: float
    cpu_ms: float  # mean CPU time per request
    on_host: bool = True  # its CPU time is the host's (False: the fixed-time model's sleep)

    @property
    def per_core_rps(self) -> float | None:
        return 1000.0 / self.cpu_ms if self.cpu_ms > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.name, "p50_ms": round(self.p50_ms, 4), "p99_ms": round(self.p99_ms, 4),
                "mean_ms": round(self.mean_ms, 4), "cpu_ms": round(self.cpu_ms, 4), "on_host_cpu": self.on_host,
                "requests_per_s_per_core": None if self.per_core_rps is None else round(self.per_core_rps, 2)}


@dataclass(frozen=True)
class Bottleneck:
    model_rate_qps: float
    host_cores: int
    cores_needed: dict[str, float]  # stage -> cores at the model's rate
    limit: str  # a stage name; "infer" is the model
    host_qps: float

    @property
    def total_cores(self) -> float:
        return sum(self.cores_needed.values())

    @property
    def cores_to_feed_model(self) -> int:
        return max(1, math.ceil(self.total_cores - 1e-9))

    def to_json(self) -> dict[str, Any]:
        return {"model_rate_qps": round(self.model_rate_qps, 2), "host_cores": self.host_cores,
                "cores_needed": {k: round(v, 3) for k, v in self.cores_needed.items()},
                "cores_needed_total": round(self.total_cores, 3), "cores_to_feed_model": self.cores_to_feed_model,
                "limiting_stage": self.limit, "host_qps": round(self.host_qps, 2)}


def stage_figures(name: str, wall_s: list[float], cpu_s: list[float], on_host: bool = True) -> StageFigures:
    ms = sorted(w * 1000 for w in wall_s)
    return StageFigures(name, nearest_rank(ms, 50), nearest_rank(ms, 99), sum(ms) / len(ms),
                        1000 * sum(cpu_s) / len(cpu_s) if on_host else 0.0, on_host)


def bottleneck(stages: list[StageFigures], model_stage: str, host_cores: int) -> Bottleneck:
    model = next(s for s in stages if s.name == model_stage)
    if model.on_host and model.cpu_ms > 0:
        rate = host_cores * 1000.0 / model.cpu_ms
    else:
        rate = 1000.0 / model.mean_ms if model.mean_ms > 0 else math.inf
    needed = {s.name: rate * s.cpu_ms / 1000 for s in stages if s.on_host}
    cpu_per_request_s = sum(s.cpu_ms for s in stages if s.on_host) / 1000
    if sum(needed.values()) <= host_cores or cpu_per_request_s <= 0:
        return Bottleneck(rate, host_cores, needed, model_stage, rate)
    limit = max((s for s in stages if s.on_host), key=lambda s: s.cpu_ms).name
    return Bottleneck(rate, host_cores, needed, limit, host_cores / cpu_per_request_s)


def host_qps_with(stages: list[StageFigures], model_stage: str, host_cores: int, stage: str,
                  cpu_ms: float) -> float:
    """The host's rate were one stage's CPU time per request `cpu_ms` (a faster library, the GPU)."""
    changed = [StageFigures(s.name, s.p50_ms, s.p99_ms, s.mean_ms, cpu_ms if s.name == stage else s.cpu_ms, s.on_host)
               for s in stages]
    return bottleneck(changed, model_stage, host_cores).host_qps


def sentence(stages: list[StageFigures], bn: Bottleneck, what: str, model_stage: str) -> str:
    """The finding in one sentence, in the form docs/bench.md gives."""
    model_cores = bn.cores_needed.get(model_stage, 0.0)
    cpu_stages = {k: v for k, v in bn.cores_needed.items() if k != model_stage}
    if bn.limit == model_stage and bn.host_qps >= bn.model_rate_qps - 1e-9:
        busiest = max(cpu_stages, key=cpu_stages.__getitem__) if cpu_stages else None
        tail = f" ({busiest} {cpu_stages[busiest]:.1f})" if busiest else ""
        return (f"the model limits this host: {bn.model_rate_qps:,.0f} QPS; at that rate the model needs "
                f"{model_cores:.1f} cores and the CPU stages {sum(cpu_stages.values()):.1f}{tail}, "
                f"{bn.total_cores:.1f} of {bn.host_cores} cores")
    s = next(x for x in stages if x.name == bn.limit)
    label = "the model" if bn.limit == model_stage else bn.limit
    return (f"{label} {what}: {s.cpu_ms:.1f} ms CPU per request; at {bn.model_rate_qps:,.0f} QPS the model needs "
            f"{model_cores:.1f} cores, {label} needs {bn.cores_needed[bn.limit]:.1f} cores: {label} limits this "
            f"host to {bn.host_qps:,.0f} QPS on {bn.host_cores} cores")
