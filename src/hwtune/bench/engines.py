"""Open the engine for a configuration: the one switch between the two backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from hwtune.bench.measure import StopRule, Timing
from hwtune.bench.result import Executed, RunConfig
from hwtune.errors import ConfigError


class Engine(Protocol):
    load_ms: float
    executed: Executed

    def first_inference_ms(self) -> float: ...

    def measure(self, stop: StopRule) -> Timing: ...

    def infer(self) -> None: ...

    def close(self) -> None: ...


def open_engine(cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> Engine:
    if cfg.backend == "onnxruntime":
        from hwtune.bench.ort_backend import OrtEngine

        return OrtEngine(cfg, path, feeds)
    if cfg.backend == "openvino":
        from hwtune.bench.ov_backend import OvEngine

        return OvEngine(cfg, path, feeds)
    raise ConfigError(f"unknown backend {cfg.backend!r}")
