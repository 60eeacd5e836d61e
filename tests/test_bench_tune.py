"""The tuner's search on a known landscape, the Pareto front, and the settings it prints."""

from __future__ import annotations

import pytest

from hwtune.bench.metrics import LatencyStats
from hwtune.bench.micro.advice import queue_delay_us, settings, triton_snippet
from hwtune.bench.micro.runner import BenchPlan
from hwtune.bench.micro.tune import Space, better, pareto_front, sweep_device, tune_device
from hwtune.bench.noise import LoadSample
from hwtune.bench.result import BenchResult, Executed, RunConfig, Skipped
from hwtune.bench.targets import DeviceInfo

QUIET = LoadSample(1.0, 0.0, 0.0)
INFO = DeviceInfo("openvino", "CPU", "test cpu", ("fp32", "bf16", "int8", "auto"))
ORT_INFO = DeviceInfo("onnxruntime", "CPU", "test cpu", ("fp32", "bf16", "int8", "auto"))
SPACE = Space(("fp32", "bf16", "int8"), (1, 2, 4, 8, 16), (1, 2, 4), (1, 2))


def result(cfg: RunConfig, fps: float, p99: float, threads: int | None = None) -> BenchResult:
    lat = LatencyStats(100, p99 * 0.8, p99 * 0.9, p99, p99 * 0.8, p99 * 0.5, p99 * 1.1)
    ex = Executed(cfg.precision, cfg.streams or 1, cfg.streams, threads or cfg.threads)
    return BenchResult(cfg, "m", "cpu", ex, fps, lat, 100, 1.0, 1, 10.0, 1.0, 10**8, False, None, QUIET, QUIET)


def landscape(cfg: RunConfig) -> tuple[float, float]:
    """Throughput with a precision ranking, a batch optimum at 8, and coupled requests and threads
    (the optimum needs both changed from a one-request, all-threads start); p99 grows with batch and
    with requests in flight."""
    prec = {"fp32": 1.0, "bf16": 1.8, "int8": 3.0}[cfg.precision]
    batch = {1: 0.55, 2: 0.7, 4: 0.85, 8: 1.0, 16: 0.93}[cfg.batch]
    # requests x threads couple. onnxruntime (threads per run): 2 runs of 1 thread fill 2 cores best,
    # 2 x 2 oversubscribes. OpenVINO (threads shared by streams): 2 streams on 2 threads best.
    if cfg.backend == "onnxruntime":
        pars = {(1, 1): 0.5, (1, 2): 0.8, (2, 1): 1.0, (2, 2): 0.7, (4, 1): 0.9, (4, 2): 0.6}
    else:
        pars = {(1, 1): 0.5, (1, 2): 0.8, (2, 2): 1.0}
    par = pars[(cfg.streams or 1, cfg.threads)]
    fps = 1000 * prec * batch * par
    p99 = cfg.batch * (cfg.streams or 1) / fps * 1000 * 1.2
    return fps, p99


class FakeBench:
    """Bench's evaluate/supports on a synthetic landscape; records the window lengths asked for."""

    def __init__(self) -> None:
        self.plan = BenchPlan(time_s=1.0)
        self.windows: list[float] = []

    def supports(self, cfg: RunConfig) -> str | None:
        if cfg.backend == "openvino" and cfg.streams and cfg.streams > cfg.threads:
            return "more streams than threads"  # the rule Bench.supports applies
        return None

    def evaluate(self, cfg: RunConfig, on_phase=None, time_s=None):
        reason = self.supports(cfg)
        if reason:
            return Skipped(cfg, reason)  # as Bench.evaluate does, at no cost
        self.windows.append(time_s or self.plan.time_s)
        return result(cfg, *landscape(cfg))


@pytest.mark.parametrize("info,points", [(INFO, 45), (ORT_INFO, 90)])
def test_tuner_reaches_95_percent_of_the_sweep_in_a_third_of_its_time(info, points):
    sweep_bench, tune_bench = FakeBench(), FakeBench()
    swept = sweep_device(sweep_bench, info, None, space=SPACE)
    tuned = tune_device(tune_bench, info, None, space=SPACE)
    assert swept.space_size == points
    assert tuned.best.throughput_fps >= 0.95 * swept.best.throughput_fps
    assert sum(tune_bench.windows) <= sum(sweep_bench.windows) / 3
    assert len(tuned.evaluated) < points / 3


def test_tuner_respects_the_latency_budget():
    slo = 5.0  # rules out the unconstrained best (int8, batch 8, 2 requests: 6.4 ms)
    swept = sweep_device(FakeBench(), INFO, slo, space=SPACE)
    tuned = tune_device(FakeBench(), INFO, slo, space=SPACE)
    assert swept.best is not None and tuned.best is not None
    assert tuned.best.latency.p99_ms <= slo
    assert swept.best.throughput_fps < max(r.throughput_fps for r in swept.evaluated)
    assert tuned.best.throughput_fps >= 0.95 * swept.best.throughput_fps
    assert tuned.meets_slo


def test_no_configuration_meets_an_impossible_budget():
    tuned = tune_device(FakeBench(), INFO, 0.001, space=SPACE)
    assert tuned.best is None and not tuned.meets_slo


def test_better_orders_by_budget_then_throughput():
    cfg = RunConfig("openvino", "CPU", 1, "sync", "fp32")
    fast_slow = result(cfg, 200, 50)
    slow_fast = result(cfg, 100, 5)
    assert better(fast_slow, slow_fast, None)
    assert better(slow_fast, fast_slow, 10.0)
    assert not better(result(cfg, 101, 5), slow_fast, None, margin=0.02)


def test_pareto_front_keeps_only_undominated_points():
    cfg = RunConfig("openvino", "CPU", 1, "sync", "fp32")
    pts = [result(cfg, 100, 1), result(cfg, 90, 2), result(cfg, 300, 3), result(cfg, 250, 4), result(cfg, 400, 10)]
    front = pareto_front(pts)
    assert [(r.throughput_fps, r.latency.p99_ms) for r in front] == [(100, 1), (300, 3), (400, 10)]


def test_settings_give_runtime_options_and_a_triton_snippet():
    ov = result(RunConfig("openvino", "CPU", 8, "async", "bf16", streams=2, threads=2), 500, 12.0)
    s = settings(ov, slo_ms=40.0, model_name="plates")
    assert s["openvino_properties"] == {"INFERENCE_PRECISION_HINT": "bf16", "NUM_STREAMS": "2",
                                        "INFERENCE_NUM_THREADS": "2"}
    snippet = s["triton_config"]
    assert 'backend: "openvino"' in snippet and "max_batch_size: 8" in snippet
    assert "preferred_batch_size: [ 8 ]" in snippet
    assert "instance_group [ { count: 2, kind: KIND_CPU } ]" in snippet
    # queue delay: one batch's median (9.6 ms), within the 40 - 12 ms of budget left
    assert queue_delay_us(ov, 40.0) == 9600
    assert queue_delay_us(ov, 12.5) == 500
    ort = result(RunConfig("onnxruntime", "CPU", 1, "sync", "fp32", threads=2), 100, 3.0)
    s = settings(ort)
    assert s["onnxruntime_session_options"]["intra_op_num_threads"] == 2
    assert 'key: "intra_op_thread_count" value: { string_value: "2" }' in triton_snippet(ort, None)


@pytest.mark.parametrize("text,ms", [("40ms", 40.0), ("40 ms", 40.0), ("0.04s", 40.0), ("40", 40.0), ("500us", 0.5)])
def test_latency_slo_parsing(text, ms):
    from hwtune.cli_bench_common import parse_slo

    assert parse_slo(text) == pytest.approx(ms)


def test_bad_latency_slo_is_a_config_error():
    from hwtune.cli_bench_common import parse_slo
    from hwtune.errors import ConfigError

    with pytest.raises(ConfigError, match="bad --latency-slo"):
        parse_slo("fast")
