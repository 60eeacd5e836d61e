"""Pure parsers for a GPU's health readings as nvidia-smi writes them, in XML (`-q -x`) and text (`-q`).

The value parsers ("33 C" -> 33), and the readings one path cannot give: ECC counters,
clocks event reasons, power draw, the reset verdict, the unreadable fields. Which field
comes from where is the table in `probe/healthfields.py`.

The schema changed twice: ECC counters went from single/double bit totals
(drivers before 525) to SRAM/DRAM correctable/uncorrectable, and "clocks
throttle reasons" became "clocks event reasons" in 535. Both shapes are read
here; a field the driver does not report stays None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

# nvidia-smi's words for a field with no value, with or without brackets ("[N/A]"), in three
# meanings: the GPU could not read it (a broken or lost GPU, an inforom it cannot parse); the GPU
# answered and has none ("N/A", "Not Supported"); nvidia-smi did not ask (this driver or user).
UNREADABLE = ("unknown error", "gpu is lost", "err!", "gpu requires reset")
NOT_REPORTED = ("n/a", "not supported")
NOT_ASKED = ("requested functionality has been deprecated", "insufficient permissions")


class Reason(NamedTuple):
    """A clocks event (throttle) reason as each source names it."""

    name: str  # hwtune's name: NVML's nvmlClocksEventReason* in snake case, the XML tag's suffix
    bit: int  # NVML's bit (nvml.h; "ClocksThrottleReason" before driver 535)
    label: str  # its key under "Clocks Event Reasons" in `nvidia-smi -q`


# In the order `nvidia-smi -q` lists them.
THROTTLE_REASONS = (
    Reason("gpu_idle", 0x1, "Idle"),
    Reason("applications_clocks_setting", 0x2, "Applications Clocks Setting"),
    Reason("sw_power_cap", 0x4, "SW Power Cap"),
    Reason("hw_slowdown", 0x8, "HW Slowdown"),
    Reason("hw_thermal_slowdown", 0x40, "HW Slowdown/HW Thermal Slowdown"),
    Reason("hw_power_brake_slowdown", 0x80, "HW Slowdown/HW Power Brake Slowdown"),
    Reason("sync_boost", 0x10, "Sync Boost"),
    Reason("sw_thermal_slowdown", 0x20, "SW Thermal Slowdown"),
    Reason("display_clocks_setting", 0x100, "Display Clock Setting"),
)
_REASON_NAMES = {r.name for r in THROTTLE_REASONS}


def reasons_of_mask(mask: int) -> tuple[str, ...]:
    """NVML's clocks event reasons bit mask -> the reasons' names, in bit order."""
    return tuple(r.name for r in sorted(THROTTLE_REASONS, key=lambda r: r.bit) if mask & r.bit)


def _bare(value: str) -> str:
    return value.strip().strip("[]").strip().lower()


def is_unreadable(value: str | None) -> bool:
    return value is not None and _bare(value) in UNREADABLE


def is_not_reported(value: str | None) -> bool:
    """"N/A", "[Not Supported]": the GPU answered and has no value for the field."""
    return value is not None and _bare(value) in NOT_REPORTED


def no_value(value: str | None) -> bool:
    """Nothing to read in the field, for whichever reason ("", "None" included)."""
    return (value is None or _bare(value) in ("", "none") or is_not_reported(value)
            or is_unreadable(value) or _bare(value) in NOT_ASKED)


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


def either(*values: bool | None) -> bool | None:
    """True if any reading says so; None when none is reported."""
    known = [v for v in values if v is not None]
    return any(known) if known else None


def total(values: Iterable[int | None]) -> int | None:
    """The sum of the reported counters; None when none is reported."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _child_text(el: ET.Element, name: str) -> str | None:
    child = el.find(name)
    return None if child is None else child.text


def xml_ecc(gpu: ET.Element, scope: str, *, corrected: bool) -> int | None:
    """An ECC counter of <ecc_errors>, both schemas."""
    ecc = gpu.find("ecc_errors")
    if ecc is None or (block := ecc.find(scope)) is None:
        return None
    old = block.find("single_bit" if corrected else "double_bit")
    if old is not None:  # drivers before 525: single_bit/double_bit with a total
        return number(_child_text(old, "total"))
    # 525+: sram_correctable, sram_uncorrectable(_parity|_secded), dram_...
    want = "correctable" if corrected else "uncorrectable"
    return total(number(child.text) for child in block
                 if re.fullmatch(r"(sram|dram)_" + want + r"(_\w+)?", child.tag))


def xml_reasons(gpu: ET.Element) -> tuple[str, ...] | None:
    """The active clocks event reasons; None when none is reported."""
    reasons = gpu.find("clocks_event_reasons")
    if reasons is None:
        reasons = gpu.find("clocks_throttle_reasons")
    if reasons is None:
        return None
    found, known = [], False
    for child in reasons:
        name = re.sub(r"^clocks_(event|throttle)_reason_", "", child.tag)
        state = active(child.text)
        if name in _REASON_NAMES and state is not None:
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


def xml_text(gpu: ET.Element, path: str) -> str | None:
    child = gpu.find(path)
    return None if child is None or child.text is None else child.text.strip()


def xml_power_draw(gpu: ET.Element) -> float | None:
    """<gpu_power_readings> (535+) or <power_readings>: the draw, instant or average."""
    power = gpu.find("gpu_power_readings")
    if power is None:
        power = gpu.find("power_readings")
    if power is None:
        return None
    return next((w for name in ("power_draw", "instant_power_draw", "average_power_draw")
                 if (w := watts(_child_text(power, name))) is not None), None)


def xml_unreadable(gpu: ET.Element) -> tuple[str, ...]:
    return tuple(sorted({_xml_path(gpu, el) for el in gpu.iter() if is_unreadable(el.text)}))


# -- nvidia-smi -q: a GPU's "Key : Value" lines flattened to paths ("ECC Errors/Volatile/...") ---

def text_value(raw: str | None) -> str | None:
    """A reported value; None for "N/A", "Not Supported", an unreadable field and the like."""
    return None if raw is None or no_value(raw) else raw.strip()


def text_get(f: Mapping[str, str], *paths: str) -> str | None:
    """The first reported value among the paths."""
    return next((v for p in paths if (v := text_value(f.get(p))) is not None), None)


def text_ecc(f: Mapping[str, str], scope: str, *, corrected: bool) -> int | None:
    prefix = f"ECC Errors/{scope}/"
    old = f.get(prefix + ("Single Bit" if corrected else "Double Bit") + "/Total")
    if old is not None:  # drivers before 525
        return number(old)
    want = re.compile(r"(SRAM|DRAM) " + ("Correctable" if corrected else r"Uncorrectable( .*)?"))
    return total(number(v) for k, v in f.items()
                 if k.startswith(prefix) and want.fullmatch(k[len(prefix):]))


def text_reasons(f: Mapping[str, str]) -> tuple[str, ...] | None:
    """"Clocks Event Reasons" (535+) was "Clocks Throttle Reasons"."""
    root = next((r for r in ("Clocks Event Reasons", "Clocks Throttle Reasons")
                 if any(k.startswith(r + "/") for k in f)), None)
    if root is None:
        return None
    states = {r.name: active(f.get(f"{root}/{r.label}")) for r in THROTTLE_REASONS}
    if not any(s is not None for s in states.values()):
        return None
    return tuple(name for name, s in states.items() if s)


# "GPU Recovery Action" (driver 550+): what the driver asks before the GPU serves again, as
# nvidia-smi -q spells NVML's nvmlGpuRecoveryAction_t ("Reset", "Reboot", "Drain and Reset";
# the kernel's Xid 154 line says "GPU Reset Required", "Node Reboot Required"): the same actions
# as probe/healthfields.RESET_ACTIONS. "Drain P2P" quiesces peer traffic and needs no reset.
_RECOVERY_RESETS = ("reset", "gpu reset", "gpu reset required", "drain and reset", "bus reset",
                    "reboot", "node reboot", "node reboot required", "system reboot")


def text_reset_required(f: Mapping[str, str]) -> bool | None:
    flags = [yes_no(text_get(f, "GPU Reset Status/Reset Required")),
             yes_no(text_get(f, "GPU Reset Status/Drain and Reset Recommended"))]
    action = (text_get(f, "GPU Recovery Action") or "").strip().lower()
    if action:
        flags.append(action in _RECOVERY_RESETS)
    known = [f for f in flags if f is not None]
    return any(known) if known else None
