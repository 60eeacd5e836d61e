"""`bench tune` over every device the plan selects: each device's search (hwtune.bench.micro.tune),
the settings that deploy its best point, and the saved run's JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from hwtune.bench.micro import advice
from hwtune.bench.micro.runner import Bench
from hwtune.bench.micro.tune import DeviceTune, tune_device
from hwtune.bench.options import TuneOptions

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


@dataclass(frozen=True)
class TuneOutcome:
    tunes: tuple[DeviceTune, ...]
    settings: dict[str, dict[str, Any]]  # "backend/device" -> how to deploy its best point
    doc: dict[str, Any]  # the run as saved and printed with --json

    @property
    def all_found(self) -> bool:
        """Every device has a configuration within the budget."""
        return all(t.best is not None for t in self.tunes)


def tune_devices(o: TuneOptions, report: Progress) -> TuneOutcome:
    bench = Bench(o.plan)
    n = len(bench.targets)
    tunes = []
    for i, info in enumerate(bench.targets):
        def say(message: str, i: int = i) -> None:
            report(message, i, n)

        tunes.append(tune_device(bench, info, o.latency_slo_ms, say))
        report(f"{info.backend}/{info.device} done", i + 1, n)
    name = bench.source.name.replace(".onnx", "")
    settings = {f"{t.device.backend}/{t.device.device}": advice.settings(t.best, o.latency_slo_ms, name)
                for t in tunes if t.best is not None}
    run = bench.run_of([r for t in tunes for r in t.evaluated], [s for t in tunes for s in t.skipped])
    doc = {"command": "bench --tune", "plan": asdict(o.plan), "latency_slo_ms": o.latency_slo_ms, **run.to_json(),
           "tune": [_tune_json(t, settings) for t in tunes]}
    return TuneOutcome(tuple(tunes), settings, doc)


def _tune_json(t: DeviceTune, settings: dict[str, Any]) -> dict[str, Any]:
    key = f"{t.device.backend}/{t.device.device}"
    return {
        "backend": t.device.backend, "device": t.device.device, "latency_slo_ms": t.latency_slo_ms,
        "best": t.best.to_json() if t.best else None, "settings": settings.get(key),
        "pareto": [r.to_json() for r in t.pareto], "points_measured": len(t.evaluated),
        "space_size": t.space_size, "elapsed_s": round(t.elapsed_s, 2),
    }
