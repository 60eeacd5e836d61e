"""Built-in models, built in code with onnx: nothing is downloaded.

Weights come from a seeded generator (He-scaled so activations stay in a
sane range for int8 calibration and bf16), so every build of a model is the
same bytes. The batch dimension is dynamic (`batch`); the other dims are fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwtune.errors import ConfigError

if TYPE_CHECKING:
    import onnx

OPSET = 17  # LayerNormalization is opset 17; ORT and OpenVINO both read it
IR_VERSION = 8


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    description: str
    build: Callable[[], onnx.ModelProto]


class _Graph:
    """A tiny graph builder: unique names, seeded He-scaled weights."""

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.np = np
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.n = 0

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def weight(self, shape: tuple[int, ...], fan_in: int) -> str:
        from onnx import numpy_helper

        arr = self.rng.standard_normal(shape).astype(self.np.float32) * (2.0 / fan_in) ** 0.5
        name = self.name("w")
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def const(self, values: Any, dtype: Any = None) -> str:
        from onnx import numpy_helper

        name = self.name("c")
        self.inits.append(numpy_helper.from_array(self.np.asarray(values, dtype=dtype or self.np.float32), name))
        return name

    def bias(self, n: int) -> str:
        return self.const(self.rng.standard_normal(n).astype(self.np.float32) * 0.01)

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def conv3x3(self, x: str, cin: int, cout: int) -> str:
        w = self.weight((cout, cin, 3, 3), cin * 9)
        return self.op("Conv", [x, w, self.bias(cout)], pads=[1, 1, 1, 1], kernel_shape=[3, 3])

    def dense(self, x: str, nin: int, nout: int) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.weight((nin, nout), nin)]), self.bias(nout)])

    def model(self, name: str, inputs: dict[str, list[Any]], output: str, out_dims: list[Any]) -> onnx.ModelProto:
        from onnx import TensorProto, helper

        ins = [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()]
        outs = [helper.make_tensor_value_info(output, TensorProto.FLOAT, out_dims)]
        graph = helper.make_graph(self.nodes, name, ins, outs, self.inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hwtune")
        proto.ir_version = IR_VERSION
        return proto


def build_plate_classifier() -> onnx.ModelProto:
    """4 x [Conv3x3 + ReLU + MaxPool2x2] (32/64/128/128 ch) on a 64x128 crop, then a dense head."""
    g = _Graph(seed=1)
    x, cin = "image", 3
    for cout in (32, 64, 128, 128):
        x = g.op("MaxPool", [g.op("Relu", [g.conv3x3(x, cin, cout)])], kernel_shape=[2, 2], strides=[2, 2])
        cin = cout
    x = g.op("Flatten", [x], axis=1)  # 128 x 4 x 8
    x = g.op("Relu", [g.dense(x, 128 * 4 * 8, 256)])
    return g.model("plate-classifier", {"image": ["batch", 3, 64, 128]}, g.dense(x, 256, 36), ["batch", 36])


def build_resnet_block() -> onnx.ModelProto:
    """Two ResNet basic blocks (conv3x3-relu-conv3x3 + identity, relu) at 64 ch, 56x56."""
    g = _Graph(seed=2)
    x = "features"
    for _ in range(2):
        y = g.conv3x3(g.op("Relu", [g.conv3x3(x, 64, 64)]), 64, 64)
        x = g.op("Relu", [g.op("Add", [y, x])])
    return g.model("resnet-block", {"features": ["batch", 64, 56, 56]}, x, ["batch", 64, 56, 56])


def build_mlp() -> onnx.ModelProto:
    """784 -> 2048 -> 2048 -> 10 with ReLU."""
    g = _Graph(seed=3)
    x = g.op("Relu", [g.dense("x", 784, 2048)])
    x = g.op("Relu", [g.dense(x, 2048, 2048)])
    return g.model("mlp", {"x": ["batch", 784]}, g.dense(x, 2048, 10), ["batch", 10])


def build_transformer_encoder(seq: int = 128, d: int = 256, heads: int = 4, ffn: int = 1024) -> onnx.ModelProto:
    """One post-LN encoder layer: multi-head self-attention and a GELU feed-forward block."""
    g = _Graph(seed=4)
    dh = d // heads
    x = "tokens"

    def split_heads(t: str) -> str:
        t = g.op("Reshape", [t, g.const([0, 0, heads, dh], "int64")])
        return g.op("Transpose", [t], perm=[0, 2, 1, 3])

    q, k, v = (split_heads(g.dense(x, d, d)) for _ in range(3))
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), g.const(dh ** -0.5)])
    ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), g.const([0, 0, d], "int64")])
    x = _layer_norm(g, g.op("Add", [g.dense(ctx, d, d), x]), d)
    h = g.dense(x, d, ffn)
    gelu = g.op("Mul", [g.op("Mul", [h, g.const(0.5)]),
                        g.op("Add", [g.op("Erf", [g.op("Div", [h, g.const(2 ** 0.5)])]), g.const(1.0)])])
    x = _layer_norm(g, g.op("Add", [g.dense(gelu, ffn, d), x]), d)
    return g.model("transformer-encoder", {"tokens": ["batch", seq, d]}, x, ["batch", seq, d])


def _layer_norm(g: _Graph, x: str, d: int) -> str:
    return g.op("LayerNormalization", [x, g.const(g.np.ones(d)), g.const(g.np.zeros(d))], axis=-1, epsilon=1e-5)


def build_gemm(n: int) -> onnx.ModelProto:
    """A square n x n x n MatMul: the peak calibration workload."""
    g = _Graph(seed=5)
    return g.model(f"gemm-{n}", {"a": [n, n]}, g.op("MatMul", ["a", g.weight((n, n), n)]), [n, n])


BUILTIN: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel("plate-classifier", "4 x conv3x3/relu/maxpool (32-128 ch) on 3x64x128 + dense head",
                     build_plate_classifier),
        BuiltinModel("resnet-block", "two ResNet basic blocks, 64 ch at 56x56", build_resnet_block),
        BuiltinModel("mlp", "MLP 784-2048-2048-10", build_mlp),
        BuiltinModel("transformer-encoder", "one encoder layer: seq 128, d 256, 4 heads, FFN 1024",
                     build_transformer_encoder),
    )
}
DEFAULT_MODEL = "plate-classifier"


def builtin(name: str) -> BuiltinModel:
    try:
        return BUILTIN[name]
    except KeyError:
        raise ConfigError(f"no built-in model {name!r}; built-in models: {', '.join(BUILTIN)}") from None
