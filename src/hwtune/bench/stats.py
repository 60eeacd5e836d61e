"""Statistics for comparing runs and for repeated searches.

Each saved result keeps its windows' throughputs. The difference of two
results is median(after) / median(before) - 1: the median, because that is
what a result's `throughput_fps` is (the median of its windows), so the
columns, the change and its interval all speak of one statistic. Its 95%
interval is the 2.5th and 97.5th percentiles of that statistic over
resamples drawn with replacement from each side's windows (Efron's
percentile bootstrap), seeded so that the same two runs always give the same
interval. With few windows the percentile bootstrap runs narrow (three
windows have ten distinct resampled medians), so at least MIN_WINDOWS per
side are required and more are better.

`median_interval` is the distribution-free interval of a median from order
statistics (the binomial argument; e.g. Conover, "Practical Nonparametric
Statistics", 3.2): for n values the interval [x_(k), x_(n+1-k)] covers the
true median with probability 1 - 2 P(Binomial(n, 1/2) < k).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_WINDOWS = 3
RESAMPLES = 4000
SEED = 20261202
LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    relative: float  # median(after) / median(before) - 1
    low: float  # the interval, relative
    high: float
    windows: tuple[int, int]

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def half_width(self) -> float:
        """The larger distance from zero to an end of the interval: "no difference, +-x"."""
        return max(abs(self.low), abs(self.high))


def relative_difference(before: Sequence[float], after: Sequence[float], resamples: int = RESAMPLES,
                        seed: int = SEED) -> Difference | None:
    """None when either side has fewer than MIN_WINDOWS windows (or a zero median)."""
    if len(before) < MIN_WINDOWS or len(after) < MIN_WINDOWS:
        return None
    mb, ma = statistics.median(before), statistics.median(after)
    if mb <= 0:
        return None
    rng = random.Random(seed)
    stats = []
    for _ in range(resamples):
        b = statistics.median(rng.choices(before, k=len(before)))
        a = statistics.median(rng.choices(after, k=len(after)))
        stats.append(a / b - 1 if b > 0 else math.inf)
    stats.sort()
    tail = (1 - LEVEL) / 2
    low = stats[int(tail * resamples)]
    high = stats[min(resamples - 1, int((1 - tail) * resamples))]
    return Difference(ma / mb - 1, low, high, (len(before), len(after)))


@dataclass(frozen=True)
class MedianInterval:
    median: float
    low: float
    high: float
    coverage: float  # the probability that [low, high] holds the true median


def median_interval(values: Sequence[float], level: float = LEVEL) -> MedianInterval | None:
    """The narrowest order-statistic interval covering the median with at least `level`, or, when
    there are too few values for that, [min, max] with the coverage it has. None for no values."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        return None
    k, coverage = 1, _order_coverage(n, 1)
    while k + 1 <= (n + 1) // 2 and _order_coverage(n, k + 1) >= level:
        k += 1
        coverage = _order_coverage(n, k)
    return MedianInterval(statistics.median(xs), xs[k - 1], xs[n - k], coverage)


def _order_coverage(n: int, k: int) -> float:
    """P(x_(k) <= median <= x_(n+1-k)) = 1 - 2 P(Binomial(n, 1/2) <= k - 1)."""
    below = sum(math.comb(n, i) for i in range(k)) / 2 ** n
    return max(0.0, 1 - 2 * below)
