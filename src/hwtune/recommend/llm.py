"""LLM serving on one GPU type: does the model fit, how many GPUs per replica, tokens per second.

Per replica of n GPUs (tensor parallel) and a batch of B sequences decoding together, one
decode step runs the matrix products (which read the weights once for the whole batch) and
then attention (which reads every sequence's K/V cache): separate kernels, one after the
other, so their times add.

    matmul:    weights / (n x bandwidth x mem eff)
               + B x 2 x active parameters x work per token / (n x peak x compute eff)
               (decode's weight reads and the compute-bound prefill work run one after the
               other: a max() here, full overlap, put PCIe cards 1.5-2x above MLPerf)
    attention: B x context x KV bytes per token / (n x bandwidth x mem eff)
    comm:      4 x layers x B x T x hidden x (n - 1) / n bytes / link bandwidth   (two FP16
               all-reduces per layer, ring algorithm, for each of the T tokens processed per
               generated token: 1 + prompt / answer, since prefill all-reduces every prompt
               token too; 0 on one GPU; over plain PCIe the link bandwidth is scaled by the
               fitted all-reduce share, efficiency.csv)

    step = matmul + attention + comm;   generated tokens/s per GPU = B / step / n

`work per token` (llms.csv) carries the prompt's prefill and anything else a runtime spends
per generated token, in units of a decode pass; it is fitted on published results because
the datasets' mean input lengths are not published in the sources read. B is what the KV
cache leaves room for at the dataset's maximum lengths (capped at MAX_BATCH); a TPOT limit
lowers it; a TTFT limit can exclude a replica whose prefill of one prompt (its arithmetic and
its all-reduces) is too slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hwtune.recommend.catalog import Efficiency, GpuSpec, Llm
from hwtune.recommend.roofline import (
    BYTES_PER_ELEMENT,
    PrecisionPath,
    Roofline,
)

# Sequences in flight per replica: the largest batch in MLPerf v5.0 NVIDIA llama2-70b configs
# (gpu_batch_size 2048, closed/NVIDIA/configs/llama2-70b/Offline).
MAX_BATCH = 2048
REPLICA_SIZES = (1, 2, 4, 8)
ACTIVATION_BYTES = 2  # all-reduced activations stay FP16/BF16
# The KV cache takes this share of the memory the weights and the runtime leave free, as
# TensorRT-LLM's kv_cache_free_gpu_mem_fraction and vLLM's gpu_memory_utilization do (0.9 is
# both defaults' neighbourhood; MLPerf configurations run 0.90-0.97), after a reserve per GPU
# for the CUDA context, activations and communication buffers.
KV_FREE_FRACTION = 0.9
RUNTIME_RESERVE_GB = 2.0
# A larger tensor-parallel group is chosen only when it gives at least this much more per GPU:
# a smaller replica is simpler to run and survives a GPU failure with less capacity lost.
LARGER_REPLICA_GAIN = 1.05


@dataclass(frozen=True)
class LlmPlan:
    gpus_per_replica: int
    batch: int  # sequences per replica decoding together
    weights_gb: float  # whole model, all replicas' GPUs together
    kv_gb_per_sequence: float
    step_ms: float  # one decode step = time per output token (TPOT) at this batch
    ttft_ms: float  # prefill of one prompt on an idle replica
    compute_limit_per_s: float  # per GPU
    memory_limit_per_s: float  # per GPU
    comm_ms: float
    tokens_per_s: float  # per GPU
    bound: str
    kv_bytes_per_value: float


def kv_bytes_per_value(executed: str) -> float:
    """8- and 4-bit runs keep the KV cache in FP8 (as MLPerf's FP8/FP4 submissions do); others FP16."""
    return 1.0 if executed in ("fp8", "fp4", "int8") else 2.0


def sequence_tokens(m: Llm) -> int:
    return m.max_input_tokens + m.max_output_tokens


def resident_tokens(m: Llm) -> float:
    """Tokens of K/V a sequence holds on average while it decodes, with a paged KV cache
    (vLLM, TensorRT-LLM, TGI allocate blocks as tokens arrive): its prompt and half its answer."""
    return (m.prompt_tokens or m.dataset_prompt_tokens) + m.dataset_output_tokens / 2


def work_per_token(m: Llm, path: PrecisionPath) -> float:
    """The fitted work per generated token, with the model's FP4 scale on the FP4 path."""
    return m.work_per_token * (m.fp4_work_scale if path.executed == "fp4" else 1.0)


def tokens_per_generated(m: Llm) -> float:
    """Tokens a replica processes per generated token: the answer's own, and its share of the
    prompt (prefill runs the same layers, and the same all-reduces, once per prompt token)."""
    return 1 + (m.prompt_tokens or m.dataset_prompt_tokens) / m.dataset_output_tokens


def allreduce_seconds(gpu: GpuSpec, m: Llm, n: int, tokens: float) -> float:
    """Two FP16 ring all-reduces per layer of each token's activations across n GPUs."""
    if n <= 1:
        return 0.0
    return (4 * m.layers * tokens * m.hidden * ACTIVATION_BYTES * (n - 1) / n
            / (gpu.interconnect_gbps * 1e9))


def step_time(gpu: GpuSpec, m: Llm, path: PrecisionPath, eff: Efficiency, n: int, batch: int,
              kv_bpv: float) -> tuple[float, float, float, float]:
    """(step, memory, compute, comm) seconds for one decode step of `batch` sequences; memory
    is the time spent reading weights and K/V, compute the matrix products' arithmetic."""
    bw = n * gpu.mem_bw_gbps * 1e9 * eff.memory
    weights = m.total_params * BYTES_PER_ELEMENT[path.executed] / bw
    attention = m.kv_bytes_per_token(kv_bpv) * resident_tokens(m) * batch / bw
    compute = batch * 2 * m.active_params * work_per_token(m, path) / (n * path.peak_tops * 1e12 * eff.compute)
    # every token processed, prompt or generated, is all-reduced twice per layer
    comm = allreduce_seconds(gpu, m, n, batch * tokens_per_generated(m))
    return weights + compute + attention + comm, weights + attention, compute, comm


def max_batch(gpu: GpuSpec, m: Llm, path: PrecisionPath, n: int, kv_bpv: float) -> int:
    weights = m.total_params * BYTES_PER_ELEMENT[path.executed]
    free = KV_FREE_FRACTION * (n * (gpu.memory_gb - RUNTIME_RESERVE_GB) * 1e9 - weights)
    if free < m.kv_bytes_per_token(kv_bpv) * sequence_tokens(m):
        return 0  # not even one sequence of the longest length fits
    return min(MAX_BATCH, int(free // (m.kv_bytes_per_token(kv_bpv) * resident_tokens(m))))


def plan_replica(gpu: GpuSpec, m: Llm, path: PrecisionPath, eff: Efficiency, n: int,
                 tpot_ms: float | None, ttft_ms: float | None) -> tuple[LlmPlan | None, str]:
    kv_bpv = kv_bytes_per_value(path.executed)
    b_max = max_batch(gpu, m, path, n, kv_bpv)
    if b_max < 1:
        need = m.total_params * BYTES_PER_ELEMENT[path.executed] / 1e9
        return None, (f"{need:.0f} GB of weights plus one sequence's KV cache do not fit in "
                      f"{n} x {gpu.memory_gb:g} GB")
    prefill_tokens = m.prompt_tokens or m.dataset_prompt_tokens
    ttft = (prefill_tokens * 2 * m.active_params / (n * path.peak_tops * 1e12 * eff.compute)
            + allreduce_seconds(gpu, m, n, prefill_tokens)) * 1000
    if ttft_ms is not None and ttft > ttft_ms:
        return None, f"TTFT {ttft:.0f} ms for a {prefill_tokens:.0f}-token prompt exceeds {ttft_ms:g} ms"
    batch = b_max
    if tpot_ms is not None:
        lo, hi = 0, b_max  # largest batch whose step meets the TPOT limit (step grows with batch)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if step_time(gpu, m, path, eff, n, mid, kv_bpv)[0] * 1000 <= tpot_ms:
                lo = mid
            else:
                hi = mid - 1
        if lo < 1:
            t1 = step_time(gpu, m, path, eff, n, 1, kv_bpv)[0] * 1000
            return None, f"TPOT {t1:.1f} ms at one sequence exceeds {tpot_ms:g} ms"
        batch = lo
    step, memory, compute, comm = step_time(gpu, m, path, eff, n, batch, kv_bpv)
    return LlmPlan(
        gpus_per_replica=n, batch=batch,
        weights_gb=m.total_params * BYTES_PER_ELEMENT[path.executed] / 1e9,
        kv_gb_per_sequence=m.kv_bytes_per_token(kv_bpv) * resident_tokens(m) / 1e9,
        step_ms=step * 1000, ttft_ms=ttft, compute_limit_per_s=batch / compute / n,
        memory_limit_per_s=batch / memory / n, comm_ms=comm * 1000,
        tokens_per_s=batch / step / n, bound="compute" if compute >= memory else "memory",
        kv_bytes_per_value=kv_bpv,
    ), ""


def plan_llm(gpu: GpuSpec, m: Llm, path: PrecisionPath, eff: Efficiency,
             tpot_ms: float | None = None, ttft_ms: float | None = None,
             max_gpus: int = REPLICA_SIZES[-1]) -> tuple[LlmPlan | None, str]:
    """The replica size (1, 2, 4 or 8 GPUs) giving the most tokens/s per GPU, or why none works."""
    best, why = None, ""
    for n in (s for s in REPLICA_SIZES if s <= max_gpus):
        plan, reason = plan_replica(gpu, m, path, eff, n, tpot_ms, ttft_ms)
        if plan is None:
            why = reason  # the largest replica tried says most
            continue
        if best is None or plan.tokens_per_s > best.tokens_per_s * LARGER_REPLICA_GAIN:
            best = plan
    return best, ("" if best else why)


def as_roofline(p: LlmPlan, m: Llm, path: PrecisionPath) -> Roofline:
    """The plan in the shape every estimate has: per GPU, one 'inference' is one generated token."""
    return Roofline(
        batch=p.batch, flops_per_inference=2 * m.active_params * work_per_token(m, path),
        bytes_per_inference=(p.weights_gb * 1e9 / p.batch
                             + m.kv_bytes_per_token(p.kv_bytes_per_value) * resident_tokens(m)),
        compute_limit_per_s=p.compute_limit_per_s, memory_limit_per_s=p.memory_limit_per_s,
        throughput_per_s=p.tokens_per_s, bound=p.bound, latency_ms=p.step_ms,
        memory_needed_gb=p.weights_gb / p.gpus_per_replica + p.batch * p.kv_gb_per_sequence / p.gpus_per_replica,
    )


def with_lengths(m: Llm, input_tokens: float | None, output_tokens: float | None) -> Llm:
    """The model served at the user's mean prompt and answer lengths instead of the dataset's.

    The KV cache kept per sequence is the whole prompt plus answer; a decode step reads half
    of it on average (as for the dataset); a prompt's prefill is its own length. The fitted
    work per generated token is taken to scale with the tokens processed per generated token,
    (input + output) / output, against the dataset's (a stated assumption, not a fit).
    """
    if input_tokens is None and output_tokens is None:
        return m
    i = input_tokens or m.dataset_prompt_tokens
    o = output_tokens or m.dataset_output_tokens
    scale = (1 + i / o) / (1 + m.dataset_prompt_tokens / m.dataset_output_tokens)
    return replace(m, max_input_tokens=max(1, round(i)), max_output_tokens=max(1, round(o)),
                   prompt_tokens=i, output_tokens_mean=o, work_per_token=m.work_per_token * scale,
                   lengths_basis=f"{i:g} input and {o:g} output tokens per request, given by the user")


def cards_for(target_per_s: float, per_gpu_per_s: float, gpus_per_replica: int) -> int:
    """GPUs to reach a target, in whole replicas."""
    replicas = math.ceil(target_per_s / (per_gpu_per_s * gpus_per_replica))
    return max(1, replicas) * gpus_per_replica
