"""What one inference of an ONNX model costs: FLOPs, parameters, bytes.

Counted from the graph after onnx shape inference, at the input shapes given
(batch as given), so the figures are per single inference of that shape.

Conventions (the same ones the docs state):
- a multiply-add counts as 2 FLOPs (Conv, ConvTranspose, MatMul, Gemm and
  their integer and QLinear forms); a bias add counts 1 per output element;
- element-wise arithmetic and activations count 1 per output element
  (transcendentals included, so the count is a lower bound there);
- pooling counts the window size per output element, global pooling and
  reductions 1 per input element; Softmax 3 per element (exp, sum, divide),
  LayerNormalization and the other normalisations 5, inference
  BatchNormalization 2 (scale and shift);
- data movement (Reshape, Transpose, Concat, Gather, ...) and
  QuantizeLinear/DequantizeLinear count 0, so a QDQ int8 model counts the
  same FLOPs as its float model;
- an op not listed here, or whose shapes inference could not find, counts 0
  and is named in `unknown_ops`: the total is then a lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwtune.errors import ConfigError

if TYPE_CHECKING:
    import onnx

Shape = tuple[int, ...]
ShapeOf = Callable[[int], Shape | None]  # a node's i-th input or output shape, None when unknown


@dataclass(frozen=True)
class ModelCost:
    flops: int
    params: int
    param_bytes: int
    activation_bytes: int  # every tensor a node produces, plus the graph inputs, written once
    inputs: dict[str, Shape]
    unknown_ops: tuple[str, ...] = field(default=())  # op types counted as 0 FLOPs

    @property
    def is_lower_bound(self) -> bool:
        return bool(self.unknown_ops)


ZERO_OPS = frozenset(
    """Reshape Transpose Flatten Squeeze Unsqueeze Concat Split Slice Gather GatherElements
    GatherND Shape Size Identity Cast CastLike Expand Tile Pad Constant ConstantOfShape Range
    QuantizeLinear DequantizeLinear DynamicQuantizeLinear Dropout DepthToSpace SpaceToDepth
    ScatterND ScatterElements EyeLike Trilu OneHot""".split()
)
ELEMENTWISE_OPS = frozenset(
    """Add Sub Mul Div Pow Mod Max Min Sum Mean Neg Abs Reciprocal Sqrt Exp Log Erf Sin Cos Tan
    Tanh Sigmoid HardSigmoid HardSwish Relu LeakyRelu PRelu Elu Selu Celu Gelu Softplus Softsign
    Mish ThresholdedRelu Clip Floor Ceil Round Sign Where Equal Less LessOrEqual Greater
    GreaterOrEqual And Or Xor Not BitShift IsNaN IsInf Swish""".split()
)
REDUCE_OPS = frozenset(
    """ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceSumSquare ArgMax ArgMin GlobalAveragePool GlobalMaxPool GlobalLpPool""".split()
)
PER_ELEMENT = {
    "Softmax": 3, "LogSoftmax": 3, "LayerNormalization": 5, "InstanceNormalization": 5,
    "GroupNormalization": 5, "LpNormalization": 5, "MeanVarianceNormalization": 5,
    "BatchNormalization": 2,
}
DTYPE_BYTES_FALLBACK = 4


def count_cost(model: onnx.ModelProto | str | Path, shapes: dict[str, Shape] | None = None) -> ModelCost:
    """The cost of one inference at `shapes` (every dynamic input dimension must be given)."""
    proto = load_model(model)
    graph_inputs = _resolve_inputs(proto, shapes or {})
    inferred = _infer(proto, graph_inputs)
    g = inferred.graph
    info = _tensor_info(g)
    inits = {t.name for t in g.initializer}
    flops = 0
    unknown: list[str] = []
    for node in g.node:
        n = _node_flops(node, info)
        if n is None:
            unknown.append(node.op_type)
        else:
            flops += n
    params, param_bytes = _param_totals(g)
    act = sum(_nbytes(info.get(name)) for name in graph_inputs)
    for node in g.node:
        act += sum(_nbytes(info.get(o)) for o in node.output if o and o not in inits)
    return ModelCost(flops, params, param_bytes, act, graph_inputs, tuple(sorted(set(unknown))))


# -- loading and shapes ------------------------------------------------------

def load_model(model: Any) -> onnx.ModelProto:
    """A ModelProto from a path (or as given); a bad file is a one-line ConfigError."""
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    try:
        proto = onnx.load(str(path))
    except FileNotFoundError:
        raise ConfigError(f"model file {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends, not one base class
        raise ConfigError(f"{path} is not a readable ONNX model: {_first_line(exc)}") from None
    if not proto.graph.node:
        raise ConfigError(f"{path} is not an ONNX model (it has no graph nodes)")
    return proto


def model_input_dims(proto: onnx.ModelProto) -> dict[str, list[int | str | None]]:
    """Each real graph input (initializers excluded) with its dims: int, symbol or None."""
    inits = {t.name for t in proto.graph.initializer}
    out: dict[str, list[int | str | None]] = {}
    for vi in proto.graph.input:
        if vi.name in inits:
            continue
        dims: list[int | str | None] = []
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or None)
        out[vi.name] = dims
    return out


def _resolve_inputs(proto: onnx.ModelProto, shapes: dict[str, Shape]) -> dict[str, Shape]:
    dims_by_input = model_input_dims(proto)
    for name in shapes:
        if name not in dims_by_input:
            raise ConfigError(f"the model has no input named {name!r} (inputs: {', '.join(dims_by_input)})")
    resolved: dict[str, Shape] = {}
    for name, dims in dims_by_input.items():
        if name in shapes:
            given = tuple(int(d) for d in shapes[name])
            if len(given) != len(dims):
                raise ConfigError(f"input {name!r} has rank {len(dims)}, the shape given has {len(given)} dims")
            for want, got in zip(dims, given, strict=True):  # ranks compared just above
                if isinstance(want, int) and want != got:
                    raise ConfigError(f"input {name!r} has fixed shape {_fmt(dims)}; {_fmt(given)} does not fit it")
            resolved[name] = given
        elif len(fixed := [d for d in dims if isinstance(d, int)]) == len(dims):
            resolved[name] = tuple(fixed)
        else:
            raise ConfigError(
                f"input {name!r} has dynamic dimensions {_fmt(dims)}; give its shape, "
                f"e.g. --shape {name}={'x'.join(str(d) if isinstance(d, int) else '1' for d in dims)}"
            )
    return resolved


def _infer(proto: onnx.ModelProto, inputs: dict[str, Shape]) -> onnx.ModelProto:
    import onnx
    import onnx.inliner  # a submodule `import onnx` does not load

    fixed = onnx.ModelProto()
    fixed.CopyFrom(proto)
    if fixed.functions:
        fixed = onnx.inliner.inline_local_functions(fixed)
    for vi in fixed.graph.input:
        if vi.name in inputs:
            shape = vi.type.tensor_type.shape
            for d, value in zip(shape.dim, inputs[vi.name], strict=False):
                d.Clear()
                d.dim_value = value
    try:
        return onnx.shape_inference.infer_shapes(fixed, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises InferenceError, ValidationError or a C++ RuntimeError
        raise ConfigError(f"ONNX shape inference failed: {_first_line(exc)}") from None


def _tensor_info(g: Any) -> dict[str, tuple[Shape | None, int]]:
    """name -> (shape or None when not fully known, element size in bytes)."""
    import onnx

    info: dict[str, tuple[Shape | None, int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        dims = [d.dim_value for d in tt.shape.dim if d.HasField("dim_value")]
        shape = tuple(dims) if tt.HasField("shape") and len(dims) == len(tt.shape.dim) else None
        info[vi.name] = (shape, _elem_size(onnx, tt.elem_type))
    for t in g.initializer:
        info[t.name] = (tuple(t.dims), _elem_size(onnx, t.data_type))
    return info


def _elem_size(onnx: Any, elem_type: int) -> int:
    try:
        size: int = onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize
        return size
    except Exception:  # noqa: BLE001 - undefined or exotic types (float8, int4): keep the count going
        return DTYPE_BYTES_FALLBACK


def _param_totals(g: Any) -> tuple[int, int]:
    import onnx

    params = sum(math.prod(t.dims) for t in g.initializer)
    nbytes = sum(math.prod(t.dims) * _elem_size(onnx, t.data_type) for t in g.initializer)
    return params, nbytes


def _nbytes(entry: tuple[Shape | None, int] | None) -> int:
    if entry is None or entry[0] is None:
        return 0
    return math.prod(entry[0]) * entry[1]


# -- per-op FLOPs -------------------------------------------------------------

def _node_flops(node: Any, info: dict[str, tuple[Shape | None, int]]) -> int | None:
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        return None
    if op in ZERO_OPS:
        return 0
    counter = _COUNTERS.get(op)
    try:
        if counter is not None:
            return counter(node, lambda i: _shape(node.input, i, info), lambda i: _shape(node.output, i, info))
        if op in ELEMENTWISE_OPS:
            return math.prod(_need(_shape(node.output, 0, info)))
        if op in REDUCE_OPS:
            return math.prod(_need(_shape(node.input, 0, info)))
        if op in PER_ELEMENT:
            return PER_ELEMENT[op] * math.prod(_need(_shape(node.input, 0, info)))
    except _Unknown:
        return None
    return None


class _Unknown(Exception):
    pass


def _shape(names: Any, i: int, info: dict[str, tuple[Shape | None, int]]) -> Shape | None:
    if i >= len(names) or not names[i]:
        return None
    entry = info.get(names[i])
    return None if entry is None else entry[0]


def _need(shape: Shape | None) -> Shape:
    if shape is None:
        raise _Unknown
    return shape


def _has_input(node: Any, i: int) -> bool:
    """An optional input is present when named (its shape may still be unknown, e.g. a dequantized bias)."""
    return i < len(node.input) and bool(node.input[i])


def _attr(node: Any, name: str, default: Any) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _conv(node: Any, inp: ShapeOf, out: ShapeOf) -> int:
    w_index = 3 if node.op_type == "QLinearConv" else 1
    w = _need(inp(w_index))
    y = _need(out(0))
    macs = math.prod(y) * math.prod(w[1:])  # each output element: C/group * kernel MACs
    bias_index = 8 if node.op_type == "QLinearConv" else 2
    bias = math.prod(y) if node.op_type != "ConvInteger" and _has_input(node, bias_index) else 0
    return 2 * macs + bias


def _conv_transpose(node: Any, inp: ShapeOf, out: ShapeOf) -> int:
    x = _need(inp(0))
    w = _need(inp(1))  # (C_in, M/group, k...)
    y = _need(out(0))
    macs = x[0] * math.prod(x[1:]) * math.prod(w[1:])
    bias = math.prod(y) if _has_input(node, 2) else 0
    return 2 * macs + bias


def _matmul(node: Any, inp: ShapeOf, out: ShapeOf) -> int:
    a = _need(inp(0))
    y = _need(out(0))
    k = a[-1]
    return 2 * math.prod(y) * k if y else 2 * k  # 1-D x 1-D gives a scalar


def _gemm(node: Any, inp: ShapeOf, out: ShapeOf) -> int:
    a = _need(inp(0))
    y = _need(out(0))
    k = a[0] if _attr(node, "transA", 0) else a[1]
    bias = math.prod(y) if _has_input(node, 2) else 0
    return 2 * math.prod(y) * k + bias


def _pool(node: Any, inp: ShapeOf, out: ShapeOf) -> int:
    kernel: list[int] = _attr(node, "kernel_shape", [1])
    return math.prod(_need(out(0))) * math.prod(kernel)


_COUNTERS: dict[str, Callable[[Any, ShapeOf, ShapeOf], int]] = {
    "Conv": _conv, "ConvInteger": _conv, "QLinearConv": _conv,
    "ConvTranspose": _conv_transpose,
    "MatMul": _matmul, "MatMulInteger": _matmul, "Gemm": _gemm,
    "QLinearMatMul": _matmul,
    "MaxPool": _pool, "AveragePool": _pool, "LpPool": _pool,
}


def _fmt(dims: Any) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
