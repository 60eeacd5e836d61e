"""This device's peak GFLOP/s, measured: a large GEMM through each runtime that can drive it.

Nominal peaks (cores x clock x FLOP/cycle) are wrong in VMs and under boost or
thermal limits, so the denominator of "fraction of peak" is measured the same
way the workload runs: the best time of a 1024^3 MatMul over a short window,
at the precision class the workload executed in, taking the best runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwtune.bench.measure import StopRule
from hwtune.bench.noise import NOISY_FOREIGN_CORES, LoadMeter
from hwtune.bench.result import RunConfig
from hwtune.bench.targets import DeviceInfo

GEMM_N = 1024
CALIBRATION_S = 0.25


@dataclass(frozen=True)
class Peak:
    gflops: float
    precision: str
    measured_with: str  # "openvino/CPU sync"
    foreign_cores: float = 0.0  # the worst foreign load seen while calibrating

    @property
    def noisy(self) -> bool:
        return self.foreign_cores >= NOISY_FOREIGN_CORES


def device_key(info: DeviceInfo) -> str:
    """CPU is one physical device whichever runtime drives it; accelerators stay per runtime."""
    return "CPU" if info.device.split(".")[0] == "CPU" else f"{info.backend}/{info.device}"


def peak_class(precision_executed: str) -> str:
    first = precision_executed.split("+")[0].split(" ")[0]
    return first if first in ("fp32", "bf16", "fp16", "int8") else "fp32"


def calibrate(devices: list[DeviceInfo], precision: str, cache_dir: Path, time_s: float = CALIBRATION_S) -> Peak | None:
    """The best GEMM rate over `devices` (all the same physical device) at `precision`."""
    from hwtune.bench.engines import open_engine
    from hwtune.bench.feeds import make_feeds

    path = _gemm_path(cache_dir)
    shapes: dict[str, tuple[int, ...]] = {"a": (GEMM_N, GEMM_N)}
    if precision == "int8":
        from hwtune.bench.quant import int8_path

        path = int8_path(path, shapes, cache_dir)
    import numpy as np

    feeds = make_feeds(shapes, {"a": np.float32})
    flops = 2 * GEMM_N ** 3
    best: Peak | None = None
    worst_load = 0.0
    for info in devices:
        if precision not in info.precisions:
            continue
        # One request on all threads, and one request per core: either can be the faster way here.
        for mode in ("sync", "async"):
            cfg = RunConfig(info.backend, info.device, batch=GEMM_N, mode=mode, precision=precision)
            engine = open_engine(cfg, path, feeds)
            try:
                engine.first_inference_ms()
                meter = LoadMeter().start()
                timing = engine.measure(StopRule(time_s, 3 * engine.executed.requests))
                worst_load = max(worst_load, meter.stop().foreign_cores)
            finally:
                engine.close()
            if mode == "sync":
                gflops = flops / min(timing.latencies_s) / 1e9
            else:
                gflops = flops * timing.requests / timing.wall_s / 1e9
            if best is None or gflops > best.gflops:
                best = Peak(gflops, precision, f"{info.backend}/{info.device} {mode}")
    if best is not None:
        best = Peak(best.gflops, best.precision, best.measured_with, worst_load)
    return best


def _gemm_path(cache_dir: Path) -> Path:
    from hwtune.bench import zoo
    from hwtune.bench.modelfile import write_cached

    return write_cached(zoo.build_gemm(GEMM_N).SerializeToString(), f"gemm-{GEMM_N}", cache_dir)
