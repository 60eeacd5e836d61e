"""The latency tail a server-search step is judged on, and how many queries judging it takes.

A step is a short LoadGen run at one QPS; what it must predict is whether
the confirming run at that QPS will be VALID. LoadGen's early stopping
passes a run of n queries only when its count of queries over the budget is
at most t(n) (`queueing.early_stopping_max_overlatency`), which is below 1%
of n: for 8,000 queries, 59 (0.74%). So the percentile a step judges is not
the p99 but the one the confirming run effectively needs: the q at which an
over-budget fraction 1 - q passes early stopping nine times in ten
(`judged_percentile`, 99.36% for 8,000 queries).

The step's q-latency comes from LoadGen's own percentiles (p90 ... p99.9),
interpolated linearly in -ln(1 - q): exact where the tail is exponential, as
a queue's waiting time is (Kingman; M/D/1's tail decays as exp(-theta t)).
Its interval is distribution-free: with n queries the q-quantile lies
between the order statistics at ranks n (q -+ z sqrt(q (1 - q) / n)),
mapped through the same curve. A step is within the budget when the whole
interval is, over it when the whole interval is over, and otherwise needs
more queries: as many as bring the interval's end on the budget's side to
the budget (the rank spread equal to the distance, in q, from the judged
percentile to the q whose latency is the budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hwtune.bench.serving.queueing import binomial_cdf, early_stopping_max_overlatency

Z95 = 1.96
PASS_PROBABILITY = 0.9  # a step judges for a confirming run that passes at least this often
# The percentiles LoadGen's summary gives, as (q, key in LoadgenRun.latency_ms).
POINTS = ((0.90, "p90"), (0.95, "p95"), (0.97, "p97"), (0.99, "p99"), (0.999, "p99.9"))


def early_stopping_floor(percentile: float = 0.99) -> int:
    """The fewest queries with which LoadGen's early stopping can vouch for the percentile at all
    (459 for p99, with none over the budget): the least a step may run."""
    lo, hi = 1, 1
    while early_stopping_max_overlatency(hi, percentile) < 0:
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if early_stopping_max_overlatency(mid, percentile) < 0:
            lo = mid + 1
        else:
            hi = mid
    return hi


def judged_percentile(confirm_queries: int, percentile: float = 0.99,
                      pass_probability: float = PASS_PROBABILITY) -> float:
    """The percentile whose latency must be within the budget for a run of `confirm_queries` to pass
    LoadGen's early stopping with `pass_probability`: 1 - f, f the largest over-budget fraction with
    P(Binomial(n, f) <= t(n)) >= pass_probability."""
    n = max(confirm_queries, early_stopping_floor(percentile))
    allowed = early_stopping_max_overlatency(n, percentile)
    lo, hi = 0.0, 1 - percentile
    for _ in range(50):
        mid = (lo + hi) / 2
        if binomial_cdf(allowed, n, mid) >= pass_probability:
            lo = mid
        else:
            hi = mid
    return 1 - lo


@dataclass(frozen=True)
class Tail:
    """Latency (ms) against x = -ln(1 - q), from LoadGen's percentiles; linear between them."""

    points: tuple[tuple[float, float], ...]  # (x, latency ms), x increasing

    @classmethod
    def of(cls, latency_ms: Mapping[str, float]) -> Tail | None:
        pts = [(-math.log(1 - q), float(latency_ms[k])) for q, k in POINTS if latency_ms.get(k) is not None]
        if len(pts) < 2:
            return None
        # Percentiles of one run never decrease; keep it so if a summary rounds oddly.
        mono = [pts[0]]
        for x, v in pts[1:]:
            mono.append((x, max(v, mono[-1][1])))
        return cls(tuple(mono))

    def latency_ms(self, q: float) -> float:
        x = -math.log(max(1e-12, 1 - q))
        i = self._segment(x)
        (x0, y0), (x1, y1) = self.points[i], self.points[i + 1]
        return max(0.0, y0 + (y1 - y0) * (x - x0) / (x1 - x0))

    def q_at(self, latency_ms: float) -> float:
        """The inverse: the q whose latency is `latency_ms` (the last segment extended beyond p99.9)."""
        pts = self.points
        i = next((k for k in range(len(pts) - 1) if latency_ms <= pts[k + 1][1] and pts[k + 1][1] > pts[k][1]),
                 len(pts) - 2)
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        if y1 <= y0:  # a flat tail never reaches a higher latency
            return 1.0 if latency_ms > y0 else 1 - math.exp(-x0)
        x = x0 + (latency_ms - y0) * (x1 - x0) / (y1 - y0)
        return 1 - math.exp(-max(0.0, x))

    def _segment(self, x: float) -> int:
        for i in range(len(self.points) - 2, -1, -1):
            if x >= self.points[i][0]:
                return i
        return 0


@dataclass(frozen=True)
class Judgement:
    verdict: str  # "within", "over" or "unsure"
    percentile: float  # the percentile judged
    estimate_ms: float
    low_ms: float
    high_ms: float
    queries: int  # the step's
    queries_needed: int  # for the interval to clear the budget (= queries when it already does)


def judge(latency_ms: Mapping[str, float], queries: int, slo_ms: float, percentile: float, z: float = Z95) -> Judgement:
    """Is the `percentile` latency of a step of `queries` queries within `slo_ms`, with confidence?"""
    tail = Tail.of(latency_ms)
    if tail is None or queries <= 0:
        return Judgement("over", percentile, math.inf, math.inf, math.inf, queries, queries)
    spread = z * math.sqrt(percentile * (1 - percentile) / queries)
    q_hi = min(percentile + spread, 1 - 0.5 / queries)  # no rank beyond the largest latency seen
    est = tail.latency_ms(percentile)
    low, high = tail.latency_ms(max(0.5, percentile - spread)), tail.latency_ms(max(percentile, q_hi))
    if high <= slo_ms:
        return Judgement("within", percentile, est, low, high, queries, queries)
    if low > slo_ms:
        return Judgement("over", percentile, est, low, high, queries, queries)
    return Judgement("unsure", percentile, est, low, high, queries, queries_needed(tail, percentile, est, slo_ms, z))


def queries_needed(tail: Tail, percentile: float, estimate_ms: float, slo_ms: float, z: float = Z95) -> int:
    """The n at which the interval's end on the budget's side reaches the budget: the rank spread
    z sqrt(q (1 - q) / n) equals the distance from q to the q whose latency is the budget."""
    gap = abs(tail.q_at(slo_ms) - percentile)
    if gap <= 0 or estimate_ms == slo_ms:
        return 2 ** 31 - 1
    return int(min(z * z * percentile * (1 - percentile) / (gap * gap), 2 ** 31 - 2)) + 1
