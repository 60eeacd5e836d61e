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

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8", "fp4")
CLASSES = ("server", "workstation", "desktop")
KINDS = ("cnn", "encoder", "llm")
HOSTS = ("desktop", "pcie-server", "baseboard", "rack")


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
    fp32_tflops: float | None  # None: not in the sources read (Gaudi, MI355X)
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
    fp8_tops: float | None = None  # dense; None: no FP8 units (or no public figure)
    fp4_tops: float | None = None
    interconnect: str = ""
    interconnect_gbps: float = 32.0  # GPU-to-GPU, one way, per GPU: what tensor parallelism moves over


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
    kind: str = "cnn"
    # Encoders (kind "encoder"): the layer shapes, so FLOPs follow the token count.
    layers: int = 0
    hidden: int = 0
    ffn: int = 0
    seq_len: float = 0.0  # tokens per sample the estimate uses by default
    seq_len_basis: str = ""  # where that count comes from
    padded_seq_len: int = 0  # the layout's maximum (what a padded runtime computes)


@dataclass(frozen=True)
class Llm:
    """A decoder-only language model served token by token, with the dataset MLPerf runs it on."""

    name: str
    description: str
    total_params: float
    active_params: float  # per token: all of them, except for a mixture of experts
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int
    max_input_tokens: int
    max_output_tokens: int
    output_tokens_mean: float | None  # None: not published in the sources read
    # FLOPs per generated token in units of 2 x active parameters: 1 is decoding alone; the
    # prompt's prefill, beam search and runtime overheads add to it. Fitted (see the basis).
    work_per_token: float
    work_per_token_basis: str
    dataset: str
    params_source: str
    length_source: str
    row: int
    prompt_tokens: float = 0.0  # a prompt's tokens when the user gave them; 0: the dataset's
    lengths_basis: str = ""  # "" for the dataset's lengths
    # The work per token on the FP4 path against the FP8 one, where the published FP4
    # results show it gaining less than the FP4 rate (a mixture of experts: fitted, see
    # fp4_work_basis); 1 elsewhere.
    fp4_work_scale: float = 1.0
    fp4_work_basis: str = ""
    context_tokens: int = 0  # the model's window: a prompt and its answer together fit in it

    @property
    def dataset_prompt_tokens(self) -> float:
        """The prompt a TTFT is judged on and the default prefill: half the longest (the
        datasets' mean input lengths are not published in the sources read)."""
        return self.max_input_tokens / 2

    @property
    def dataset_output_tokens(self) -> float:
        return self.output_tokens_mean or self.max_output_tokens / 2

    def kv_bytes_per_token(self, bytes_per_value: float) -> float:
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


@dataclass(frozen=True)
class Efficiency:
    family: str
    precision: str  # fp32, fp16 (also used for bf16), int8, fp8 or fp4
    compute: float
    memory: float
    basis: str  # a key of labels.EFFICIENCY_LABELS: fit, carried, borrowed, judgement, measured
    source: str
    gpu: str = ""  # a row for one GPU of the family (its own published result), else ""
    kind: str = ""  # a row for one kind of workload (encoder, llm), else ""


@dataclass(frozen=True)
class Catalog:
    gpus: tuple[GpuSpec, ...]
    cloud: tuple[CloudOffer, ...]
    workloads: tuple[Workload, ...]
    efficiencies: tuple[Efficiency, ...]
    llms: tuple[Llm, ...] = ()

    def gpu(self, name: str) -> GpuSpec | None:
        return next((g for g in self.gpus if g.name == name), None)

    def known_gpu(self, name: str) -> GpuSpec:
        """A GPU that a data row checked against gpus.csv at load names (published.csv)."""
        gpu = self.gpu(name)
        if gpu is None:
            raise KeyError(f"{name!r} is not in gpus.csv")  # a bug: the row was checked
        return gpu

    def workload(self, name: str) -> Workload | None:
        return next((w for w in self.workloads if w.name == name), None)

    def llm(self, name: str) -> Llm | None:
        return next((m for m in self.llms if m.name == name), None)

    def workload_names(self) -> list[str]:
        return [w.name for w in self.workloads] + [m.name for m in self.llms]

    @property
    def vendors(self) -> list[str]:
        return sorted({g.vendor for g in self.gpus})


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

    def num(self, col: str) -> float:
        """A positive number the column must hold."""
        return self._positive(col, self.text(col))

    def maybe_num(self, col: str) -> float | None:
        """A positive number, or None where the cell is empty."""
        raw = self.text(col, required=False)
        return self._positive(col, raw) if raw else None

    def _positive(self, col: str, raw: str) -> float:
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
    "device_aliases", "notes", "source", "checked", "fp8_tops_dense", "fp4_tops_dense",
    "interconnect", "interconnect_gbps",
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
            mem_bw_gbps=r.num("mem_bw_gbps"), fp32_tflops=r.maybe_num("fp32_tflops"),
            fp16_tensor_tflops=r.maybe_num("fp16_tensor_tflops_dense"),
            fp16_tensor_fp32acc_tflops=r.maybe_num("fp16_tensor_fp32acc_tflops_dense"),
            bf16_tensor_tflops=r.maybe_num("bf16_tensor_tflops_dense"),
            int8_tops=r.maybe_num("int8_tops_dense"), tdp_w=r.num("tdp_w"),
            launch_msrp_usd=r.maybe_num("launch_msrp_usd"),
            street_price_usd=r.text("street_price_usd", False),
            price_confidence=r.text("price_confidence"), price_as_of=r.text("price_as_of", False),
            estimated_fields=r.text("estimated_fields", False),
            device_aliases=tuple(a.strip() for a in r.text("device_aliases").split(";") if a.strip()),
            notes=r.text("notes", False), source=r.text("source"), checked=r.text("checked"),
            row=r.line, fp8_tops=r.maybe_num("fp8_tops_dense"), fp4_tops=r.maybe_num("fp4_tops_dense"),
            interconnect=r.text("interconnect"), interconnect_gbps=r.num("interconnect_gbps"),
        ))
    _unique(fname, [g.name for g in gpus])
    return tuple(gpus)


def _fraction(r: _Row, col: str) -> float:
    value = r.num(col)
    if value > 1:
        raise r._fail(col, f"a fraction of peak is at most 1: {value:g}")
    return value


def _whole(r: _Row, col: str, required: bool = True) -> int:
    raw = r.text(col, required)
    if not raw and not required:
        return 0
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
    "kind", "layers", "hidden", "ffn", "seq_len", "seq_len_basis", "padded_seq_len",
)


def parse_workloads(text: str, fname: str = "workloads.csv") -> tuple[Workload, ...]:
    workloads = tuple(
        Workload(
            name=r.text("name"), description=r.text("description"), input=r.text("input"),
            flops_per_inference=r.num("gflops_per_inference") * 1e9,
            params=r.num("params_m") * 1e6, activations=r.num("activations_m") * 1e6,
            flops_source=r.text("flops_source"), activations_source=r.text("activations_source"),
            row=r.line, compute_scale=_fraction(r, "compute_scale"),
            compute_scale_basis=r.text("compute_scale_basis"), kind=r.choice("kind", KINDS[:2]),
            layers=_whole(r, "layers", False), hidden=_whole(r, "hidden", False),
            ffn=_whole(r, "ffn", False), seq_len=r.maybe_num("seq_len") or 0.0,
            seq_len_basis=r.text("seq_len_basis", False),
            padded_seq_len=_whole(r, "padded_seq_len", False),
        )
        for r in parse_rows(text, fname, WORKLOAD_COLUMNS)
    )
    _unique(fname, [w.name for w in workloads])
    return workloads


EFFICIENCY_COLUMNS = (
    "family", "gpu", "kind", "precision", "compute_efficiency", "memory_efficiency", "basis", "source",
)


def parse_efficiencies(text: str, fname: str = "efficiency.csv") -> tuple[Efficiency, ...]:
    rows = []
    for r in parse_rows(text, fname, EFFICIENCY_COLUMNS):
        compute, memory = _fraction(r, "compute_efficiency"), _fraction(r, "memory_efficiency")
        kind = r.text("kind", False)
        if kind and kind not in KINDS:
            raise r._fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        rows.append(Efficiency(
            family=r.text("family"), precision=r.choice("precision", EFFICIENCY_PRECISIONS),
            compute=compute, memory=memory,
            basis=r.choice("basis", ("fit", "carried", "borrowed", "judgement")), source=r.text("source"),
            gpu=r.text("gpu", False), kind=kind,
        ))
    _unique(fname, ["/".join(efficiency_row_key(e)) for e in rows])
    return tuple(rows)


EFFICIENCY_PRECISIONS = ("fp32", "fp16", "int8", "fp8", "fp4")


def efficiency_row_key(e: Efficiency) -> tuple[str, str, str, str]:
    return (e.gpu or e.family, e.kind, e.precision, "gpu" if e.gpu else "family")


LLM_COLUMNS = (
    "name", "description", "total_params_b", "active_params_b", "layers", "hidden", "kv_heads",
    "head_dim", "max_input_tokens", "max_output_tokens", "output_tokens_mean", "work_per_token",
    "work_per_token_basis", "dataset", "params_source", "length_source", "checked",
    "fp4_work_scale", "fp4_work_basis", "context_tokens", "context_source",
)


def parse_llms(text: str, fname: str = "llms.csv") -> tuple[Llm, ...]:
    llms = []
    for r in parse_rows(text, fname, LLM_COLUMNS):
        total, active = r.num("total_params_b") * 1e9, r.num("active_params_b") * 1e9
        if active > total:
            raise r._fail("active_params_b", "more active than total parameters")
        llms.append(Llm(
            name=r.text("name"), description=r.text("description"), total_params=total,
            active_params=active, layers=_whole(r, "layers"), hidden=_whole(r, "hidden"),
            kv_heads=_whole(r, "kv_heads"), head_dim=_whole(r, "head_dim"),
            max_input_tokens=_whole(r, "max_input_tokens"),
            max_output_tokens=_whole(r, "max_output_tokens"),
            output_tokens_mean=r.maybe_num("output_tokens_mean"),
            work_per_token=r.num("work_per_token"),
            work_per_token_basis=r.text("work_per_token_basis"), dataset=r.text("dataset"),
            params_source=r.text("params_source"), length_source=r.text("length_source"),
            row=r.line, fp4_work_scale=r.maybe_num("fp4_work_scale") or 1.0,
            fp4_work_basis=r.text("fp4_work_basis", False), context_tokens=_whole(r, "context_tokens"),
        ))
        if llms[-1].max_input_tokens + llms[-1].max_output_tokens > llms[-1].context_tokens:
            raise r._fail("context_tokens", "smaller than the dataset's longest prompt and answer")
    _unique(fname, [m.name for m in llms])
    return tuple(llms)


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
        llms=parse_llms(_read_data("llms.csv")),
    )
