"""Roofline estimate of inference throughput for one GPU, workload and precision.

throughput = min(peak x compute efficiency x workload scale / FLOPs per inference,
                 bandwidth x memory efficiency / bytes per inference)

Bytes per inference = weights / batch + activations x bytes per element: the
weights are read once per batch, and each intermediate tensor crosses DRAM
once (its producer writes it; the consumer's read of a freshly written tile
mostly hits L2, which on L4 and H100 holds tens of MB).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hwtune.recommend.catalog import Efficiency, GpuSpec, Workload

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp8": 1, "fp4": 0.5}
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
    if requested == "fp4":
        if gpu.fp4_tops:
            return PrecisionPath("fp4", "fp4", gpu.fp4_tops, "fp4_tops_dense", "")
        if gpu.fp8_tops:
            return PrecisionPath("fp4", "fp8", gpu.fp8_tops, "fp8_tops_dense",
                                 "no FP4 units; FP8 path used")
        return _fallback_fp16(gpu, "fp4", accumulate, "no FP4 or FP8 units")
    if requested == "fp8":
        if gpu.fp8_tops:
            return PrecisionPath("fp8", "fp8", gpu.fp8_tops, "fp8_tops_dense", "")
        return _fallback_fp16(gpu, "fp8", accumulate, "no FP8 units")
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
    return _fp32(gpu, "fp32", "")


def _fp32(gpu: GpuSpec, requested: str, note: str) -> PrecisionPath:
    if gpu.fp32_tflops:
        return PrecisionPath(requested, "fp32", gpu.fp32_tflops, "fp32_tflops", note)
    lost = f"{note}; " if note else ""
    return PrecisionPath(requested, "none", 0.0, "",
                         f"{lost}no public FP32 figure for this GPU: cannot be estimated")


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
    return _fp32(gpu, requested, f"{lost}; falls back to FP32 on CUDA/vector cores")


def efficiency_key(executed: str) -> str:
    """bf16 shares the fp16 efficiency row: same matrix units, same kernels."""
    return "fp16" if executed == "bf16" else executed


def efficiency_chain(executed: str) -> tuple[str, ...]:
    """Efficiency rows to try, nearest first: 8- and 4-bit paths share the 8-bit tensor units'
    fitted fraction when they have no row of their own."""
    return {"fp4": ("fp4", "fp8", "int8"), "fp8": ("fp8", "int8")}.get(
        executed, (efficiency_key(executed),))


def encoder_at(w: Workload, seq_len: float) -> Workload:
    """An encoder workload at a token count: FLOPs and activations follow the layer shapes.

    Per layer and token: QKV, output and FFN matrix products (4h^2 + 2h x ffn MACs) and
    attention (2 x seq x h MACs: scores and context); activations as counted for bert-large
    in workloads.csv (QKV 3h, scores and probabilities 2 x heads x seq, context, output,
    FFN, FFN output), with 64-wide heads.
    """
    h, f, L = w.hidden, w.ffn, w.layers
    flops = 2 * seq_len * L * (4 * h * h + 2 * h * f) + L * 4 * seq_len * seq_len * h
    heads = h // 64
    acts = seq_len * L * (6 * h + f + 2 * heads * seq_len)
    return replace(w, flops_per_inference=flops, activations=acts, seq_len=seq_len,
                   input=f"1x{seq_len:g} tokens")


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
    if compute <= 0:
        compute = 1e-30  # no peak for this path: shown as excluded by the caller
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
