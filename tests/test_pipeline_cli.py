"""`hwtune bench run --pipeline image` end to end, as a user runs it."""

from __future__ import annotations

import json
import os

import pytest

from bench_helpers import invoke_bench as invoke
from pipeline_helpers import hostile_folder

pytest.importorskip("PIL", reason="the pipeline extra (Pillow) is not installed")
SHORT = ("--time", "0.3", "--min-count", "3", "--decoder", "pillow")


def _json(*args: str) -> dict:
    r = invoke("run", "--pipeline", "image", *SHORT, "--json", "--no-save", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_plate_classifier_prints_stages_limiting_stage_and_cores(data_dir):
    r = invoke("run", "--pipeline", "image", "--model", "plate-classifier", "--backend", "onnxruntime", *SHORT)
    assert r.exit_code == 0, r.output
    for needle in ("Stages with pillow", "decode", "resize", "normalise", "infer", "postprocess", "end to end",
                   "cores@", "limiting stage:", "QPS on", "NCHW float32 3x64x128", "saved:"):
        assert needle in r.output, needle
    assert "Traceback" not in r.output


def test_a_model_slower_than_decoding_is_named_the_limit(data_dir):
    doc = _json("--model", "fixed:20ms")
    run = doc["decoders"][0]
    assert [s["stage"] for s in run["stages"]] == ["read", "decode", "resize", "normalise", "infer", "postprocess"]
    assert run["bottleneck"]["limiting_stage"] == "infer"
    assert run["finding"].startswith("the model limits this host")
    infer = next(s for s in run["stages"] if s["stage"] == "infer")
    assert infer["p50_ms"] >= 20.0 and infer["on_host_cpu"] is False
    assert run["requests"] >= 3 and "1920x1080 jpeg" in run["decode_by_kind"]
    assert doc["model"]["input"] == "NCHW float32 3x224x224"


def test_the_users_folder_with_hostile_files_is_measured_and_the_refusals_counted(tmp_path, data_dir):
    bad = hostile_folder(tmp_path / "in")
    doc = _json("--model", "fixed:1ms", "--images", str(tmp_path / "in"))
    im = doc["images"]
    assert im["count"] == 3 and im["refused_count"] == len(bad)
    assert {r["file"] for r in im["refused"]} == set(bad)
    assert set(doc["decoders"][0]["decode_by_kind"]) == {"160x120 jpeg", "160x120 png", "160x120 webp"}
    r = invoke("run", "--pipeline", "image", *SHORT, "--model", "fixed:1ms", "--images", str(tmp_path / "in"),
               "--no-save")
    assert r.exit_code == 0 and f"refused: {len(bad)} file(s)" in r.output


@pytest.mark.parametrize("args,needle", [
    (("--images", "{empty}"), "no JPEG, PNG or WebP image to use"),
    (("--model", "mlp"), "is not an image of fixed size"),
    (("--decoder", "nosuch"), "unknown image decoder 'nosuch'"),
    (("--image-size", "8k"), "unknown image size '8k'"),
    (("--image-format", "gif"), "unknown image format 'gif'"),
    (("--resizer", "magick"), "unknown resizer 'magick'"),
    (("--model", "fixed:2ms+1ms"), "the pipeline runs batch 1"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path, data_dir):
    (tmp_path / "empty").mkdir()
    args = tuple(a.replace("{empty}", str(tmp_path / "empty")) for a in args)
    r = invoke("run", "--pipeline", "image", *SHORT, "--no-save", *args)
    assert r.exit_code == 2, r.output
    assert needle in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["tune", "compare", "devices", "export"])
def test_the_pipeline_goes_with_run_and_serve_only(command, data_dir):
    r = invoke(command, "--pipeline", "image", "--no-save")
    assert r.exit_code == 2 and "No such option: --pipeline" in r.output, r.output


def test_pipeline_options_without_pipeline_are_refused(data_dir):
    r = invoke("--images", "/tmp", "--no-save")
    assert r.exit_code == 2 and "go with --pipeline image" in r.output


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="--pin-stages needs 2 usable cores")
def test_pin_stages_measures_the_pipelined_rate_unpinned_and_pinned(data_dir):
    doc = _json("--model", "fixed:5ms", "--pin-stages")
    pin = doc["pin_stages"]
    cpus = sorted(os.sched_getaffinity(0))
    assert pin["model_cores"] == cpus[-1:] and pin["preprocess_cores"] == cpus[:-1]
    assert len(pin["pinned_rps"]) == 3 and all(x > 0 for x in pin["pinned_rps"] + pin["unpinned_rps"])
    # a 5 ms model caps the pipelined rate at 200 requests/s, pinned or not
    assert max(pin["pinned_rps"] + pin["unpinned_rps"]) <= 205


def test_server_scenario_reports_the_model_alone_and_behind_the_pipeline(data_dir):
    pytest.importorskip("mlperf_loadgen", reason="the bench extra (mlcommons-loadgen) is not installed")
    r = invoke("serve", "--pipeline", "image", "--decoder", "pillow", "--image-size", "480p", "--scenario", "server",
               "--model", "fixed:5ms", "--latency-slo", "100ms", "--qps", "20", "--duration", "1s", "--json")
    assert r.exit_code in (0, 6), r.output  # 6: measured, but LoadGen called a run INVALID (a busy machine)
    doc = json.loads(r.output)
    alone, piped = doc["results"]
    assert r.exit_code == (0 if alone["valid"] and piped["valid"] else 6)  # errors.EXIT_MEANINGS
    assert alone["pipeline"] is None and piped["pipeline"].startswith("image pipeline (pillow decode")
    assert alone["served_model"] == piped["served_model"] == "fixed:5ms"
    assert piped["model"] == "fixed:5ms+pipeline"
    # the pipeline's decode and resize come before the 5 ms model: its latency is longer
    assert piped["latency_ms"]["p50"] > alone["latency_ms"]["p50"]
