"""Run a benchmark plan: every configuration measured the same way.

For each configuration: load/compile (timed), first inference (timed apart),
warm-up (discarded), then `repeat` timed windows with the foreign load
sampled over each. The tuner uses `Bench.evaluate` for its points too.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwtune.bench import metrics, store
from hwtune.bench.devices import list_devices, select
from hwtune.bench.engines import backend, open_engine
from hwtune.bench.measure import StopRule, warmup_rule
from hwtune.bench.micro import peak
from hwtune.bench.modelfile import ModelSource, open_model, precision_path
from hwtune.bench.noise import LoadMeter
from hwtune.bench.result import MODES, PRECISIONS, BenchResult, RunConfig, Skipped
from hwtune.bench.targets import DeviceInfo, DeviceList
from hwtune.bench.zoo import DEFAULT_MODEL
from hwtune.errors import ConfigError, ParseError

Progress = Callable[[str, int, int], None]  # (what is running, done, total)


MAX_TIME_S = 3600  # per configuration


@dataclass(frozen=True)
class BenchPlan:
    model: str = DEFAULT_MODEL
    shapes: tuple[str, ...] = ()
    backend: str = "all"
    devices: tuple[str, ...] = ()
    batches: tuple[int, ...] = ()  # empty: the model's batch (1 for built-ins)
    modes: tuple[str, ...] = MODES
    precisions: tuple[str, ...] = ("fp32",)
    streams: tuple[int | None, ...] = (None,)
    threads: tuple[int | None, ...] = (None,)
    pin: bool | None = None
    time_s: float = 2.0
    min_count: int = 10
    repeat: int = 1
    measure_peak: bool = True

    def validate(self) -> None:
        for m in self.modes:
            if m not in MODES:
                raise ConfigError(f"unknown --mode {m!r}; use sync or async")
        for p in self.precisions:
            if p not in PRECISIONS:
                raise ConfigError(f"unknown --precision {p!r}; use {', '.join(PRECISIONS)}")
        if any(b < 1 for b in self.batches):
            raise ConfigError("--batch values must be 1 or more")
        if any(s is not None and s < 1 for s in self.streams) or any(t is not None and t < 1 for t in self.threads):
            raise ConfigError("--streams and --threads must be 1 or more")
        if not 0 < self.time_s <= MAX_TIME_S:  # also refuses NaN; infinity would never stop
            raise ConfigError(f"--time {self.time_s:g}: must be more than 0 and at most {MAX_TIME_S} seconds")
        if self.min_count < 1 or self.repeat < 1:
            raise ConfigError("--min-count and --repeat must be at least 1")


@dataclass(frozen=True)
class BenchRun:
    model: str
    model_path: str
    flops_per_frame: int
    unknown_ops: tuple[str, ...]
    results: tuple[BenchResult, ...]
    skipped: tuple[Skipped, ...]
    peaks: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_path": self.model_path,
            "flops_per_frame": self.flops_per_frame,
            "flops_unknown_ops": list(self.unknown_ops),
            "results": [r.to_json() for r in self.results],
            "skipped": [s.to_json() for s in self.skipped],
            "peaks": self.peaks,
            "notes": list(self.notes),
        }


class Bench:
    """A model on a set of devices, with the caches a series of measurements shares."""

    def __init__(self, plan: BenchPlan, found: DeviceList | None = None, cache_dir: Path | None = None) -> None:
        plan.validate()
        self.plan = plan
        self.cache_dir = cache_dir or store.models_dir()
        self.found = found or list_devices()
        self.targets = select(self.found, plan.backend, plan.devices)
        self.source: ModelSource = open_model(plan.model, plan.shapes, self.cache_dir)
        from hwtune.bench.feeds import read_input_types

        self.types = read_input_types(self.source.path)
        self._costs: dict[int, Any] = {}
        self.check_memory()
        self._peaks: dict[tuple[str, str], peak.Peak | None] = {}

    def batches(self) -> tuple[int, ...]:
        return self.plan.batches or (self.source.default_batch(),)

    def cost(self, batch: int) -> Any:
        if batch not in self._costs:
            from hwtune.onnxcost import count_cost

            self._costs[batch] = count_cost(self.source.path, self.source.shapes(batch))
        return self._costs[batch]

    def check_memory(self) -> None:
        """Refuse, before allocating anything, a batch whose tensors do not fit in the memory available."""
        from hwtune.host import Host
        from hwtune.probe.memory import parse_meminfo

        text = Host("/").read("/proc/meminfo", record=False)
        try:
            available = parse_meminfo(text or "").get("MemAvailable", 0) * 1024
        except ParseError:
            return  # no /proc/meminfo to judge by: the runtime reports what it cannot allocate
        for batch in self.batches():
            cost = self.cost(batch)
            # every tensor of one inference written once, and the weights: an upper bound the runtime's
            # buffer reuse stays under, but the input feeds alone are a floor it cannot
            need = cost.param_bytes + cost.activation_bytes
            if available and need > available:
                raise ConfigError(f"--batch {batch}: one inference needs about {need / 2 ** 30:.1f} GiB "
                                  f"(weights and tensors of {self.source.name}), {available / 2 ** 30:.1f} GiB "
                                  "is available; use a smaller batch")

    def info(self, cfg: RunConfig) -> DeviceInfo:
        for d in self.found.devices:
            if d.backend == cfg.backend and d.device == cfg.device:
                return d
        raise ConfigError(f"{cfg.backend}/{cfg.device} is not a device found here")

    def supports(self, cfg: RunConfig) -> str | None:
        """None when the configuration can run, else why not."""
        info = self.info(cfg)
        if cfg.precision not in info.precisions:
            return f"{info.backend}/{info.device} does not run {cfg.precision} (it runs {', '.join(info.precisions)})"
        return backend(cfg.backend).unsupported(cfg)

    def peak_for(self, info: DeviceInfo, precision_class: str) -> peak.Peak | None:
        key = (peak.device_key(info), precision_class)
        if key not in self._peaks:
            same = [d for d in self.found.devices if peak.device_key(d) == key[0]]
            self._peaks[key] = peak.calibrate(same, precision_class, self.cache_dir)
        return self._peaks[key]

    def evaluate(self, cfg: RunConfig, on_phase: Callable[[str], None] | None = None,
                 time_s: float | None = None) -> BenchResult | Skipped:
        """Measure one configuration (`time_s` overrides the plan's window length)."""
        reason = self.supports(cfg)
        if reason:
            return Skipped(cfg, reason)
        from hwtune.bench.feeds import make_feeds

        phase = on_phase or (lambda _p: None)
        shapes = self.source.shapes(cfg.batch)
        # "Before" is the window just before the timed one: model preparation, compile, first
        # inference and warm-up. Our own CPU time is subtracted, so others' load shows here too.
        before_meter = LoadMeter().start()
        phase("preparing model")
        path = precision_path(self.source, cfg.precision, shapes, self.cache_dir)
        feeds = make_feeds(shapes, self.types)
        phase("compiling")
        engine = open_engine(cfg, path, feeds)
        try:
            first_ms = engine.first_inference_ms()
            stop = StopRule(time_s or self.plan.time_s, self.plan.min_count)
            phase("warming up")
            engine.measure(warmup_rule(stop, engine.executed.requests))
            before = before_meter.stop()
            windows = []
            for i in range(self.plan.repeat):
                phase("measuring" + (f" {i + 1}/{self.plan.repeat}" if self.plan.repeat > 1 else ""))
                meter = LoadMeter().start()
                timing = engine.measure(stop)
                windows.append((timing, meter.stop()))
        finally:
            engine.close()
        return self._result(cfg, engine, first_ms, before, windows)

    def _result(self, cfg: RunConfig, engine: Any, first_ms: float, before: Any, windows: list[Any]) -> BenchResult:
        fps = [metrics.throughput_fps(t.requests, cfg.batch, t.wall_s) for t, _ in windows]
        stats = [metrics.latency_stats(t.latencies_s) for t, _ in windows]
        cost = self.cost(cfg.batch)
        info = self.info(cfg)
        pk = self.peak_for(info, peak.peak_class(engine.executed.precision)) if self.plan.measure_peak else None
        return BenchResult(
            config=cfg,
            model=self.source.name,
            device_name=info.name,
            executed=engine.executed,
            throughput_fps=statistics.median(fps),
            latency=stats[0] if len(stats) == 1 else metrics.median_stats(stats),
            requests=sum(t.requests for t, _ in windows),
            wall_s=sum(t.wall_s for t, _ in windows),
            repeats=len(windows),
            load_ms=engine.load_ms,
            first_inference_ms=first_ms,
            flops_per_frame=cost.flops // cfg.batch,
            flops_lower_bound=cost.is_lower_bound,
            peak_gflops=pk.gflops if pk else None,
            load_before=before,
            load_during=max((s for _, s in windows), key=lambda s: s.foreign_cores),
            throughput_spread=metrics.spread(fps) if len(fps) > 1 else None,
            throughput_windows=tuple(fps),
        )

    def peaks_json(self) -> dict[str, Any]:
        return {f"{dev} {prec}": None if p is None else {
                    "gflops": round(p.gflops, 2), "measured_with": p.measured_with,
                    "foreign_cores": round(p.foreign_cores, 3), "noisy": p.noisy}
                for (dev, prec), p in self._peaks.items()}

    def run_of(self, results: list[BenchResult], skipped: list[Skipped], notes: tuple[str, ...] = ()) -> BenchRun:
        cost = self.cost(self.batches()[0])
        return BenchRun(self.source.name, str(self.source.path), cost.flops // self.batches()[0],
                        cost.unknown_ops, tuple(results), tuple(skipped), self.peaks_json(),
                        tuple(self.found.problems) + notes)  # a provider it did not use is no news


def configs(bench: Bench) -> list[RunConfig]:
    p = bench.plan
    out = []
    for info, precision, batch, mode in itertools.product(bench.targets, p.precisions, bench.batches(), p.modes):
        streams = p.streams if mode == "async" else (None,)
        for s, t in itertools.product(streams, p.threads):
            out.append(RunConfig(info.backend, info.device, batch, mode, precision, s, t, p.pin))
    return out


def run_bench(plan: BenchPlan, progress: Progress | None = None, found: DeviceList | None = None) -> BenchRun:
    bench = Bench(plan, found)
    todo = configs(bench)
    report = progress or (lambda _l, _d, _t: None)
    results: list[BenchResult] = []
    skipped: list[Skipped] = []
    for i, cfg in enumerate(todo):

        def phase(ph: str, i: int = i, cfg: RunConfig = cfg) -> None:
            report(f"{cfg.label()}: {ph}", i, len(todo))

        out = bench.evaluate(cfg, phase)
        (skipped if isinstance(out, Skipped) else results).append(out)  # type: ignore[arg-type]
        report(cfg.label(), i + 1, len(todo))
    return bench.run_of(results, skipped)
