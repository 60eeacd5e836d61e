"""Datasheet facts that are easy to get wrong, pinned; and a source and date for every figure."""

from __future__ import annotations

import csv
import io
import re

import pytest

from hwtune.recommend.catalog import _read_data, load_catalog
from hwtune.recommend.roofline import resolve_precision

CAT = load_catalog()
GPUS = {g.name: g for g in CAT.gpus}

# FP8 tensor units: Ada (datacenter, workstation and GeForce), Hopper, Blackwell (datacenter,
# GeForce, RTX PRO), CDNA 3 and 4, Gaudi 2 and 3.
HAS_FP8 = ("L4", "L40S", "RTX 6000 Ada Generation", "GeForce RTX 4060 Ti 16GB", "GeForce RTX 4070",
           "GeForce RTX 4080", "GeForce RTX 4090", "H100 PCIe 80GB", "H100 SXM5 80GB", "H100 NVL 94GB",
           "H200 SXM 141GB", "H200 NVL 141GB", "GH200 144GB", "B200 SXM 180GB",
           "GB200 (B200 186GB, NVL72)", "B300 SXM 288GB", "GeForce RTX 5090", "GeForce RTX 5080",
           "RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000 Blackwell Workstation Edition",
           "Instinct MI300X", "Instinct MI325X", "Instinct MI355X", "Gaudi 2", "Gaudi 3")
# FP4 tensor units: Blackwell and CDNA 4 only.
HAS_FP4 = ("B200 SXM 180GB", "GB200 (B200 186GB, NVL72)", "B300 SXM 288GB", "GeForce RTX 5090",
           "GeForce RTX 5080", "RTX PRO 6000 Blackwell Server Edition",
           "RTX PRO 6000 Blackwell Workstation Edition", "Instinct MI355X")
# No FP8 units: architectures before Ada/Hopper/CDNA 3.
PRE_FP8_FAMILIES = ("nvidia-kepler", "nvidia-pascal", "nvidia-volta", "nvidia-turing",
                    "nvidia-ampere", "nvidia-ampere-ga100", "amd-rdna3", "intel-xe-hpg")
PRE_FP8_GPUS = ("Instinct MI100", "Instinct MI210", "Instinct MI250")
NVLINK = ("A100 SXM4 80GB", "A100 SXM4 40GB", "H100 SXM5 80GB", "H200 SXM 141GB", "H100 NVL 94GB",
          "H200 NVL 141GB", "B200 SXM 180GB", "B300 SXM 288GB", "GB200 (B200 186GB, NVL72)")
NO_NVLINK = ("L4", "L40S", "H100 PCIe 80GB", "GeForce RTX 4090", "GeForce RTX 5090",
             "GeForce RTX 5080", "RTX PRO 6000 Blackwell Server Edition", "A10", "Tesla T4")


@pytest.mark.parametrize("name", HAS_FP8)
def test_fp8_units_where_the_silicon_has_them(name):
    g = GPUS[name]
    assert g.fp8_tops, name
    path = resolve_precision(g, "fp8")
    assert path.executed == "fp8" and "no FP8" not in path.note


@pytest.mark.parametrize("name", HAS_FP4)
def test_fp4_on_blackwell_and_cdna4(name):
    assert GPUS[name].fp4_tops and resolve_precision(GPUS[name], "fp4").executed == "fp4"


def test_no_fp4_before_blackwell():
    for name in ("H100 SXM5 80GB", "H200 SXM 141GB", "L40S", "GeForce RTX 4090", "Instinct MI300X"):
        assert GPUS[name].fp4_tops is None, name


def test_no_fp8_units_is_said_only_where_true():
    for g in CAT.gpus:
        says = "no FP8 units" in resolve_precision(g, "fp8").note
        truly = g.family in PRE_FP8_FAMILIES or g.name in PRE_FP8_GPUS
        assert says == truly, g.name


def test_mi355x_has_fp16_matrix_units():
    path = resolve_precision(GPUS["Instinct MI355X"], "fp16")
    assert path.executed == "fp16" and "no FP16" not in path.note


def test_geforce_fp8_is_the_fp32_accumulate_rate_of_the_whitepaper():
    assert GPUS["GeForce RTX 4090"].fp8_tops == pytest.approx(330.3)  # 660.6 with FP16 accumulate
    assert GPUS["GeForce RTX 5090"].fp8_tops == pytest.approx(419)
    assert GPUS["GeForce RTX 5090"].fp4_tops == pytest.approx(1676)


@pytest.mark.parametrize("name", NVLINK)
def test_nvlink_parts(name):
    assert "NVLink" in GPUS[name].interconnect and GPUS[name].interconnect_gbps >= 300


@pytest.mark.parametrize("name", NO_NVLINK)
def test_pcie_only_parts(name):
    assert "NVLink" not in GPUS[name].interconnect and GPUS[name].interconnect_gbps <= 64


# One-way host-link bandwidth, GB/s: PCIe 3.0 x16 16, 4.0 x16 32, 5.0 x16 64. Ada is PCIe 4.0
# (the data said 64 for every Ada card until 2026-12); Hopper PCIe cards and GB202 are 5.0; Pascal to Turing 3.0.
PCIE_ONE_WAY = {"L40S": 32, "L4": 32, "GeForce RTX 4090": 32, "RTX 6000 Ada Generation": 32,
                "GeForce RTX 4060 Ti 16GB": 16, "A2": 16, "Tesla T4": 16, "Tesla V100 PCIe 32GB": 16,
                "A100 PCIe 80GB": 32, "H100 PCIe 80GB": 64, "GeForce RTX 5090": 64,
                "RTX PRO 6000 Blackwell Server Edition": 64}


@pytest.mark.parametrize("name", sorted(PCIE_ONE_WAY))
def test_pcie_generation_sets_the_link_bandwidth(name):
    assert GPUS[name].interconnect_gbps == PCIE_ONE_WAY[name]


def test_h200_is_not_estimated_slower_than_h100_for_an_llm():
    from hwtune.recommend.engine import Request, recommend

    for prec in ("fp16", "fp8"):
        est = {e.gpu.name: e for e in recommend(Request(workload="llama3.1-8b", precision=prec)).estimates}
        assert est["H200 SXM 141GB"].throughput_per_s >= est["H100 SXM5 80GB"].throughput_per_s, prec


FIGURES = ("fp4_tops", "fp8_tops", "int8_tops", "fp16_tensor_tflops", "bf16_tensor_tflops",
           "memory_gb", "mem_bw_gbps", "interconnect", "tdp_w")
COLUMN = {"fp4_tops": "fp4_tops_dense", "fp8_tops": "fp8_tops_dense", "int8_tops": "int8_tops_dense",
          "fp16_tensor_tflops": "fp16_tensor_tflops_dense", "bf16_tensor_tflops": "bf16_tensor_tflops_dense"}


def test_every_figure_has_a_source_and_a_date():
    rows = list(csv.DictReader(io.StringIO(_read_data("figures.csv"))))
    for g in CAT.gpus:
        mine = [r for r in rows if r["gpu"] == g.name]
        assert mine, f"{g.name}: no row in figures.csv"
        for field in FIGURES:
            if getattr(g, field) in (None, ""):
                continue
            col = COLUMN.get(field, field)
            cover = [r for r in mine if r["fields"] == "*" or col in r["fields"].split(";")]
            assert cover and all(r["source"].strip() for r in cover), (g.name, col)
            assert all(re.fullmatch(r"\d{4}-\d{2}", r["date"]) for r in cover), (g.name, col)
    assert {r["gpu"] for r in rows} <= set(GPUS)
