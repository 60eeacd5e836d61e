"""`hwtune bench` through its CLI: JSON/CSV fields, saving and comparing runs, export, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx
import pytest

from bench_helpers import invoke_bench as invoke

QUICK = ["--time", "0.1", "--min-count", "3"]


def test_cli_module_imports_no_runtime_at_start_up():
    import subprocess
    import sys

    code = ("import sys, hwtune.cli_bench; "
            "print([m for m in ('onnxruntime', 'openvino', 'onnx', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_backend_help_names_every_backend_module():
    # a new backend is its module and its line in BACKEND_MODULES: --backend's help follows
    from hwtune.bench.engines import backends

    text = " ".join(invoke("run", "--help").stdout.replace("│", " ").split())  # unwrapped from the panel
    assert all(n in text for b in backends() for n in (b.name, *b.aliases))


def test_bare_bench_is_bench_run(data_dir):
    args = ("--model", "mlp", "--backend", "ort", "--mode", "sync", "--batch", "1", *QUICK, "--json", "--no-save")
    bare, run = (json.loads(invoke(*pre, *args).stdout) for pre in ((), ("run",)))
    assert bare["command"] == run["command"] == "bench"  # the saved run's JSON is what it was
    assert bare["plan"] == run["plan"] and len(bare["results"]) == len(run["results"]) == 1


@pytest.mark.parametrize("old, new", [
    ("--list-devices --json", "hwtune bench devices --json"),
    ("--tune --latency-slo 40ms --model mlp", "hwtune bench tune --latency-slo 40ms --model mlp"),
    ("--export-model mlp --out m.onnx", "hwtune bench export mlp --out m.onnx"),
    ("--compare a.json b.json --json", "hwtune bench compare a.json b.json --json"),
    ("--scenario server --latency-slo 40ms --tune", "hwtune bench serve --scenario server --latency-slo 40ms --tune"),
    ("--pipeline image --scenario server", "hwtune bench serve --pipeline image --scenario server"),
    ("run --tune", "hwtune bench tune"),
])
def test_an_old_mode_flag_is_one_line_naming_the_new_command_and_exit_2(old, new, data_dir):
    r = invoke(*old.split())
    assert r.exit_code == 2 and r.stdout == "", r.output
    msg = r.stderr.strip()
    assert "\n" not in msg and msg.startswith("hwtune: error: ") and msg.endswith(new), msg
    assert not (data_dir / "bench").exists()  # nothing ran


def test_each_subcommand_takes_only_its_own_options(data_dir):
    for args in (["devices", "--model", "mlp"], ["compare", "a", "b", "--latency-slo", "4ms"],
                 ["run", "--latency-slo", "40ms"], ["tune", "--scenario", "server"], ["serve", "--batch", "2"]):
        r = invoke(*args)
        assert r.exit_code == 2 and "No such option" in r.output, (args, r.output)


def test_list_devices_json():
    r = invoke("devices", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    pairs = {(d["backend"], d["device"]) for d in doc["devices"]}
    assert {("onnxruntime", "CPU"), ("openvino", "CPU")} <= pairs


def test_json_run_carries_the_promised_fields_and_is_saved(data_dir):
    r = invoke("run", "--model", "mlp", "--backend", "ort", "--mode", "sync,async", "--batch", "1,2", *QUICK, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["results"]) == 4
    for res in doc["results"]:
        for key in ("backend", "device", "model", "batch", "mode", "precision_requested", "precision_executed",
                    "throughput_fps", "noisy"):
            assert key in res
        assert {"p50", "p90", "p99"} <= set(res["latency_ms"])
        assert res["gflops_per_s"] > 0 and res["peak_fraction"] > 0
    saved = json.loads(Path(doc["saved_to"]).read_text())
    assert saved["host"]["source"] == "probe_facts" and len(saved["host"]["digest"]) == 64
    assert saved["versions"]["onnxruntime"] and saved["created_utc"]
    assert str(data_dir) in doc["saved_to"]


def test_csv_and_compare_of_two_saved_runs(data_dir):
    r = invoke("--model", "mlp", "--backend", "ov", "--mode", "sync", *QUICK, "--csv")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("backend,device,model,batch,mode,precision_requested,precision_executed")
    assert len(lines) == 2 and lines[1].startswith("openvino,CPU,mlp,1,sync,fp32,")
    r = invoke("--model", "mlp", "--backend", "ov", "--mode", "sync", *QUICK, "--json")
    runs = sorted((data_dir / "bench" / "runs").glob("*.json"))
    assert len(runs) == 2
    r = invoke("compare", str(runs[0]), runs[1].stem, "--json")
    assert r.exit_code == 0, r.output
    cmp = json.loads(r.stdout)
    assert len(cmp["pairs"]) == 1
    assert cmp["pairs"][0]["throughput_fps"]["ratio"] > 0
    # One window each (no --repeat): no interval, so no claim either way.
    assert cmp["pairs"][0]["verdict"].startswith("cannot tell")


def test_table_output(data_dir):
    r = invoke("--model", "transformer-encoder", "--backend", "ov", "--mode", "sync", *QUICK, "--no-save")
    assert r.exit_code == 0, r.output
    assert "transformer-encoder" in r.stdout and "MFLOP per frame" in r.stdout
    assert "ov/CPU" in r.stdout and "p99 ms" in r.stdout
    assert not (data_dir / "bench" / "runs").exists()


def test_export_model(tmp_path, data_dir):
    out = tmp_path / "rb.onnx"
    r = invoke("export", "resnet-block", "--out", str(out))
    assert r.exit_code == 0, r.output
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.graph.input[0].name == "features"
    r = invoke("export", "resnet-block", "--out", str(tmp_path / "rb8.onnx"), "--precision", "int8")
    assert r.exit_code == 0
    assert "QuantizeLinear" in {n.op_type for n in onnx.load(str(tmp_path / "rb8.onnx")).graph.node}


def test_tune_prints_best_settings_within_the_budget(data_dir):
    r = invoke("tune", "--model", "mlp", "--backend", "ov", "--precision", "fp32", "--batch", "1,2",
               "--latency-slo", "200ms", *QUICK, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    (t,) = doc["tune"]
    assert t["best"]["latency_ms"]["p99"] <= 200
    assert t["points_measured"] <= t["space_size"]
    assert t["pareto"]
    assert "NUM_STREAMS" in t["settings"]["triton_config"] or "PERFORMANCE_HINT" in t["settings"]["triton_config"]
    assert "dynamic_batching" in t["settings"]["triton_config"]
    assert t["settings"]["openvino_properties"]


def test_errors_are_one_line_with_exit_code_2(tmp_path, data_dir):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    cases = [
        ["run", "--model", "no-such-model"],
        ["run", "--model", str(bad)],
        ["run", "--model", "mlp", "--shape", "x=1x3"],
        ["run", "--batch", "one"],
        ["run", "--mode", "turbo"],
        ["tune", "--latency-slo", "soon"],
        ["run", "--device", "TPU"],
        ["export", "mlp"],
        ["export", "no-such-model", "--out", str(tmp_path / "x.onnx")],
        ["compare", str(bad), str(bad)],
    ]
    for args in cases:
        extra = (*QUICK, "--no-save") if args[0] in ("run", "tune") else ()
        r = invoke(*args, *extra)
        assert r.exit_code == 2, (args, r.output)
        msg = r.stderr.strip()
        assert msg.startswith("hwtune: error: ") and "\n" not in msg, (args, msg)


def test_bench_without_psutil_is_one_line_naming_the_extra(monkeypatch, data_dir):
    # psutil comes with the bench extra too (foreign-load sampling, physical cores)
    monkeypatch.setitem(sys.modules, "psutil", None)  # import fails as if not installed
    r = invoke("--model", "mlp", "--backend", "ort", "--mode", "sync", *QUICK, "--no-save")
    assert r.exit_code == 2, r.output
    msg = r.stderr.strip()
    assert "\n" not in msg and "psutil" in msg and "hwtune[bench]" in msg, msg


def test_tune_with_nothing_within_the_budget_is_measured_not_valid_exit_6(data_dir):
    # No inference finishes in a microsecond: every point is measured, none is within the budget.
    r = invoke("tune", "--model", "mlp", "--backend", "ov", "--precision", "fp32", "--batch", "1",
               "--latency-slo", "1us", *QUICK, "--json", "--no-save")
    assert r.exit_code == 6, r.output
    (t,) = json.loads(r.stdout)["tune"]
    assert t["best"] is None and t["pareto"]
