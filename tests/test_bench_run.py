"""Short real runs of every built-in model on this machine's CPU with both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from bench_helpers import SHORT
from hwtune.bench import zoo
from hwtune.bench.devices import list_devices
from hwtune.bench.micro.runner import Bench, BenchPlan, run_bench
from hwtune.bench.modelfile import open_model, precision_path
from hwtune.bench.result import BenchResult, RunConfig, Skipped
from hwtune.errors import ConfigError
from hwtune.onnxcost import count_cost

FOUND = list_devices()
BACKENDS = sorted({d.backend for d in FOUND.devices if d.device == "CPU"})


def test_both_backends_see_the_cpu():
    assert BACKENDS == ["onnxruntime", "openvino"]


@pytest.mark.parametrize("model", list(zoo.BUILTIN))
def test_every_builtin_model_runs_on_cpu_with_both_backends(model, data_dir):
    run = run_bench(BenchPlan(model=model, devices=("CPU",), modes=("sync",), measure_peak=False, **SHORT), found=FOUND)
    assert not run.skipped
    assert sorted(r.config.backend for r in run.results) == BACKENDS
    for r in run.results:
        assert r.requests >= 3 and r.throughput_fps > 0
        assert r.latency.min_ms <= r.latency.p50_ms <= r.latency.p90_ms <= r.latency.p99_ms <= r.latency.max_ms
        # sync: one request at a time, so frames/s can't beat 1/min latency
        assert r.throughput_fps <= 1000.0 / r.latency.min_ms * 1.01
        assert r.executed.precision == "fp32"
        assert r.flops_per_frame == run.flops_per_frame > 0
        assert r.load_ms > 0 and r.first_inference_ms > 0
        j = r.to_json()
        for key in ("backend", "device", "model", "batch", "mode", "precision_requested", "precision_executed",
                    "throughput_fps", "noisy"):
            assert key in j
        assert set(j["latency_ms"]) >= {"p50", "p90", "p99"}


def test_async_batches_and_what_ran_is_asked_from_the_runtime(data_dir):
    plan = BenchPlan(model="mlp", devices=("CPU",), modes=("async",), batches=(4,), streams=(2,), measure_peak=False,
                     **SHORT)
    run = run_bench(plan, found=FOUND)
    by = {r.config.backend: r for r in run.results}
    ov, ort = by["openvino"], by["onnxruntime"]
    assert ov.executed.streams == 2 and ov.executed.requests == 2
    assert ov.executed.threads and ov.executed.threads >= 1
    assert ort.executed.requests == 2 and ort.executed.providers[0] == "CPUExecutionProvider"
    assert all(r.config.batch == 4 for r in run.results)
    assert ov.flops_per_frame == count_cost(zoo.build_mlp(), {"x": (1, 784)}).flops


def test_int8_model_builds_runs_and_executes_int8(data_dir):
    source = open_model("plate-classifier", (), data_dir)
    path = precision_path(source, "int8", source.shapes(1), data_dir)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # Q/DQ count 0 FLOPs, so the int8 model counts what its float model counts, less the ReLUs
    # the quantizer folds into the uint8 range (one FLOP per element, 0.2% here).
    shapes = {"image": (1, 3, 64, 128)}
    q, f = count_cost(path, shapes).flops, count_cost(source.path, shapes).flops
    assert q < f and (f - q) / f < 0.005
    run = run_bench(BenchPlan(model="plate-classifier", devices=("CPU",), modes=("sync",), precisions=("int8",),
                              measure_peak=False, **SHORT), found=FOUND)
    assert {r.config.backend: r.executed.precision for r in run.results} == {"onnxruntime": "int8", "openvino": "int8"}


def test_openvino_reports_the_precision_it_runs_not_the_one_asked(data_dir):
    ov_cpu = next(d for d in FOUND.devices if d.backend == "openvino" and d.device == "CPU")
    if "bf16" not in ov_cpu.precisions:
        pytest.skip("this CPU has no bf16 support in OpenVINO")
    run = run_bench(BenchPlan(model="mlp", backend="openvino", modes=("sync",), precisions=("auto", "bf16"),
                              measure_peak=False, **SHORT), found=FOUND)
    executed = {r.config.precision: r.executed.precision for r in run.results}
    assert executed["bf16"] == "bf16"
    # With no hint OpenVINO picks bf16 by itself on CPUs that have it; bench says so.
    assert executed["auto"] in ("bf16", "fp32")
    assert "INFERENCE_PRECISION_HINT" in run.results[0].executed.details


def test_unsupported_precision_is_skipped_with_the_reason(data_dir):
    run = run_bench(BenchPlan(model="mlp", backend="ort", modes=("sync",), precisions=("bf16",), measure_peak=False,
                              **SHORT), found=FOUND)
    assert not run.results
    assert "does not run bf16" in run.skipped[0].reason


def test_peak_is_measured_and_the_fraction_is_plausible(data_dir):
    run = run_bench(BenchPlan(model="resnet-block", backend="ov", modes=("sync",), **SHORT), found=FOUND)
    r = run.results[0]
    assert r.peak_gflops and r.peak_gflops > 1
    # Conv kernels can beat the GEMM reference a little; far above it would mean a counting error.
    assert 0.05 < r.peak_fraction < 1.6


def test_repeat_reports_median_and_spread(data_dir):
    run = run_bench(BenchPlan(model="mlp", backend="ort", modes=("sync",), repeat=3, measure_peak=False, **SHORT),
                    found=FOUND)
    r = run.results[0]
    assert r.repeats == 3 and r.throughput_spread is not None
    assert r.throughput_spread.low <= r.throughput_fps <= r.throughput_spread.high


def test_user_model_with_dynamic_dims_needs_a_shape(tmp_path, data_dir):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Relu", ["pixels"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "dyn.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ConfigError, match=r"input 'pixels' has dynamic dimensions n x3xhxw|input 'pixels'") as err:
        open_model(str(path), (), data_dir)
    assert "--shape pixels=" in str(err.value) and "\n" not in str(err.value)
    run = run_bench(BenchPlan(model=str(path), shapes=("pixels=2x3x8x8",), backend="ort", modes=("sync",),
                              measure_peak=False, **SHORT), found=FOUND)
    assert run.results[0].config.batch == 2
    assert run.results[0].flops_per_frame == 3 * 8 * 8


def test_bad_model_file_and_bad_shape_are_one_line_errors(tmp_path, data_dir):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 10)
    for args in ((str(bad), ()), ("no-such-model", ()), ("mlp", ("x=1x785",)), ("mlp", ("x:1x784",))):
        with pytest.raises(ConfigError) as err:
            Bench(BenchPlan(model=args[0], shapes=args[1]), found=FOUND)
        assert "\n" not in str(err.value)


def test_gpu_paths_skip_without_a_gpu(data_dir):
    gpus = [d for d in FOUND.devices if d.device.split(".")[0] in ("GPU", "CUDA", "TensorRT", "NPU")]
    if not gpus:
        pytest.skip("no GPU or NPU here: onnxruntime lists no CUDA/TensorRT provider and OpenVINO lists CPU only")
    info = gpus[0]
    out = Bench(BenchPlan(model="mlp", backend=info.backend, devices=(info.device,), measure_peak=False, **SHORT),
                found=FOUND).evaluate(RunConfig(info.backend, info.device, 1, "sync", "fp32"))
    assert isinstance(out, (BenchResult, Skipped))


def test_feeds_are_deterministic():
    from hwtune.bench.feeds import make_feeds

    a = make_feeds({"x": (2, 3)}, {"x": np.float32})
    b = make_feeds({"x": (2, 3)}, {"x": np.float32})
    assert np.array_equal(a["x"], b["x"])
    ids = make_feeds({"ids": (4,)}, {"ids": np.int64})["ids"]
    assert ids.dtype == np.int64 and ids.min() >= 0


def test_backend_names_are_compared_only_inside_the_backend_modules():
    # one interface: code outside a backend module asks engines.backend(name), never tests a name
    import ast

    from hwtune.bench.engines import BACKEND_MODULES, backends

    names = {n for b in backends() for n in (b.name, b.short, *b.aliases)}
    src = Path(__file__).resolve().parents[1] / "src" / "hwtune"
    own = {f"{m.rsplit('.', 1)[1]}.py" for m in BACKEND_MODULES}  # a backend may name itself
    found = []
    for path in src.rglob("*.py"):
        if path.name in own:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for part in [node.left, *node.comparators]:
                    values = part.elts if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
                    if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                        found.append(f"{path.relative_to(src)}:{node.lineno}")
    assert not found


def test_every_backend_lists_devices_the_same_way():
    from hwtune.bench.engines import backend, backends
    from hwtune.bench.targets import DeviceInfo

    for b in backends():
        devices, _notes = b.devices()
        assert all(isinstance(d, DeviceInfo) and d.backend == b.name and "auto" in d.precisions for d in devices)
        assert backend(b.short) is b and backend(b.name.upper()) is b
