"""The server scenario's search: the highest QPS whose p99 LoadGen calls VALID, found so it repeats.

1. Where it starts: the closed-loop capacity C gives each instance's service
   time (D = instances / C); the queueing model (queueing.server_rate_within)
   gives the rate at which the percentile a confirming run is judged on
   (tail.judged_percentile) reaches the budget. Never above C: a short step
   above capacity can pass before its queue has grown.
2. A step is a LoadGen run at one QPS, long enough for what it judges: at
   least LoadGen's early-stopping floor and `step_s`, never longer than the
   confirming run; when the interval of its judged percentile straddles the
   budget, it runs again with as many queries as that interval needs
   (tail.judge), up to the confirming run's length. Still unsure then, it
   counts as over: the edge is within the interval's reach.
3. Moving: until a step is within the budget (or over it), the model fitted
   to the last step (queueing.fitted_service_s) says where the edge is,
   bounded to 0.5-0.95x of the step going down and 1.03x-0.99 C going up,
   so one step's luck cannot throw the bracket far; then bisection between
   the highest QPS within and the lowest over, to 3%.
4. Confirming: the QPS found, run for `duration_s`. INVALID while other
   processes took CPU: the same QPS again after a pause (1, 2, 4 s), at
   most BUSY_RETRIES times. INVALID on a quiet machine: a lower QPS (the
   fitted model's, 0.8-0.95x), confirmed again, up to MAX_CONFIRMS runs.
5. No VALID run: the highest QPS any run kept within the budget is the
   answer, measured but not VALID, with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwtune.bench.noise import NOISY_FOREIGN_CORES
from hwtune.bench.serving import queueing
from hwtune.bench.serving.loadgen import LoadgenRun, RunSettings
from hwtune.bench.serving.tail import Judgement, early_stopping_floor, judge, judged_percentile

Report = Callable[[str], None]
RunFn = Callable[[RunSettings], LoadgenRun]
SEARCH_PRECISION = 0.03  # bisection stops when the bracket is within 3% of its low end
MAX_STEP_RUNS = 10
FINAL_MIN_QUERIES = 1000  # the confirming run: at least this many queries behind its p99
MAX_CONFIRMS = 6
BUSY_RETRIES = 3
BUSY_BACKOFF_S = 1.0  # doubled at each retry
EXTEND_FACTOR = 1.25  # an extended step asks for a quarter more than the estimate needs
LOWEST_FRACTION = 1 / 64  # of the capacity: below it the search stops looking for a QPS within budget
ES_FLOOR = early_stopping_floor(0.99)


@dataclass(frozen=True)
class CurvePoint:
    qps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    within_slo: bool  # LoadGen's constraint: p99 within the budget
    valid: bool
    duration_s: float
    log_dir: str
    foreign_cores: float | None = None
    queries: int = 0
    judged: Judgement | None = None  # a search step's verdict on its judged percentile
    confirming: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {"qps": round(self.qps, 3), "latency_ms": {"p50": _r(self.p50_ms), "p90": _r(self.p90_ms),
                                                          "p99": _r(self.p99_ms)},
               "within_slo": self.within_slo, "valid": self.valid, "min_duration_s": self.duration_s,
               "queries": self.queries, "confirming": self.confirming,
               "foreign_cores": _r(self.foreign_cores), "loadgen_log_dir": self.log_dir}
        if self.judged is not None:
            j = self.judged
            out["judged"] = {"percentile": round(j.percentile * 100, 3), "verdict": j.verdict,
                             "latency_ms": _r(_finite(j.estimate_ms)),
                             "interval_ms": [_r(_finite(j.low_ms)), _r(_finite(j.high_ms))],
                             "queries_needed": j.queries_needed}
        return out


@dataclass(frozen=True)
class SearchOutcome:
    max_qps: float | None  # VALID, or (valid False) the highest QPS measured within the budget
    run: LoadgenRun | None  # the VALID confirming run, else the last confirming run
    curve: tuple[CurvePoint, ...]
    measured: CurvePoint | None = None  # not VALID: the run whose QPS and p99 are reported
    reasons: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.run is not None and self.run.valid


def point_of(run: LoadgenRun, settings: RunSettings, slo_ms: float, judged: Judgement | None = None,
             confirming: bool = False) -> CurvePoint:
    p99 = run.latency_ms.get("p99")
    within = bool(run.constraints_ok) and p99 is not None and p99 <= slo_ms
    return CurvePoint(run.target_qps or 0.0, run.latency_ms.get("p50"), run.latency_ms.get("p90"), p99,
                      within, run.valid, run.duration_s, str(run.log_dir), run.foreign_cores,
                      queries_of(settings, run), judged, confirming)


def queries_of(settings: RunSettings, run: LoadgenRun) -> int:
    """LoadGen runs until both its min duration and its min query count are reached."""
    rate = run.scheduled_qps or settings.target_qps or 0.0
    return max(settings.min_query_count, int(rate * settings.min_duration_s))


def confirm_settings(qps: float, slo_ms: float, duration_s: float) -> RunSettings:
    queries = max(ES_FLOOR, min(FINAL_MIN_QUERIES, int(qps * duration_s * 2)))
    return RunSettings("server", duration_s, target_qps=qps, latency_slo_ms=slo_ms, min_query_count=queries)


class Search:
    """One search over one server (its `run` is Server.run)."""

    def __init__(self, run: RunFn, capacity: float, instances: int, slo_ms: float, duration_s: float,
                 step_s: float, report: Report, sleep: Callable[[float], None] = time.sleep) -> None:
        self.run_fn, self.capacity, self.instances = run, capacity, max(1, instances)
        self.slo_ms, self.duration_s, self.step_s = slo_ms, duration_s, step_s
        self.report, self.sleep = report, sleep
        self.curve: list[CurvePoint] = []
        self.runs: list[LoadgenRun] = []  # beside the curve, one per point

    def percentile(self, qps: float) -> float:
        """What the confirming run at `qps` will need within the budget."""
        return judged_percentile(max(confirm_settings(qps, self.slo_ms, self.duration_s).min_query_count,
                                     int(qps * self.duration_s)))

    def start_qps(self) -> float:
        if self.capacity <= 0:
            return 0.0
        service_s = self.instances / self.capacity
        q = self.percentile(self.capacity)
        rate = queueing.server_rate_within(self.slo_ms / 1e3, q, service_s, self.instances)
        return min(0.99 * self.capacity, max(rate, 0.05 * self.capacity))

    def step(self, qps: float) -> Judgement:
        q = self.percentile(qps)
        cap = max(math.ceil(qps * self.step_s), int(qps * self.duration_s))  # never longer than the confirming run
        n = min(cap, max(ES_FLOOR, math.ceil(qps * self.step_s)))
        j = self._judged_run(qps, n, q, "")
        need = int(j.queries_needed * EXTEND_FACTOR)
        if j.verdict == "unsure" and n < need <= cap and len(self.curve) < MAX_STEP_RUNS:
            j = self._judged_run(qps, need, q, f", {need:,} queries for its p{q * 100:.2f}")
        return j

    def _judged_run(self, qps: float, queries: int, q: float, why: str) -> Judgement:
        self.report(f"{qps:,.1f} QPS for {max(self.step_s, queries / qps):.3g} s (step {len(self.curve) + 1}{why})")
        settings = RunSettings("server", self.step_s, target_qps=qps, latency_slo_ms=self.slo_ms,
                               min_query_count=queries)
        run = self._run(settings)
        j = judge(run.latency_ms, queries_of(settings, run), self.slo_ms, q)
        if not run.constraints_ok and j.verdict == "within":  # LoadGen's own p99 over the budget
            j = Judgement("over", j.percentile, j.estimate_ms, j.low_ms, j.high_ms, j.queries, j.queries_needed)
        self.curve.append(point_of(run, settings, self.slo_ms, j))
        return j

    def _run(self, settings: RunSettings) -> LoadgenRun:
        run = self.run_fn(settings)
        self.runs.append(run)
        return run

    def fitted_qps(self, qps: float, j: Judgement) -> float | None:
        """Where the model, fitted to what this step measured, puts the edge."""
        if not math.isfinite(j.estimate_ms) or j.estimate_ms <= 0:
            return None
        service_s = queueing.fitted_service_s(j.estimate_ms / 1e3, j.percentile, qps, self.instances)
        if service_s <= 0:
            return None
        return queueing.server_rate_within(self.slo_ms / 1e3, j.percentile, service_s, self.instances)

    def bracket(self) -> float:
        """The highest QPS judged within the budget (0: none)."""
        lo, hi = 0.0, self.capacity
        qps = self.start_qps()
        while qps >= LOWEST_FRACTION * self.capacity and len(self.curve) < MAX_STEP_RUNS:
            j = self.step(qps)
            if j.verdict == "within":
                lo = max(lo, qps)
            else:
                hi = min(hi, qps)
            if lo > 0 and hi - lo <= SEARCH_PRECISION * lo:
                break
            if lo == 0:
                qps = _bounded(self.fitted_qps(qps, j), 0.5 * qps, 0.95 * qps, 0.5 * qps)
            elif hi >= self.capacity:
                if 1.03 * qps > 0.99 * self.capacity:
                    break
                qps = _bounded(self.fitted_qps(qps, j), 1.03 * qps, 0.99 * self.capacity, (qps + hi) / 2)
            else:
                qps = (lo + hi) / 2
        return lo

    def confirm(self, qps: float) -> SearchOutcome:
        run: LoadgenRun | None = None
        busy = 0
        for _ in range(MAX_CONFIRMS):
            retry = f" (again: other processes took {run.foreign_cores:.2f} cores)" if busy and run is not None else ""
            self.report(f"confirming {qps:,.1f} QPS for {self.duration_s:g} s{retry}")
            settings = confirm_settings(qps, self.slo_ms, self.duration_s)
            run = self._run(settings)
            self.curve.append(point_of(run, settings, self.slo_ms, confirming=True))
            if run.valid:
                return SearchOutcome(qps, run, tuple(self.curve))
            if (run.foreign_cores or 0.0) >= NOISY_FOREIGN_CORES:
                if busy >= BUSY_RETRIES:
                    break
                self.sleep(BUSY_BACKOFF_S * 2 ** busy)
                busy += 1
                continue
            j = judge(run.latency_ms, queries_of(settings, run), self.slo_ms, self.percentile(qps))
            qps = _bounded(self.fitted_qps(qps, j), 0.8 * qps, 0.95 * qps, 0.8 * qps)
        return self.measured(run)

    def measured(self, last: LoadgenRun | None) -> SearchOutcome:
        """No VALID run: the highest QPS any run kept within the budget, and why it is not VALID."""
        within = [p for p in self.curve if p.within_slo]
        if not within:  # the run at the lowest QPS tried is the one shown
            lowest = min(self.runs, key=lambda r: r.target_qps or 0.0, default=last)
            return SearchOutcome(None, lowest, tuple(self.curve), reasons=("no QPS kept p99 within the budget",))
        best = max(within, key=lambda p: p.qps)
        confirms = [p for p in self.curve if p.confirming]
        busy = [p.foreign_cores for p in confirms if (p.foreign_cores or 0.0) >= NOISY_FOREIGN_CORES]
        if busy:
            why = f"measured, not VALID: other processes took {max(busy):.2f} cores"  # type: ignore[type-var]
        else:
            why = f"measured, not VALID: LoadGen called each of {len(confirms)} confirming runs INVALID"
        return SearchOutcome(best.qps, last, tuple(self.curve), measured=best, reasons=(why,))


def search(run: RunFn, capacity: float, instances: int, slo_ms: float, duration_s: float, step_s: float,
           report: Report, sleep: Callable[[float], None] = time.sleep) -> SearchOutcome:
    s = Search(run, capacity, instances, slo_ms, duration_s, step_s, report, sleep)
    lo = s.bracket()
    if lo <= 0:
        return s.measured(None)
    return s.confirm(lo)


def _bounded(x: float | None, low: float, high: float, default: float) -> float:
    """The model's rate within [low, high]; `default` when the model has none (the run's queue grew
    without bound, or its percentiles are missing)."""
    return default if x is None else min(high, max(low, x))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
