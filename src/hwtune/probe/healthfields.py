"""The GpuHealth field table: each health reading once, with where each source reports it.

Three sources give a GPU's health: NVML (`probe/nvml.py`), `nvidia-smi -q -x` (`probe/nvidia.py`)
and `nvidia-smi -q` text (`probe/nvsmi_text.py`). Each reads every field through this table,
so a new reading is one row here beside its GpuHealth field (tests/test_health_sources.py
checks that the two name the same fields).

A row's source column is either the paths that source writes the reading under, the first
reported one read with the row's `parse`, or, where one path cannot say it (ECC counters
summed over SRAM and DRAM, the clocks event reasons, the reset verdict), a function of the
source's record (`probe/gpuhealth.py`). An empty column: the source does not report it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hwtune.facts import GpuHealth
from hwtune.probe import gpuhealth as smi

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

_MIB = 1024 * 1024


class NvmlSource(Protocol):
    """One GPU's NVML answers (probe/nvml.py gives them; nothing else here imports pynvml)."""

    def ask(self, call: str, *args: Any) -> Any:
        """`call(handle, *args)`; None where this GPU or driver does not support it."""

    def constant(self, name: str) -> Any:
        """An NVML constant or function of this nvidia-ml-py; None where it has none of that name."""


@dataclass(frozen=True)
class Nvml:
    """An NVML query: `call(handle, *constants)`, its answer turned into the field's value."""

    call: str
    constants: tuple[str, ...] = ()  # names of NVML constants passed after the handle
    then: Callable[[Any], Any] = int
    older: str = ""  # the call's name in nvidia-ml-py releases without `call`


XmlColumn = tuple[str, ...] | Callable[["ET.Element"], Any]
TextColumn = tuple[str, ...] | Callable[[Mapping[str, str]], Any]
NvmlColumn = Nvml | Callable[[NvmlSource], Any] | None


@dataclass(frozen=True)
class HealthField:
    name: str  # the GpuHealth field
    parse: Callable[[str | None], Any]  # nvidia-smi's text of the reading -> its value
    xml: XmlColumn = ()
    text: TextColumn = ()
    nvml: NvmlColumn = None


def _count(value: str | None) -> int | None:
    return smi.number(value)


def _unit(unit: str) -> Callable[[str | None], int | None]:
    return lambda value: smi.number(value, unit)


def _as_is(value: str | None) -> str | None:
    return value


def _pages(cause: str) -> Nvml:
    return Nvml("nvmlDeviceGetRetiredPages", (cause,), then=len)


def _ecc(scope: str, corrected: bool) -> HealthField:
    error = "NVML_MEMORY_ERROR_TYPE_" + ("CORRECTED" if corrected else "UNCORRECTED")
    return HealthField(
        f"ecc_{scope}_{'corrected' if corrected else 'uncorrected'}", _count,
        xml=lambda gpu: smi.xml_ecc(gpu, scope, corrected=corrected),
        text=lambda f: smi.text_ecc(f, scope.capitalize(), corrected=corrected),
        nvml=Nvml("nvmlDeviceGetTotalEccErrors", (error, f"NVML_{scope.upper()}_ECC")))


def _remapped(index: int, then: Callable[[Any], Any]) -> Nvml:
    """nvmlDeviceGetRemappedRows -> (correctable, uncorrectable, pending, failure)."""
    return Nvml("nvmlDeviceGetRemappedRows", then=lambda rows: None if rows[index] is None else then(rows[index]))


def _clock(clock: str, most: bool) -> Nvml:
    return Nvml("nvmlDeviceGetMaxClockInfo" if most else "nvmlDeviceGetClockInfo", (f"NVML_CLOCK_{clock}",))


def _nvml_reset_required(nv: NvmlSource) -> bool | None:
    """NVML's GPU recovery action (the field behind nvidia-smi's "GPU Reset Status", driver
    535+): a reset, a drain-and-reset or a reboot means the GPU must be reset before it
    serves again. None: not reported."""
    field_id = nv.constant("NVML_FI_DEV_GET_GPU_RECOVERY_ACTION")
    if field_id is None:  # nvidia-ml-py before 12.560
        return None
    values = nv.ask("nvmlDeviceGetFieldValues", [field_id])
    if not values or int(values[0].nvmlReturn) != nv.constant("NVML_SUCCESS"):
        return None
    resets = {nv.constant(f"NVML_GPU_RECOVERY_ACTION_{name}") for name in RESET_ACTIONS}
    return int(values[0].value.uiVal) in resets


# nvmlGpuRecoveryAction_t values after which the GPU serves again only once reset or rebooted
RESET_ACTIONS = ("GPU_RESET", "NODE_REBOOT", "DRAIN_AND_RESET", "BUS_RESET", "SYSTEM_REBOOT")
_POWER = ("GPU Power Readings", "Power Readings")  # 535+, and before

FIELDS = (
    _ecc("volatile", corrected=True),
    _ecc("volatile", corrected=False),
    _ecc("aggregate", corrected=True),
    _ecc("aggregate", corrected=False),
    HealthField("retired_pages_sbe", _count,
                xml=("retired_pages/multiple_single_bit_retirement/retired_count",),
                text=("Retired Pages/Single Bit ECC",),
                nvml=_pages("NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS")),
    HealthField("retired_pages_dbe", _count,
                xml=("retired_pages/double_bit_retirement/retired_count",),
                text=("Retired Pages/Double Bit ECC",),
                nvml=_pages("NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR")),
    HealthField("retired_pages_pending", smi.yes_no,
                xml=lambda gpu: smi.either(smi.yes_no(smi.xml_text(gpu, "retired_pages/pending_retirement")),
                                           smi.yes_no(smi.xml_text(gpu, "retired_pages/pending_blacklist"))),
                text=("Retired Pages/Pending Page Blacklist", "Retired Pages/Pending Page Retirement"),
                nvml=Nvml("nvmlDeviceGetRetiredPagesPendingStatus", then=lambda v: v == 1)),  # FEATURE_ENABLED
    HealthField("remapped_rows_correctable", _count, xml=("remapped_rows/remapped_row_corr",),
                text=("Remapped Rows/Correctable Error",), nvml=_remapped(0, int)),
    HealthField("remapped_rows_uncorrectable", _count, xml=("remapped_rows/remapped_row_unc",),
                text=("Remapped Rows/Uncorrectable Error",), nvml=_remapped(1, int)),
    HealthField("remapped_rows_pending", smi.yes_no, xml=("remapped_rows/remapped_row_pending",),
                text=("Remapped Rows/Pending",), nvml=_remapped(2, bool)),
    HealthField("remapped_rows_failure", smi.yes_no, xml=("remapped_rows/remapped_row_failure",),
                text=("Remapped Rows/Remapping Failure Occurred",), nvml=_remapped(3, bool)),
    HealthField("reset_required", smi.yes_no, xml=("gpu_reset_status/reset_required",),
                text=smi.text_reset_required, nvml=_nvml_reset_required),
    HealthField("recovery_action", _as_is, text=("GPU Recovery Action",)),
    HealthField("throttle_reasons", _as_is, xml=smi.xml_reasons, text=smi.text_reasons,
                nvml=Nvml("nvmlDeviceGetCurrentClocksEventReasons", then=lambda mask: smi.reasons_of_mask(int(mask)),
                          older="nvmlDeviceGetCurrentClocksThrottleReasons")),
    HealthField("temp_c", _unit("C"), xml=("temperature/gpu_temp",), text=("Temperature/GPU Current Temp",),
                nvml=Nvml("nvmlDeviceGetTemperature", ("NVML_TEMPERATURE_GPU",))),
    # H100 and newer print "T.Limit" margins instead of absolute thresholds
    HealthField("temp_slowdown_c", _unit("C"), xml=("temperature/gpu_temp_slow_threshold",),
                text=("Temperature/GPU Slowdown Temp",),
                nvml=Nvml("nvmlDeviceGetTemperatureThreshold", ("NVML_TEMPERATURE_THRESHOLD_SLOWDOWN",))),
    HealthField("temp_shutdown_c", _unit("C"), xml=("temperature/gpu_temp_max_threshold",),
                text=("Temperature/GPU Shutdown Temp",),
                nvml=Nvml("nvmlDeviceGetTemperatureThreshold", ("NVML_TEMPERATURE_THRESHOLD_SHUTDOWN",))),
    HealthField("pcie_replays", _count, xml=("pci/replay_counter",), text=("PCI/Replays Since Reset",),
                nvml=Nvml("nvmlDeviceGetPcieReplayCounter")),
    HealthField("power_draw_w", smi.watts, xml=smi.xml_power_draw,
                text=tuple(f"{p}/{k}" for p in _POWER
                           for k in ("Power Draw", "Instantaneous Power Draw", "Average Power Draw")),
                nvml=Nvml("nvmlDeviceGetPowerUsage", then=lambda mw: int(mw) / 1000.0)),
    HealthField("clocks_sm_mhz", _unit("MHz"), xml=("clocks/sm_clock",), text=("Clocks/SM",),
                nvml=_clock("SM", most=False)),
    HealthField("clocks_sm_max_mhz", _unit("MHz"), xml=("max_clocks/sm_clock",), text=("Max Clocks/SM",),
                nvml=_clock("SM", most=True)),
    HealthField("clocks_mem_mhz", _unit("MHz"), xml=("clocks/mem_clock",), text=("Clocks/Memory",),
                nvml=_clock("MEM", most=False)),
    HealthField("clocks_mem_max_mhz", _unit("MHz"), xml=("max_clocks/mem_clock",), text=("Max Clocks/Memory",),
                nvml=_clock("MEM", most=True)),
    HealthField("utilization_gpu_pct", _unit("%"), xml=("utilization/gpu_util",), text=("Utilization/Gpu",),
                nvml=Nvml("nvmlDeviceGetUtilizationRates", then=lambda u: int(u.gpu))),
    HealthField("utilization_mem_pct", _unit("%"), xml=("utilization/memory_util",), text=("Utilization/Memory",),
                nvml=Nvml("nvmlDeviceGetUtilizationRates", then=lambda u: int(u.memory))),
    HealthField("memory_used_mib", _unit("MiB"), xml=("fb_memory_usage/used",), text=("FB Memory Usage/Used",),
                nvml=Nvml("nvmlDeviceGetMemoryInfo", then=lambda m: int(m.used) // _MIB)),
    HealthField("unreadable", _as_is, xml=smi.xml_unreadable,
                text=lambda f: tuple(sorted(path for path, value in f.items() if smi.is_unreadable(value)))),
)


def health_from_xml(gpu: ET.Element) -> GpuHealth:
    """A <gpu> element of `nvidia-smi -q -x`."""
    def read(column: XmlColumn, parse: Callable[[str | None], Any]) -> Any:
        if callable(column):
            return column(gpu)
        return next((v for path in column if (v := parse(smi.xml_text(gpu, path))) is not None), None)

    return GpuHealth(**{f.name: read(f.xml, f.parse) for f in FIELDS if f.xml})


def health_from_text(fields: Mapping[str, str]) -> GpuHealth:
    """One GPU's "Key : Value" lines of `nvidia-smi -q`, flattened to paths."""
    def read(column: TextColumn, parse: Callable[[str | None], Any]) -> Any:
        return column(fields) if callable(column) else parse(smi.text_get(fields, *column))

    return GpuHealth(**{f.name: read(f.text, f.parse) for f in FIELDS if f.text})


def health_from_nvml(nv: NvmlSource, asked: Mapping[str, Any]) -> GpuHealth:
    """One GPU's NVML answers; each query is asked once, however many fields read it, and
    not at all when `asked` holds its answer already (a call without constants, by name)."""
    answers: dict[tuple[str, tuple[str, ...]], Any] = {(call, ()): answer for call, answer in asked.items()}

    def read(column: Nvml | Callable[[NvmlSource], Any]) -> Any:
        if not isinstance(column, Nvml):
            return column(nv)
        key = (column.call, column.constants)
        if key not in answers:
            call = column.older if column.older and nv.constant(column.call) is None else column.call
            answers[key] = nv.ask(call, *(nv.constant(c) for c in column.constants))
        answer = answers[key]
        return None if answer is None else column.then(answer)

    return GpuHealth(**{f.name: read(f.nvml) for f in FIELDS if f.nvml is not None})
