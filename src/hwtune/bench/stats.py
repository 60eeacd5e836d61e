"""Statistics for comparing runs: a bootstrap confidence interval of a relative difference.

Each saved result keeps its windows' throughputs. The difference of two
results is mean(after) / mean(before) - 1; its 95% interval is the 2.5th and
97.5th percentiles of that statistic over resamples drawn with replacement
from each side's windows (Efron's percentile bootstrap), seeded so that the
same two runs always give the same interval. With few windows the percentile
bootstrap runs narrow (three windows have ten distinct resampled means), so
at least MIN_WINDOWS per side are required and more are better.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from typing import Sequence

MIN_WINDOWS = 3
RESAMPLES = 4000
SEED = 20261202
LEVEL = 0.95


@dataclass(frozen=True)
class Difference:
    relative: float  # mean(after) / mean(before) - 1
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
    """None when either side has fewer than MIN_WINDOWS windows (or a zero mean)."""
    if len(before) < MIN_WINDOWS or len(after) < MIN_WINDOWS:
        return None
    mb, ma = statistics.fmean(before), statistics.fmean(after)
    if mb <= 0:
        return None
    rng = random.Random(seed)
    stats = []
    for _ in range(resamples):
        b = statistics.fmean(rng.choices(before, k=len(before)))
        a = statistics.fmean(rng.choices(after, k=len(after)))
        stats.append(a / b - 1)
    stats.sort()
    tail = (1 - LEVEL) / 2
    low = stats[int(tail * resamples)]
    high = stats[min(resamples - 1, int((1 - tail) * resamples))]
    return Difference(ma / mb - 1, low, high, (len(before), len(after)))
