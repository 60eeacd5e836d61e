"""The timed request loop: each stage on its own, and the whole end to end.

Two loops take turns, request by request (each going first every other
time), over the same images: the staged loop
reads the wall clock (perf_counter) and this process's CPU time
(CLOCK_PROCESS_CPUTIME_ID, so a library's own worker threads count) between
stages; the plain loop runs the same stages with no clock read between them
and times only the whole request. The plain loop's mean is the end-to-end
figure, measured on its own; the staged loop's stage means should add up to
it (the clock reads cost well under a microsecond each). The CPU time of each
plain request is kept too: on a machine other work shares, wall times swing
with their load, and CPU times much less.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hwtune.bench.measure import StopRule

perf = time.perf_counter
cpu = time.process_time
WARMUP_REQUESTS = 3


@dataclass(frozen=True)
class StageSamples:
    wall_s: dict[str, list[float]]  # stage -> one entry per request
    cpu_s: dict[str, list[float]]
    kinds: list[int]  # per request: which input it was (an index into the inputs)
    end_to_end_s: list[float]  # the plain loop's requests
    end_to_end_cpu_s: list[float]
    staged_wall_s: float  # the staged loop's own wall time
    plain_wall_s: float

    @property
    def requests(self) -> int:
        return len(self.kinds)


def run_stages(stages: Sequence[tuple[str, Callable[[Any], Any]]], inputs: Sequence[Any], stop: StopRule,
               report: Callable[[str], None] | None = None) -> StageSamples:
    """Staged and plain requests in turn until each loop has run `stop`'s time and count."""
    names = [n for n, _ in stages]
    fns = [f for _, f in stages]
    for i in range(min(len(inputs), 10) + WARMUP_REQUESTS):  # caches, lazy imports, the runtime's first runs
        _plain(fns, inputs[i % len(inputs)])
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    kinds: list[int] = []
    e2e: list[float] = []
    e2e_cpu: list[float] = []
    staged_s = plain_s = 0.0
    start = last_report = perf()
    while not (stop.done(staged_s, len(kinds)) and stop.done(plain_s, len(e2e))):
        k = len(kinds) % len(inputs)
        # the two take turns going first: whatever one leaves warm (caches, allocator) helps both alike
        if len(kinds) % 2:
            p0, c0 = perf(), cpu()
            _plain(fns, inputs[k])
            p1, c1 = perf(), cpu()
            _staged(names, fns, inputs[k], walls, cpus)
            s_wall = perf() - p1
        else:
            s0 = perf()
            _staged(names, fns, inputs[k], walls, cpus)
            p0, c0 = perf(), cpu()
            s_wall = p0 - s0
            _plain(fns, inputs[k])
            p1, c1 = perf(), cpu()
        kinds.append(k)
        e2e.append(p1 - p0)
        e2e_cpu.append(c1 - c0)
        t2 = perf()
        staged_s += s_wall
        plain_s += p1 - p0
        if report and t2 - last_report > 0.5:
            report(f"{len(kinds)} requests timed by stage and end to end")
            last_report = t2
        if t2 - start > 4 * stop.time_s + 60:  # a stage far slower than the window: stop anyway
            break
    return StageSamples(walls, cpus, kinds, e2e, e2e_cpu, staged_s, plain_s)


def _plain(fns: list[Callable[[Any], Any]], x: Any) -> Any:
    for f in fns:
        x = f(x)
    return x


def _staged(names: list[str], fns: list[Callable[[Any], Any]], x: Any,
            walls: dict[str, list[float]], cpus: dict[str, list[float]]) -> None:
    t, c = perf(), cpu()
    for name, f in zip(names, fns, strict=True):
        x = f(x)
        t2, c2 = perf(), cpu()
        walls[name].append(t2 - t)
        cpus[name].append(c2 - c)
        t, c = t2, c2
