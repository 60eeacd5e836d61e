"""OpenVINO: a model reshaped to the batch and compiled per configuration;
async = an AsyncInferQueue with one request per stream (as benchmark_app does)."""

from __future__ import annotations

import functools
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hwtune.bench.measure import StopRule, Timing, perf, run_sync
from hwtune.bench.result import Executed, RunConfig
from hwtune.bench.targets import DeviceInfo
from hwtune.errors import ConfigError

HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}  # int8: QDQ layers int8, the rest f32
CAPABILITY_PRECISIONS = {"FP32": "fp32", "BF16": "bf16", "FP16": "fp16", "INT8": "int8"}
RUNTIME_PRECISIONS = {"f32": "fp32", "bf16": "bf16", "f16": "fp16", "u8": "int8", "i8": "int8"}
HEAVY_LAYERS = {"Convolution", "FullyConnected", "MatMul", "Deconvolution", "GroupConvolution"}


@functools.lru_cache(maxsize=1)
def core() -> Any:
    import openvino as ov

    return ov.Core()


class OvBackend:
    name = "openvino"
    title = "OpenVINO"
    aliases = ("ov",)
    short = "ov"
    triton_threads_key = "INFERENCE_NUM_THREADS"

    def devices(self) -> tuple[list[DeviceInfo], list[str]]:
        """Every device the OpenVINO Core lists, with the precisions it reports."""
        found = []
        for dev in core().available_devices:
            try:
                name = str(core().get_property(dev, "FULL_DEVICE_NAME"))
                caps = core().get_property(dev, "OPTIMIZATION_CAPABILITIES")
            except RuntimeError:  # OpenVINO's errors; a device that cannot answer is still listed, with what we know
                name, caps = dev, ["FP32"]
            precisions = tuple(CAPABILITY_PRECISIONS[c] for c in caps if c in CAPABILITY_PRECISIONS)
            found.append(DeviceInfo(self.name, dev, name, precisions + ("auto",)))
        return found, []

    def unsupported(self, cfg: RunConfig) -> str | None:
        if cfg.streams and cfg.threads and cfg.streams > cfg.threads:
            return f"{cfg.streams} OpenVINO streams need at least as many threads (got {cfg.threads})"
        return None

    def compile(self, cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> OvEngine:
        return OvEngine(cfg, path, feeds)

    def balanced_threads(self, cpus: int, requests: int) -> int:
        # the streams share one thread pool: all of the CPUs whatever the requests
        return cpus

    def deploy_settings(self, cfg: RunConfig, executed: Executed) -> dict[str, Any]:
        props = {k: (str(v).upper() if isinstance(v, bool) else str(v)) for k, v in compile_config(cfg).items()}
        return {"openvino_properties": props, "openvino_infer_requests": executed.requests}

    def triton_parameters(self, executed: Executed, instances: int, gpu: bool) -> dict[str, str]:
        # one stream per instance, each with its share of the threads
        params = {"NUM_STREAMS": "1", "PERFORMANCE_HINT": "LATENCY"}
        if executed.threads:
            params[self.triton_threads_key] = str(max(1, executed.threads // instances))
        return params


def compile_config(cfg: RunConfig) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if cfg.precision in HINTS:
        config["INFERENCE_PRECISION_HINT"] = HINTS[cfg.precision]
    if cfg.mode == "sync":
        config["PERFORMANCE_HINT"] = "LATENCY"
    elif cfg.streams is None:
        config["PERFORMANCE_HINT"] = "THROUGHPUT"
    else:
        config["NUM_STREAMS"] = cfg.streams
    if cfg.threads is not None:
        config["INFERENCE_NUM_THREADS"] = cfg.threads
    if cfg.pin is not None and cfg.device.startswith("CPU"):
        config["ENABLE_CPU_PINNING"] = cfg.pin
    return config


class OvEngine:
    def __init__(self, cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> None:
        import openvino as ov

        self.cfg = cfg
        config = compile_config(cfg)
        t0 = time.perf_counter()
        try:
            model = core().read_model(str(path))
            model.reshape({name: list(arr.shape) for name, arr in feeds.items()})
            self.compiled = core().compile_model(model, cfg.device, config)
        except Exception as exc:  # noqa: BLE001 - reading/reshaping/compiling a user's model may fail any way
            raise ConfigError(f"OpenVINO cannot compile {path.name} for {cfg.device}: {_first_line(exc)}") from None
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.tensors = {name: ov.Tensor(arr) for name, arr in feeds.items()}
        self._served: Any = None
        prop = self._prop
        optimal = prop("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        self.requests = 1 if cfg.mode == "sync" else (cfg.streams or int(optimal or 1))
        details = {k: str(prop(k)) for k in ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "ENABLE_CPU_PINNING",
                                              "OPTIMAL_NUMBER_OF_INFER_REQUESTS", "EXECUTION_MODE_HINT")}
        self.executed = Executed(
            precision=self._runtime_precision(),
            requests=self.requests,
            streams=_int(prop("NUM_STREAMS")),
            threads=_int(prop("INFERENCE_NUM_THREADS")),
            providers=tuple(prop("EXECUTION_DEVICES") or (cfg.device,)),
            details={k: v for k, v in details.items() if v != "None"},
        )

    def _prop(self, key: str) -> Any:
        try:
            return self.compiled.get_property(key)
        except RuntimeError:  # OpenVINO's error: not every device plugin supports every property
            return None

    def _runtime_precision(self) -> str:
        """The precision the heavy layers run in, from the compiled (runtime) graph."""
        counts: Counter[str] = Counter()
        try:
            ops = self.compiled.get_runtime_model().get_ordered_ops()
        except RuntimeError:  # OpenVINO's error: a plugin without a runtime graph
            ops = []
        for op in ops:
            info = op.get_rt_info()
            if "layerType" not in info or info["layerType"].astype(str) not in HEAVY_LAYERS:
                continue
            rp = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else ""
            counts[RUNTIME_PRECISIONS.get(rp, rp)] += 1
        if counts:
            return "+".join(p for p, _ in counts.most_common())
        hint = str(self._prop("INFERENCE_PRECISION_HINT") or "")
        return {"<Type: 'float32'>": "fp32", "<Type: 'bfloat16'>": "bf16", "<Type: 'float16'>": "fp16"}.get(hint, hint)

    def _request(self) -> Any:
        req = self.compiled.create_infer_request()
        for name, tensor in self.tensors.items():
            req.set_tensor(name, tensor)
        return req

    def first_inference_ms(self) -> float:
        req = self._request()
        t0 = time.perf_counter()
        req.infer()
        return (time.perf_counter() - t0) * 1000

    def infer(self) -> None:
        """One blocking inference on the configured feeds (a served request); one engine per thread."""
        if self._served is None:
            self._served = self._request()
        self._served.infer()

    def infer_on(self, feeds: dict[str, Any]) -> list[Any]:
        """One blocking inference on these inputs (the request pipeline's tensor); its outputs."""
        if self._served is None:
            self._served = self._request()
        return list(self._served.infer(feeds).values())

    def measure(self, stop: StopRule) -> Timing:
        if self.cfg.mode == "sync":
            req = self._request()
            return run_sync(req.infer, stop)
        return self._run_queue(stop)

    def _run_queue(self, stop: StopRule) -> Timing:
        """benchmark_app's loop: wait for an idle request, read the latency OpenVINO measured for
        its previous run, start it again. No Python completion callback: one would cost a GIL
        hand-off per request on the runtime's threads."""
        import openvino as ov

        queue = ov.AsyncInferQueue(self.compiled, self.requests)
        for req in queue:
            for name, tensor in self.tensors.items():
                req.set_tensor(name, tensor)
        latencies: list[float] = []
        in_flight: set[int] = set()
        start = perf()
        submitted = 0
        while not stop.done(perf() - start, submitted):
            idle = queue.get_idle_request_id()
            if idle in in_flight:
                latencies.append(queue[idle].latency / 1000.0)
            in_flight.add(idle)
            queue.start_async()
            submitted += 1
        queue.wait_all()
        wall = perf() - start
        latencies.extend(queue[i].latency / 1000.0 for i in in_flight)
        return Timing(latencies, wall)

    def close(self) -> None:
        self.compiled = None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


BACKEND = OvBackend()
