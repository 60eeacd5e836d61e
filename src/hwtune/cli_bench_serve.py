"""`hwtune bench serve`: a MLPerf LoadGen scenario per device (or, with --tune, the batching
search), the request pipeline inside the system under test with --pipeline image."""

from __future__ import annotations

from pathlib import Path

import typer

from hwtune import cli_bench_common as c
from hwtune.bench.options import Output, ServeOptions
from hwtune.cli_common import require_extra, run_command
from hwtune.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("serve")(bench_serve)


def bench_serve(
    scenario: str = typer.Option("server", "--scenario",
                                 help="MLPerf LoadGen scenario: singlestream, multistream, offline or server."),
    latency_slo: str = typer.Option("", "--latency-slo", help="server: the p99 budget (LoadGen's target latency), "
                                    "e.g. 40ms or 0.04s."),
    qps: str = typer.Option("", "--qps", help="server: one run at this QPS instead of searching the max."),
    tune: bool = typer.Option(False, "--tune", help="server: search dynamic batching (what it buys within the "
                              "budget)."),
    max_batch_size: int = typer.Option(1, "--max-batch-size", help="Dynamic batching, as Triton's max_batch_size "
                                       "(1: none)."),
    max_queue_delay: str = typer.Option("", "--max-queue-delay", help="Dynamic batching's max queue delay, "
                                        "e.g. 2ms or 500us."),
    instances: int = typer.Option(0, "--instances", help="Model instances serving side by side (Triton's "
                                  "instance_group count); 0: one per core on a CPU, with one thread each."),
    duration: str = typer.Option("10s", "--duration", help="LoadGen's min duration for the reported run "
                                 "(MLPerf: 600s)."),
    step: str = typer.Option("2s", "--step", help="server: LoadGen's min duration for each search step."),
    repeat: int = typer.Option(1, "--repeat", help="server: N searches, each run's max QPS and their interval."),
    model: str = c.MODEL, backend: str = c.BACKEND, device: str = c.DEVICE, threads: str = c.THREADS,
    pin: bool | None = c.PIN,
    precision: str = typer.Option("", "--precision", help="fp32, bf16, fp16, int8, auto (one). Default fp32."),
    shape: list[str] = c.SHAPE,
    as_json: bool = c.AS_JSON, as_csv: bool = c.AS_CSV, wide: bool = c.WIDE, save: bool = c.SAVE,
    pipeline: str = c.PIPELINE, images: Path | None = c.IMAGES, image_size: str = c.IMAGE_SIZE,
    image_format: str = c.IMAGE_FORMAT, decoder: str = c.DECODER, resizer: str = c.RESIZER,
) -> None:
    """Serve the model under a MLPerf LoadGen scenario: the max QPS within the p99 budget (server)."""
    def options() -> ServeOptions:
        from hwtune.bench.serving.batcher import Batching
        from hwtune.bench.serving.loadgen import SCENARIOS
        from hwtune.bench.serving.serve import parse_duration_s
        from hwtune.cli_bench_pipeline import pipeline_options

        name = scenario.strip().lower()
        if name not in SCENARIOS:
            raise ConfigError(f"unknown --scenario {scenario!r}; use {', '.join(SCENARIOS)}")
        slo_ms = c.parse_slo(latency_slo)
        rate = c.positive_number(qps, "--qps") if qps else None
        _check(name, slo_ms, rate, tune, repeat)
        if max_batch_size < 1 or instances < 0:
            raise ConfigError("--max-batch-size must be 1 or more, --instances 0 (one per core) or more")
        delay_s = parse_duration_s(max_queue_delay, "--max-queue-delay") if max_queue_delay else 0.0
        the_plan = c.plan(model=model, shape=shape, backend=backend, device=device, precision=precision,
                        threads=threads, pin=pin)
        piped = None
        if pipeline:
            if name != "server":
                raise ConfigError("--pipeline goes with --scenario server (the max QPS within the p99 budget)")
            if tune:
                raise ConfigError("--pipeline with --scenario server searches one batching setting; leave out --tune")
            piped = pipeline_options(pipeline=pipeline, model=model, backend=backend, device=device,
                                     precision=precision, threads=threads, pin=pin, images=images,
                                     image_size=image_size, image_format=image_format, decoder=decoder,
                                     resizer=resizer)
        elif images or decoder or resizer:
            raise ConfigError("--images, --decoder and --resizer go with --pipeline image")
        return ServeOptions(the_plan, name, slo_ms, rate, Batching(max_batch_size, round(delay_s * 1e6)),
                            instances, parse_duration_s(duration, "--duration", bare="s", positive=True),
                            parse_duration_s(step, "--step", bare="s", positive=True), repeat, tune, piped)

    run_command(lambda: serve(options(), c.output(as_json, as_csv, wide, save)))


def _check(scenario: str, slo_ms: float | None, qps: float | None, tune: bool, repeat: int) -> None:
    """The options that mean something for the server scenario only, and their combinations."""
    if slo_ms is None and scenario == "server":
        raise ConfigError("--scenario server needs --latency-slo (the p99 budget), e.g. 40ms")
    if slo_ms is not None and scenario != "server":
        raise ConfigError("--latency-slo goes with --scenario server (LoadGen's target latency)")
    if qps is not None and scenario != "server":
        raise ConfigError("--qps goes with --scenario server")
    if tune and scenario != "server":
        raise ConfigError("--tune searches batching for the server scenario; use --scenario server")
    if tune and qps is not None:
        raise ConfigError("--tune searches the max QPS; leave out --qps")
    if tune and repeat > 1:
        raise ConfigError("--repeat repeats the server search; leave out --tune")
    if repeat < 1:
        raise ConfigError(f"--repeat must be 1 or more, got {repeat}")


def serve(o: ServeOptions, shown: Output) -> int:
    from hwtune.bench import store
    from hwtune.bench.serving import render
    from hwtune.bench.serving.loadgen import require_loadgen

    require_extra("hwtune bench")
    require_loadgen()  # before any model is built: a missing extra is a usage error, said first
    if o.pipeline is not None:
        from hwtune.cli_bench_pipeline import serve_pipeline_command

        return serve_pipeline_command(o, shown)
    from hwtune.bench.serving.scenario import run_scenario

    with c.progress() as report:
        doc = run_scenario(o, store.bench_dir() / "loadgen", report)
    c.emit(doc, shown, lambda: render.scenario_view(doc))
    return c.scenario_exit_code(doc)
