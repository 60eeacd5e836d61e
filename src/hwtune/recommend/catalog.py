"""The packaged data of `hwtune recommend`: GPUs, cloud prices, workloads, efficiencies.

Each table is a CSV under `data/`, one row per fact with its source. Loading
validates every row and names the file, row and column of a bad value.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from hwtune.errors import ConfigError

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
CLASSES = ("server", "desktop", "workstation")
HOSTS = ("desktop", "pcie-server", "baseboard")


@dataclass(frozen=True)
class GpuSpec:
    name: str
    vendor: str
    gpu_class: str
    architecture: str
    family: str
    launch_year: int
    form_factor: str
    host: str
    slots: int
    memory_gb: float
    memory_type: str
    mem_bw_gbps: float
    fp32_tflops: float
    fp16_tensor_tflops: float | None  # None: no matrix units for FP16
    fp16_tensor_fp32acc_tflops: float | None
    bf16_tensor_tflops: float | None
    int8_tops: float | None
    tdp_w: float
    launch_msrp_usd: float | None
    street_price_usd: str  # free text: "1000" or a range "8000-15000"
    price_confidence: str
    price_as_of: str
    estimated_fields: str
    device_aliases: tuple[str, ...]
    notes: str
    source: str
    checked: str
    row: int  # line number in gpus.csv, for tracing a figure to its row


@dataclass(frozen=True)
class CloudOffer:
    provider: str
    service: str
    instance_type: str
    gpu: str
    catalog_gpu: str | None
    gpu_count: int
    region: str
    price_usd_per_hour: float
    price_usd_per_gpu_hour: float
    as_of: str
    status: str
    source: str
    notes: str
    row: int

    @property
    def current(self) -> bool:
        return self.status.startswith("current")


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    input: str
    flops_per_inference: float
    params: float
    activations: float  # elements of intermediate tensors per inference
    flops_source: str
    activations_source: str
    row: int  # 0 for a workload counted from a user's model
    # Multiplies the architecture's compute efficiency: how well this network's layers use
    # matrix units compared with ResNet-50, on which the efficiencies were fitted.
    compute_scale: float = 1.0
    compute_scale_basis: str = "no workload-specific data: 1.0"


@dataclass(frozen=True)
class Efficiency:
    family: str
    precision: str  # fp32, fp16 (also used for bf16) or int8
    compute: float
    memory: float
    basis: str  # fit, carried (the family's fit, other precision), judgement or measured
    source: str


@dataclass(frozen=True)
class Catalog:
    gpus: tuple[GpuSpec, ...]
    cloud: tuple[CloudOffer, ...]
    workloads: tuple[Workload, ...]
    efficiencies: tuple[Efficiency, ...]

    def gpu(self, name: str) -> GpuSpec | None:
        return next((g for g in self.gpus if g.name == name), None)

    def workload(self, name: str) -> Workload | None:
        return next((w for w in self.workloads if w.name == name), None)


class _Row:
    """One CSV row with typed getters that raise a ConfigError naming file, row and column."""

    def __init__(self, fname: str, line: int, values: dict[str, str]) -> None:
        self.fname, self.line, self.values = fname, line, values

    def _fail(self, col: str, why: str) -> ConfigError:
        return ConfigError(f"{self.fname} row {self.line}, column {col}: {why}")

    def text(self, col: str, required: bool = True) -> str:
        value = (self.values.get(col) or "").strip()
        if required and not value:
            raise self._fail(col, "empty")
        return value

    def num(self, col: str, required: bool = True) -> float | None:
        raw = self.text(col, required)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self._fail(col, f"not a number: {raw!r}") from None
        if value <= 0:
            raise self._fail(col, f"must be positive: {raw!r}")
        return value

    def choice(self, col: str, allowed: tuple[str, ...]) -> str:
        value = self.text(col)
        if value not in allowed:
            raise self._fail(col, f"{value!r} is not one of {', '.join(allowed)}")
        return value


def parse_rows(text: str, fname: str, columns: tuple[str, ...]) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(f"{fname}: missing column(s) {', '.join(missing)}")
    # Line 1 is the header, so data rows start at 2.
    return [_Row(fname, i, r) for i, r in enumerate(reader, start=2)]


GPU_COLUMNS = (
    "name", "vendor", "class", "architecture", "family", "launch_year", "form_factor", "host",
    "slots", "memory_gb", "memory_type", "mem_bw_gbps", "fp32_tflops", "fp16_tensor_tflops_dense",
    "fp16_tensor_fp32acc_tflops_dense", "bf16_tensor_tflops_dense", "int8_tops_dense", "tdp_w",
    "launch_msrp_usd", "street_price_usd", "price_confidence", "price_as_of", "estimated_fields",
    "device_aliases", "notes", "source", "checked",
)


def parse_gpus(text: str, fname: str = "gpus.csv") -> tuple[GpuSpec, ...]:
    gpus = []
    for r in parse_rows(text, fname, GPU_COLUMNS):
        year = r.num("launch_year")
        gpus.append(GpuSpec(
            name=r.text("name"), vendor=r.text("vendor"), gpu_class=r.choice("class", CLASSES),
            architecture=r.text("architecture"), family=r.text("family"), launch_year=int(year or 0),
            form_factor=r.text("form_factor"), host=r.choice("host", HOSTS),
            slots=_whole(r, "slots"),
            memory_gb=r.num("memory_gb"), memory_type=r.text("memory_type"),
            mem_bw_gbps=r.num("mem_bw_gbps"), fp32_tflops=r.num("fp32_tflops"),
            fp16_tensor_tflops=r.num("fp16_tensor_tflops_dense", False),
            fp16_tensor_fp32acc_tflops=r.num("fp16_tensor_fp32acc_tflops_dense", False),
            bf16_tensor_tflops=r.num("bf16_tensor_tflops_dense", False),
            int8_tops=r.num("int8_tops_dense", False), tdp_w=r.num("tdp_w"),
            launch_msrp_usd=r.num("launch_msrp_usd", False),
            street_price_usd=r.text("street_price_usd", False),
            price_confidence=r.text("price_confidence"), price_as_of=r.text("price_as_of", False),
            estimated_fields=r.text("estimated_fields", False),
            device_aliases=tuple(a.strip() for a in r.text("device_aliases").split(";") if a.strip()),
            notes=r.text("notes", False), source=r.text("source"), checked=r.text("checked"),
            row=r.line,
        ))
    _unique(fname, [g.name for g in gpus])
    return tuple(gpus)


def _fraction(r: _Row, col: str) -> float:
    value = r.num(col)
    if value > 1:
        raise r._fail(col, f"a fraction of peak is at most 1: {value:g}")
    return value


def _whole(r: _Row, col: str) -> int:
    raw = r.text(col)
    if not raw.isdigit():
        raise r._fail(col, f"not a whole number: {raw!r}")
    return int(raw)


def _unique(fname: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConfigError(f"{fname}: duplicate name {n!r}")
        seen.add(n)


CLOUD_COLUMNS = (
    "provider", "service", "instance_type", "gpu", "catalog_gpu", "gpu_count", "region",
    "price_usd_per_hour", "price_usd_per_gpu_hour", "as_of", "status", "source", "notes",
)


def parse_cloud(text: str, fname: str = "cloud.csv") -> tuple[CloudOffer, ...]:
    return tuple(
        CloudOffer(
            provider=r.text("provider"), service=r.text("service"),
            instance_type=r.text("instance_type"), gpu=r.text("gpu"),
            catalog_gpu=r.text("catalog_gpu", False) or None,
            gpu_count=_whole(r, "gpu_count"), region=r.text("region"),
            price_usd_per_hour=r.num("price_usd_per_hour"),
            price_usd_per_gpu_hour=r.num("price_usd_per_gpu_hour"),
            as_of=r.text("as_of"), status=r.text("status"), source=r.text("source"),
            notes=r.text("notes", False), row=r.line,
        )
        for r in parse_rows(text, fname, CLOUD_COLUMNS)
    )


WORKLOAD_COLUMNS = (
    "name", "description", "input", "gflops_per_inference", "params_m", "activations_m",
    "flops_source", "activations_source", "compute_scale", "compute_scale_basis", "checked",
)


def parse_workloads(text: str, fname: str = "workloads.csv") -> tuple[Workload, ...]:
    workloads = tuple(
        Workload(
            name=r.text("name"), description=r.text("description"), input=r.text("input"),
            flops_per_inference=r.num("gflops_per_inference") * 1e9,
            params=r.num("params_m") * 1e6, activations=r.num("activations_m") * 1e6,
            flops_source=r.text("flops_source"), activations_source=r.text("activations_source"),
            row=r.line, compute_scale=_fraction(r, "compute_scale"),
            compute_scale_basis=r.text("compute_scale_basis"),
        )
        for r in parse_rows(text, fname, WORKLOAD_COLUMNS)
    )
    _unique(fname, [w.name for w in workloads])
    return workloads


EFFICIENCY_COLUMNS = (
    "family", "precision", "compute_efficiency", "memory_efficiency", "basis", "source",
)


def parse_efficiencies(text: str, fname: str = "efficiency.csv") -> tuple[Efficiency, ...]:
    rows = []
    for r in parse_rows(text, fname, EFFICIENCY_COLUMNS):
        compute, memory = _fraction(r, "compute_efficiency"), _fraction(r, "memory_efficiency")
        rows.append(Efficiency(
            family=r.text("family"), precision=r.choice("precision", ("fp32", "fp16", "int8")),
            compute=compute, memory=memory,
            basis=r.choice("basis", ("fit", "carried", "judgement")), source=r.text("source"),
        ))
    _unique(fname, [f"{e.family}/{e.precision}" for e in rows])
    return tuple(rows)


def _read_data(fname: str) -> str:
    return resources.files("hwtune.recommend").joinpath("data", fname).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog (read once per process)."""
    return Catalog(
        gpus=parse_gpus(_read_data("gpus.csv")),
        cloud=parse_cloud(_read_data("cloud.csv")),
        workloads=parse_workloads(_read_data("workloads.csv")),
        efficiencies=parse_efficiencies(_read_data("efficiency.csv")),
    )
