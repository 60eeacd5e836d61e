"""Roofline estimate of inference throughput for one GPU, workload and precision.

throughput = min(peak x compute efficiency x workload scale / FLOPs per inference,
                 bandwidth x memory efficiency / bytes per inference)

Bytes per inference = weights / batch + activations x bytes per element: the
weights are read once per batch, and each intermediate tensor crosses DRAM
once (its producer writes it; the consumer's read of a freshly written tile
mostly hits L2, which on L4 and H100 holds tens of MB).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwtune.recommend.catalog import Efficiency, GpuSpec, Workload

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
# Share of board memory left for weights and activations once the driver,
# the runtime and its workspace have taken theirs.
USABLE_MEMORY_FRACTION = 0.9


@dataclass(frozen=True)
class PrecisionPath:
    requested: str
    executed: str
    peak_tops: float  # dense TFLOPS or TOPS of the path used
    peak_field: str  # catalog column the peak comes from
    note: str  # why the executed path differs from the requested one ("" if it does not)


def resolve_precision(gpu: GpuSpec, requested: str, accumulate: str = "fp32") -> PrecisionPath:
    """The path a runtime would take on this GPU, falling back when a precision has no units."""
    if requested == "int8":
        if gpu.int8_tops:
            return PrecisionPath("int8", "int8", gpu.int8_tops, "int8_tops_dense", "")
        why = "no INT8 path (no INT8 tensor cores or DP4A)"
        return _fallback_fp16(gpu, "int8", accumulate, why)
    if requested == "bf16":
        if gpu.bf16_tensor_tflops:
            return PrecisionPath("bf16", "bf16", gpu.bf16_tensor_tflops, "bf16_tensor_tflops_dense", "")
        return _fallback_fp16(gpu, "bf16", accumulate, "no BF16 matrix units")
    if requested == "fp16":
        return _fallback_fp16(gpu, "fp16", accumulate, "")
    return PrecisionPath("fp32", "fp32", gpu.fp32_tflops, "fp32_tflops", "")


def _fallback_fp16(gpu: GpuSpec, requested: str, accumulate: str, why: str) -> PrecisionPath:
    prefix = f"{why}; " if why else ""
    fp32acc, fp16acc = gpu.fp16_tensor_fp32acc_tflops, gpu.fp16_tensor_tflops
    if accumulate == "fp32" and fp32acc:
        return PrecisionPath(requested, "fp16", fp32acc, "fp16_tensor_fp32acc_tflops_dense",
                             f"{prefix}FP16 tensor path used" if why else "")
    if fp16acc:
        note = f"{prefix}FP16 tensor path used" if why else ""
        if accumulate == "fp32":
            note = (note + "; " if note else "") + "no FP32-accumulate figure, FP16-accumulate rate used"
        return PrecisionPath(requested, "fp16", fp16acc, "fp16_tensor_tflops_dense", note)
    lost = why or "no FP16 matrix units"
    return PrecisionPath(requested, "fp32", gpu.fp32_tflops, "fp32_tflops",
                         f"{lost}; falls back to FP32 on CUDA/vector cores")


def efficiency_key(executed: str) -> str:
    """bf16 shares the fp16 efficiency row: same matrix units, same kernels."""
    return "fp16" if executed == "bf16" else executed


@dataclass(frozen=True)
class Roofline:
    batch: int
    flops_per_inference: float
    bytes_per_inference: float
    compute_limit_per_s: float
    memory_limit_per_s: float
    throughput_per_s: float
    bound: str  # "compute" or "memory"
    latency_ms: float  # time to run one batch
    memory_needed_gb: float


def bytes_per_inference(workload: Workload, precision: str, batch: int) -> float:
    bpe = BYTES_PER_ELEMENT[precision]
    return workload.params * bpe / batch + workload.activations * bpe


def memory_needed_gb(workload: Workload, precision: str, batch: int) -> float:
    """Weights plus every activation of a batch held at once: an upper bound, on purpose."""
    bpe = BYTES_PER_ELEMENT[precision]
    return (workload.params + batch * workload.activations) * bpe / 1e9


def roofline(gpu: GpuSpec, workload: Workload, path: PrecisionPath, eff: Efficiency,
             batch: int) -> Roofline:
    flops = workload.flops_per_inference
    nbytes = bytes_per_inference(workload, path.executed, batch)
    compute = path.peak_tops * 1e12 * eff.compute * workload.compute_scale / flops
    memory = gpu.mem_bw_gbps * 1e9 * eff.memory / nbytes
    throughput = min(compute, memory)
    return Roofline(
        batch=batch, flops_per_inference=flops, bytes_per_inference=nbytes,
        compute_limit_per_s=compute, memory_limit_per_s=memory, throughput_per_s=throughput,
        bound="compute" if compute <= memory else "memory",
        latency_ms=batch / throughput * 1000.0,
        memory_needed_gb=memory_needed_gb(workload, path.executed, batch),
    )


def fits(gpu: GpuSpec, workload: Workload, precision: str, batch: int) -> bool:
    return memory_needed_gb(workload, precision, batch) <= gpu.memory_gb * USABLE_MEMORY_FRACTION


def candidate_batches(max_batch: int) -> list[int]:
    """Powers of two up to max_batch, and max_batch itself, largest first."""
    sizes = {max_batch}
    b = 1
    while b < max_batch:
        sizes.add(b)
        b *= 2
    return sorted(sizes, reverse=True)


def best_roofline(gpu: GpuSpec, workload: Workload, path: PrecisionPath, eff: Efficiency,
                  max_batch: int, latency_slo_ms: float | None) -> tuple[Roofline | None, str]:
    """The largest batch that fits in memory (and meets the SLO); None with the reason if none does."""
    fitting = [b for b in candidate_batches(max_batch) if fits(gpu, workload, path.executed, b)]
    if not fitting:
        need = memory_needed_gb(workload, path.executed, 1)
        return None, (f"memory too small: {need:.1f} GB needed at batch 1, "
                      f"{gpu.memory_gb:g} GB on the board")
    for b in fitting:
        r = roofline(gpu, workload, path, eff, b)
        if latency_slo_ms is None or r.latency_ms <= latency_slo_ms:
            return r, ""
    r1 = roofline(gpu, workload, path, eff, fitting[-1])
    return None, (f"latency SLO {latency_slo_ms:g} ms not met: "
                  f"{r1.latency_ms:.2f} ms at batch {r1.batch}")
