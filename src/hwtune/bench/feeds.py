"""Generated input data: seeded, of each input's type and of the shapes being measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FEED_SEED = 11
INT_HIGH = 100  # integer inputs are usually ids or indices; small values stay in range


def read_input_types(model: Any) -> dict[str, Any]:
    """Input name -> numpy dtype, for a model path or ModelProto (initializers excluded)."""
    import onnx

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(Path(model)), load_external_data=False)
    inits = {t.name for t in proto.graph.initializer}
    return {
        vi.name: onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        for vi in proto.graph.input
        if vi.name not in inits
    }


def make_feeds(shapes: dict[str, tuple[int, ...]], types: dict[str, Any], rng: Any = None) -> dict[str, Any]:
    import numpy as np

    rng = rng if rng is not None else np.random.default_rng(FEED_SEED)
    feeds: dict[str, Any] = {}
    for name, shape in shapes.items():
        dtype = np.dtype(types.get(name, np.float32))
        if dtype.kind in "iu":
            feeds[name] = rng.integers(0, INT_HIGH, size=shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            feeds[name] = rng.standard_normal(shape).astype(dtype)
    return feeds
