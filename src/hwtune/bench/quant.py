"""int8 models through onnxruntime's static quantization (QDQ), calibrated on generated data.

QDQ with uint8 activations and int8 per-channel weights is the form both
onnxruntime (QLinear*/MatMulInteger kernels, VNNI where the CPU has it) and
OpenVINO (its low-precision transformations) turn into int8 execution.
Generated calibration data gives realistic int8 *speed*, not accuracy: the
docs say so.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any

from hwtune import atomic
from hwtune.errors import ConfigError

CALIBRATION_SAMPLES = 8
CALIBRATION_SEED = 7


def int8_path(src: Path, shapes: dict[str, tuple[int, ...]], cache_dir: Path) -> Path:
    """The cached QDQ int8 model for `src`, quantizing it on first use."""
    digest = hashlib.sha256(src.read_bytes())
    digest.update(repr(sorted(shapes.items())).encode())
    out = cache_dir / f"{src.stem}-{digest.hexdigest()[:12]}-int8.onnx"
    if not out.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        # onnxruntime writes to a path: it gets one in a private folder, and the
        # result reaches the cache through the one atomic writer
        with tempfile.TemporaryDirectory(prefix="hwtune-quant-") as private:
            tmp = Path(private) / "int8.onnx"
            quantize_qdq(src, tmp, shapes)
            atomic.write_file(out, tmp.read_bytes())
    return out


def quantize_qdq(src: Path, dst: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    root = logging.getLogger()
    level = root.level
    # The quantizer logs advice ("consider pre-processing") on the root logger; it is noise here.
    root.setLevel(logging.ERROR)
    try:
        quantize_static(
            str(src), str(dst), _Reader(src, shapes),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.MinMax,
        )
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime's quantizer raises anything on a model it cannot take
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"int8 quantization of {src.name} failed: {first}") from None
    finally:
        root.setLevel(level)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol: get_next() -> feeds or None."""

    def __init__(self, src: Path, shapes: dict[str, tuple[int, ...]]) -> None:
        import numpy as np

        from hwtune.bench.feeds import make_feeds, read_input_types

        types = read_input_types(src)
        rng = np.random.default_rng(CALIBRATION_SEED)
        self._samples = [make_feeds(shapes, types, rng) for _ in range(CALIBRATION_SAMPLES)]

    def get_next(self) -> dict[str, Any] | None:
        return self._samples.pop() if self._samples else None
