"""onnxruntime: one InferenceSession per configuration; async = N threads calling run()."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hwtune.bench.measure import StopRule, Timing, run_sync, run_threads
from hwtune.bench.result import Executed, RunConfig
from hwtune.bench.targets import DeviceInfo, usable_cpus
from hwtune.errors import ConfigError

DEVICE_PROVIDERS = {
    "CPU": ["CPUExecutionProvider"],
    "CUDA": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "TensorRT": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
DEVICE_PRECISIONS = {"CPU": ("fp32", "int8"), "CUDA": ("fp32", "int8"), "TensorRT": ("fp32", "fp16", "int8")}

# Operators of an optimized onnxruntime graph that carry the heavy compute, by the precision they run in.
INT8_OPS = {"QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "QGemm", "MatMulIntegerToFloat",
            "DynamicQuantizeMatMul", "QAttention", "NhwcQLinearConv"}
FLOAT_OPS = {"Conv", "FusedConv", "NchwcConv", "MatMul", "FusedMatMul", "Gemm", "FusedGemm", "Attention",
             "MultiHeadAttention", "ConvTranspose", "TransposeMatMul"}


class OrtBackend:
    name = "onnxruntime"
    title = "onnxruntime"
    aliases = ("ort",)
    short = "ort"
    triton_threads_key = "intra_op_thread_count"

    def devices(self) -> tuple[list[DeviceInfo], list[str]]:
        """Each provider hwtune can benchmark, in preference order; the others as a note."""
        import onnxruntime as ort

        present = ort.get_available_providers()
        found = [DeviceInfo(self.name, device, f"{providers[0]} (onnxruntime {ort.__version__})",
                            DEVICE_PRECISIONS[device] + ("auto",))
                 for device, providers in DEVICE_PROVIDERS.items() if providers[0] in present]
        benched = {DEVICE_PROVIDERS[d.device][0] for d in found}
        other = [p for p in present if p not in benched]
        return found, [f"onnxruntime providers present but not benchmarked: {', '.join(other)}"] if other else []

    def unsupported(self, cfg: RunConfig) -> str | None:
        return None

    def compile(self, cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> OrtEngine:
        return OrtEngine(cfg, path, feeds)

    def balanced_threads(self, cpus: int, requests: int) -> int:
        # intra-op threads are per run: requests x threads = CPUs
        return max(1, cpus // requests)

    def deploy_settings(self, cfg: RunConfig, executed: Executed) -> dict[str, Any]:
        return {"onnxruntime_session_options": {
                    "intra_op_num_threads": executed.threads,
                    "execution_mode": "ORT_SEQUENTIAL",
                    "graph_optimization_level": "ORT_ENABLE_ALL",
                    "providers": list(executed.providers)},
                "onnxruntime_concurrent_runs": executed.requests}

    def triton_parameters(self, executed: Executed, instances: int, gpu: bool) -> dict[str, str]:
        if executed.threads and not gpu:
            return {self.triton_threads_key: str(executed.threads), "inter_op_thread_count": "1"}
        return {}


def default_requests(cfg: RunConfig) -> int:
    return 1 if cfg.mode == "sync" else (cfg.streams or usable_cpus())


class OrtEngine:
    def __init__(self, cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> None:
        import onnxruntime as ort

        if cfg.device not in DEVICE_PROVIDERS:
            raise ConfigError(f"onnxruntime has no device {cfg.device!r}; devices: {', '.join(DEVICE_PROVIDERS)}")
        self.cfg = cfg
        self.feeds = feeds
        self.requests = default_requests(cfg)
        threads = cfg.threads
        if threads is None and cfg.mode == "async":
            # N concurrent runs each on its own share of the cores; the default pool per run
            # would oversubscribe the CPU N times over.
            threads = max(1, usable_cpus() // self.requests)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if threads is not None:
            so.intra_op_num_threads = threads
        if cfg.pin and threads and threads > 1:
            # ORT pins the pool's threads (not the caller's): threads-1 entries, 1-based processor ids.
            cpus = sorted(os.sched_getaffinity(0))
            so.add_session_config_entry(
                "session.intra_op_thread_affinities", ";".join(str(c + 1) for c in cpus[1:threads]))
        if cfg.spin is not None:
            # A server idles between requests: spinning pool threads would take the cores from
            # the load generator and the other instances (on 2 vCPUs, half the throughput here).
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if cfg.spin else "0")
        self._tmp = tempfile.TemporaryDirectory(prefix="hwtune-ort-")
        if cfg.device == "CPU":
            so.optimized_model_filepath = str(Path(self._tmp.name) / "optimized.onnx")
        providers: list[Any] = list(DEVICE_PROVIDERS[cfg.device])
        if cfg.device == "TensorRT" and cfg.precision in ("fp16", "int8"):
            providers[0] = (providers[0], {f"trt_{cfg.precision}_enable": True})
        t0 = time.perf_counter()
        try:
            self.session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's errors (Fail, InvalidGraph, ...) derive from Exception
            raise ConfigError(f"onnxruntime cannot load {path.name} on {cfg.device}: {_first_line(exc)}") from None
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.executed = Executed(
            precision=self._executed_precision(),
            requests=self.requests,
            threads=threads if threads is not None else _physical_cores(),
            providers=tuple(self.session.get_providers()),
            details={"intra_op_num_threads": str(so.intra_op_num_threads),
                     "execution_mode": str(so.execution_mode).rsplit(".", 1)[-1],
                     "graph_optimization_level": str(so.graph_optimization_level).rsplit(".", 1)[-1]},
        )

    def _executed_precision(self) -> str:
        if self.cfg.device != "CPU":
            # TensorRT chooses per layer what the flags allow; the engine does not say which.
            return "fp32" if self.cfg.precision in ("fp32", "auto") else f"{self.cfg.precision} (allowed)"
        import onnx

        optimized = onnx.load(self.session.get_session_options().optimized_model_filepath, load_external_data=False)
        counts: Counter[str] = Counter()
        for node in optimized.graph.node:
            if node.op_type in INT8_OPS:
                counts["int8"] += 1
            elif node.op_type in FLOAT_OPS:
                counts["fp32"] += 1
        return "+".join(p for p, _ in counts.most_common()) or "fp32"

    def first_inference_ms(self) -> float:
        t0 = time.perf_counter()
        self.session.run(None, self.feeds)
        return (time.perf_counter() - t0) * 1000

    def infer(self) -> None:
        """One blocking inference on the configured feeds (a served request)."""
        self.session.run(None, self.feeds)

    def infer_on(self, feeds: dict[str, Any]) -> list[Any]:
        """One blocking inference on these inputs (the request pipeline's tensor); its outputs."""
        return self.session.run(None, feeds)

    def measure(self, stop: StopRule) -> Timing:
        run, feeds = self.session.run, self.feeds
        if self.cfg.mode == "sync":
            return run_sync(lambda: run(None, feeds), stop)
        return run_threads([lambda: run(None, feeds)] * self.requests, stop)

    def close(self) -> None:
        self.session = None
        self._tmp.cleanup()


def _physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or usable_cpus()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


BACKEND = OrtBackend()
