"""The bench backend interface: one module per runtime (ort_backend, ov_backend) behind it.

A backend says which devices it can drive here and the precisions each runs,
whether it can run a configuration, compiles a model into an Engine (which
then infers and says what actually ran), and how its measured settings are
deployed. Nothing outside a backend module compares backend names: code asks
the backend object (`backend(name)`), so a new runtime is one module plus its
line in BACKEND_MODULES.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from hwtune.bench.measure import StopRule, Timing
from hwtune.bench.result import Executed, RunConfig
from hwtune.bench.targets import DeviceInfo
from hwtune.errors import ConfigError

# Each module defines BACKEND; importing one must not import its runtime (that happens in its methods).
BACKEND_MODULES = ("hwtune.bench.ort_backend", "hwtune.bench.ov_backend")


class Engine(Protocol):
    """A model compiled for one configuration."""

    load_ms: float
    executed: Executed  # what actually ran: precision, requests, streams, threads, providers

    def first_inference_ms(self) -> float: ...

    def measure(self, stop: StopRule) -> Timing: ...

    def infer(self) -> None: ...

    def infer_on(self, feeds: dict[str, Any]) -> list[Any]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str  # "onnxruntime": what results and --backend use
    title: str  # how its notes name it ("OpenVINO")
    aliases: tuple[str, ...]  # other --backend spellings ("ort")
    short: str  # the table's label ("ort")

    def devices(self) -> tuple[list[DeviceInfo], list[str]]:
        """The devices it can benchmark here (each with the precisions it runs), and notes on what
        it leaves out; raises ImportError or RuntimeError when the runtime cannot load."""
        ...

    def unsupported(self, cfg: RunConfig) -> str | None:
        """Why this configuration cannot run (beyond the device's precisions), or None."""
        ...

    def compile(self, cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> Engine: ...

    def balanced_threads(self, cpus: int, requests: int) -> int:
        """The thread setting that fills `cpus` with `requests` in flight."""
        ...

    def deploy_settings(self, cfg: RunConfig, executed: Executed) -> dict[str, Any]:
        """The runtime options that reproduce a measured configuration."""
        ...

    def triton_parameters(self, executed: Executed, instances: int, gpu: bool) -> dict[str, str]:
        """Triton model-config parameters for this backend."""
        ...


@lru_cache(maxsize=1)
def backends() -> tuple[Backend, ...]:
    return tuple(importlib.import_module(m).BACKEND for m in BACKEND_MODULES)


def backend(name: str, what: str = "backend") -> Backend:
    """The backend for a name or alias (case-insensitive); `what` names it in the error (an option)."""
    wanted = name.lower()
    for b in backends():
        if wanted == b.name or wanted in b.aliases:
            return b
    raise ConfigError(f"unknown {what} {name!r}; use {spellings()} or all")


def spellings() -> str:
    """Every backend as --backend takes it: "onnxruntime (ort), openvino (ov)"."""
    return ", ".join(f"{b.name} ({', '.join(b.aliases)})" if b.aliases else b.name for b in backends())


def open_engine(cfg: RunConfig, path: Path, feeds: dict[str, Any]) -> Engine:
    return backend(cfg.backend).compile(cfg, path, feeds)
