"""Pure parsers for a GPU's health readings in `nvidia-smi -q -x` output.

The XML schema changed twice: ECC counters went from single/double bit
totals (drivers before 525) to SRAM/DRAM correctable/uncorrectable, and
`clocks_throttle_reasons` became `clocks_event_reasons` in 535. Both shapes
are read here; a field the driver does not report stays None.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from hwtune.facts import GpuHealth

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

# What nvidia-smi writes where it could not read a field (a broken or lost
# GPU, an inforom it cannot parse), as opposed to "N/A" (not supported).
UNREADABLE = ("unknown error", "gpu is lost", "err!", "gpu requires reset")
# The clocks event (throttle) reasons, with NVML's names (nvmlClocksEventReason*).
THROTTLE_REASONS = ("gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown",
                    "hw_thermal_slowdown", "hw_power_brake_slowdown", "sync_boost",
                    "sw_thermal_slowdown", "display_clocks_setting")


def is_unreadable(value: str | None) -> bool:
    return value is not None and value.strip().strip("[]").strip().lower() in UNREADABLE


def number(value: str | None, unit: str = "") -> int | None:
    """"33 C" -> 33 (unit "C"); "N/A", other units and garbage -> None."""
    if value is None:
        return None
    m = re.fullmatch(r"(-?[0-9]{1,12})\s*" + re.escape(unit), value.strip())
    return int(m.group(1)) if m else None


def watts(value: str | None) -> float | None:
    m = re.fullmatch(r"([0-9]{1,6}(?:\.[0-9]{1,6})?) W", (value or "").strip())
    return float(m.group(1)) if m else None


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def active(value: str | None) -> bool | None:
    return {"active": True, "not active": False}.get((value or "").strip().lower())


def total(values: Iterable[int | None]) -> int | None:
    """The sum of the reported counters; None when none is reported."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


# -- nvidia-smi -q -x ---------------------------------------------------------------

def parse_xml_health(gpu: ET.Element) -> GpuHealth:
    def text(path: str) -> str | None:
        child = gpu.find(path)
        return None if child is None or child.text is None else child.text.strip()

    ecc = gpu.find("ecc_errors")
    power = gpu.find("gpu_power_readings")
    if power is None:
        power = gpu.find("power_readings")
    reasons = gpu.find("clocks_event_reasons")
    if reasons is None:
        reasons = gpu.find("clocks_throttle_reasons")
    return GpuHealth(
        ecc_volatile_corrected=_xml_ecc(ecc, "volatile", corrected=True),
        ecc_volatile_uncorrected=_xml_ecc(ecc, "volatile", corrected=False),
        ecc_aggregate_corrected=_xml_ecc(ecc, "aggregate", corrected=True),
        ecc_aggregate_uncorrected=_xml_ecc(ecc, "aggregate", corrected=False),
        retired_pages_sbe=number(text("retired_pages/multiple_single_bit_retirement/retired_count")),
        retired_pages_dbe=number(text("retired_pages/double_bit_retirement/retired_count")),
        retired_pages_pending=_either(yes_no(text("retired_pages/pending_retirement")),
                                      yes_no(text("retired_pages/pending_blacklist"))),
        remapped_rows_correctable=number(text("remapped_rows/remapped_row_corr")),
        remapped_rows_uncorrectable=number(text("remapped_rows/remapped_row_unc")),
        remapped_rows_pending=yes_no(text("remapped_rows/remapped_row_pending")),
        remapped_rows_failure=yes_no(text("remapped_rows/remapped_row_failure")),
        reset_required=yes_no(text("gpu_reset_status/reset_required")),
        throttle_reasons=_xml_reasons(reasons),
        temp_c=number(text("temperature/gpu_temp"), "C"),
        temp_slowdown_c=number(text("temperature/gpu_temp_slow_threshold"), "C"),
        temp_shutdown_c=number(text("temperature/gpu_temp_max_threshold"), "C"),
        pcie_replays=number(text("pci/replay_counter")),
        power_draw_w=None if power is None else _first(
            watts(_child_text(power, name)) for name in ("power_draw", "instant_power_draw", "average_power_draw")),
        clocks_sm_mhz=number(text("clocks/sm_clock"), "MHz"),
        clocks_sm_max_mhz=number(text("max_clocks/sm_clock"), "MHz"),
        clocks_mem_mhz=number(text("clocks/mem_clock"), "MHz"),
        clocks_mem_max_mhz=number(text("max_clocks/mem_clock"), "MHz"),
        utilization_gpu_pct=number(text("utilization/gpu_util"), "%"),
        utilization_mem_pct=number(text("utilization/memory_util"), "%"),
        memory_used_mib=number(text("fb_memory_usage/used"), "MiB"),
        unreadable=tuple(sorted({_xml_path(gpu, el) for el in gpu.iter() if is_unreadable(el.text)})),
    )


def _child_text(el: ET.Element, name: str) -> str | None:
    child = el.find(name)
    return None if child is None else child.text


def _xml_ecc(ecc: ET.Element | None, scope: str, *, corrected: bool) -> int | None:
    if ecc is None or (block := ecc.find(scope)) is None:
        return None
    old = block.find("single_bit" if corrected else "double_bit")
    if old is not None:  # drivers before 525: single_bit/double_bit with a total
        return number(_child_text(old, "total"))
    # 525+: sram_correctable, sram_uncorrectable(_parity|_secded), dram_...
    want = "correctable" if corrected else "uncorrectable"
    return total(number(child.text) for child in block
                 if re.fullmatch(r"(sram|dram)_" + want + r"(_\w+)?", child.tag))


def _xml_reasons(reasons: ET.Element | None) -> tuple[str, ...] | None:
    if reasons is None:
        return None
    found, known = [], False
    for child in reasons:
        name = re.sub(r"^clocks_(event|throttle)_reason_", "", child.tag)
        state = active(child.text)
        if name in THROTTLE_REASONS and state is not None:
            known = True
            if state:
                found.append(name)
    return tuple(found) if known else None


def _xml_path(root: ET.Element, target: ET.Element) -> str:
    for parent in root.iter():
        for child in parent:
            if child is target:
                return (_xml_path(root, parent) + "/" if parent is not root else "") + child.tag
    return target.tag


def _either(*values: bool | None) -> bool | None:
    known = [v for v in values if v is not None]
    return any(known) if known else None


def _first(values: Iterable[float | None]) -> float | None:
    return next((v for v in values if v is not None), None)
