"""Facts: what the probes observed, nothing judged.

Facts are a flat map of stable dotted ids to plain JSON values (units in the
names: `mem.total_kib`), plus one record per GPU. A fact that could not be
observed is None, with the reason in `unavailable`; zero is never "unknown".
This is the `hwtune facts --json` interface (schema 1) that other tools rely
on, so Facts round-trip through JSON unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from hwtune.errors import ConfigError
from hwtune.factids import entry as catalogued
from hwtune.factids import require

SCHEMA = 1


@dataclass(frozen=True)
class GpuHealth:
    """One GPU's health readings, from NVML or nvidia-smi; None: not reported by this GPU or driver.

    Counters are the driver's: ECC "volatile" since the last driver load,
    "aggregate" over the board's life (kept in its InfoROM).
    """

    ecc_volatile_corrected: int | None = None
    ecc_volatile_uncorrected: int | None = None
    ecc_aggregate_corrected: int | None = None
    ecc_aggregate_uncorrected: int | None = None
    retired_pages_sbe: int | None = None  # pages retired for repeated single-bit errors
    retired_pages_dbe: int | None = None  # pages retired for a double-bit error
    retired_pages_pending: bool | None = None  # a retirement waits for a reboot / driver reload
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remapped_rows_pending: bool | None = None  # a remap waits for a GPU reset
    remapped_rows_failure: bool | None = None
    reset_required: bool | None = None  # "GPU Reset Status: Reset Required" (driver 535+)
    recovery_action: str | None = None  # "GPU Recovery Action" as nvidia-smi -q names it: "Node Reboot Required"
    throttle_reasons: tuple[str, ...] | None = None  # active clocks event reasons, NVML's names
    temp_c: int | None = None
    temp_slowdown_c: int | None = None
    temp_shutdown_c: int | None = None
    pcie_replays: int | None = None
    power_draw_w: float | None = None
    clocks_sm_mhz: int | None = None
    clocks_sm_max_mhz: int | None = None
    clocks_mem_mhz: int | None = None
    clocks_mem_max_mhz: int | None = None
    utilization_gpu_pct: int | None = None
    utilization_mem_pct: int | None = None
    memory_used_mib: int | None = None
    unreadable: tuple[str, ...] = ()  # fields the driver answered "Unknown Error", "GPU is lost", "ERR!"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GpuHealth:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("throttle_reasons", "unreadable"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver reports it; None: not reported, with the reason in `error` or the facts."""

    index: int
    name: str | None = None
    bus_id: str | None = None  # "00000000:81:00.0", as nvidia-smi prints it
    uuid: str | None = None
    memory_mib: int | None = None
    persistence_mode: bool | None = None
    mig_mode: str | None = None  # "enabled" / "disabled"; None when not supported
    mig_mode_pending: str | None = None
    ecc_current: str | None = None  # "enabled" / "disabled"
    ecc_pending: str | None = None
    pcie_gen_current: int | None = None
    pcie_gen_max: int | None = None
    pcie_width_current: int | None = None
    pcie_width_max: int | None = None
    power_limit_w: float | None = None
    power_limit_default_w: float | None = None
    power_limit_max_w: float | None = None  # the highest limit the board accepts
    compute_mode: str | None = None  # "default" / "exclusive_process" / "prohibited"
    architecture: str | None = None
    numa_node: int | None = None  # None: unknown (the kernel says -1)
    virtualization_mode: str | None = None  # "None", "Pass-Through", "VGPU", ... as nvidia-smi prints it
    health: GpuHealth | None = None  # None: no health readings from this source
    error: str | None = None  # this GPU could not be queried; the others still report

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Gpu:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("health"), Mapping):
            values["health"] = GpuHealth.from_json(values["health"])
        return cls(**values)


@dataclass(frozen=True)
class Facts:
    """What the probes observed: dotted fact ids to values, the reason for each unknown one, the GPUs."""

    values: Mapping[str, Any] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    gpus: tuple[Gpu, ...] = ()

    def get(self, fact_id: str, default: Any = None) -> Any:
        """The value of a catalogued fact id (hwtune/factids.py); an id not in it raises UnknownFactId."""
        value = self.values.get(require(fact_id))
        return default if value is None else value

    def reason(self, fact_id: str) -> str:
        """Why a fact is unknown (or an empty string when it is known)."""
        if self.values.get(require(fact_id)) is not None:
            return ""
        return self.unavailable.get(fact_id, f"{fact_id} was not probed")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "facts": dict(sorted(self.values.items())),
            "gpus": [g.to_json() for g in self.gpus],
            "unavailable": dict(sorted(self.unavailable.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Facts:
        """Facts from a `hwtune facts --json` document; a ConfigError names the first key of a wrong type."""
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA or "facts" not in data:
            raise ConfigError(f"not a hwtune facts document of schema {SCHEMA}")
        problem = document_problem(data)
        if problem:
            raise ConfigError(problem)
        return cls(
            values=dict(data["facts"]),
            unavailable=dict(data.get("unavailable", {})),
            gpus=tuple(Gpu.from_json(g) for g in data.get("gpus", [])),
        )


# A kernel value is at most a u64; past this a number is no observation (and float arithmetic on it overflows).
MAX_MAGNITUDE = 2 ** 64

# JSON types by the names the catalogue (hwtune/factids.py) and the record annotations use
_JSON_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
                                            "list": (list,), "dict": (dict,), "tuple": (list,),
                                            "GpuHealth": (dict,)}


def _type_problem(value: Any, type_names: list[str], where: str) -> str | None:
    if value is None:
        return None if "None" in type_names or not type_names else f"key {where!r}: null is not allowed"
    allowed = tuple(t for name in type_names for t in _JSON_TYPES.get(name, ()))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= MAX_MAGNITUDE:
        return f"key {where!r}: expected a finite number within 2**64, got {_short(value)}"
    if not allowed or (isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)):
        return None
    wanted = " or ".join(dict.fromkeys(_WANTED.get(n, n) for n in type_names if n != "None"))
    return f"key {where!r}: expected {wanted}, got {_got(value)}"


_WANTED = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
           "list": "a list", "tuple": "a list", "dict": "an object", "GpuHealth": "an object"}


def _got(value: Any) -> str:
    return "null" if value is None else f"{json_type(value)} {_short(value)}"


def json_type(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__) if value is not None else "null"


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _record_problem(cls: type, data: Any, where: str) -> str | None:
    """The first field of a GPU (or GPU health) record whose JSON type does not match the dataclass."""
    if not isinstance(data, Mapping):
        return f"key {where!r}: expected an object, got {_got(data)}"
    for f in fields(cls):
        if f.name not in data:
            continue
        names = [n.strip().split("[")[0] for n in str(f.type).split("|")]
        problem = _type_problem(data[f.name], names, f"{where}.{f.name}")
        if problem:
            return problem
        if f.type.startswith("GpuHealth") and data[f.name] is not None:
            problem = _record_problem(GpuHealth, data[f.name], f"{where}.{f.name}")
            if problem:
                return problem
    return None


def document_problem(data: Mapping[str, Any]) -> str | None:
    """What is wrong with the types of a facts document, naming the key; None when nothing is."""
    for key, kind in (("facts", dict), ("unavailable", dict), ("gpus", list)):
        value = data.get(key, kind())
        if not isinstance(value, kind):
            return f"key {key!r}: expected {json_type(kind())}, got {_got(value)}"
    for fact_id, value in data["facts"].items():
        entry = catalogued(fact_id)
        if entry is not None:  # a fact this version does not know (a newer hwtune's) is kept as it is
            problem = _type_problem(value, [entry.type, "None"], f"facts.{fact_id}")
            if problem:
                return problem
    for fact_id, reason in data.get("unavailable", {}).items():
        if not isinstance(reason, str):
            return f"key 'unavailable.{fact_id}': expected a string, got {_got(reason)}"
    for n, gpu in enumerate(data.get("gpus", [])):
        problem = _record_problem(Gpu, gpu, f"gpus[{n}]")
        if problem:
            return problem
        if not isinstance(gpu.get("index"), int) or isinstance(gpu.get("index"), bool):
            return f"key 'gpus[{n}].index': expected a whole number, got {_got(gpu.get('index'))}"
    return None


class FactsBuilder:
    """Collects facts from the probes; `None` always comes with a reason."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}
        self.gpus: list[Gpu] = []

    def set(self, fact_id: str, value: Any, reason: str = "") -> None:
        self.values[require(fact_id)] = value
        if value is None:
            self.unavailable[fact_id] = reason or "not observed"
        else:
            self.unavailable.pop(fact_id, None)

    def unknown(self, fact_id: str, reason: str) -> None:
        self.set(fact_id, None, reason)

    def build(self) -> Facts:
        return Facts(dict(self.values), dict(self.unavailable), tuple(self.gpus))
