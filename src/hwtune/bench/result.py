"""What a benchmark asks for (RunConfig), what ran (Executed) and what it measured (BenchResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hwtune.bench.metrics import LatencyStats, Spread, achieved_gflops
from hwtune.bench.noise import LoadSample

MODES = ("sync", "async")
PRECISIONS = ("fp32", "bf16", "fp16", "int8", "auto")  # auto: whatever the runtime picks


@dataclass(frozen=True)
class RunConfig:
    backend: str
    device: str
    batch: int
    mode: str
    precision: str
    streams: int | None = None  # async: requests in flight (and OpenVINO streams); None: the runtime's choice
    threads: int | None = None  # None: the runtime's default
    pin: bool | None = None  # None: the runtime's default
    spin: bool | None = None  # onnxruntime pool threads spin while idle; None: the runtime's default

    def label(self) -> str:
        parts = [f"{self.backend}/{self.device}", self.precision, f"b{self.batch}", self.mode]
        if self.mode == "async":
            parts.append(f"s{self.streams}" if self.streams is not None else "s=auto")
        if self.threads is not None:
            parts.append(f"t{self.threads}")
        return " ".join(parts)


@dataclass(frozen=True)
class Executed:
    """Asked from the runtime after compiling, not copied from the request."""

    precision: str  # "fp32", "bf16", "int8", or a mix by layer count: "int8+fp32"
    requests: int  # requests in flight while measuring
    streams: int | None = None  # OpenVINO NUM_STREAMS
    threads: int | None = None  # OpenVINO INFERENCE_NUM_THREADS; onnxruntime intra-op threads
    providers: tuple[str, ...] = ()  # onnxruntime providers, or OpenVINO EXECUTION_DEVICES
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchResult:
    config: RunConfig
    model: str
    device_name: str
    executed: Executed
    throughput_fps: float
    latency: LatencyStats
    requests: int
    wall_s: float
    repeats: int
    load_ms: float
    first_inference_ms: float
    flops_per_frame: int
    flops_lower_bound: bool
    peak_gflops: float | None
    load_before: LoadSample
    load_during: LoadSample  # the worst window among the repeats
    throughput_spread: Spread | None = None
    throughput_windows: tuple[float, ...] = ()  # each timed window's throughput, for bench compare

    @property
    def gflops_per_s(self) -> float:
        return achieved_gflops(self.flops_per_frame, self.throughput_fps)

    @property
    def peak_fraction(self) -> float | None:
        return self.gflops_per_s / self.peak_gflops if self.peak_gflops else None

    @property
    def noisy(self) -> bool:
        return self.load_before.noisy or self.load_during.noisy

    def to_json(self) -> dict[str, Any]:
        c, e = self.config, self.executed
        spread = self.throughput_spread
        return {
            "backend": c.backend,
            "device": c.device,
            "device_name": self.device_name,
            "model": self.model,
            "batch": c.batch,
            "mode": c.mode,
            "precision_requested": c.precision,
            "precision_executed": e.precision,
            "streams_requested": c.streams,
            "threads_requested": c.threads,
            "pin_requested": c.pin,
            "streams": e.streams,
            "threads": e.threads,
            "requests_in_flight": e.requests,
            "providers": list(e.providers),
            "runtime_details": dict(e.details),
            "throughput_fps": round(self.throughput_fps, 3),
            "throughput_spread": None if spread is None else {
                "min": round(spread.low, 3), "max": round(spread.high, 3), "relative": round(spread.relative, 4)},
            "throughput_windows_fps": [round(x, 3) for x in self.throughput_windows],
            "latency_ms": self.latency.to_json(),
            "requests": self.requests,
            "wall_s": round(self.wall_s, 4),
            "repeats": self.repeats,
            "cold_start": {"load_ms": round(self.load_ms, 2), "first_inference_ms": round(self.first_inference_ms, 3)},
            "flops_per_frame": self.flops_per_frame,
            "flops_lower_bound": self.flops_lower_bound,
            "gflops_per_s": round(self.gflops_per_s, 3),
            "peak_gflops": None if self.peak_gflops is None else round(self.peak_gflops, 2),
            "peak_fraction": None if self.peak_fraction is None else round(self.peak_fraction, 4),
            "noisy": self.noisy,
            "foreign_load": {"before": self.load_before.to_json(), "during": self.load_during.to_json()},
        }


@dataclass(frozen=True)
class Skipped:
    config: RunConfig
    reason: str

    def to_json(self) -> dict[str, Any]:
        c = self.config
        return {"backend": c.backend, "device": c.device, "batch": c.batch, "mode": c.mode,
                "precision_requested": c.precision, "reason": self.reason}
