"""PCI addresses as their writers spell them, parsed in one place.

nvidia-smi and NVML write "00000000:3B:00.0" (an eight-digit domain), lspci -D and sysfs
"0000:3b:00.0", the NVIDIA driver's kernel lines "PCI:0000:19:00" (no function). hwtune
compares them as numbers and shows them as sysfs names them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_ADDRESS = re.compile(r"(?:PCI:)?([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})(?:\.([0-7]))?")


class PciAddress(NamedTuple):
    domain: int
    bus: int
    device: int
    function: int | None  # None: the writer named the device only (the kernel's Xid lines)

    @property
    def slot(self) -> str:
        """"0000:3b:00": the device, whatever the function."""
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}"

    def __str__(self) -> str:
        """"0000:3b:00.0" as sysfs names it; function 0 where none was written."""
        return f"{self.slot}.{self.function or 0}"


def parse(text: str) -> PciAddress | None:
    """The address in `text` (all of it, spaces around aside), or None."""
    m = _ADDRESS.fullmatch(text.strip())
    if not m:
        return None
    fn = m.group(4)
    return PciAddress(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16),
                      None if fn is None else int(fn))
