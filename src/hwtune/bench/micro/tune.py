"""Auto-tune: the best configuration per device, under a latency budget.

The space per device: precision x batch x requests in flight (1 = sync) x
threads. The search screens every precision at a middle point (middle batch, middle
request count with the threads that fill the cores), then walks
one axis at a time to the better neighbour (coordinate descent over ordered
axes) until a full pass moves nowhere, with shorter measurement windows (a
window another process disturbed is measured once more); the three best
points found are then measured again at full length (their new figures
replace the short ones) and the best of all points measured wins. A point is
better when it meets the latency budget (p99) and the other does not, or when
both do and its throughput is higher; two points over budget compare by p99. `sweep` measures every point of the same
space at full length, for benchmarks/tune_vs_sweep.py.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from hwtune.bench.engines import backend
from hwtune.bench.micro.runner import Bench
from hwtune.bench.result import BenchResult, RunConfig, Skipped
from hwtune.bench.targets import DeviceInfo, usable_cpus

DEFAULT_BATCHES = (1, 2, 4, 8, 16)
TUNE_PRECISIONS = ("fp32", "bf16", "fp16", "int8")
EXPLORE_FRACTION = 0.75  # exploration windows are this fraction of --time
FINALISTS = 3  # measured again at full length
MOVE_MARGIN = 0.02  # a neighbour must be 2% better to move there: smaller is measurement noise here
Point = tuple[str, int, int, int]  # precision, batch, requests, threads


@dataclass(frozen=True)
class Space:
    precisions: tuple[str, ...]
    batches: tuple[int, ...]
    requests: tuple[int, ...]
    threads: tuple[int, ...]

    def points(self) -> list[Point]:
        return list(itertools.product(self.precisions, self.batches, self.requests, self.threads))


def valid_points(bench: Bench, info: DeviceInfo, space: Space) -> list[Point]:
    return [p for p in space.points() if bench.supports(config_of(info, p, bench.plan.pin)) is None]


@dataclass(frozen=True)
class DeviceTune:
    device: DeviceInfo
    best: BenchResult | None  # None: nothing met the budget or nothing ran
    evaluated: tuple[BenchResult, ...]
    skipped: tuple[Skipped, ...]
    elapsed_s: float
    space_size: int
    latency_slo_ms: float | None
    pareto: tuple[BenchResult, ...] = field(default=())

    @property
    def meets_slo(self) -> bool:
        if self.best is None:
            return False
        return self.latency_slo_ms is None or self.best.latency.p99_ms <= self.latency_slo_ms


def space_for(bench: Bench, info: DeviceInfo) -> Space:
    cpus = usable_cpus()
    precisions = tuple(p for p in bench.plan.precisions if p in info.precisions and p != "auto") or ("fp32",)
    ladder = sorted({1, cpus} | {2 ** i for i in range(8) if 2 ** i <= cpus})
    requests = tuple(sorted(set(ladder) | {2 * cpus}))
    threads = tuple(t for t in bench.plan.threads if t is not None) or tuple(ladder)
    streams = tuple(s for s in bench.plan.streams if s is not None)
    return Space(precisions, bench.plan.batches or DEFAULT_BATCHES, streams or requests, threads)


def config_of(info: DeviceInfo, point: Point, pin: bool | None) -> RunConfig:
    precision, batch, requests, threads = point
    mode = "sync" if requests == 1 else "async"
    streams = None if requests == 1 else requests
    return RunConfig(info.backend, info.device, batch, mode, precision, streams, threads, pin)


def better(a: BenchResult, b: BenchResult | None, slo_ms: float | None, margin: float = 0.0) -> bool:
    """Is `a` better than `b` (by more than `margin` in throughput when both meet the budget)?"""
    if b is None:
        return True
    a_ok = slo_ms is None or a.latency.p99_ms <= slo_ms
    b_ok = slo_ms is None or b.latency.p99_ms <= slo_ms
    if a_ok != b_ok:
        return a_ok
    if a_ok:
        return a.throughput_fps > b.throughput_fps * (1 + margin)
    return a.latency.p99_ms < b.latency.p99_ms * (1 - margin)


def pareto_front(results: list[BenchResult]) -> list[BenchResult]:
    """Points no other point beats on both throughput (higher) and p99 (lower), by p99."""
    front: list[BenchResult] = []
    for r in sorted(results, key=lambda r: (r.latency.p99_ms, -r.throughput_fps)):
        if not front or r.throughput_fps > front[-1].throughput_fps:
            front.append(r)
    return front


class _Search:
    def __init__(self, bench: Bench, info: DeviceInfo, space: Space, slo_ms: float | None,
                 report: Callable[[str], None]) -> None:
        self.bench, self.info, self.space, self.slo = bench, info, space, slo_ms
        self.report = report
        self.seen: dict[Point, BenchResult | Skipped] = {}
        self.size = len(valid_points(bench, info, space))

    def eval(self, point: Point) -> BenchResult | None:
        if point not in self.seen:
            cfg = config_of(self.info, point, self.bench.plan.pin)
            if self.bench.supports(cfg) is None:
                self.report(f"{cfg.label()} (point {len(self.results()) + 1}; the space has {self.size})")
            out = self.bench.evaluate(cfg, time_s=self.bench.plan.time_s * EXPLORE_FRACTION)
            if isinstance(out, BenchResult) and out.noisy:
                # Another process took CPU during the window: measure once more, keep the quieter.
                again = self.bench.evaluate(cfg, time_s=self.bench.plan.time_s * EXPLORE_FRACTION)
                if isinstance(again, BenchResult) and again.load_during.foreign_cores < out.load_during.foreign_cores:
                    out = again
            self.seen[point] = out
        out = self.seen[point]
        return out if isinstance(out, BenchResult) else None

    def results(self) -> list[BenchResult]:
        return [r for r in self.seen.values() if isinstance(r, BenchResult)]

    def balanced(self, requests: int) -> int:
        """The thread count that fills the cores at this request count: onnxruntime's threads are per
        run, so requests x threads = CPUs; OpenVINO's are shared by its streams, so all of them."""
        cpus = max(self.space.threads)
        want = backend(self.info.backend).balanced_threads(cpus, requests)
        return min(self.space.threads, key=lambda t: (abs(t - want), t))

    def moves(self, p: Point, axis: int) -> list[Point]:
        """Neighbours of `p` along one axis. Requests and threads are coupled, so a step in
        requests is tried with the current threads and with the balanced thread count."""
        axes = (self.space.precisions, self.space.batches, self.space.requests, self.space.threads)
        values = list(axes[axis])
        i = values.index(p[axis])
        near = values if axis == 0 else values[max(0, i - 1): i + 2]
        # the same shape as p: mypy cannot follow a slice at a variable index
        out = [cast(Point, p[:axis] + (v,) + p[axis + 1:]) for v in near if v != p[axis]]
        if axis == 2:
            out += [(p[0], p[1], q[2], self.balanced(q[2])) for q in list(out)]
        return list(dict.fromkeys(out))

    def run(self) -> list[BenchResult]:
        sp = self.space
        requests = sp.requests[len(sp.requests) // 2]
        start = (sp.precisions[0], sp.batches[len(sp.batches) // 2], requests, self.balanced(requests))
        best_point, best = None, None
        for precision in sp.precisions:  # precision is categorical: screen them all
            point = (precision,) + start[1:]
            r = self.eval(point)
            if r is not None and better(r, best, self.slo):
                best_point, best = point, r
        for point in self.space.points():  # the start cannot run here: begin from any point that can
            if best_point is not None:
                break
            r = self.eval(point)
            if r is not None:
                best_point, best = point, r
        if best_point is None:
            return self.results()
        moved = True
        while moved:
            moved = False
            for axis in (1, 2, 3, 0):
                for point in self.moves(best_point, axis):
                    r = self.eval(point)
                    if r is not None and better(r, best, self.slo, MOVE_MARGIN):
                        best_point, best, moved = point, r, True
        return self.results()


def tune_device(bench: Bench, info: DeviceInfo, slo_ms: float | None,
                report: Callable[[str], None] | None = None, space: Space | None = None) -> DeviceTune:
    space = space or space_for(bench, info)
    report = report or (lambda _m: None)
    start = time.perf_counter()
    search = _Search(bench, info, space, slo_ms, report)
    found = search.run()
    ranked = _rank(found, slo_ms)
    finals: list[BenchResult] = []
    for r in ranked[:FINALISTS]:
        report(f"confirming {r.config.label()}")
        out = bench.evaluate(r.config)
        if isinstance(out, BenchResult):
            finals.append(out)
    # A finalist's full-length measurement replaces its exploration window; the answer is the
    # best of the result, so it always sits on the front shown with it.
    latest = {r.config: r for r in found}
    latest.update({r.config: r for r in finals})
    measured = list(latest.values())
    ranked = _rank(measured, slo_ms)
    best = ranked[0] if ranked else None
    if best is not None and slo_ms is not None and best.latency.p99_ms > slo_ms:
        best = None
    skipped = tuple(s for s in search.seen.values() if isinstance(s, Skipped))
    return DeviceTune(info, best, tuple(measured), skipped, time.perf_counter() - start, search.size,
                      slo_ms, tuple(pareto_front(measured)))


def sweep_device(bench: Bench, info: DeviceInfo, slo_ms: float | None,
                 report: Callable[[str], None] | None = None, space: Space | None = None) -> DeviceTune:
    """Every point of the space at full length: the reference the tuner is judged against."""
    space = space or space_for(bench, info)
    report = report or (lambda _m: None)
    start = time.perf_counter()
    results: list[BenchResult] = []
    skipped: list[Skipped] = []
    points = valid_points(bench, info, space)
    for n, point in enumerate(points, 1):
        cfg = config_of(info, point, bench.plan.pin)
        report(f"{cfg.label()} ({n} of {len(points)})")
        out = bench.evaluate(cfg)
        (results if isinstance(out, BenchResult) else skipped).append(out)  # type: ignore[arg-type]
    ranked = _rank(results, slo_ms)
    best = ranked[0] if ranked and (slo_ms is None or ranked[0].latency.p99_ms <= slo_ms) else None
    return DeviceTune(info, best, tuple(results), tuple(skipped), time.perf_counter() - start,
                      len(points), slo_ms, tuple(pareto_front(results)))


def _rank(results: list[BenchResult], slo_ms: float | None) -> list[BenchResult]:
    ok = sorted((r for r in results if slo_ms is None or r.latency.p99_ms <= slo_ms), key=lambda r: -r.throughput_fps)
    over = sorted((r for r in results if slo_ms is not None and r.latency.p99_ms > slo_ms),
                  key=lambda r: r.latency.p99_ms)
    return ok + over
