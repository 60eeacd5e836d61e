"""Serving scenarios: LoadGen drives a model behind the dynamic batcher.

The server scenario's search for the max QPS is `hwtune.bench.serving.search`;
here are the model instances (`Server`, reused across LoadGen runs), the
closed-loop capacity the search starts from, and the result.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hwtune.bench.noise import NOISY_FOREIGN_CORES, LoadMeter
from hwtune.bench.serving.batcher import Batching, BatchingSut, FixedService, Service, closed_loop_rate
from hwtune.bench.serving.loadgen import (
    MLPERF_MIN_DURATION_S,
    MULTISTREAM_SAMPLES_PER_QUERY,
    LoadgenRun,
    RunSettings,
    run_loadgen,
)
from hwtune.bench.serving.search import CurvePoint, Report, SearchOutcome, confirm_settings, point_of, search
from hwtune.errors import ConfigError

CAPACITY_WINDOWS = 3  # the closed-loop capacity: the best of three short windows (the least disturbed)
CAPACITY_S = 0.3


@dataclass(frozen=True)
class Model:
    """What the instances serve: a name, how to open one instance's service, where it runs."""

    name: str
    backend: str
    device: str
    open_service: Callable[[int], Service]  # max batch -> one instance
    precision: str = "fp32"
    threads: int | None = None
    fixed_service_s: tuple[float, float] | None = None  # the built-in fixed model: (base, per extra sample)
    instances: int = 1  # how many serve side by side (Triton's instance_group count)


_FIXED = re.compile(r"^fixed:([0-9]*\.?[0-9]+(?:us|ms|s)?)(?:\+([0-9]*\.?[0-9]+(?:us|ms|s)?))?$")


def parse_fixed(name: str) -> tuple[float, float] | None:
    """`fixed:5ms` (5 ms a batch) or `fixed:2ms+0.5ms` (2 ms plus 0.5 ms per extra sample) -> seconds."""
    if not name.startswith("fixed:"):
        return None
    m = _FIXED.match(name.strip())
    if not m:
        raise ConfigError(f"bad --model {name!r}; the fixed-time model is e.g. fixed:5ms or fixed:2ms+0.5ms")
    base = parse_duration_s(m.group(1), "--model")
    extra = parse_duration_s(m.group(2), "--model") if m.group(2) else 0.0
    if base <= 0 or extra < 0:
        raise ConfigError(f"--model {name}: the service time must be positive")
    return base, extra


_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration_s(text: str, option: str, bare: str = "ms", positive: bool = False) -> float:
    """'40ms', '0.04s', '500us' -> seconds; a bare number is in `bare` units. Every duration
    option of bench is read here."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|us)?\s*", text or "")
    if not m:
        raise ConfigError(f"bad {option} {text!r}; use e.g. 40ms, 0.04s or 500us (a bare number is in {bare})")
    value = float(m.group(1)) * _UNITS_S[m.group(2) or bare]
    if positive and value <= 0:
        raise ConfigError(f"{option} must be positive, got {text!r}")
    return value


def fixed_model(name: str, base_s: float, per_sample_s: float, instances: int = 1) -> Model:
    return Model(name, "fixed", "timer", lambda _b: FixedService(base_s, per_sample_s),
                 fixed_service_s=(base_s, per_sample_s), instances=instances)


@dataclass(frozen=True)
class ServingResult:
    scenario: str
    model: Model
    batching: Batching
    run: LoadgenRun | None  # the reported LoadGen run (not VALID: the last confirming run, if any)
    latency_slo_ms: float | None
    capacity_sps: float
    max_qps: float | None = None  # server only; with `valid` False, measured but not VALID
    curve: tuple[CurvePoint, ...] = ()
    step_s: float = 0.0
    elapsed_s: float = 0.0
    notes: tuple[str, ...] = field(default=())
    measured: CurvePoint | None = None  # not VALID: the run within the budget whose QPS is reported
    reasons: tuple[str, ...] = ()  # why there is no VALID number, before LoadGen's own reasons

    @property
    def instances(self) -> int:
        return self.model.instances

    @property
    def valid(self) -> bool:
        return self.run is not None and self.run.valid

    @property
    def shortened(self) -> bool:
        return self.run is None or self.run.duration_s < MLPERF_MIN_DURATION_S

    def _latency_ms(self) -> dict[str, float]:
        if not self.valid and self.measured is not None:
            m = self.measured
            return {k: v for k, v in (("p50", m.p50_ms), ("p90", m.p90_ms), ("p99", m.p99_ms)) if v is not None}
        return self.run.latency_ms if self.run else {}

    def invalid_reasons(self) -> list[str]:
        if self.valid:
            return []
        own = self.run.invalid_reasons() if self.run else []
        return list(self.reasons) + [r for r in own if r not in self.reasons]

    def to_json(self) -> dict[str, Any]:
        lat = self._latency_ms()
        log_dir = self.measured.log_dir if self.measured and not self.valid else (
            str(self.run.log_dir) if self.run else None)
        out: dict[str, Any] = {
            "scenario": self.scenario, "backend": self.model.backend, "device": self.model.device,
            "model": self.model.name, "precision_requested": self.model.precision, "mode": self.scenario,
            "batch": self.batching.max_batch_size, "batching": self.batching.to_json(),
            "instances": self.instances, "threads": self.model.threads,
            "valid": self.valid, "loadgen_log_dir": log_dir, "invalid_reasons": self.invalid_reasons(),
            "latency_ms": {k: round(lat[k], 4) for k in ("p50", "p90", "p99", "mean", "min", "max") if k in lat},
            "throughput_fps": _r(self.run.samples_per_s) if self.run else None,
            "scheduled_qps": _r(self.run.scheduled_qps) if self.run else None,
            "foreign_cores": _r(self.run.foreign_cores) if self.run else None,
            "noisy": bool(self.run and (self.run.foreign_cores or 0.0) >= NOISY_FOREIGN_CORES),
            "capacity_closed_loop_sps": round(self.capacity_sps, 2),
            "latency_slo_ms": self.latency_slo_ms,
            "shortened": self.shortened,
            "min_duration_s": self.run.duration_s if self.run else None,
            "elapsed_s": round(self.elapsed_s, 2), "notes": list(self.notes),
        }
        if self.scenario == "server":
            out["max_qps"] = _r(self.max_qps)
            out["search_step_s"] = self.step_s
            out["curve"] = [p.to_json() for p in sorted(self.curve, key=lambda p: p.qps)]
        if self.model.fixed_service_s:
            out["fixed_service_ms"] = {"base": self.model.fixed_service_s[0] * 1e3,
                                       "per_extra_sample": self.model.fixed_service_s[1] * 1e3}
        return out


class Server:
    """The instances of one model behind one batching setting, reused across LoadGen runs."""

    def __init__(self, model: Model, batching: Batching, log_root: Path) -> None:
        self.model, self.batching = model, batching
        self.log_root = log_root
        self.services: list[Service] = []
        try:
            for _ in range(model.instances):
                self.services.append(model.open_service(batching.max_batch_size))
        except BaseException:
            self.close()
            raise
        self.runs = 0

    def capacity(self) -> float:
        closed_loop_rate(self.services, self.batching.max_batch_size, 0.1)  # warm-up, discarded
        return max(closed_loop_rate(self.services, self.batching.max_batch_size, CAPACITY_S)
                   for _ in range(CAPACITY_WINDOWS))

    def run(self, settings: RunSettings) -> LoadgenRun:
        self.runs += 1
        name = f"{self.runs:02d}-{settings.scenario}" + (f"-{settings.target_qps:.1f}qps"
                                                          if settings.scenario == "server" else "")
        settings = replace(settings, seed=self.runs)  # a fresh Poisson sample path for every run
        sut = BatchingSut(self.services, self.batching)
        meter = LoadMeter().start()
        try:
            run = run_loadgen(sut, settings, self.log_root / name)
        finally:
            sut.close()
        return replace(run, foreign_cores=meter.stop().foreign_cores)

    def close(self) -> None:
        for s in self.services:
            s.close()


def log_root_for(base: Path, model: Model, batching: Batching) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    tag = re.sub(r"[^A-Za-z0-9.+-]+", "_", f"{model.name}-{model.backend}-{model.device}")
    return base / f"{stamp}-{tag}-b{batching.max_batch_size}"


def serve(model: Model, scenario: str, batching: Batching, *, latency_slo_ms: float | None,
          duration_s: float, step_s: float, log_base: Path, target_qps: float | None = None,
          report: Report | None = None) -> ServingResult:
    """One scenario for one model and batching setting; the server scenario searches its max QPS
    unless `target_qps` fixes it."""
    report = report or (lambda _m: None)
    start = time.perf_counter()
    server = Server(model, batching, log_root_for(log_base, model, batching))
    try:
        report(f"{model.name} ({batching.label()}): closed-loop capacity")
        cap = server.capacity()
        if scenario != "server":
            run = server.run(_single_settings(scenario, cap, batching, duration_s))
            return ServingResult(scenario, model, batching, run, latency_slo_ms, cap,
                                 elapsed_s=time.perf_counter() - start, notes=_notes(duration_s, None))
        if latency_slo_ms is None:
            raise ConfigError("--scenario server needs --latency-slo (the p99 budget), e.g. 40ms")
        if target_qps is not None:
            settings = confirm_settings(target_qps, latency_slo_ms, duration_s)
            run = server.run(settings)
            return ServingResult(scenario, model, batching, run, latency_slo_ms, cap,
                                 max_qps=target_qps if run.valid else None,
                                 curve=(point_of(run, settings, latency_slo_ms, confirming=True),), step_s=step_s,
                                 elapsed_s=time.perf_counter() - start, notes=_notes(duration_s, None))
        found = search(server.run, cap, model.instances, latency_slo_ms, duration_s,
                       step_s, lambda m: report(f"{model.name} ({batching.label()}): {m}"))
        return result_of_search(found, scenario, model, batching, latency_slo_ms, cap, step_s,
                                time.perf_counter() - start, _notes(duration_s, step_s))
    finally:
        server.close()


def result_of_search(found: SearchOutcome, scenario: str, model: Model, batching: Batching, slo_ms: float,
                     capacity: float, step_s: float, elapsed_s: float, notes: tuple[str, ...]) -> ServingResult:
    return ServingResult(scenario, model, batching, found.run, slo_ms, capacity, max_qps=found.max_qps,
                         curve=found.curve, step_s=step_s, elapsed_s=elapsed_s, notes=notes,
                         measured=found.measured, reasons=found.reasons)


def _single_settings(scenario: str, capacity: float, batching: Batching, duration_s: float) -> RunSettings:
    per_sample_ms = 1000.0 / max(capacity, 1e-9)
    expected = per_sample_ms * (MULTISTREAM_SAMPLES_PER_QUERY if scenario == "multistream" else 1)
    # Offline issues expected QPS x duration samples at once; too few and the run ends before its
    # min duration (INVALID). The closed-loop estimate is short: ask for half as much again.
    return RunSettings(scenario, duration_s, target_qps=capacity * 1.5, expected_latency_ms=expected)


def _notes(duration_s: float, step_s: float | None) -> tuple[str, ...]:
    if duration_s >= MLPERF_MIN_DURATION_S:
        return ()
    steps = f"search steps {step_s:g} s, " if step_s is not None else ""
    return (f"LoadGen runs shortened: {steps}the reported run {duration_s:g} s (MLPerf requires "
            f"{MLPERF_MIN_DURATION_S:g} s); LoadGen's early stopping still judges whether the run had enough "
            "queries to vouch for its p99",)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def repeat_summary(results: list[ServingResult]) -> dict[str, Any]:
    """The spread of repeated searches of one model and batching setting: each run's max QPS, their
    median with its distribution-free interval (hwtune.bench.stats.median_interval), max / min."""
    from hwtune.bench.stats import median_interval

    first = results[0]
    qps = [r.max_qps for r in results]
    found = [q for q in qps if q]
    m = median_interval(found)
    return {"model": first.model.name, "backend": first.model.backend, "device": first.model.device,
            "batching": first.batching.to_json(), "runs": len(results),
            "max_qps": [_r(q) for q in qps], "valid": [r.valid for r in results],
            "median_qps": _r(m.median) if m else None,
            "interval_qps": [_r(m.low), _r(m.high)] if m else None,
            "interval_coverage": round(m.coverage, 4) if m else None,
            "max_over_min": round(max(found) / min(found), 3) if found else None}
