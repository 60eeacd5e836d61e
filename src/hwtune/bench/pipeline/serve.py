"""The server scenario with the request pipeline inside the system under test.

Each model instance reads, decodes, resizes and normalises its requests'
images before the model runs them, so LoadGen's p99 and the max QPS within
the budget are the host's, not the model's alone. The model is searched
twice, alone and behind the pipeline, and both curves are reported. The
served model runs on its own input tensor of the same shape (the bench
engines are built for the closed-loop runs); the pipeline's tensor is made,
its cost paid, and dropped.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwtune.bench.pipeline.model import FIXED_INPUT, InputSpec, input_spec
from hwtune.bench.pipeline.options import PipelineOptions
from hwtune.bench.pipeline.stages import Staged, image_stages

if TYPE_CHECKING:  # the options name this package's own types: annotations only
    from hwtune.bench.options import ServeOptions

perf = time.perf_counter


class PipelineService:
    """One model instance behind its own preprocessing: a batch of n is n images made ready, then
    the model's batch."""

    def __init__(self, pre: Callable[[Any], Any], inputs: list[Staged], inner: Any, offset: int) -> None:
        self.pre, self.inputs, self.inner = pre, inputs, inner
        self.i = offset  # instances start on different images

    def run(self, n: int, ready_at: float) -> float:
        for _ in range(n):
            self.pre(self.inputs[self.i % len(self.inputs)])
            self.i += 1
        return self.inner.run(n, max(ready_at, perf()))

    def close(self) -> None:
        self.inner.close()



def _spec(o: PipelineOptions, plan: Any) -> InputSpec:
    from hwtune.bench.micro.runner import Bench
    from hwtune.bench.serving.serve import parse_fixed

    if parse_fixed(o.model) is not None:
        _, c, h, w = FIXED_INPUT
        return InputSpec("image", "NCHW", h, w, c, "float32")
    import numpy as np

    bench = Bench(replace(plan, measure_peak=False))
    name, _ = next(iter(bench.source.input_dims.items()))
    return input_spec(name, list(bench.source.shapes(1)[name]), str(np.dtype(bench.types[name])))


def serve_pipeline(s: ServeOptions, report: Callable[[str], None]) -> list[dict[str, Any]]:
    """The model alone, then behind the pipeline (first decoder chosen), as result dicts."""
    from hwtune.bench import store
    from hwtune.bench.micro.runner import BenchPlan
    from hwtune.bench.pipeline.run import choose_backends, load_images, stage_files
    from hwtune.bench.serving.models import served_models
    from hwtune.bench.serving.serve import Model, serve

    assert s.pipeline is not None  # `bench serve` calls this only with --pipeline image
    o = s.pipeline.validate()
    plan = BenchPlan(model=o.model, backend=o.backend, devices=(o.device,) if o.device else (),
                     precisions=(o.precision,), threads=(o.threads,), pin=o.pin)
    decoders, resizer, _ = choose_backends(o)
    image_set = load_images(o, report)
    spec = _spec(o, plan)
    stand_in = _SpecOnly(spec)
    pre_stages = image_stages(decoders[0], resizer, stand_in)[:4]  # type: ignore[arg-type]

    def pre(x: Any) -> Any:
        for _, f in pre_stages:
            x = f(x)
        return x

    label = f"image pipeline ({decoders[0].label({i.fmt for i in image_set.images})} decode, {resizer.name} resize)"
    out = []
    with tempfile.TemporaryDirectory(prefix="hwtune-pipeline-") as tmp:
        staged = stage_files(Path(tmp), image_set)
        for model in served_models(plan, s.instances):
            counter = iter(range(1 << 30))

            def open_piped(mb: int, m: Model = model, c: Iterator[int] = counter) -> PipelineService:
                return PipelineService(pre, staged, m.open_service(mb), next(c) * 7)

            piped = replace(model, name=f"{model.name}+pipeline", open_service=open_piped)
            for served, tag in ((model, None), (piped, label)):

                def tagged(m: str, t: str | None = tag) -> None:
                    report(f"{'with pipeline: ' if t else 'model alone: '}{m}")

                result = serve(served, s.scenario, s.batching, latency_slo_ms=s.latency_slo_ms,
                               duration_s=s.duration_s, step_s=s.step_s, target_qps=s.qps,
                               log_base=store.bench_dir() / "loadgen", report=tagged)
                doc = result.to_json()
                doc["pipeline"] = tag
                doc["served_model"] = model.name  # the report draws both curves on one chart
                out.append(doc)
    return out


class _SpecOnly:
    """What image_stages reads of a model for the stages before it: its input spec."""

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.infer = lambda _x: None
