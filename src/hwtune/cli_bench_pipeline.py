"""`hwtune bench run --pipeline image` and `hwtune bench serve --pipeline image`: the pipeline's
options built from the subcommand's, and one domain call each (run_pipeline, serve_pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwtune import cli_bench_common as c
from hwtune.bench.options import Output, RunOptions, ServeOptions
from hwtune.errors import EXIT_OK, ConfigError


def pipeline_options(*, pipeline: str, model: str, backend: str, device: str, precision: str, threads: str,
                     pin: bool | None, images: Path | None, image_size: str, image_format: str, decoder: str,
                     resizer: str, time_s: float = 2.0, min_count: int = 10, pin_stages: bool = False) -> Any:
    """The PipelineOptions of these option values, checked."""
    from hwtune.bench.pipeline.options import PipelineOptions

    if images and (image_size != "1080p" or image_format != "jpeg"):
        raise ConfigError("--image-size and --image-format choose the built-in images; leave them out with --images")
    n_threads = c.strs(threads)
    if len(n_threads) > 1 or len(c.strs(precision)) > 1:
        raise ConfigError("--pipeline runs one configuration: give one --threads and one --precision")
    try:
        one_thread = int(n_threads[0]) if n_threads else None
    except ValueError:
        raise ConfigError(f"--threads takes a whole number, got {threads!r}") from None
    backend = backend.lower()
    return PipelineOptions(
        pipeline=pipeline.strip().lower(), model=model,
        backend="onnxruntime" if backend == "all" else backend, device=device or "CPU",
        precision=precision or "fp32", threads=one_thread, pin=pin, images_dir=Path(images) if images else None,
        sizes=c.strs(image_size), formats=c.strs(image_format), decoders=c.strs(decoder),
        resizer=resizer.strip().lower(), time_s=time_s, min_count=min_count, pin_stages=pin_stages).validate()


def run_pipeline_command(o: RunOptions, shown: Output) -> int:
    from hwtune.bench.pipeline.render import pipeline_view
    from hwtune.bench.pipeline.run import run_pipeline

    assert o.pipeline is not None
    with c.progress() as report:
        run = run_pipeline(o.pipeline, lambda m: report(m, 0, 0))
    doc = {"command": "bench --pipeline", **run.to_json(), "results": []}
    c.emit(doc, shown, lambda: pipeline_view(doc))
    return EXIT_OK if run.decoders_agree else 1


def serve_pipeline_command(o: ServeOptions, shown: Output) -> int:
    from hwtune.bench.pipeline.serve import serve_pipeline
    from hwtune.bench.serving.render import scenario_view

    assert o.pipeline is not None
    with c.progress() as report:
        results = serve_pipeline(o, lambda m: report(m, 0, 0))
    doc = {"command": "bench --pipeline --scenario", "scenario": "server", "latency_slo_ms": o.latency_slo_ms,
           "results": results}
    c.emit(doc, shown, lambda: scenario_view(doc))
    return c.scenario_exit_code(doc)
