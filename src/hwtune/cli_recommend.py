"""`hwtune recommend`: performance per dollar for inference, server vs desktop GPUs, cloud vs buy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hwtune.cli_common import MAX_NUMBER, choice, number, out, print_json, require_extra
from hwtune.cli_options import PanelledCommand, command_of, option_names
from hwtune.errors import EXIT_OK, ConfigError

if TYPE_CHECKING:  # the engine is imported when the command runs: `hwtune --help` stays fast
    from hwtune.recommend.engine import Request

HELP = """Estimate inference throughput per GPU and per dollar, and recommend setups.

Examples:

  hwtune recommend --budget 5000

  hwtune recommend --budget 20000 --workload bert-base --precision fp16

  hwtune recommend --workload resnet50 --precision int8 --all --json

  hwtune recommend --model my.onnx --target-fps 2000 --latency-ms 20

  hwtune recommend --from-bench run.json --budget 5000

  hwtune recommend --budget 5000 --hours-per-day 24 --years 3 --kwh-price 0.15

  hwtune recommend --workload llama2-70b --precision fp8 --all --json

  hwtune recommend --workload llama3.1-8b --precision fp8 --target-fps 50000 --tpot 40

  hwtune recommend --workload llama2-70b --precision fp8 --input-tokens 3000 --output-tokens 200 --budget 500000

  hwtune recommend --workload bert-large --precision int8 --seq-len 256 --class server

Estimates are rooflines with efficiencies from data (docs/recommend.md says how
they were chosen); --from-bench replaces them with a measured one.
"""


RUN, BUY, PRICES, OUTPUT = "What to run", "What to buy with", "Prices", "Output"


def _opt(name: str, panel: str, text: str, *more: str) -> typer.models.OptionInfo:
    return typer.Option(name, *more, help=text, rich_help_panel=panel)


@dataclass(frozen=True)
class RecommendOptions:
    """The options of `hwtune recommend`, as the user gave them; fields named as in `Request`."""

    workload: Annotated[str, _opt(
        "--workload", RUN,
        "Built-in workload: resnet50, ssd-mobilenet, ssd-vgg300, bert-base, bert-large (MLPerf "
        "SQuAD, unpadded), plate-classifier; LLMs: llama2-70b, llama3.1-8b, gptj-6b, "
        "mixtral-8x7b.")] = "resnet50"
    model_path: Annotated[Path | None, _opt(
        "--model", RUN,
        "ONNX model to count FLOPs and bytes from, instead of --workload.")] = None
    model_shapes: Annotated[tuple[str, ...], _opt(
        "--shape", RUN,
        "Shape of a dynamic --model input, NAME=1x128 (repeatable); a dynamic batch dim is taken "
        "as 1.")] = ()
    precision: Annotated[str, _opt(
        "--precision", RUN,
        "fp32, fp16, bf16, int8, fp8 (Hopper, Ada, MI300, Blackwell, Gaudi) or fp4 (Blackwell, "
        "MI355X); a GPU without it falls back, and says so.")] = "fp16"
    accumulate: Annotated[str, _opt(
        "--accumulate", RUN,
        "FP16 accumulation: fp32 (framework default) or fp16 (GeForce runs it at twice the rate).")] = "fp32"
    batch: Annotated[int, _opt("--batch", RUN, "Largest batch; lowered to fit memory and the latency SLO.")] = 32
    latency_slo_ms: Annotated[float | None, _opt(
        "--latency-ms", RUN,
        "Latency SLO per batch, in ms (limits the batch).")] = None
    seq_len: Annotated[float | None, _opt(
        "--seq-len", RUN,
        "Tokens per sample for an encoder (bert-base, bert-large), instead of the workload's own "
        "count.")] = None
    ttft_ms: Annotated[float | None, _opt(
        "--ttft", RUN,
        "LLM: time-to-first-token limit in ms (prefill of one prompt).")] = None
    tpot_ms: Annotated[float | None, _opt(
        "--tpot", RUN,
        "LLM: time-per-output-token limit in ms (limits the sequences decoded together).")] = None
    input_tokens: Annotated[float | None, _opt(
        "--input-tokens", RUN,
        "LLM: mean prompt tokens per request (default: the workload's dataset).")] = None
    output_tokens: Annotated[float | None, _opt(
        "--output-tokens", RUN,
        "LLM: mean generated tokens per request (default: the workload's dataset).")] = None
    bench_path: Annotated[Path | None, _opt(
        "--from-bench", RUN,
        "hwtune bench JSON: calibrate the efficiency with a measured GPU result.")] = None
    bench_gpu: Annotated[str | None, _opt(
        "--bench-gpu", RUN,
        "Catalog GPU the --from-bench results ran on, when their device names no model "
        "(onnxruntime CUDA).")] = None
    pipeline_path: Annotated[Path | None, _opt(
        "--pipeline-result", RUN,
        "Saved 'hwtune bench run --pipeline image --json': note each setup whose host CPUs cannot "
        "feed its GPUs.")] = None

    budget_usd: Annotated[float | None, _opt("--budget", BUY, "Budget in USD for GPUs and hosts.")] = None
    target_fps: Annotated[float | None, _opt(
        "--target-fps", BUY,
        "Throughput to reach (inferences/s; generated tokens/s for an LLM): the cheapest setup of "
        "server GPUs (or of the --class given) that does.")] = None
    classes: Annotated[tuple[str, ...], _opt(
        "--class", BUY,
        "Only GPUs of this class (repeatable): server, workstation, desktop. Fleet plans "
        "(--target-fps) use server GPUs unless this is given.")] = ()
    vendors: Annotated[tuple[str, ...], _opt(
        "--vendor", BUY,
        "Only GPUs of this vendor (repeatable): AMD, Intel, NVIDIA.")] = ()
    desktop_host_usd: Annotated[float, _opt(
        "--desktop-host-usd", BUY,
        "Desktop host without GPUs (desktop and workstation cards).")] = 1500.0
    desktop_max_cards: Annotated[int, _opt(
        "--desktop-max-cards", BUY,
        "Cards per desktop host (cards wider than 2 slots: 1).")] = 2
    server_host_usd: Annotated[float, _opt(
        "--server-host-usd", BUY,
        "PCIe GPU server without GPUs (server PCIe cards).")] = 3500.0
    server_max_cards: Annotated[int, _opt("--server-max-cards", BUY, "Cards per PCIe server.")] = 4
    baseboard_usd: Annotated[float, _opt("--baseboard-usd", BUY, "SXM/OAM baseboard server without GPUs.")] = 60000.0
    baseboard_max_cards: Annotated[int, _opt("--baseboard-max-cards", BUY, "Modules per baseboard server.")] = 8

    price_basis: Annotated[str, _opt(
        "--price-basis", PRICES,
        "street (what a buyer pays now, December 2026: listings, analyst estimates, system or "
        "cloud-derived prices) or list (launch list prices); the others stand in when one is "
        "missing.")] = "street"
    price_overrides: Annotated[tuple[str, ...], _opt(
        "--gpu-price", PRICES,
        "Your own quote, NAME=USD (repeatable), e.g. 'L4=2100'.")] = ()
    hours_per_day: Annotated[float, _opt(
        "--hours-per-day", PRICES,
        "Hours a day at full load (cloud billing and power); 12 = a serving fleet at 50% "
        "utilization (docs/recommend.md).")] = 12.0
    years: Annotated[float, _opt("--years", PRICES, "Years of ownership to compare with renting.")] = 3.0
    kwh_price: Annotated[float, _opt("--kwh-price", PRICES, "Electricity price, USD per kWh.")] = 0.15

    show_all: Annotated[bool, _opt("--all", OUTPUT, "List every GPU of the catalog.")] = False
    top: Annotated[int, _opt("--top", OUTPUT, "Rows per table without --all.")] = 10
    as_json: Annotated[bool, _opt("--json", OUTPUT, "Print every estimate and input as JSON.")] = False
    wide: Annotated[bool, _opt(
        "--wide", OUTPUT,
        "Every column, even where the terminal is too narrow (rows are then stacked); by default "
        "class, hosts, power and efficiency leave first.", "-v")] = False


# How this command spells each field a domain error names; "catalog_listing" is where the GPU names are.
OPTION_NAMES = {**option_names(RecommendOptions), "catalog_listing": "--all"}


def parse_gpu_prices(values: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    out = []
    for v in values:
        name, sep, usd = v.rpartition("=")
        try:
            price = float(usd)
        except ValueError:
            price = -1.0
        if not sep or not name.strip() or not 0 < price < math.inf:  # NaN fails the comparison too
            raise ConfigError(f"--gpu-price: expected NAME=USD with a positive price, got {v!r}")
        out.append((name.strip(), price))
    return tuple(out)


def check_options(o: RecommendOptions) -> None:
    """The options' own types and ranges (NaN and infinity are no amount); the engine checks
    what depends on the catalogue and on each other."""
    from hwtune.recommend.catalog import PRECISIONS
    from hwtune.recommend.prices import BASES

    if o.model_path is not None:
        require_extra("--model", ("onnx",))
        if not o.model_path.is_file():
            raise ConfigError(f"--model {o.model_path}: no such file")
    choice("--precision", o.precision, PRECISIONS)
    choice("--accumulate", o.accumulate, ("fp32", "fp16"))
    choice("--price-basis", o.price_basis, BASES)
    name = OPTION_NAMES
    for field in ("budget_usd", "target_fps", "latency_slo_ms", "seq_len", "ttft_ms", "tpot_ms",
                  "input_tokens", "output_tokens"):
        number(name[field], getattr(o, field))
    for field in ("desktop_host_usd", "server_host_usd", "baseboard_usd"):
        number(name[field], getattr(o, field), low=0)
    for field in ("hours_per_day", "years", "kwh_price", "desktop_max_cards", "server_max_cards",
                  "baseboard_max_cards", "top"):
        number(name[field], getattr(o, field), low=0, low_open=True,
               high=24 if field == "hours_per_day" else MAX_NUMBER)


def to_request(o: RecommendOptions) -> Request:
    from hwtune.recommend.costs import UsageOptions
    from hwtune.recommend.engine import Request
    from hwtune.recommend.setups import HostCosts

    return Request(
        workload=o.workload, model_path=o.model_path, model_shapes=o.model_shapes, precision=o.precision,
        accumulate=o.accumulate, batch=o.batch, budget_usd=o.budget_usd, target_fps=o.target_fps,
        latency_slo_ms=o.latency_slo_ms, bench_path=o.bench_path, bench_gpu=o.bench_gpu, pipeline_path=o.pipeline_path,
        price_basis=o.price_basis, price_overrides=parse_gpu_prices(o.price_overrides),
        vendors=o.vendors, classes=o.classes, seq_len=o.seq_len, ttft_ms=o.ttft_ms, tpot_ms=o.tpot_ms,
        input_tokens=o.input_tokens, output_tokens=o.output_tokens,
        hosts=HostCosts(desktop_usd=o.desktop_host_usd, desktop_max_cards=o.desktop_max_cards,
                        pcie_server_usd=o.server_host_usd, pcie_server_max_cards=o.server_max_cards,
                        baseboard_usd=o.baseboard_usd, baseboard_max_cards=o.baseboard_max_cards),
        usage=UsageOptions(hours_per_day=o.hours_per_day, years=o.years, kwh_price_usd=o.kwh_price),
    )


def run_recommend(o: RecommendOptions) -> int:
    """Check the options, ask the engine, print its answer; a domain error is told with our option names."""
    from hwtune.recommend.engine import recommend
    from hwtune.recommend.invalid import InvalidRequest

    check_options(o)
    try:
        rec = recommend(to_request(o))
    except InvalidRequest as exc:
        raise ConfigError(exc.message_with(OPTION_NAMES)) from None
    if o.as_json:
        from hwtune.recommend.jsonout import to_json

        print_json(to_json(rec, o.show_all, o.top))
    else:
        from hwtune.recommend.render import render

        render(rec, out, o.show_all, o.top, o.wide)
    return EXIT_OK


recommend_command = command_of(RecommendOptions, run_recommend)


def register(app: typer.Typer) -> None:
    app.command("recommend", help=HELP, cls=PanelledCommand)(recommend_command)
