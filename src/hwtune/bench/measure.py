"""Timed loops shared by the backends: one request at a time, or N threads in flight.

A window stops when both its time and its minimum request count are reached
(MLPerf's rule: a minimum duration and a minimum query count); requests
already in flight then finish and count, and the wall time runs to the last
completion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

perf = time.perf_counter


@dataclass(frozen=True)
class StopRule:
    time_s: float
    min_count: int

    def done(self, elapsed_s: float, count: int) -> bool:
        return elapsed_s >= self.time_s and count >= self.min_count


@dataclass(frozen=True)
class Timing:
    latencies_s: list[float]
    wall_s: float

    @property
    def requests(self) -> int:
        return len(self.latencies_s)


def warmup_rule(stop: StopRule, in_flight: int) -> StopRule:
    """Warm-up: a tenth of the run (0.1 s at least, 1 s at most) and two requests per slot."""
    return StopRule(min(max(0.1 * stop.time_s, 0.1), 1.0), 2 * in_flight)


def run_sync(infer: Callable[[], object], stop: StopRule) -> Timing:
    latencies: list[float] = []
    start = perf()
    while True:
        t0 = perf()
        infer()
        t1 = perf()
        latencies.append(t1 - t0)
        if stop.done(t1 - start, len(latencies)):
            return Timing(latencies, t1 - start)


def run_threads(infers: list[Callable[[], object]], stop: StopRule) -> Timing:
    """One thread per request slot, each calling its own blocking infer (the runtime releases the GIL)."""
    latencies: list[float] = []
    lock = threading.Lock()
    ends: list[float] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(infers) + 1)
    start_box: list[float] = []

    def worker(infer: Callable[[], object]) -> None:
        barrier.wait()
        start = start_box[0]
        try:
            while True:
                with lock:
                    if stop.done(perf() - start, len(latencies)):
                        break
                t0 = perf()
                infer()
                t1 = perf()
                with lock:
                    latencies.append(t1 - t0)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            errors.append(exc)
        ends.append(perf())

    threads = [threading.Thread(target=worker, args=(f,), daemon=True) for f in infers]
    for t in threads:
        t.start()
    start_box.append(perf())
    barrier.wait()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return Timing(latencies, max(ends) - start_box[0])
