"""Calibration from `hwtune bench` results: a measured efficiency replaces the data one.

A result measured on a GPU of the catalog gives achieved FLOP/s / catalog peak
for the precision it executed; that fraction then stands for the GPU's whole
architecture family. A CPU result says nothing about GPUs and is reported as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from hwtune.errors import ConfigError
from hwtune.files import read_json_file
from hwtune.recommend.catalog import Catalog, Efficiency, GpuSpec
from hwtune.recommend.invalid import InvalidRequest
from hwtune.recommend.roofline import efficiency_key, resolve_precision

PRECISION_NAMES = {
    "fp32": "fp32", "f32": "fp32", "float32": "fp32", "fp16": "fp16", "f16": "fp16",
    "float16": "fp16", "half": "fp16", "bf16": "bf16", "bfloat16": "bf16", "int8": "int8",
    "i8": "int8", "u8": "int8", "qint8": "int8", "fp8": "fp8", "float8": "fp8", "f8": "fp8",
    "fp4": "fp4", "nvfp4": "fp4", "mxfp4": "fp4",
}
CPU_WORDS = ("cpu", "xeon", "epyc", "core(tm)", "ryzen", "threadripper", "neoverse", "graviton")


@dataclass(frozen=True)
class BenchPoint:
    index: int
    device: str
    model: str
    precision: str  # as the result states it
    throughput_fps: float | None
    flops_per_inference: float | None
    gflops_per_s: float | None
    noisy: bool


@dataclass(frozen=True)
class Calibration:
    point: BenchPoint
    gpu: str | None  # catalog name, None when not matched
    family: str | None
    precision: str | None  # normalised executed precision
    achieved_tops: float | None
    peak_tops: float | None
    efficiency: float | None
    accepted: bool
    note: str


def read_bench(path: Path) -> list[BenchPoint]:
    """Results from a file holding one result, a list of them, or {"results": [...]}."""
    try:
        data = read_json_file(path)
    except ConfigError as exc:
        raise InvalidRequest("bench_path", "{why}", why=exc.message) from None
    return parse_bench(data, str(path))


def parse_bench(data: object, name: str) -> list[BenchPoint]:
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        items = data["results"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [data]
    else:
        raise InvalidRequest("bench_path", "{name}: expected a result object or a list of them", name=name)
    points = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRequest("bench_path", "{name}: result {i} is not an object", name=name, i=i)
        points.append(BenchPoint(
            index=i, device=_device_name(item), model=str(item.get("model", "")),
            precision=str(item.get("precision_executed") or item.get("precision_requested") or ""),
            throughput_fps=_number(item, "throughput_fps", name, i),
            # bench writes flops_per_frame; flops_per_inference is the documented name too.
            flops_per_inference=(_number(item, "flops_per_inference", name, i)
                                 or _number(item, "flops_per_frame", name, i)),
            gflops_per_s=_number(item, "gflops_per_s", name, i),
            noisy=bool(item.get("noisy", False)),
        ))
    return points


def _device_name(item: dict) -> str:
    # The most specific name a result offers: a full device name beats "GPU.0".
    for key in ("device_name", "device_full_name", "gpu_name", "device"):
        if item.get(key):
            return str(item[key])
    return ""


def _number(item: dict, key: str, name: str, i: int) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise InvalidRequest("bench_path", "{name}: result {i}, {key}: not a positive number: {value!r}",
                             name=name, i=i, key=key, value=value)
    return float(value)


def normalise(name: str) -> str:
    s = name.lower().replace("(r)", " ").replace("(tm)", " ")
    s = re.sub(r"[-_/,]", " ", s)
    s = re.sub(r"\b(nvidia|tesla|geforce|amd|intel|graphics)\b", " ", s)
    return " ".join(s.split())


def is_cpu(device: str) -> bool:
    d = device.lower()
    return any(w in d for w in CPU_WORDS)


def match_gpu(device: str, gpus: tuple[GpuSpec, ...]) -> GpuSpec | None:
    want = normalise(device)
    if not want:
        return None
    for gpu in gpus:
        if want in {normalise(a) for a in gpu.device_aliases + (gpu.name,)}:
            return gpu
    return None


def calibrate_point(p: BenchPoint, catalog: Catalog, accumulate: str,
                    bench_gpu: str | None = None) -> Calibration:
    def reject(note: str, gpu: GpuSpec | None = None, prec: str | None = None) -> Calibration:
        return Calibration(p, gpu.name if gpu else None, gpu.family if gpu else None, prec,
                           None, None, None, False, note)

    if is_cpu(p.device):
        return reject(f"CPU result ({p.device}): a CPU measurement cannot calibrate GPU estimates")
    gpu = match_gpu(p.device, catalog.gpus)
    if gpu is None and bench_gpu:
        gpu = catalog.gpu(bench_gpu)
    if gpu is None:
        # onnxruntime names only its provider ("CUDAExecutionProvider (onnxruntime 1.x)").
        hint = "; name the GPU it ran on with --bench-gpu" if "executionprovider" in p.device.lower() \
            or p.device.upper().startswith("GPU") else ""
        return reject(f"device {p.device!r} is not a GPU of the catalog{hint}")
    # A mixed execution ("int8+fp32") is named by its main precision first.
    parts = p.precision.lower().split("+")
    prec = PRECISION_NAMES.get(parts[0].strip())
    if prec is None:
        return reject(f"unknown precision {p.precision!r}", gpu)
    path = resolve_precision(gpu, prec, accumulate)
    if path.executed != prec:
        return reject(f"{gpu.name} has no {prec} path in the catalog ({path.note})", gpu, prec)
    achieved = _achieved_flops(p, catalog)
    if achieved is None:
        return reject("no FLOP count: the result has no flops_per_inference or gflops_per_s, "
                      "and its model is not a built-in workload", gpu, prec)
    # A built-in workload with its own compute scale is brought back to the ResNet-like basis
    # the efficiency rows use, so the scale is not applied twice.
    wl = catalog.workload(p.model)
    eff = achieved / (path.peak_tops * 1e12) / (wl.compute_scale if wl else 1.0)
    if eff > 1:
        return reject(f"measured {achieved / 1e12:.1f} TFLOP/s is above the catalog peak "
                      f"{path.peak_tops:g}: check the FLOP count or the catalog row", gpu, prec)
    notes = ["noisy measurement"] if p.noisy else []
    if len(parts) > 1:
        notes.append(f"mixed precision {p.precision}: efficiency taken against the {prec} peak")
    note = "; ".join(notes)
    return Calibration(p, gpu.name, gpu.family, prec, achieved / 1e12, path.peak_tops, eff,
                       True, note)


def _achieved_flops(p: BenchPoint, catalog: Catalog) -> float | None:
    if p.gflops_per_s:
        return p.gflops_per_s * 1e9
    if not p.throughput_fps:
        return None
    flops = p.flops_per_inference
    if flops is None and (wl := catalog.workload(p.model)) is not None:
        flops = wl.flops_per_inference
    return p.throughput_fps * flops if flops else None


def measured_efficiencies(cals: list[Calibration], base: dict[tuple[str, str], Efficiency],
                          source: str) -> dict[tuple[str, str], Efficiency]:
    """The best accepted measurement per (family, precision), as efficiency rows."""
    best: dict[tuple[str, str], tuple[float, Calibration]] = {}
    for c in cals:
        # an accepted calibration has all three (calibrate_point)
        if not c.accepted or c.family is None or c.precision is None or c.efficiency is None:
            continue
        key = (c.family, efficiency_key(c.precision))
        if key not in best or c.efficiency > best[key][0]:
            best[key] = (c.efficiency, c)
    out = {}
    for key, (efficiency, c) in sorted(best.items()):
        memory = base[key].memory if key in base else 0.75
        out[key] = replace(
            base.get(key) or Efficiency(key[0], key[1], efficiency, memory, "measured", ""),
            compute=efficiency, basis="measured",
            source=f"{source} result {c.point.index}: {c.point.device}, {c.point.model}, "
                   f"{c.achieved_tops:.2f} TFLOP/s of {c.peak_tops:g}",
        )
    return out
