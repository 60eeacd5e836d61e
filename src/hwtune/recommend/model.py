"""A workload counted from the user's ONNX model, with the counter `hwtune bench` uses."""

from __future__ import annotations

from pathlib import Path

from hwtune.errors import ConfigError
from hwtune.recommend.catalog import Workload


def workload_from_model(path: Path) -> Workload:
    try:
        from hwtune import onnxcost
    except ImportError:
        raise ConfigError("--model: the ONNX cost counter (hwtune.onnxcost) is not in this build") from None
    raise ConfigError(f"--model {path}: not wired yet ({onnxcost.__name__})")
