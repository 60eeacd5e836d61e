"""The command as a user runs it: tables, JSON, --model, errors."""

from __future__ import annotations

import json
import re

import pytest
import typer
from typer.testing import CliRunner

from hwtune.cli_recommend import register
from hwtune.recommend.catalog import load_catalog

app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    """Root with one sub-command, as the project CLI has many."""


def run(*args: str):
    return CliRunner().invoke(app, ["recommend", *args], env={"COLUMNS": "160"})


def test_budget_table_chart_comparison_cloud_and_caveats():
    r = run("--budget", "5000")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "Best setups within $5,000" in out
    assert "█" in out and "Throughput per dollar" in out
    assert "Best server setup vs best desktop setup" in out and "server / desktop" in out
    assert "Cloud vs buy" in out and "Break-even" in out
    assert "365 days x 12 h at full load = 4,380 h (50% utilization assumed)" in out
    assert "GeForce driver licence" in out
    assert "Prices are dated estimates (street basis" in out


def test_json_all_lists_every_gpu_and_traces_figures_to_rows():
    r = run("--workload", "resnet50", "--precision", "int8", "--all", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert len(doc["estimates"]) == len(load_catalog().gpus)
    e = next(x for x in doc["estimates"] if x["gpu"] == "L4")
    for key in ("gpu", "class", "precision", "throughput_per_s", "price_usd", "peak_tops",
                "compute_efficiency", "efficiency_source", "data_row", "price_as_of"):
        assert key in e
    assert e["class"] == "server" and e["precision_executed"] == "int8"
    assert e["data_row"]["file"] == "gpus.csv" and e["data_row"]["source"]
    # The throughput follows from the figures the document shows.
    assert e["throughput_per_s"] == pytest.approx(min(e["compute_limit_per_s"], e["memory_limit_per_s"]), rel=1e-5)
    assert e["compute_limit_per_s"] == pytest.approx(
        e["peak_tops"] * 1e12 * e["compute_efficiency"] * doc["inputs"]["workload"]["compute_scale"]
        / e["flops_per_inference"], rel=1e-5)
    assert doc["inputs"]["workload"]["data_row"]["file"] == "workloads.csv"


def test_json_is_deterministic():
    args = ("--budget", "20000", "--workload", "bert-base", "--json")
    assert run(*args).output == run(*args).output


def test_json_cloud_vs_buy_states_year_convention():
    doc = json.loads(run("--budget", "5000", "--hours-per-day", "8", "--years", "2",
                         "--kwh-price", "0.3", "--json").output)
    cvb = doc["cloud_vs_buy"][0]
    assert cvb["year_convention"] == "365 days x 8 h = 2920 h"
    assert cvb["power_kwh_per_year"] == pytest.approx(cvb["setup"]["power_w"] / 1000 * 2920, rel=1e-5)
    assert cvb["own_usd_total"] == pytest.approx(
        cvb["setup"]["total_cost_usd"] + 2 * cvb["power_usd_per_year"], rel=1e-5)


def test_gpu_price_override_and_host_options_change_the_packing():
    doc = json.loads(run("--budget", "5000", "--vendor", "NVIDIA", "--gpu-price", "L4=1000",
                         "--server-host-usd", "1000", "--json").output)
    l4 = next(s for s in doc["budget_setups"] if s["gpu"] == "L4")
    assert (l4["cards"], l4["total_cost_usd"]) == (4, 5000)
    assert all(e["vendor"] == "NVIDIA" for e in doc["estimates"])


@pytest.mark.parametrize("args,message", [
    (("--precision", "fp6"), "--precision: 'fp6' is not one of fp32, fp16, bf16, int8, fp8, fp4"),
    (("--workload", "gpt9"), "--workload: unknown workload 'gpt9'"),
    (("--gpu-price", "L4"), "--gpu-price: expected NAME=USD"),
    (("--gpu-price", "Nope=100"), "--gpu-price: unknown GPU 'Nope'"),
    (("--budget", "-5"), "--budget: must be positive"),
    (("--hours-per-day", "25"), "--hours-per-day: 25 is out of range"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def _tiny_model(path, dims):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["y"], ["z"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))


def test_model_is_counted_with_the_shared_counter_at_batch_one(tmp_path):
    path = tmp_path / "tiny.onnx"
    _tiny_model(path, ["batch", 3, 32, 32])
    doc = json.loads(run("--model", str(path), "--json").output)
    wl = doc["inputs"]["workload"]
    # Conv: 32 x 32 x 8 outputs x 27 MACs x 2 = 442,368; Relu: 8,192 elements x 1.
    assert wl["flops_per_inference"] == 442368 + 8192
    assert wl["input"] == "x=1x3x32x32"
    assert wl["params"] == 216


def test_model_with_a_dynamic_non_batch_dim_needs_a_shape(tmp_path):
    path = tmp_path / "tiny.onnx"
    _tiny_model(path, ["batch", 3, "h", "w"])
    r = run("--model", str(path))
    assert r.exit_code == 2 and "dynamic dimensions" in r.output
    r = run("--model", str(path), "--shape", "x=1x3x64x64", "--json")
    assert json.loads(r.output)["inputs"]["workload"]["flops_per_inference"] == 4 * (442368 + 8192)


def test_help_has_examples():
    r = CliRunner().invoke(app, ["recommend", "--help"], env={"COLUMNS": "160"})
    assert "hwtune recommend --budget 5000" in r.output


def _estimates(*args: str) -> dict:
    r = run(*args, "--all", "--json")
    assert r.exit_code == 0, r.output
    return {e["gpu"]: e for e in json.loads(r.output)["estimates"]}


def test_llm_json_interface_per_gpu_tokens_and_replicas():
    est = _estimates("--workload", "llama2-70b", "--precision", "fp8")
    assert len(est) == len(load_catalog().gpus)
    h200, l4 = est["H200 SXM 141GB"], est["L4"]
    for e in (h200, l4):
        for key in ("gpu", "class", "precision", "precision_executed", "throughput_per_s", "unit",
                    "gpus_per_replica"):
            assert key in e
        assert e["unit"] == "tokens/s" and e["precision"] == "fp8"
    assert h200["gpus_per_replica"] <= 2 and l4["gpus_per_replica"] >= 4
    assert h200["llm"]["weights_gb"] == pytest.approx(68.98)
    assert est["A100 SXM4 80GB"]["precision_executed"] == "fp16"
    assert "no FP8 units" in est["A100 SXM4 80GB"]["fallback"]


def test_class_filter_applies_to_the_estimate_list():
    est = _estimates("--workload", "llama2-70b", "--precision", "fp8", "--class", "server")
    assert est and {e["class"] for e in est.values()} == {"server"}
    est = _estimates("--class", "desktop", "--class", "workstation")
    assert {e["class"] for e in est.values()} == {"desktop", "workstation"}


def test_fleet_plan_uses_server_cards_unless_desktop_is_asked_for():
    r = run("--workload", "bert-large", "--precision", "int8", "--target-fps", "100000", "--json")
    doc = json.loads(r.output)
    assert doc["target_setups"] and {s["class"] for s in doc["target_setups"]} == {"server"}
    assert doc["inputs"]["fleet_classes"] == ["server"]
    assert any("server-class" in w for w in doc["warnings"])
    doc = json.loads(run("--workload", "bert-large", "--precision", "int8", "--target-fps", "100000",
                         "--class", "server", "--class", "desktop", "--json").output)
    assert "desktop" in {s["class"] for s in doc["target_setups"]}


def test_judgement_efficiency_is_marked_and_not_ranked_first():
    r = run("--budget", "5000", "--json", "--price-basis", "list")  # Arc A770 has a 2022 list price only
    doc = json.loads(r.output)
    setups = doc["budget_setups"]
    assert not setups[0]["efficiency_judgement"]
    flags = [s["efficiency_judgement"] for s in setups]
    assert flags == sorted(flags)  # evidence-based setups first, judgement ones after
    arc = next(s for s in setups if s["gpu"] == "Arc A770 16GB")
    assert arc["efficiency_judgement"]
    est = json.loads(run("--workload", "llama2-70b", "--precision", "fp8", "--all", "--json").output)["estimates"]
    priced = [e["efficiency_judgement"] for e in est if e["throughput_per_usd"] is not None]
    assert priced == sorted(priced)  # judgement ones (if any) after the others
    table = run("--budget", "5000", "--top", "20", "--price-basis", "list").output
    line = next(x for x in table.splitlines() if re.match(r"\s*\d+\s+Arc A770", x))  # a table row: rank, GPU
    assert "judgement!" in line


def test_seq_len_sets_the_encoder_token_count():
    default = _estimates("--workload", "bert-large", "--precision", "int8")["L4"]
    padded = _estimates("--workload", "bert-large", "--precision", "int8", "--seq-len", "384")["L4"]
    # At 384 tokens bert-large is the padded layout whose FLOPs the OpenVINO card gives (246.9 G).
    assert padded["flops_per_inference"] == pytest.approx(246.4e9, rel=1e-3)
    assert default["flops_per_inference"] < padded["flops_per_inference"]
    assert default["throughput_per_s"] > 2 * padded["throughput_per_s"]
    doc = json.loads(run("--workload", "bert-large", "--json").output)
    assert doc["inputs"]["workload"]["seq_len_basis"].startswith("fit:")


def test_cost_per_million_tokens_owned_and_cloud():
    h100 = _estimates("--workload", "llama3.1-8b", "--precision", "fp8")["H100 SXM5 80GB"]
    c = h100["cost_per_million"]
    assert c["per"] == "million tokens" and c["owned_usd"] > 0 and c["cloud_usd"] > 0
    # Cloud: the cheapest current offer's GPU-hour over the tokens that hour makes.
    hour = c["cloud_offer"]["usd_per_gpu_hour"]
    assert c["cloud_usd"] == pytest.approx(hour / (h100["throughput_per_s"] * 3600) * 1e6, rel=1e-4)


@pytest.mark.parametrize("args,message", [
    (("--vendor", "Qualcomm"), "--vendor: unknown vendor 'Qualcomm' (known: AMD, Intel, NVIDIA)"),
    (("--class", "gaming"), "--class: unknown class 'gaming' (known: server, workstation, desktop)"),
    (("--workload", "gpt9"), "llama2-70b, llama3.1-8b, gptj-6b, mixtral-8x7b)"),
    (("--workload", "bert-large", "--seq-len", "-3"), "--seq-len: must be positive"),
    (("--workload", "bert-large", "--seq-len", "500"), "more than bert-large's maximum of 384"),
    (("--seq-len", "100"), "--seq-len: applies to encoder workloads"),
    (("--tpot", "40"), "--tpot: applies to LLM workloads"),
    (("--workload", "llama2-70b", "--ttft", "0"), "--ttft: must be positive"),
    (("--workload", "llama2-70b", "--latency-ms", "50"), "for an LLM give --ttft and/or --tpot"),
    (("--gpu-price", "L4=-5"), "--gpu-price: expected NAME=USD with a positive price"),
])
def test_bad_values_name_the_option_and_the_known_values(args, message):
    r = run(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_help_groups_the_options_in_panels():
    from hwtune.cli import app as hwtune_app  # the whole CLI, with its plain help formatter

    text = CliRunner().invoke(hwtune_app, ["recommend", "--help"], env={"COLUMNS": "100"}).output
    panels = ["What to run:", "What to buy with:", "Prices:", "Output:"]
    at = [text.index(p) for p in panels]
    assert at == sorted(at)
    # each option under its own panel: --workload before "What to buy with", --budget after it, ...
    for option, panel in (("--workload", 0), ("--budget", 1), ("--gpu-price", 2), ("--json", 3)):
        where = text.index("  " + option)
        assert at[panel] < where and (panel == 3 or where < at[panel + 1]), option


@pytest.mark.parametrize("request_args,field", [
    ({"workload": "gpt9"}, "workload"),
    ({"vendors": ("Qualcomm",)}, "vendors"),
    ({"workload": "llama2-70b", "latency_slo_ms": 50.0}, "latency_slo_ms"),
    ({"bench_gpu": "Nope"}, "bench_gpu"),
    ({"budget_usd": -5.0}, "budget_usd"),
])
def test_domain_errors_name_the_request_field_not_an_option(request_args, field):
    from hwtune.recommend.engine import Request, recommend
    from hwtune.recommend.invalid import InvalidRequest

    with pytest.raises(InvalidRequest) as info:
        recommend(Request(**request_args))
    assert info.value.field == field and "--" not in info.value.message


def test_every_request_field_has_an_option_to_name_it():
    from dataclasses import fields

    from hwtune.cli_recommend import OPTION_NAMES
    from hwtune.recommend.engine import Request

    nested = {"hosts", "usage"}  # built from options of their own, none of which the engine names
    assert {f.name for f in fields(Request)} - nested <= set(OPTION_NAMES)


def test_no_error_raised_in_the_recommend_package_names_an_option():
    import re
    from pathlib import Path

    import hwtune.recommend

    raises = re.compile(r"raise \w+\((?:[^()]|\([^()]*\))*?\"[^\"]*--[a-z]", re.S)
    for path in Path(hwtune.recommend.__path__[0]).glob("*.py"):
        assert not raises.search(path.read_text()), path.name
