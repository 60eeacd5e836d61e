"""The shipped data: every row sourced and dated, positive numbers, consistent units, dense figures."""

from __future__ import annotations

import csv

import pytest

from hwtune.errors import ConfigError
from hwtune.recommend.catalog import (
    GPU_COLUMNS,
    PRECISIONS,
    load_catalog,
    parse_efficiencies,
    parse_gpus,
)
from hwtune.recommend.engine import Request, recommend
from recommend_helpers import REFERENCE

CAT = load_catalog()


def test_every_reference_gpu_is_in_the_catalog():
    ref = REFERENCE / "gpu-catalog.csv"
    if not ref.exists():
        pytest.skip(f"{ref} not present")
    names = {r["name"] for r in csv.DictReader(ref.open())}
    assert names <= {g.name for g in CAT.gpus}


def test_reference_figures_are_kept_unless_documented():
    ref = REFERENCE / "gpu-catalog.csv"
    if not ref.exists():
        pytest.skip(f"{ref} not present")
    for r in csv.DictReader(ref.open()):
        g = CAT.gpu(r["name"])
        assert g.mem_bw_gbps == float(r["mem_bw_gbps"]), g.name
        assert g.fp32_tflops == float(r["fp32_tflops"]), g.name
        if r["int8_tops_dense"]:
            assert g.int8_tops == float(r["int8_tops_dense"]), g.name
        if r["fp16_tensor_fp32acc_tflops_dense"]:
            assert g.fp16_tensor_fp32acc_tflops == float(r["fp16_tensor_fp32acc_tflops_dense"])
        elif g.fp16_tensor_fp32acc_tflops:
            assert "fp16_tensor_fp32acc_tflops_dense" in g.estimated_fields, g.name


@pytest.mark.parametrize("g", CAT.gpus, ids=lambda g: g.name)
def test_gpu_row_has_source_date_and_sane_units(g):
    assert g.source and g.checked
    assert 4 <= g.memory_gb <= 300  # GB per board, not MB or bytes
    assert 100 <= g.mem_bw_gbps <= 10000  # GB/s, not TB/s
    assert g.fp32_tflops is None or 1 <= g.fp32_tflops <= 200  # None: not public (Gaudi, MI355X)
    assert 30 <= g.tdp_w <= 1500  # W: B300 and MI355X modules draw 1,400
    if g.launch_msrp_usd or g.street_price_usd:
        assert g.price_confidence and g.price_as_of


@pytest.mark.parametrize("g", CAT.gpus, ids=lambda g: g.name)
def test_tensor_figures_are_dense_not_sparse(g):
    # Dense FP16 matrix rate is at most 16x the FP32 rate on every part shipped (A100, A30);
    # a 2:4-sparsity figure would be 29-32x on A100/H100.
    # Datacenter Blackwell (B200, B300) cut FP32 relative to the tensor cores: 28-30x there.
    limit = 31 if g.family == "nvidia-blackwell-dc" else 16.5
    if g.fp16_tensor_tflops and g.fp32_tflops:
        assert g.fp16_tensor_tflops / g.fp32_tflops <= limit
    if g.fp16_tensor_tflops:
        assert g.fp16_tensor_fp32acc_tflops is None or g.fp16_tensor_fp32acc_tflops <= g.fp16_tensor_tflops
        assert g.int8_tops is None or g.int8_tops >= g.fp16_tensor_tflops * 0.99
    if g.int8_tops and g.fp32_tflops:
        assert g.int8_tops / g.fp32_tflops <= 2 * limit
    # Each halving of the bits at most doubles the dense rate (B300's FP4 is the one above 2x
    # FP8 among the parts here: 13,125 vs 4,500, as its source gives).
    if g.fp8_tops and g.fp16_tensor_tflops:
        assert g.fp8_tops <= 2.03 * g.fp16_tensor_tflops  # L40S: 733 vs 362 (datasheet rounding)
    if g.fp4_tops and g.fp8_tops:
        # GeForce's FP8 figure is its FP32-accumulate rate, half its FP16-accumulate one
        fp8_full = g.fp8_tops * (2 if g.name.startswith("GeForce") else 1)
        assert g.fp4_tops <= (3.0 if g.name.startswith("B300") else 2.03) * fp8_full


def test_datasheet_dense_figures_of_well_known_parts():
    # NVIDIA datasheets headline sparse figures; these are the halves.
    expect = {"A100 SXM4 80GB": (312, 624), "H100 SXM5 80GB": (989.4, 1979), "L4": (121, 242.5),
              "L40S": (362, 733), "Tesla T4": (65, 130), "A10": (125, 250)}
    for name, (fp16, int8) in expect.items():
        g = CAT.gpu(name)
        assert (g.fp16_tensor_tflops, g.int8_tops) == (fp16, int8), name


def test_geforce_runs_fp32_accumulate_at_half_rate():
    g = CAT.gpu("GeForce RTX 4090")
    assert g.fp16_tensor_fp32acc_tflops * 2 == pytest.approx(g.fp16_tensor_tflops, rel=0.01)


def test_cloud_rows_are_consistent_and_mapped():
    for o in CAT.cloud:
        assert o.source and o.as_of
        assert o.price_usd_per_gpu_hour == pytest.approx(o.price_usd_per_hour / o.gpu_count, rel=0.01)
        if o.catalog_gpu:
            assert CAT.gpu(o.catalog_gpu) is not None, o.catalog_gpu
    a10g = [o for o in CAT.cloud if o.gpu.startswith("A10G")]
    assert a10g and all(o.catalog_gpu is None for o in a10g)


def test_workloads_required_by_the_issue_are_built_in():
    names = {w.name for w in CAT.workloads}
    assert {"resnet50", "ssd-mobilenet", "ssd-vgg300", "bert-base", "bert-large",
            "plate-classifier"} <= names
    for w in CAT.workloads:
        assert w.flops_source and w.activations_source
    # FLOPs are 2 x multiply-adds: ResNet-50 is 4.1 GMAC.
    assert CAT.workload("resnet50").flops_per_inference == pytest.approx(8.2e9, rel=0.01)


def test_plate_classifier_row_matches_the_shared_counter():
    zoo = pytest.importorskip("hwtune.bench.zoo", reason="bench's model zoo is not on this branch")
    from hwtune.onnxcost import count_cost

    cost = count_cost(zoo.builtin("plate-classifier").build(), {"image": (1, 3, 64, 128)})
    w = CAT.workload("plate-classifier")
    assert w.flops_per_inference == pytest.approx(cost.flops, rel=1e-3)
    assert w.params == pytest.approx(cost.params, rel=1e-3)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_gpu_has_an_efficiency_row_for_its_path(precision):
    rec = recommend(Request(precision=precision))
    assert len(rec.estimates) == len(CAT.gpus)


def _gpu_csv(**values) -> str:
    row = dict.fromkeys(GPU_COLUMNS, "")
    row.update(name="X", vendor="NVIDIA", **{"class": "server"}, architecture="a", family="f",
               launch_year="2020", form_factor="PCIe", host="pcie-server", slots="2",
               memory_gb="16", memory_type="HBM", mem_bw_gbps="900", fp32_tflops="10", tdp_w="250",
               price_confidence="none", device_aliases="X", source="datasheet", checked="2026-11",
               interconnect="PCIe", interconnect_gbps="32")
    row.update(values)
    return ",".join(GPU_COLUMNS) + "\n" + ",".join(row[c] for c in GPU_COLUMNS) + "\n"


def test_parser_accepts_a_good_row():
    (g,) = parse_gpus(_gpu_csv())
    assert g.memory_gb == 16 and g.row == 2


@pytest.mark.parametrize("col,value,message", [
    ("source", "", "gpus.csv row 2, column source: empty"),
    ("memory_gb", "-16", "gpus.csv row 2, column memory_gb: must be positive"),
    ("mem_bw_gbps", "fast", "gpus.csv row 2, column mem_bw_gbps: not a number"),
    ("class", "laptop", "gpus.csv row 2, column class: 'laptop' is not one of"),
    ("slots", "two", "gpus.csv row 2, column slots: not a whole number"),
])
def test_parser_names_file_row_and_column_of_a_bad_value(col, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_gpus(_gpu_csv(**{col: value}))


def test_efficiency_above_one_is_rejected():
    text = ("family,gpu,kind,precision,compute_efficiency,memory_efficiency,basis,source\n"
            "f,,,int8,1.2,0.7,fit,x\n")
    with pytest.raises(ConfigError,
                       match=r"efficiency\.csv row 2, column compute_efficiency: a fraction of peak is at most 1"):
        parse_efficiencies(text)
