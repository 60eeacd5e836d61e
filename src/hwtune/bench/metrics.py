"""The metric math, pure, with the definitions docs/bench.md states.

- Latency of a request (one batch): sync, around the blocking call;
  onnxruntime async, around each thread's run(); OpenVINO async, the
  request's latency as OpenVINO measured it (what benchmark_app reports).
- Percentiles: nearest rank on the sorted latencies, p-th = the value at rank
  ceil(p/100 * n) (1-based); never interpolated, so p99 is a latency that
  really occurred.
- Throughput: frames processed (requests x batch) / wall time of the timed
  window, from the first submission to the last completion. Not batch /
  median latency, which overstates throughput when requests overlap.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    def to_json(self) -> dict[str, float]:
        return {
            "p50": round(self.p50_ms, 4), "p90": round(self.p90_ms, 4), "p99": round(self.p99_ms, 4),
            "mean": round(self.mean_ms, 4), "min": round(self.min_ms, 4), "max": round(self.max_ms, 4),
        }


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @property
    def relative(self) -> float:
        """(max - min) / median: 0.04 means the repeats lay within 4% of each other."""
        return (self.high - self.low) / self.median if self.median else 0.0


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float:
    if not sorted_values:
        raise ValueError("no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percentile {percent} is outside (0, 100]")
    rank = math.ceil(percent / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def latency_stats(latencies_s: Sequence[float]) -> LatencyStats:
    ms = sorted(x * 1000.0 for x in latencies_s)
    return LatencyStats(
        count=len(ms),
        p50_ms=nearest_rank(ms, 50),
        p90_ms=nearest_rank(ms, 90),
        p99_ms=nearest_rank(ms, 99),
        mean_ms=statistics.fmean(ms),
        min_ms=ms[0],
        max_ms=ms[-1],
    )


def throughput_fps(requests: int, batch: int, wall_s: float) -> float:
    if wall_s <= 0:
        raise ValueError("wall time must be positive")
    return requests * batch / wall_s


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values))


def median_stats(runs: Sequence[LatencyStats]) -> LatencyStats:
    """Each latency figure as the median over repeats (count: the total)."""
    med = lambda attr: statistics.median(getattr(r, attr) for r in runs)  # noqa: E731
    return LatencyStats(
        count=sum(r.count for r in runs),
        p50_ms=med("p50_ms"), p90_ms=med("p90_ms"), p99_ms=med("p99_ms"),
        mean_ms=med("mean_ms"), min_ms=min(r.min_ms for r in runs), max_ms=max(r.max_ms for r in runs),
    )


def achieved_gflops(flops_per_frame: int, fps: float) -> float:
    return flops_per_frame * fps / 1e9
