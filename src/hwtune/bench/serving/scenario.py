"""`bench serve` over every device the plan selects: one LoadGen scenario per model (repeated, for
the server search's spread), or the batching search; the saved run's JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwtune.bench.options import ServeOptions
from hwtune.bench.serving.models import served_models
from hwtune.bench.serving.serve import Model, ServingResult, repeat_summary, serve
from hwtune.bench.serving.tune import tune_batching

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


def run_scenario(o: ServeOptions, log_base: Path, report: Progress) -> dict[str, Any]:
    """The run as saved and printed with --json; LoadGen's logs go under `log_base`."""
    models = served_models(o.plan, o.instances)
    results: list[ServingResult] = []
    tunes: list[dict[str, Any]] = []
    repeats: list[dict[str, Any]] = []
    for i, model in enumerate(models):
        def say(message: str, i: int = i) -> None:
            report(message, i, len(models))

        if o.tune:
            assert o.latency_slo_ms is not None  # --tune is the server scenario's, which needs the budget
            t = tune_batching(model, o.latency_slo_ms, duration_s=o.duration_s, step_s=o.step_s, log_base=log_base,
                              report=say)
            tunes.append(t.to_json())
            results.extend(t.results)
            continue
        runs = [_serve_once(o, model, log_base, say, k) for k in range(o.repeat)]
        results.extend(runs)
        if o.repeat > 1 and o.scenario == "server":
            repeats.append(repeat_summary(runs))
    doc: dict[str, Any] = {"command": "bench --scenario", "scenario": o.scenario, "latency_slo_ms": o.latency_slo_ms,
                           "results": [r.to_json() for r in results]}
    if tunes:
        doc["batching_tune"] = tunes
    if repeats:
        doc["repeats"] = repeats
    return doc


def _serve_once(o: ServeOptions, model: Model, log_base: Path, say: Callable[[str], None], k: int) -> ServingResult:
    def report(message: str) -> None:
        say(message if o.repeat == 1 else f"run {k + 1}/{o.repeat}: {message}")

    return serve(model, o.scenario, o.batching, latency_slo_ms=o.latency_slo_ms, target_qps=o.qps,
                 duration_s=o.duration_s, step_s=o.step_s, log_base=log_base, report=report)
