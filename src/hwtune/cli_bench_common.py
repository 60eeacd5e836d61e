"""What the `hwtune bench` subcommands share: their common options, the parsing of list and
duration options into typed values, the progress bar, and saving and printing a run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer

from hwtune.bench.engines import spellings
from hwtune.bench.options import Output
from hwtune.cli_common import err, number, out, print_json
from hwtune.errors import EXIT_NOT_VALID, EXIT_OK, ConfigError
from hwtune.tables import widen

# -- options more than one subcommand takes (one declaration, one help text) -------------------------

MODEL = typer.Option("plate-classifier", "--model", "-m",
                     help="Built-in model (plate-classifier, resnet-block, mlp, transformer-encoder) or an .onnx file.")
BACKEND = typer.Option("all", "--backend", help=f"{spellings()} or all.")
DEVICE = typer.Option("", "--device", help="Comma list: CPU, GPU, NPU, CUDA, TensorRT. Default: every device found.")
BATCH = typer.Option("", "--batch", help="Comma list of batch sizes, e.g. 1,2,4,8.")
MODE = typer.Option("sync,async", "--mode", help="sync (one request at a time), async (N in flight), or both.")
STREAMS = typer.Option("", "--streams", help="Async requests in flight (OpenVINO streams); comma list. "
                       "Default: the runtime's choice.")
THREADS = typer.Option("", "--threads", help="Threads (ORT intra-op, OpenVINO INFERENCE_NUM_THREADS); comma list.")
PIN = typer.Option(None, "--pin/--no-pin", help="Pin threads to cores (default: the runtime's).")
SHAPE = typer.Option([], "--shape", help="Input shape for dynamic dims, NAME=1x3x224x224; repeat per input.")
TIME = typer.Option(2.0, "--time", help="Seconds per configuration (the run also needs --min-count requests).")
MIN_COUNT = typer.Option(10, "--min-count", help="Minimum requests per configuration.")
REPEAT = typer.Option(1, "--repeat", help="Repeat each measurement N times; report the median and the spread.")
AS_JSON = typer.Option(False, "--json", help="Print JSON to stdout.")
AS_CSV = typer.Option(False, "--csv", help="Print CSV to stdout.")
WIDE = typer.Option(False, "--wide", help="Every column, even where the terminal is too narrow "
                    "(rows are then stacked).")
SAVE = typer.Option(True, "--save/--no-save", help="Save the run under the user data dir (for bench compare).")
# the request pipeline (bench run and bench serve)
PIPELINE = typer.Option("", "--pipeline",
                        help="Time the whole request: 'image' (read, decode, resize, normalise, infer, top-k).")
IMAGES = typer.Option(None, "--images", help="--pipeline: a folder of JPEG/PNG/WebP files (default: built-in images).")
IMAGE_SIZE = typer.Option("1080p", "--image-size", help="--pipeline built-in images: 640x480, 1280x720, 1920x1080, "
                          "3840x2160 (or 480p, 720p, 1080p, 4k); comma list.")
IMAGE_FORMAT = typer.Option("jpeg", "--image-format", help="--pipeline built-in images: jpeg, png, webp; comma list.")
DECODER = typer.Option("", "--decoder", help="--pipeline: pillow, opencv, simplejpeg, turbojpeg, nvjpeg; comma list. "
                       "Default: every one present.")
RESIZER = typer.Option("", "--resizer", help="--pipeline: opencv or pillow (default: opencv when present).")


def output(as_json: bool, as_csv: bool, wide: bool = False, save: bool = True) -> Output:
    if as_json and as_csv:
        raise ConfigError("--json and --csv exclude each other")
    return Output(as_json, as_csv, wide, save)


def emit(doc: dict[str, Any], o: Output, view: Callable[[], Any]) -> None:
    """Save the run (unless --no-save), then print it as JSON, CSV or the table."""
    from hwtune.bench import store

    saved = store.save_run(doc) if o.save else None
    if o.as_json:
        print_json({**doc, "saved_to": str(saved) if saved else None})
    elif o.as_csv and "scenario" in doc:
        from hwtune.bench.serving import render as serving_render

        sys.stdout.write(serving_render.results_csv(doc["results"]))
    elif o.as_csv:
        from hwtune.bench.micro import render

        sys.stdout.write(render.results_csv(doc["results"]))
    else:
        show(widen(view(), o.wide))
        if saved:
            out.print(f"saved: {saved}", style="dim")


def show(view: Any) -> None:
    """A view's tables fit the terminal (hwtune.tables); its text lines wrap at words there."""
    out.print(view, soft_wrap=not out.is_terminal, crop=False)


def parse_slo(text: str) -> float | None:
    """'40ms', '40 ms', '0.04s', '40' (ms) -> milliseconds."""
    from hwtune.bench.serving.serve import parse_duration_s

    return parse_duration_s(text, "--latency-slo", positive=True) * 1000 if text else None


def plan(*, model: str, shape: list[str], backend: str, device: str, precision: str, threads: str,
         pin: bool | None, batch: str = "", mode: str = "sync,async", streams: str = "", time_s: float = 2.0,
         min_count: int = 10, repeat: int = 1, tune: bool = False) -> Any:
    """The BenchPlan of these options (list options parsed, then checked by the plan)."""
    from hwtune.bench.micro.runner import BenchPlan
    from hwtune.bench.micro.tune import TUNE_PRECISIONS

    precisions = strs(precision) or (TUNE_PRECISIONS if tune else ("fp32",))
    return BenchPlan(
        model=model, shapes=tuple(shape), backend=backend.lower(), devices=strs(device),
        batches=ints(batch, "--batch"), modes=strs(mode), precisions=precisions,
        streams=ints(streams, "--streams") or (None,), threads=ints(threads, "--threads") or (None,),
        pin=pin, time_s=time_s, min_count=min_count, repeat=repeat,
    )


def strs(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in strs(text))
    except ValueError:
        raise ConfigError(f"{option} takes whole numbers separated by commas, got {text!r}") from None


def positive_number(text: str, option: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option} takes a number, got {text!r}") from None
    number(option, value, low=0, low_open=True)  # raises when out of range
    return value


def plan_json(plan: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(plan)


class progress:
    """A rich progress bar on stderr when it is a terminal; yields report(description, done, total)."""

    bar = None

    def __enter__(self) -> Callable[[str, int, int], None]:
        if not err.is_terminal:  # a log file gets no bar (nor the blank line a stopped one leaves)
            return lambda description, done, total: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=err, transient=True)
        bar.start()
        task = bar.add_task("starting", total=None)

        def report(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        return report

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()


def scenario_exit_code(doc: dict[str, Any]) -> int:
    """0: every answer VALID; 6 (measured, not VALID): any other answer, including a search that
    found nothing within the budget. Errors never get here (their own codes)."""
    if doc.get("batching_tune"):
        return EXIT_OK if all(t["best"] for t in doc["batching_tune"]) else EXIT_NOT_VALID
    return EXIT_OK if all(r["valid"] for r in doc["results"]) else EXIT_NOT_VALID
