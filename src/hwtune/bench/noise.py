"""Foreign CPU load: how much of the machine something other than this process used.

psutil's system CPU times minus this process's own CPU time (all its
threads, so the runtimes' worker pools count as ours), over the window before
a timed run (model preparation, compile, warm-up) and over the run itself.
Steal time counts as foreign: on a VM it is CPU the hypervisor gave to someone else.

Deliberately outside probe/: this is a measurement taken while a benchmark
runs, not a fact about the host.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

NOISY_FOREIGN_CORES = 0.10  # another process busy 10% of one core on average marks a run noisy
_BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")


@dataclass(frozen=True)
class LoadSample:
    window_s: float
    foreign_cores: float  # average number of cores used by others (steal included)
    steal_cores: float

    @property
    def noisy(self) -> bool:
        return self.foreign_cores >= NOISY_FOREIGN_CORES

    def to_json(self) -> dict[str, float]:
        return {
            "window_s": round(self.window_s, 3),
            "foreign_cores": round(self.foreign_cores, 3),
            "steal_cores": round(self.steal_cores, 3),
        }


class LoadMeter:
    """start() ... stop() -> LoadSample over that window."""

    def __init__(self, include_children: bool = False) -> None:
        import psutil

        self._children = include_children  # count waited-for child processes as ours (a tool we ran)
        self._psutil = psutil
        self._proc = psutil.Process()
        self._t0 = 0.0
        self._sys0: object = None
        self._own0 = 0.0

    def start(self) -> LoadMeter:
        self._t0 = time.perf_counter()
        self._sys0 = self._psutil.cpu_times()
        self._own0 = self._own()
        return self

    def stop(self) -> LoadSample:
        sys1 = self._psutil.cpu_times()
        own1 = self._own()
        window = time.perf_counter() - self._t0
        return foreign_load(self._sys0, sys1, own1 - self._own0, window)

    def _own(self) -> float:
        t = self._proc.cpu_times()
        own = t.user + t.system
        return own + t.children_user + t.children_system if self._children else own


def foreign_load(before: object, after: object, own_s: float, window_s: float) -> LoadSample:
    """Pure: the foreign load between two system cpu_times samples, given our own CPU seconds."""
    busy = sum(getattr(after, f, 0.0) - getattr(before, f, 0.0) for f in _BUSY_FIELDS)
    steal = getattr(after, "steal", 0.0) - getattr(before, "steal", 0.0)
    window = max(window_s, 1e-9)
    # Clock-tick granularity (10 ms) can make own time exceed busy time by a tick; never negative.
    return LoadSample(window_s, max(0.0, busy - own_s) / window, max(0.0, steal) / window)


def sample_before(duration_s: float = 0.3) -> LoadSample:
    """Foreign load while this process sleeps: what the machine was doing before the run."""
    meter = LoadMeter().start()
    time.sleep(duration_s)
    return meter.stop()
