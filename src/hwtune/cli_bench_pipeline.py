"""`hwtune bench --pipeline image`: builds the pipeline's options from bench's and calls one
domain function (run_pipeline, or serve_pipeline with --scenario server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hwtune.errors import EXIT_OK, ConfigError


def pipeline_options(a: dict[str, Any]) -> Any:
    from hwtune.bench.pipeline.options import PipelineOptions

    def strs(text: str) -> tuple[str, ...]:
        return tuple(s.strip() for s in text.split(",") if s.strip())

    threads = strs(a["threads"])
    if len(threads) > 1 or len(strs(a["precision"])) > 1:
        raise ConfigError("--pipeline runs one configuration: give one --threads and one --precision")
    try:
        n_threads = int(threads[0]) if threads else None
    except ValueError:
        raise ConfigError(f"--threads takes a whole number, got {a['threads']!r}") from None
    backend = a["backend"].lower()
    return PipelineOptions(
        pipeline=a["pipeline"].strip().lower(), model=a["model"],
        backend="onnxruntime" if backend == "all" else backend, device=a["device"] or "CPU",
        precision=a["precision"] or "fp32", threads=n_threads, pin=a["pin"],
        images_dir=Path(a["images"]) if a["images"] else None,
        sizes=strs(a["image_size"]), formats=strs(a["image_format"]), decoders=strs(a["decoder"]),
        resizer=a["resizer"].strip().lower(), time_s=a["time_s"], min_count=a["min_count"],
        pin_stages=a["pin_stages"]).validate()


def pipeline_command(a: dict[str, Any], progress: Any, emit: Callable[..., None],
                     scenario_options: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Run what the options ask for; `emit(doc, a, view)` saves and prints as bench does, and
    `scenario_options(a)` reads --scenario's options as bench does (passed in: no import back)."""
    from hwtune.bench.pipeline.render import pipeline_view
    from hwtune.bench.pipeline.run import run_pipeline

    if a["tune"] or a["compare"] or a["export_model"] or a["list_devices"]:
        raise ConfigError("--pipeline goes with a plain run or --scenario server (not --tune, --compare, "
                          "--export-model or --list-devices)")
    if a["images"] and (a["image_size"] != "1080p" or a["image_format"] != "jpeg"):
        raise ConfigError("--image-size and --image-format choose the built-in images; leave them out with --images")
    if a["scenario"]:
        return _serve(a, progress, emit, scenario_options(a))
    o = pipeline_options(a)
    with progress() as report:
        run = run_pipeline(o, lambda m: report(m, 0, 0))
    doc = {"command": "bench --pipeline", **run.to_json(), "results": []}
    emit(doc, a, lambda: pipeline_view(doc))
    return EXIT_OK if run.decoders_agree else 1


def _serve(a: dict[str, Any], progress: Any, emit: Callable[..., None], s: dict[str, Any]) -> int:
    from hwtune.bench.serving.loadgen import require_loadgen
    from hwtune.bench.pipeline.serve import ServeSettings, serve_pipeline
    from hwtune.bench.serving.render import scenario_view

    if s["scenario"] != "server":
        raise ConfigError("--pipeline goes with --scenario server (the max QPS within the p99 budget)")
    if a["tune"]:
        raise ConfigError("--pipeline with --scenario server searches one batching setting; leave out --tune")
    require_loadgen()
    o = pipeline_options(a)
    settings = ServeSettings(s["scenario"], s["batching"], s["slo_ms"], s["qps"], s["duration_s"], s["step_s"],
                             a["instances"])
    with progress() as report:
        results = serve_pipeline(o, settings, lambda m: report(m, 0, 0))
    doc = {"command": "bench --pipeline --scenario", "scenario": "server", "latency_slo_ms": s["slo_ms"],
           "results": results}
    emit(doc, a, lambda: scenario_view(doc))
    return EXIT_OK if all(r["valid"] for r in results) else 1
