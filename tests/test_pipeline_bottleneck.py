"""The bottleneck numbers and the stages' own pieces (layout, top-k): pure, table-driven."""

from __future__ import annotations

import pytest

from hwtune.bench.pipeline import bottleneck as bn

np = pytest.importorskip("numpy")


def _stages(decode_cpu_ms: float, model_ms: float, model_on_host: bool, model_cpu_ms: float = 0.0):
    return [bn.StageFigures("read", 0.1, 0.2, 0.1, 0.1), bn.StageFigures("decode", decode_cpu_ms, decode_cpu_ms,
                                                                       decode_cpu_ms, decode_cpu_ms),
            bn.StageFigures("infer", model_ms, model_ms, model_ms, model_cpu_ms if model_on_host else 0.0,
                            on_host=model_on_host)]


def test_the_issues_example_decode_limits_a_gpu_model_at_410_qps_on_2_cores():
    stages = _stages(9.8, 1000 / 410, model_on_host=False)
    neck = bn.bottleneck(stages, "infer", 2)
    assert neck.model_rate_qps == pytest.approx(410)
    assert neck.cores_needed["decode"] == pytest.approx(4.018, abs=1e-3)
    assert "infer" not in neck.cores_needed  # a GPU model takes no host core
    assert neck.limit == "decode"
    assert neck.host_qps == pytest.approx(2 / 0.0099, rel=1e-6)  # read and decode share the 2 cores
    text = bn.sentence(stages, neck, "1920x1080 JPEG", "infer")
    assert text.startswith("decode 1920x1080 JPEG: 9.8 ms CPU per request; at 410 QPS")
    assert "decode limits this host to 202 QPS on 2 cores" in text
    assert neck.cores_to_feed_model == 5


def test_a_model_slower_than_decoding_is_the_limit():
    stages = _stages(6.0, 20.0, model_on_host=False)  # fixed:20ms
    neck = bn.bottleneck(stages, "infer", 2)
    assert neck.limit == "infer" and neck.host_qps == pytest.approx(50)
    assert bn.sentence(stages, neck, "x", "infer").startswith("the model limits this host: 50 QPS")


def test_a_cpu_model_shares_the_cores_and_the_stage_with_most_cpu_limits():
    stages = _stages(10.0, 3.0, model_on_host=True, model_cpu_ms=2.5)
    neck = bn.bottleneck(stages, "infer", 2)
    assert neck.model_rate_qps == pytest.approx(800)  # 2 cores / 2.5 ms
    assert neck.cores_needed["infer"] == pytest.approx(2.0)
    assert neck.limit == "decode"
    assert neck.host_qps == pytest.approx(2 / 0.0126)
    heavy = _stages(1.0, 30.0, model_on_host=True, model_cpu_ms=25.0)
    assert bn.bottleneck(heavy, "infer", 2).limit == "infer"
    assert "the model limits this host to" in bn.sentence(heavy, bn.bottleneck(heavy, "infer", 2), "x", "infer")


def test_a_faster_decoder_or_the_gpu_raises_the_hosts_rate_up_to_the_models():
    stages = _stages(9.8, 1000 / 410, model_on_host=False)
    assert bn.host_qps_with(stages, "infer", 2, "decode", 4.9) == pytest.approx(2 / 0.005)
    assert bn.host_qps_with(stages, "infer", 2, "decode", 0.0) == pytest.approx(410)


def test_stage_figures_use_nearest_rank_percentiles_and_mean_cpu():
    f = bn.stage_figures("decode", [i / 1000 for i in range(1, 101)], [0.002] * 100)
    assert (f.p50_ms, f.p99_ms, f.cpu_ms) == (pytest.approx(50), pytest.approx(99), pytest.approx(2))
    assert f.per_core_rps == pytest.approx(500)
    assert bn.stage_figures("infer", [0.02], [0.0001], on_host=False).cpu_ms == 0.0


@pytest.mark.parametrize("layout,dtype,shape", [("NCHW", "float32", (1, 3, 64, 128)),
                                                ("NHWC", "uint8", (1, 64, 128, 3)),
                                                ("NCHW", "float32", (1, 1, 64, 128))])
def test_normalise_lays_out_what_the_model_asks_for(layout, dtype, shape):
    from hwtune.bench.pipeline.model import InputSpec
    from hwtune.bench.pipeline.stages import normalise_stage

    c = shape[1] if layout == "NCHW" else shape[3]
    rgb = np.full((64, 128, 3), 255, np.uint8)
    out = normalise_stage(InputSpec("x", layout, 64, 128, c, dtype))(rgb)
    assert out.shape == shape and out.dtype == np.dtype(dtype) and out.flags.c_contiguous
    if dtype == "float32":  # white is (1 - mean) / std
        assert out[0, 0, 0, 0] == pytest.approx((1 - 0.485) / 0.229, rel=1e-5)


def test_top_k_is_most_likely_first_with_softmax_probabilities():
    from hwtune.bench.pipeline.stages import top_k

    got = top_k(np.array([[0.0, 3.0, 1.0, 2.0, -1.0, 0.5]]), k=3)
    assert [i for i, _ in got] == [1, 3, 2]
    assert got[0][1] > got[1][1] > got[2][1] and sum(p for _, p in top_k(np.zeros(4), 4)) == pytest.approx(1)


@pytest.mark.parametrize("dims,layout", [([1, 3, 64, 128], "NCHW"), ([1, 224, 224, 3], "NHWC")])
def test_the_layout_is_read_from_the_models_input(dims, layout):
    from hwtune.bench.pipeline.model import input_spec

    assert input_spec("x", dims, "float32").layout == layout


@pytest.mark.parametrize("dims", [[1, 784], [1, 128, 256], [1, 64, 56, 56]])
def test_a_model_that_takes_no_image_is_refused_with_its_input_named(dims):
    from hwtune.bench.pipeline.model import input_spec
    from hwtune.errors import ConfigError

    with pytest.raises(ConfigError, match="input 'x'"):
        input_spec("x", dims, "float32")
