"""--from-bench: file shapes, device matching, measured efficiencies replacing data ones."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SAMPLES, snapshot
from hwtune.errors import ConfigError
from hwtune.recommend.calibrate import calibrate_point, match_gpu, parse_bench, read_bench
from hwtune.recommend.catalog import load_catalog
from hwtune.recommend.engine import Request, recommend

CAT = load_catalog()


def result(**changes):
    base = {"backend": "onnxruntime", "device": "cuda", "device_name": "Tesla T4",
            "model": "resnet50", "batch": 32, "mode": "sync", "precision_requested": "fp16",
            "precision_executed": "fp16", "throughput_fps": 3500.0,
            "latency_ms": {"p50": 9.0, "p90": 9.4, "p99": 10.1}, "noisy": False}
    base.update(changes)
    return base


@pytest.mark.parametrize("doc", [result(), [result()], {"results": [result()]}])
def test_accepts_one_result_a_list_or_a_results_object(doc):
    (p,) = parse_bench(doc, "run.json")
    assert p.device == "Tesla T4" and p.throughput_fps == 3500


def test_device_names_from_the_real_nvidia_smi_fixtures_match_the_catalog():
    names = set()
    xmls = [snapshot("gpu-2xa5000-xml") / "cmd" / "nvidia-smi_-q_-x.xml", *sorted(SAMPLES.glob("nvidia-smi-xml/*.xml"))]
    for xml in xmls:
        names |= set(re.findall(r"<product_name>([^<]+)</product_name>", xml.read_text()))
    assert len(names) >= 3  # the A5000 snapshot and the XML samples
    for name in names:
        assert match_gpu(name, CAT.gpus) is not None, name


@pytest.mark.parametrize("device,gpu", [
    ("NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB"), ("NVIDIA H100 80GB HBM3", "H100 SXM5 80GB"),
    ("Intel(R) Arc(TM) A770 Graphics", "Arc A770 16GB"), ("NVIDIA A10", "A10"),
    ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090"), ("NVIDIA A10G", None), ("GPU.0", None),
])
def test_device_matching(device, gpu):
    m = match_gpu(device, CAT.gpus)
    assert (m.name if m else None) == gpu


def test_efficiency_is_achieved_over_catalog_peak():
    # resnet50 (8.216 GFLOP) at 3,500/s = 28.76 TFLOP/s of the T4's 65 TF FP16 = 0.4424
    (p,) = parse_bench(result(), "run.json")
    c = calibrate_point(p, CAT, "fp32")
    assert c.accepted and c.gpu == "Tesla T4"
    assert c.efficiency == pytest.approx(3500 * 8.216e9 / 65e12)


def test_bench_flop_fields_are_used():
    (p,) = parse_bench(result(model="plate-classifier", flops_per_frame=206440996,
                              throughput_fps=100000.0), "r")
    assert calibrate_point(p, CAT, "fp32").achieved_tops == pytest.approx(20.6440996)
    (p,) = parse_bench(result(model="custom", gflops_per_s=13000.0), "r")
    assert calibrate_point(p, CAT, "fp32").efficiency == pytest.approx(13 / 65)


@pytest.mark.parametrize("changes,why", [
    ({"device": "CPU", "device_name": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"},
     "CPU measurement cannot calibrate GPU"),
    ({"device_name": "NVIDIA A10G"}, "not a GPU of the catalog"),
    ({"model": "custom"}, "no FLOP count"),
    ({"throughput_fps": 30000.0}, "above the catalog peak"),
    ({"device_name": "Tesla V100-SXM2-16GB", "precision_executed": "int8"}, "has no int8 path"),
])
def test_results_that_cannot_calibrate_say_why(changes, why):
    (p,) = parse_bench(result(**changes), "r")
    c = calibrate_point(p, CAT, "fp32")
    assert not c.accepted and why in c.note


def test_measured_efficiency_replaces_the_data_one_for_the_family(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"results": [result(), result(device="CPU", device_name="CPU")]}))
    base = recommend(Request(precision="fp16"))
    rec = recommend(Request(precision="fp16", bench_path=path))
    by = {e.gpu.name: e for e in rec.estimates}
    t4 = by["Tesla T4"]
    assert t4.efficiency_source == "measured"
    assert t4.throughput_per_s == pytest.approx(3500, rel=1e-6)  # compute bound: reproduces the run
    assert by["GeForce RTX 2080 Ti"].efficiency.compute == pytest.approx(t4.efficiency.compute)
    assert {e.gpu.name: e for e in base.estimates}["L4"].throughput_per_s == by["L4"].throughput_per_s
    assert any("ignored: CPU result" in w for w in rec.warnings)


def test_only_cpu_results_say_nothing_was_calibrated(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(result(device="CPU", device_name="AMD EPYC 7451 24-Core Processor")))
    rec = recommend(Request(bench_path=path))
    assert any("no result could calibrate a GPU" in w for w in rec.warnings)
    assert all(e.efficiency_source == "data" for e in rec.estimates)


@pytest.mark.parametrize("text,message", [
    ("{not json", "not JSON"), ('"a string"', "expected a result object"),
    ('[{"throughput_fps": -3}]', "throughput_fps: not a positive number"),
])
def test_bad_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "run.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_bench(path)
    assert "\n" not in info.value.message and str(path) in info.value.message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        read_bench(tmp_path / "nope.json")


def test_provider_only_device_names_need_bench_gpu():
    (p,) = parse_bench(result(device_name="CUDAExecutionProvider (onnxruntime 1.31.1)"), "r")
    c = calibrate_point(p, CAT, "fp32")
    assert not c.accepted and "--bench-gpu" in c.note
    c = calibrate_point(p, CAT, "fp32", bench_gpu="Tesla T4")
    assert c.accepted and c.gpu == "Tesla T4"


def test_real_bench_cpu_run_is_reported_not_used(tmp_path):
    # The shape hwtune bench writes (a CPU run on the development VM, trimmed).
    doc = {"command": "bench", "results": [{
        "backend": "onnxruntime", "device": "CPU",
        "device_name": "CPUExecutionProvider (onnxruntime 1.31.1)", "model": "plate-classifier",
        "batch": 8, "mode": "sync", "precision_requested": "fp32", "precision_executed": "fp32",
        "throughput_fps": 215.481, "latency_ms": {"p50": 37.0, "p90": 38.0, "p99": 40.0},
        "flops_per_frame": 206440996, "gflops_per_s": 44.484, "noisy": False}]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    rec = recommend(Request(bench_path=path))
    (c,) = rec.calibrations
    assert not c.accepted and "CPU measurement cannot calibrate GPU" in c.note
