"""`hwtune bench`: micro-inference benchmarks with ONNX Runtime and OpenVINO, an auto-tuner,
LoadGen scenarios and the request pipeline, as subcommands (run, tune, serve, compare, devices,
export). Bare `hwtune bench OPTIONS` is `hwtune bench run OPTIONS`.

Each subcommand builds its options into one frozen value (hwtune.bench.options) and hands it
on. Only typer, rich and the standard library are imported here at start-up; the runtimes, onnx
and numpy are imported when a benchmark runs.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from hwtune import cli_bench_common as c
from hwtune.bench.options import CompareOptions, DevicesOptions, ExportOptions, Output, RunOptions, TuneOptions
from hwtune.cli_common import fail, out, print_json, require_extra, run_command
from hwtune.errors import EXIT_NOT_VALID, EXIT_OK, EXIT_USAGE, ConfigError

EXAMPLES = """
Examples:

\b
  hwtune bench                  # bench run: every device, built-in model
  hwtune bench run --model mlp --backend ov --device CPU --batch 1,2,4,8
  hwtune bench run --model my.onnx --shape input=1x3x224x224 --precision int8
  hwtune bench tune --latency-slo 40ms
  hwtune bench serve --latency-slo 40ms --backend ort     # server scenario
  hwtune bench serve --latency-slo 40ms --backend ort --tune    # batching
  hwtune bench serve --model fixed:5ms --latency-slo 40ms   # M/D/1 check
  hwtune bench serve --scenario offline --backend ov --max-batch-size 8
  hwtune bench run --pipeline image --backend onnxruntime   # by stage
  hwtune bench run --pipeline image --images ./uploads --pin-stages
  hwtune bench serve --pipeline image --model fixed:20ms --latency-slo 40ms
  hwtune bench compare before.json after.json
  hwtune bench devices
  hwtune bench export resnet-block --out rb.onnx
"""

# The flags that chose a mode before bench had subcommands, and the subcommand each is now.
OLD_FLAGS = {"--list-devices": "devices", "--export-model": "export", "--compare": "compare",
             "--scenario": "serve", "--tune": "tune"}
OLD_FLAG_VALUES = {"--list-devices": 0, "--export-model": 1, "--compare": 2, "--scenario": 0, "--tune": 0}


def old_spelling(args: list[str]) -> str | None:
    """For `bench --tune ...` and the other old mode flags: one line naming the subcommand, with
    the same run spelled with it (the flag dropped where the subcommand says it), else None."""
    given = [a.split("=", 1)[0] for a in args]
    flag = next((f for f in OLD_FLAGS if f in given), None)
    if flag is None:
        return None
    if "--scenario" in given and flag != "--compare":  # --scenario and serve's --tune stay options of serve
        return f"--scenario is an option of `bench serve` now: {shlex.join(['hwtune', 'bench', 'serve', *args])}"
    sub, i = OLD_FLAGS[flag], given.index(flag)
    taken = 1 if "=" in args[i] else 1 + OLD_FLAG_VALUES[flag]
    values = [args[i].split("=", 1)[1]] if "=" in args[i] else args[i + 1:i + taken]
    new = shlex.join(["hwtune", "bench", sub, *values, *args[:i], *args[i + taken:]])
    return f"{flag} is the subcommand `bench {sub}` now: {new}"


class BenchGroup(TyperGroup):
    """`bench OPTIONS` runs `bench run OPTIONS`; an old mode flag is refused with its new spelling."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:  # shell completion: offer the subcommands, refuse nothing
            return super().parse_args(ctx, args)
        if not args or (args[0].startswith("-") and args[0] != "--help"):
            args = ["run", *args]
        if args[0] == "run":
            hint = old_spelling(args[1:])
            if hint is not None:
                fail(hint, EXIT_USAGE)
        return super().parse_args(ctx, args)


bench_app = typer.Typer(cls=BenchGroup, no_args_is_help=False, rich_markup_mode=None,
                        help="Micro-inference benchmarks per device (ONNX Runtime, OpenVINO), an auto-tuner, "
                        "LoadGen scenarios and the request pipeline. `hwtune bench OPTIONS` is `bench run OPTIONS`.",
                        epilog=EXAMPLES)


def register(app: typer.Typer) -> None:
    from hwtune import cli_bench_serve

    if not bench_app.registered_commands:  # once: every app built in a process shares bench_app
        bench_app.command("run")(bench_run)
        bench_app.command("tune")(bench_tune)
        cli_bench_serve.register(bench_app)
        bench_app.command("compare")(bench_compare)
        bench_app.command("devices")(bench_devices)
        bench_app.command("export")(bench_export)
    app.add_typer(bench_app, name="bench")


def bench_run(
    model: str = c.MODEL, backend: str = c.BACKEND, device: str = c.DEVICE, batch: str = c.BATCH,
    mode: str = c.MODE, streams: str = c.STREAMS, threads: str = c.THREADS, pin: bool | None = c.PIN,
    precision: str = typer.Option("", "--precision", help="fp32, bf16, fp16, int8, auto; comma list. Default fp32."),
    shape: list[str] = c.SHAPE, time_s: float = c.TIME, min_count: int = c.MIN_COUNT, repeat: int = c.REPEAT,
    as_json: bool = c.AS_JSON, as_csv: bool = c.AS_CSV, wide: bool = c.WIDE, save: bool = c.SAVE,
    pipeline: str = c.PIPELINE, images: Path | None = c.IMAGES, image_size: str = c.IMAGE_SIZE,
    image_format: str = c.IMAGE_FORMAT, decoder: str = c.DECODER, resizer: str = c.RESIZER,
    pin_stages: bool = typer.Option(False, "--pin-stages", help="--pipeline: also run preprocessing and the model "
                                    "as two threads, unpinned and pinned to cores."),
) -> None:
    """Time the model alone on every device found (or --pipeline image: the whole request, by stage)."""
    def options() -> RunOptions:
        from hwtune.cli_bench_pipeline import pipeline_options

        the_plan = c.plan(model=model, shape=shape, backend=backend, device=device, batch=batch, mode=mode,
                        precision=precision, streams=streams, threads=threads, pin=pin, time_s=time_s,
                        min_count=min_count, repeat=repeat)
        if not pipeline:
            if images or decoder or resizer or pin_stages:
                raise ConfigError("--images, --decoder, --resizer and --pin-stages go with --pipeline image")
            return RunOptions(the_plan)
        return RunOptions(the_plan, pipeline_options(
            pipeline=pipeline, model=model, backend=backend, device=device, precision=precision, threads=threads,
            pin=pin, images=images, image_size=image_size, image_format=image_format, decoder=decoder,
            resizer=resizer, time_s=time_s, min_count=min_count, pin_stages=pin_stages))

    run_command(lambda: run_micro(options(), c.output(as_json, as_csv, wide, save)))


def run_micro(o: RunOptions, shown: Output) -> int:
    require_extra("hwtune bench")
    if o.pipeline is not None:
        from hwtune.cli_bench_pipeline import run_pipeline_command

        return run_pipeline_command(o, shown)
    from hwtune.bench.micro import render
    from hwtune.bench.micro.runner import run_bench

    with c.progress() as report:
        run = run_bench(o.plan, report)
    doc = {"command": "bench", "plan": c.plan_json(o.plan), **run.to_json()}
    c.emit(doc, shown, lambda: render.render_run(run, o.plan.time_s))
    return EXIT_OK


def bench_tune(
    latency_slo: str = typer.Option("", "--latency-slo", help="p99 budget per request, e.g. 40ms or 0.04s."),
    model: str = c.MODEL, backend: str = c.BACKEND, device: str = c.DEVICE, batch: str = c.BATCH,
    mode: str = c.MODE, streams: str = c.STREAMS, threads: str = c.THREADS, pin: bool | None = c.PIN,
    precision: str = typer.Option("", "--precision", help="fp32, bf16, fp16, int8, auto; comma list. "
                                  "Default: all the device runs."),
    shape: list[str] = c.SHAPE, time_s: float = c.TIME, min_count: int = c.MIN_COUNT, repeat: int = c.REPEAT,
    as_json: bool = c.AS_JSON, as_csv: bool = c.AS_CSV, wide: bool = c.WIDE, save: bool = c.SAVE,
) -> None:
    """Search streams, threads, batch and precision per device (within the p99 budget)."""
    def options() -> TuneOptions:
        the_plan = c.plan(model=model, shape=shape, backend=backend, device=device, batch=batch, mode=mode,
                        precision=precision, streams=streams, threads=threads, pin=pin, time_s=time_s,
                        min_count=min_count, repeat=repeat, tune=True)
        return TuneOptions(the_plan, c.parse_slo(latency_slo))

    run_command(lambda: tune(options(), c.output(as_json, as_csv, wide, save)))


def tune(o: TuneOptions, shown: Output) -> int:
    from hwtune.bench.micro import render
    from hwtune.bench.micro.autotune import tune_devices

    require_extra("hwtune bench")
    with c.progress() as report:
        outcome = tune_devices(o, report)
    c.emit(outcome.doc, shown, lambda: render.tune_view(list(outcome.tunes), outcome.settings))
    return EXIT_OK if outcome.all_found else EXIT_NOT_VALID


def bench_devices(as_json: bool = c.AS_JSON) -> None:
    """List the ONNX Runtime providers and OpenVINO devices found here."""
    run_command(lambda: devices(DevicesOptions(as_json)))


def devices(o: DevicesOptions) -> int:
    from hwtune.bench.devices import list_devices
    from hwtune.bench.micro import render

    require_extra("hwtune bench")
    found = list_devices()
    if o.as_json:
        print_json(found.to_json())
    else:
        c.show(render.devices_table(found))
    return EXIT_OK


def bench_export(
    model: str = typer.Argument(..., help="A built-in model: plate-classifier, resnet-block, mlp, "
                                "transformer-encoder."),
    out_path: Path | None = typer.Option(None, "--out", help="The ONNX file to write."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, or int8 for its QDQ form."),
    as_json: bool = c.AS_JSON,
) -> None:
    """Write a built-in model as ONNX."""
    def options() -> ExportOptions:
        if out_path is None:
            raise ConfigError("bench export needs --out FILE")
        return ExportOptions(model, out_path, precision or "fp32", as_json)

    run_command(lambda: export(options()))


def export(o: ExportOptions) -> int:
    from hwtune.bench import store
    from hwtune.bench.modelfile import export_model

    require_extra("hwtune bench")
    path = export_model(o.model, o.out, o.precision, store.models_dir())
    if o.as_json:
        print_json({"model": o.model, "precision": o.precision, "out": str(path)})
    else:
        out.print(f"wrote {o.model} ({o.precision}) to {path}")
    return EXIT_OK


def bench_compare(
    before: str = typer.Argument(..., help="A saved run: its file, or its name under the data dir."),
    after: str = typer.Argument(..., help="The run to compare with it."),
    as_json: bool = c.AS_JSON,
) -> None:
    """Compare two saved runs result by result (before and after `hwtune apply`, say)."""
    run_command(lambda: compare(CompareOptions(before, after, as_json)))


def compare(o: CompareOptions) -> int:
    from hwtune.bench import store
    from hwtune.bench.micro import render
    from hwtune.bench.micro.compare import compare_runs

    before, after = store.load_run(o.before), store.load_run(o.after)
    cmp = compare_runs(before, after, o.before, o.after)
    if o.as_json:
        print_json(cmp.to_json())
    else:
        c.show(render.comparison_table(cmp))
    return EXIT_OK
