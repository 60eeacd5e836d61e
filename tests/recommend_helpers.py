"""Small builders for the recommend tests: synthetic GPUs and workloads with round numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hwtune.recommend.catalog import Efficiency, GpuSpec, Workload

# the public reference figures, copied into the repository byte for byte (tests/fixtures/INDEX.md)
REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


def gpu(**changes) -> GpuSpec:
    base = GpuSpec(
        name="Test GPU", vendor="NVIDIA", gpu_class="server", architecture="Test", family="test",
        launch_year=2024, form_factor="PCIe dual-slot passive", host="pcie-server", slots=2,
        memory_gb=16.0, memory_type="GDDR6", mem_bw_gbps=1000.0, fp32_tflops=10.0,
        fp16_tensor_tflops=100.0, fp16_tensor_fp32acc_tflops=100.0, bf16_tensor_tflops=100.0,
        int8_tops=200.0, tdp_w=100.0, launch_msrp_usd=1000.0, street_price_usd="",
        price_confidence="high", price_as_of="test", estimated_fields="", device_aliases=("Test GPU",),
        notes="", source="test", checked="2026-11", row=0,
    )
    return replace(base, **changes)


def workload(**changes) -> Workload:
    base = Workload(name="w", description="test", input="1", flops_per_inference=1e9, params=1e6,
                    activations=1e6, flops_source="test", activations_source="test", row=0)
    return replace(base, **changes)


def eff(compute: float = 0.5, memory: float = 0.8, family: str = "test",
        precision: str = "fp16") -> Efficiency:
    return Efficiency(family, precision, compute, memory, "judgement", "test")


def effs(compute: float = 0.5, memory: float = 0.8) -> dict[tuple[str, str, str], Efficiency]:
    """Efficiency rows as the estimate looks them up: (family or GPU, workload kind, precision)."""
    return {("test", "", p): eff(compute, memory, precision=p) for p in ("fp32", "fp16", "int8", "fp8")}
