"""FLOP, parameter and byte counts checked against hand-computed layers."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwtune.errors import ConfigError
from hwtune.onnxcost import count_cost


def _model(nodes, inputs, inits=(), opset=17):
    outs = [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "g", inputs, outs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _init(name, *shape):
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _x(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def test_conv_with_bias_counts_two_flops_per_mac_plus_bias():
    # out 1x8x8x8 = 512 elements, each 3*3*3 = 27 MACs: 2*512*27 + 512 bias adds
    m = _model([helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
               [_x("x", [1, 3, 8, 8])], [_init("w", 8, 3, 3, 3), _init("b", 8)])
    cost = count_cost(m)
    assert cost.flops == 2 * 512 * 27 + 512
    assert cost.params == 8 * 27 + 8
    assert cost.param_bytes == 4 * (8 * 27 + 8)
    assert cost.activation_bytes == 4 * (3 * 64) + 4 * 512  # the input and the conv output
    assert cost.inputs == {"x": (1, 3, 8, 8)}
    assert cost.unknown_ops == ()


def test_depthwise_conv_and_stride():
    # group 8, stride 2: out 1x8x4x4 = 128 elements, each 1*3*3 MACs
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2], group=8)],
               [_x("x", [1, 8, 8, 8])], [_init("w", 8, 1, 3, 3)])
    assert count_cost(m).flops == 2 * 128 * 9


def test_matmul_batched_and_gemm_transposed():
    mm = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [_x("a", [2, 4, 16])], [_init("b", 16, 32)])
    assert count_cost(mm).flops == 2 * (2 * 4 * 32) * 16
    gemm = _model([helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)],
                  [_x("a", [4, 16])], [_init("b", 32, 16), _init("c", 32)])
    assert count_cost(gemm).flops == 2 * 4 * 32 * 16 + 4 * 32


def test_pool_activation_softmax_and_shape_ops():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),  # 512
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),  # 128 * 4
        helper.make_node("Flatten", ["p"], ["f"]),  # 0
        helper.make_node("Softmax", ["f"], ["y"], axis=1),  # 3 * 128
    ]
    cost = count_cost(_model(nodes, [_x("x", [1, 8, 8, 8])]))
    assert cost.flops == 512 + 128 * 4 + 0 + 3 * 128


def test_dynamic_batch_scales_linearly_and_needs_a_shape():
    m = _model([helper.make_node("MatMul", ["a", "b"], ["y"])], [_x("a", ["batch", 16])], [_init("b", 16, 8)])
    one = count_cost(m, {"a": (1, 16)})
    four = count_cost(m, {"a": (4, 16)})
    assert four.flops == 4 * one.flops == 4 * 2 * 8 * 16
    with pytest.raises(ConfigError, match=r"input 'a' has dynamic dimensions batchx16; give its shape"):
        count_cost(m)


def test_wrong_shapes_are_one_line_errors():
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_x("x", [1, 3, 4, 4])])
    with pytest.raises(ConfigError, match="fixed shape 1x3x4x4") as err:
        count_cost(m, {"x": (1, 3, 5, 5)})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="no input named 'y'"):
        count_cost(m, {"y": (1,)})
    with pytest.raises(ConfigError, match="rank 4"):
        count_cost(m, {"x": (1, 3)})


def test_unknown_ops_count_zero_and_are_named():
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Einsum", ["r", "r"], ["y"], equation="ij,ij->ij"),
    ]
    cost = count_cost(_model(nodes, [_x("x", [4, 4])], opset=17))
    assert cost.flops == 16
    assert cost.unknown_ops == ("Einsum",)
    assert cost.is_lower_bound


def test_bad_model_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not protobuf \x00\xff\x12")
    with pytest.raises(ConfigError) as err:
        count_cost(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="does not exist"):
        count_cost(tmp_path / "missing.onnx")


def test_model_from_path(tmp_path):
    m = _model([helper.make_node("Relu", ["x"], ["y"])], [_x("x", [2, 5])])
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    assert count_cost(path).flops == 10
    assert count_cost(str(path)).flops == 10


def test_a_model_with_local_functions_is_counted_after_inlining():
    # exporters (torch.onnx dynamo) wrap layers in model-local functions; they are inlined first
    relu = helper.make_function("local", "MyRelu", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
                                [helper.make_opsetid("", 17)])
    graph = helper.make_graph([helper.make_node("MyRelu", ["x"], ["y"], domain="local")], "g",
                              [_x("x", [1, 4, 8])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(graph, functions=[relu],
                          opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
    plain = count_cost(_model([helper.make_node("Relu", ["x"], ["y"])], [_x("x", [1, 4, 8])]))
    cost = count_cost(m)
    assert cost.flops == plain.flops > 0
    assert cost.unknown_ops == ()
