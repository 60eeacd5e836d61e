"""The models a serving scenario puts behind the batcher: the bench backends, one engine per
instance and batch bucket, or the built-in fixed-time model."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from hwtune.bench.micro.runner import Bench, BenchPlan
from hwtune.bench.result import RunConfig
from hwtune.bench.serving.batcher import EngineService
from hwtune.bench.serving.serve import Model, fixed_model, parse_fixed
from hwtune.bench.targets import usable_cpus
from hwtune.errors import ConfigError


def served_models(plan: BenchPlan, instances: int = 0) -> list[Model]:
    """One Model per device the plan selects (or the fixed-time model for `fixed:...`).

    `instances` 0 chooses: one instance per core on a CPU device, each with one thread; one
    elsewhere (and for the fixed-time model, the M/D/1 reference). On a CPU shared with other
    work, an inference that needs every core at once stalls whenever one of them is taken: here,
    while other jobs used 1.6 cores, one 2-thread onnxruntime instance at 40 QPS had a p99 of
    440-490 ms and two 1-thread instances 53-85 ms.
    """
    fixed = parse_fixed(plan.model)
    if fixed is not None:
        return [fixed_model(plan.model, *fixed, instances=instances or 1)]
    if len(plan.precisions) > 1 or len(plan.threads) > 1:
        raise ConfigError("--scenario serves one configuration: give one --precision and one --threads")
    bench = Bench(replace(plan, measure_peak=False))
    precision = plan.precisions[0]
    models = []
    for info in bench.targets:
        count = instances or (usable_cpus() if info.device.upper().startswith("CPU") else 1)
        # Instances run side by side: each gets its share of the cores unless --threads says otherwise.
        threads = plan.threads[0]
        if threads is None and count > 1:
            threads = max(1, usable_cpus() // count)

        def open_engine(batch: int, info=info, threads=threads):
            from hwtune.bench.engines import open_engine as open_
            from hwtune.bench.feeds import make_feeds
            from hwtune.bench.modelfile import precision_path

            cfg = RunConfig(info.backend, info.device, batch, "sync", precision, None, threads, plan.pin, spin=False)
            reason = bench.supports(cfg)
            if reason:
                raise ConfigError(reason)
            shapes = bench.source.shapes(batch)
            return open_(cfg, precision_path(bench.source, precision, shapes, bench.cache_dir),
                         make_feeds(shapes, bench.types))

        models.append(Model(bench.source.name, info.backend, info.device,
                            partial(EngineService, open_engine), precision, threads,
                            instances=count))
    return models
