"""`hwtune recommend`: performance per dollar for inference, server vs desktop GPUs, cloud vs buy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer

from hwtune.cli_common import MAX_NUMBER, choice, number, out, print_json, require_extra, run_command
from hwtune.errors import EXIT_OK, ConfigError

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

  hwtune recommend --workload llama2-70b --precision fp8 --input-tokens 4000 --output-tokens 200 --budget 500000

  hwtune recommend --workload bert-large --precision int8 --seq-len 256 --class server

Estimates are rooflines with efficiencies from data (docs/recommend.md says how
they were chosen); --from-bench replaces them with a measured one.
"""


def parse_gpu_prices(values: list[str]) -> tuple[tuple[str, float], ...]:
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


def recommend_command(
    budget: Optional[float] = typer.Option(None, "--budget", help="Budget in USD for GPUs and hosts."),
    target_fps: Optional[float] = typer.Option(None, "--target-fps", help="Throughput to reach (inferences/s; generated tokens/s for an LLM): the cheapest setup of server GPUs (or of the --class given) that does."),
    latency_ms: Optional[float] = typer.Option(None, "--latency-ms", help="Latency SLO per batch, in ms (limits the batch)."),
    workload: str = typer.Option("resnet50", "--workload", help="Built-in workload: resnet50, ssd-mobilenet, ssd-vgg300, bert-base, bert-large (MLPerf SQuAD, unpadded), plate-classifier; LLMs: llama2-70b, llama3.1-8b, gptj-6b, mixtral-8x7b."),
    seq_len: Optional[float] = typer.Option(None, "--seq-len", help="Tokens per sample for an encoder (bert-base, bert-large), instead of the workload's own count."),
    ttft: Optional[float] = typer.Option(None, "--ttft", help="LLM: time-to-first-token limit in ms (prefill of one prompt)."),
    tpot: Optional[float] = typer.Option(None, "--tpot", help="LLM: time-per-output-token limit in ms (limits the sequences decoded together)."),
    input_tokens: Optional[float] = typer.Option(None, "--input-tokens", help="LLM: mean prompt tokens per request (default: the workload's dataset)."),
    output_tokens: Optional[float] = typer.Option(None, "--output-tokens", help="LLM: mean generated tokens per request (default: the workload's dataset)."),
    gpu_class: list[str] = typer.Option([], "--class", help="Only GPUs of this class (repeatable): server, workstation, desktop. Fleet plans (--target-fps) use server GPUs unless this is given."),
    model: Optional[Path] = typer.Option(None, "--model", help="ONNX model to count FLOPs and bytes from, instead of --workload."),
    shape: list[str] = typer.Option([], "--shape", help="Shape of a dynamic --model input, NAME=1x128 (repeatable); a dynamic batch dim is taken as 1."),
    precision: str = typer.Option("fp16", "--precision", help="fp32, fp16, bf16, int8, fp8 (Hopper, Ada, MI300, Blackwell, Gaudi) or fp4 (Blackwell, MI355X); a GPU without it falls back, and says so."),
    accumulate: str = typer.Option("fp32", "--accumulate", help="FP16 accumulation: fp32 (framework default) or fp16 (GeForce runs it at twice the rate)."),
    batch: int = typer.Option(32, "--batch", help="Largest batch; lowered to fit memory and the latency SLO."),
    from_bench: Optional[Path] = typer.Option(None, "--from-bench", help="hwtune bench JSON: calibrate the efficiency with a measured GPU result."),
    bench_gpu: Optional[str] = typer.Option(None, "--bench-gpu", help="Catalog GPU the --from-bench results ran on, when their device names no model (onnxruntime CUDA)."),
    show_all: bool = typer.Option(False, "--all", help="List every GPU of the catalog."),
    top: int = typer.Option(10, "--top", help="Rows per table without --all."),
    as_json: bool = typer.Option(False, "--json", help="Print every estimate and input as JSON."),
    wide: bool = typer.Option(False, "--wide", "-v", help="Every column, even where the terminal is too narrow "
                              "(rows are then stacked); by default class, hosts, power and efficiency leave first."),
    price_basis: str = typer.Option("street", "--price-basis", help="street (what a buyer pays now, December 2026: listings, analyst estimates, system or cloud-derived prices) or list (launch list prices); the others stand in when one is missing."),
    gpu_price: list[str] = typer.Option([], "--gpu-price", help="Your own quote, NAME=USD (repeatable), e.g. 'L4=2100'."),
    vendor: list[str] = typer.Option([], "--vendor", help="Only GPUs of this vendor (repeatable): AMD, Intel, NVIDIA."),
    hours_per_day: float = typer.Option(12.0, "--hours-per-day", help="Hours a day at full load (cloud billing and power); 12 = a serving fleet at 50% utilization (docs/recommend.md)."),
    years: float = typer.Option(3.0, "--years", help="Years of ownership to compare with renting."),
    kwh_price: float = typer.Option(0.15, "--kwh-price", help="Electricity price, USD per kWh."),
    desktop_host_usd: float = typer.Option(1500.0, "--desktop-host-usd", help="Desktop host without GPUs (desktop and workstation cards)."),
    desktop_max_cards: int = typer.Option(2, "--desktop-max-cards", help="Cards per desktop host (cards wider than 2 slots: 1)."),
    server_host_usd: float = typer.Option(3500.0, "--server-host-usd", help="PCIe GPU server without GPUs (server PCIe cards)."),
    server_max_cards: int = typer.Option(4, "--server-max-cards", help="Cards per PCIe server."),
    baseboard_usd: float = typer.Option(60000.0, "--baseboard-usd", help="SXM/OAM baseboard server without GPUs."),
    baseboard_max_cards: int = typer.Option(8, "--baseboard-max-cards", help="Modules per baseboard server."),
    pipeline_result: Optional[Path] = typer.Option(None, "--pipeline-result", help="Saved 'hwtune bench --pipeline image --json': note each setup whose host CPUs cannot feed its GPUs."),
) -> None:
    def go() -> int:
        from hwtune.recommend.catalog import PRECISIONS
        from hwtune.recommend.costs import UsageOptions
        from hwtune.recommend.engine import Request, recommend
        from hwtune.recommend.jsonout import to_json
        from hwtune.recommend.render import render
        from hwtune.recommend.setups import HostCosts

        if model is not None:
            require_extra("--model", ("onnx",))
            if not model.is_file():
                raise ConfigError(f"--model {model}: no such file")
        choice("--precision", precision, PRECISIONS)
        choice("--accumulate", accumulate, ("fp32", "fp16"))
        choice("--price-basis", price_basis, ("street", "list"))
        for label, value in (("--budget", budget), ("--target-fps", target_fps), ("--latency-ms", latency_ms),
                             ("--seq-len", seq_len), ("--ttft", ttft), ("--tpot", tpot),
                             ("--input-tokens", input_tokens), ("--output-tokens", output_tokens)):
            number(label, value)  # NaN and infinity are no amount; the ranges are the engine's
        for label, value in (("--desktop-host-usd", desktop_host_usd), ("--server-host-usd", server_host_usd),
                             ("--baseboard-usd", baseboard_usd)):
            number(label, value, low=0)
        for label, value in (("--hours-per-day", hours_per_day), ("--years", years),
                             ("--kwh-price", kwh_price), ("--desktop-max-cards", desktop_max_cards),
                             ("--server-max-cards", server_max_cards),
                             ("--baseboard-max-cards", baseboard_max_cards), ("--top", top)):
            number(label, value, low=0, low_open=True, high=24 if label == "--hours-per-day" else MAX_NUMBER)
        req = Request(
            workload=workload, model_path=model, model_shapes=tuple(shape), precision=precision,
            accumulate=accumulate, batch=batch, budget_usd=budget, target_fps=target_fps, latency_slo_ms=latency_ms,
            bench_path=from_bench, bench_gpu=bench_gpu, price_basis=price_basis,
            price_overrides=parse_gpu_prices(gpu_price), vendors=tuple(vendor), classes=tuple(gpu_class),
            seq_len=seq_len, ttft_ms=ttft, tpot_ms=tpot, input_tokens=input_tokens,
            output_tokens=output_tokens, pipeline_path=pipeline_result,
            hosts=HostCosts(desktop_usd=desktop_host_usd, desktop_max_cards=desktop_max_cards,
                            pcie_server_usd=server_host_usd, pcie_server_max_cards=server_max_cards,
                            baseboard_usd=baseboard_usd, baseboard_max_cards=baseboard_max_cards),
            usage=UsageOptions(hours_per_day=hours_per_day, years=years, kwh_price_usd=kwh_price),
        )
        rec = recommend(req)
        if as_json:
            print_json(to_json(rec, show_all, top))
        else:
            render(rec, out, show_all, top, wide)
        return EXIT_OK

    run_command(go)


def register(app: typer.Typer) -> None:
    app.command("recommend", help=HELP)(recommend_command)
