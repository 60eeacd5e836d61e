"""A workload counted from the user's ONNX model, with the counter `hwtune bench` uses."""

from __future__ import annotations

from pathlib import Path

from hwtune import onnxcost
from hwtune.recommend.catalog import Workload
from hwtune.recommend.invalid import InvalidRequest


def parse_shapes(values: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """'input=1x3x224x224' -> {'input': (1, 3, 224, 224)}."""
    shapes = {}
    for v in values:
        name, sep, dims = v.partition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) <= 0:
            raise InvalidRequest("model_shapes", "expected NAME=DxDxD with positive dims, got {value!r}", value=v)
        shapes[name] = shape
    return shapes


def batch_one_shapes(dims: dict[str, list[int | str | None]],
                     given: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Shapes for one inference: a dynamic leading (batch) dim becomes 1; other dynamic dims
    must be given with --shape, since no default length is right for every model."""
    shapes = dict(given)
    for name, ds in dims.items():
        if name in shapes or all(isinstance(d, int) for d in ds):
            continue
        if ds and not isinstance(ds[0], int) and all(isinstance(d, int) for d in ds[1:]):
            shapes[name] = (1,) + tuple(d for d in ds[1:] if isinstance(d, int))  # all are, as tested
    return shapes


def workload_from_model(path: Path, shapes: tuple[str, ...] = ()) -> Workload:
    proto = onnxcost.load_model(path)
    dims = onnxcost.model_input_dims(proto)
    cost = onnxcost.count_cost(proto, batch_one_shapes(dims, parse_shapes(shapes)))
    if cost.flops <= 0:
        raise InvalidRequest("model_path", "no FLOPs counted (ops not understood: {ops})", subject=str(path),
                             ops=", ".join(cost.unknown_ops) or "none")
    bytes_per_param = cost.param_bytes / cost.params if cost.params else 4.0
    lower = (f"; a lower bound: ops counted as 0 FLOPs: {', '.join(cost.unknown_ops)}"
             if cost.unknown_ops else "")
    return Workload(
        name=path.name,
        description=f"ONNX model {path}",
        input=", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in sorted(cost.inputs.items())),
        flops_per_inference=float(cost.flops),
        params=float(cost.params),
        # The counter adds up every node output at its own dtype, unfused: an upper bound on
        # the traffic a fusing runtime has; taken in elements of the weights' size.
        activations=cost.activation_bytes / bytes_per_param,
        flops_source=f"counted with hwtune.onnxcost at batch 1{lower}",
        activations_source="hwtune.onnxcost activation_bytes: every node output, unfused",
        row=0,
    )
