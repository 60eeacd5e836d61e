"""`hwtune bench`: micro-inference benchmarks with ONNX Runtime and OpenVINO, and an auto-tuner.

Only typer, rich and the standard library are imported here at start-up; the
runtimes, onnx and numpy are imported when a benchmark runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from hwtune.cli_common import err, number, out, print_json, require_extra, run_command
from hwtune.errors import EXIT_NOT_VALID, EXIT_OK, ConfigError
from hwtune.tables import widen

EXAMPLES = """
Examples:

\b
  hwtune bench                                   # every device, built-in model, short run
  hwtune bench --list-devices
  hwtune bench --model plate-classifier --backend openvino --device CPU --batch 1,2,4,8 --mode sync
  hwtune bench --model my.onnx --shape input=1x3x224x224 --mode async --streams 2 --precision int8
  hwtune bench --tune --latency-slo 40ms
  hwtune bench --export-model resnet-block --out rb.onnx
  hwtune bench --compare before.json after.json
  hwtune bench --scenario server --model plate-classifier --backend onnxruntime --latency-slo 40ms
  hwtune bench --scenario server --backend ort --latency-slo 40ms --tune     # what dynamic batching buys
  hwtune bench --scenario server --model fixed:5ms --latency-slo 40ms        # a fixed 5 ms service (M/D/1)
  hwtune bench --scenario offline --backend ov --max-batch-size 8
  hwtune bench --pipeline image --model plate-classifier --backend onnxruntime   # decode..top-k by stage
  hwtune bench --pipeline image --images ./uploads --decoder pillow,simplejpeg --pin-stages
  hwtune bench --pipeline image --scenario server --model fixed:20ms --latency-slo 40ms
"""


def register(app: typer.Typer) -> None:
    app.command(
        "bench",
        help="Micro-inference benchmarks per device (ONNX Runtime, OpenVINO) and an auto-tuner.",
        epilog=EXAMPLES,
    )(bench)


def bench(
    ctx: typer.Context,
    model: str = typer.Option("plate-classifier", "--model", "-m",
                              help="Built-in model (plate-classifier, resnet-block, mlp, transformer-encoder) or an .onnx file."),
    list_devices: bool = typer.Option(False, "--list-devices", help="List ORT providers and OpenVINO devices found here."),
    backend: str = typer.Option("all", "--backend", help="onnxruntime (ort), openvino (ov) or all."),
    device: str = typer.Option("", "--device", help="Comma list: CPU, GPU, NPU, CUDA, TensorRT. Default: every device found."),
    batch: str = typer.Option("", "--batch", help="Comma list of batch sizes, e.g. 1,2,4,8."),
    mode: str = typer.Option("sync,async", "--mode", help="sync (one request at a time), async (N in flight), or both."),
    streams: str = typer.Option("", "--streams", help="Async requests in flight (OpenVINO streams); comma list. Default: the runtime's choice."),
    threads: str = typer.Option("", "--threads", help="Threads (ORT intra-op, OpenVINO INFERENCE_NUM_THREADS); comma list."),
    pin: Optional[bool] = typer.Option(None, "--pin/--no-pin", help="Pin threads to cores (default: the runtime's)."),
    precision: str = typer.Option("", "--precision", help="fp32, bf16, fp16, int8, auto; comma list. Default fp32 (--tune: all the device runs)."),
    shape: list[str] = typer.Option([], "--shape", help="Input shape for dynamic dims, NAME=1x3x224x224; repeat per input."),
    time_s: float = typer.Option(2.0, "--time", help="Seconds per configuration (the run also needs --min-count requests)."),
    min_count: int = typer.Option(10, "--min-count", help="Minimum requests per configuration."),
    repeat: int = typer.Option(1, "--repeat", help="Repeat each measurement N times; report the median and the spread (--scenario server: N searches, each run's max QPS and their interval)."),
    tune: bool = typer.Option(False, "--tune", help="Search streams, threads, batch and precision per device."),
    latency_slo: str = typer.Option("", "--latency-slo", help="p99 budget for --tune and --scenario server, e.g. 40ms or 0.04s."),
    export_model: str = typer.Option("", "--export-model", help="Write a built-in model as ONNX (with --out)."),
    out_path: Optional[Path] = typer.Option(None, "--out", help="Where --export-model writes."),
    compare: Optional[tuple[str, str]] = typer.Option(None, "--compare", help="Compare two saved runs: BEFORE AFTER (files or run names)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV to stdout."),
    wide: bool = typer.Option(False, "--wide", help="Every column, even where the terminal is too narrow "
                              "(rows are then stacked)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Save the run under the user data dir (for --compare)."),
    scenario: str = typer.Option("", "--scenario", help="MLPerf LoadGen scenario: singlestream, multistream, offline or server (needs the bench extra)."),
    qps: str = typer.Option("", "--qps", help="--scenario server: one run at this QPS instead of searching the max."),
    max_batch_size: int = typer.Option(1, "--max-batch-size", help="--scenario: dynamic batching, as Triton's max_batch_size (1: none)."),
    max_queue_delay: str = typer.Option("", "--max-queue-delay", help="--scenario: dynamic batching's max queue delay, e.g. 2ms or 500us."),
    instances: int = typer.Option(0, "--instances", help="--scenario: model instances serving side by side (Triton's instance_group count); 0: one per core on a CPU, with one thread each."),
    duration: str = typer.Option("10s", "--duration", help="--scenario: LoadGen's min duration for the reported run (MLPerf: 600s)."),
    step: str = typer.Option("2s", "--step", help="--scenario server: LoadGen's min duration for each search step."),
    pipeline: str = typer.Option("", "--pipeline", help="Time the whole request: 'image' (read, decode, resize, normalise, infer, top-k)."),
    images: Optional[Path] = typer.Option(None, "--images", help="--pipeline: a folder of JPEG/PNG/WebP files (default: built-in images)."),
    image_size: str = typer.Option("1080p", "--image-size", help="--pipeline built-in images: 640x480, 1280x720, 1920x1080, 3840x2160 (or 480p, 720p, 1080p, 4k); comma list."),
    image_format: str = typer.Option("jpeg", "--image-format", help="--pipeline built-in images: jpeg, png, webp; comma list."),
    decoder: str = typer.Option("", "--decoder", help="--pipeline: pillow, opencv, simplejpeg, turbojpeg, nvjpeg; comma list. Default: every one present."),
    resizer: str = typer.Option("", "--resizer", help="--pipeline: opencv or pillow (default: opencv when present)."),
    pin_stages: bool = typer.Option(False, "--pin-stages", help="--pipeline: also run preprocessing and the model as two threads, unpinned and pinned to cores."),
) -> None:
    """Micro-inference benchmarks per device, and an auto-tuner."""
    run_command(lambda: _bench(ctx.params))


def _bench(a: dict[str, Any]) -> int:
    """Run what the options ask for; `a` is click's map of parameter names to values (paths as str)."""
    if a["as_json"] and a["as_csv"]:
        raise ConfigError("--json and --csv exclude each other")
    if not a["compare"]:  # comparing two saved runs needs no runtime
        require_extra("hwtune bench")
    if a["pipeline"]:
        from hwtune.cli_bench_pipeline import pipeline_command

        return pipeline_command(a, _progress, _emit, _scenario_options)
    if a["images"] or a["decoder"] or a["resizer"] or a["pin_stages"]:
        raise ConfigError("--images, --decoder, --resizer and --pin-stages go with --pipeline image")
    if a["list_devices"]:
        return _list_devices(a["as_json"])
    if a["export_model"]:
        out_path = Path(a["out_path"]) if a["out_path"] else None
        return _export(a["export_model"], out_path, a["precision"] or "fp32", a["as_json"])
    if a["compare"]:
        return _compare(a["compare"], a["as_json"])
    if a["scenario"]:
        return _scenario(a)
    plan = _plan(a)
    if a["tune"]:
        return _tune(plan, parse_slo(a["latency_slo"]), a)
    if a["latency_slo"]:
        raise ConfigError("--latency-slo goes with --tune or --scenario server")
    return _measure(plan, a)


def _plan(a: dict[str, Any]) -> Any:
    from hwtune.bench.micro.runner import BenchPlan
    from hwtune.bench.micro.tune import TUNE_PRECISIONS

    precisions = _strs(a["precision"]) or (TUNE_PRECISIONS if a["tune"] else ("fp32",))
    return BenchPlan(
        model=a["model"], shapes=tuple(a["shape"]), backend=a["backend"].lower(), devices=_strs(a["device"]),
        batches=_ints(a["batch"], "--batch"), modes=_strs(a["mode"]), precisions=precisions,
        streams=_ints(a["streams"], "--streams") or (None,), threads=_ints(a["threads"], "--threads") or (None,),
        pin=a["pin"], time_s=a["time_s"], min_count=a["min_count"], repeat=a["repeat"],
    )


def _measure(plan: Any, a: dict[str, Any]) -> int:
    from hwtune.bench.micro import render
    from hwtune.bench.micro.runner import run_bench

    with _progress() as report:
        run = run_bench(plan, report)
    doc = {"command": "bench", "plan": _plan_json(plan), **run.to_json()}
    _emit(doc, a, lambda: render.render_run(run, plan.time_s))
    return EXIT_OK


def _tune(plan: Any, slo_ms: float | None, a: dict[str, Any]) -> int:
    from hwtune.bench.micro import advice, render
    from hwtune.bench.micro.runner import Bench
    from hwtune.bench.micro.tune import tune_device

    bench_ = Bench(plan)
    tunes = []
    with _progress() as report:
        for i, info in enumerate(bench_.targets):
            tunes.append(tune_device(bench_, info, slo_ms, lambda m, i=i: report(m, i, len(bench_.targets))))
            report(f"{info.backend}/{info.device} done", i + 1, len(bench_.targets))
    settings = {f"{t.device.backend}/{t.device.device}": advice.settings(t.best, slo_ms, bench_.source.name.replace(".onnx", ""))
                for t in tunes if t.best is not None}
    run = bench_.run_of([r for t in tunes for r in t.evaluated], [s for t in tunes for s in t.skipped])
    doc = {"command": "bench --tune", "plan": _plan_json(plan), "latency_slo_ms": slo_ms, **run.to_json(),
           "tune": [_tune_json(t, settings) for t in tunes]}
    _emit(doc, a, lambda: render.tune_view(tunes, settings))
    return EXIT_OK if all(t.best is not None for t in tunes) else EXIT_NOT_VALID


def _emit(doc: dict[str, Any], a: dict[str, Any], view: Callable[[], Any]) -> None:
    """Save the run (unless --no-save), then print it as JSON, CSV or the table."""
    from hwtune.bench import store
    from hwtune.bench.micro import render

    saved = store.save_run(doc) if a["save"] else None
    if a["as_json"]:
        print_json({**doc, "saved_to": str(saved) if saved else None})
    elif a["as_csv"] and "scenario" in doc:
        from hwtune.bench.serving import render as serving_render

        sys.stdout.write(serving_render.results_csv(doc["results"]))
    elif a["as_csv"]:
        sys.stdout.write(render.results_csv(doc["results"]))
    else:
        _show(widen(view(), a["wide"]))
        if saved:
            out.print(f"saved: {saved}", style="dim")


def _scenario(a: dict[str, Any]) -> int:
    from hwtune.bench import store
    from hwtune.bench.serving import render as serving_render
    from hwtune.bench.serving.loadgen import require_loadgen

    o = _scenario_options(a)
    require_loadgen()  # before any model is built: a missing extra is a usage error, said first
    from hwtune.bench.serving.models import served_models
    from hwtune.bench.serving.tune import tune_batching
    from hwtune.bench.serving.serve import repeat_summary, serve

    models = served_models(_plan({**a, "tune": False}), a["instances"])
    common: dict[str, Any] = dict(duration_s=o["duration_s"], step_s=o["step_s"], log_base=store.bench_dir() / "loadgen")
    results, tunes, repeats = [], [], []
    with _progress() as report:
        for i, model in enumerate(models):
            say = lambda m, i=i: report(m, i, len(models))  # noqa: E731
            if a["tune"]:
                t = tune_batching(model, o["slo_ms"], report=say, **common)
                tunes.append(t.to_json())
                results.extend(t.results)
                continue
            runs = [serve(model, o["scenario"], o["batching"], latency_slo_ms=o["slo_ms"], target_qps=o["qps"],
                          report=lambda m, k=k: say(m if a["repeat"] == 1 else f"run {k + 1}/{a['repeat']}: {m}"),
                          **common) for k in range(a["repeat"])]
            results.extend(runs)
            if a["repeat"] > 1 and o["scenario"] == "server":
                repeats.append(repeat_summary(runs))
    doc = {"command": "bench --scenario", "scenario": o["scenario"], "latency_slo_ms": o["slo_ms"],
           "results": [r.to_json() for r in results]}
    if tunes:
        doc["batching_tune"] = tunes
    if repeats:
        doc["repeats"] = repeats
    _emit(doc, a, lambda: serving_render.scenario_view(doc))
    return scenario_exit_code(doc)


def scenario_exit_code(doc: dict[str, Any]) -> int:
    """0: every answer VALID; 6 (measured, not VALID): any other answer, including a search that
    found nothing within the budget. Errors never get here (their own codes)."""
    if doc.get("batching_tune"):
        return EXIT_OK if all(t["best"] for t in doc["batching_tune"]) else EXIT_NOT_VALID
    return EXIT_OK if all(r["valid"] for r in doc["results"]) else EXIT_NOT_VALID


def _scenario_options(a: dict[str, Any]) -> dict[str, Any]:
    """The --scenario options, checked before anything is loaded or built."""
    from hwtune.bench.serving.batcher import Batching
    from hwtune.bench.serving.loadgen import SCENARIOS
    from hwtune.bench.serving.serve import parse_duration_s

    scenario = a["scenario"].strip().lower()
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown --scenario {a['scenario']!r}; use {', '.join(SCENARIOS)}")
    slo_ms = parse_slo(a["latency_slo"])
    if slo_ms is None and scenario == "server":
        raise ConfigError("--scenario server needs --latency-slo (the p99 budget), e.g. 40ms")
    if slo_ms is not None and scenario != "server":
        raise ConfigError("--latency-slo goes with --scenario server (LoadGen's target latency)")
    qps = _positive_number(a["qps"], "--qps") if a["qps"] else None
    if qps is not None and scenario != "server":
        raise ConfigError("--qps goes with --scenario server")
    if a["tune"] and scenario != "server":
        raise ConfigError("--tune with --scenario searches batching for the server scenario; use --scenario server")
    if a["tune"] and qps is not None:
        raise ConfigError("--tune searches the max QPS; leave out --qps")
    if a["tune"] and a["repeat"] > 1:
        raise ConfigError("--repeat with --scenario repeats the server search; leave out --tune")
    if a["repeat"] < 1:
        raise ConfigError(f"--repeat must be 1 or more, got {a['repeat']}")
    if a["max_batch_size"] < 1 or a["instances"] < 0:
        raise ConfigError("--max-batch-size must be 1 or more, --instances 0 (one per core) or more")
    delay_s = parse_duration_s(a["max_queue_delay"], "--max-queue-delay") if a["max_queue_delay"] else 0.0
    return {"scenario": scenario, "slo_ms": slo_ms, "qps": qps,
            "batching": Batching(a["max_batch_size"], int(round(delay_s * 1e6))),
            "duration_s": parse_duration_s(a["duration"], "--duration", bare="s", positive=True),
            "step_s": parse_duration_s(a["step"], "--step", bare="s", positive=True)}


def _positive_number(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option} takes a number, got {text!r}") from None
    return number(option, value, low=0, low_open=True)


def _tune_json(t: Any, settings: dict[str, Any]) -> dict[str, Any]:
    key = f"{t.device.backend}/{t.device.device}"
    return {
        "backend": t.device.backend, "device": t.device.device, "latency_slo_ms": t.latency_slo_ms,
        "best": t.best.to_json() if t.best else None, "settings": settings.get(key),
        "pareto": [r.to_json() for r in t.pareto], "points_measured": len(t.evaluated),
        "space_size": t.space_size, "elapsed_s": round(t.elapsed_s, 2),
    }


def _list_devices(as_json: bool) -> int:
    from hwtune.bench.micro import render
    from hwtune.bench.devices import list_devices

    found = list_devices()
    if as_json:
        print_json(found.to_json())
    else:
        _show(render.devices_table(found))
    return EXIT_OK


def _export(name: str, out_path: Path | None, precision: str, as_json: bool) -> int:
    from hwtune.bench import store
    from hwtune.bench.modelfile import export_model

    if out_path is None:
        raise ConfigError("--export-model needs --out FILE")
    path = export_model(name, out_path, precision, store.models_dir())
    if as_json:
        print_json({"model": name, "precision": precision, "out": str(path)})
    else:
        out.print(f"wrote {name} ({precision}) to {path}")
    return EXIT_OK


def _compare(refs: tuple[str, str], as_json: bool) -> int:
    from hwtune.bench import store
    from hwtune.bench.micro import render
    from hwtune.bench.micro.compare import compare_runs

    before, after = (store.load_run(r) for r in refs)
    cmp = compare_runs(before, after, refs[0], refs[1])
    if as_json:
        print_json(cmp.to_json())
    else:
        _show(render.comparison_table(cmp))
    return EXIT_OK


def _show(view: Any) -> None:
    """A view's tables fit the terminal (hwtune.tables); its text lines wrap at words there."""
    out.print(view, soft_wrap=not out.is_terminal, crop=False)


def parse_slo(text: str) -> float | None:
    """'40ms', '40 ms', '0.04s', '40' (ms) -> milliseconds."""
    from hwtune.bench.serving.serve import parse_duration_s

    return parse_duration_s(text, "--latency-slo", positive=True) * 1000 if text else None


def _strs(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in _strs(text))
    except ValueError:
        raise ConfigError(f"{option} takes whole numbers separated by commas, got {text!r}") from None


def _plan_json(plan: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(plan)


class _progress:
    """A rich progress bar on stderr when it is a terminal; yields report(description, done, total)."""

    progress = None

    def __enter__(self) -> Callable[[str, int, int], None]:
        if not err.is_terminal:  # a log file gets no bar (nor the blank line a stopped one leaves)
            return lambda description, done, total: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("starting", total=None)

        def report(description: str, done: int, total: int) -> None:
            self.progress.update(self.task, description=description, completed=done, total=total)

        return report

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
