"""Settings that need a reboot or a GPU reset: listed with the exact command, never applied.

ECC and MIG mode changes take effect only after a GPU reset or a reboot, and
a kernel command line only after a reboot; changing them under running
inference would be a surprise, so hwtune shows what to run instead.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Mapping

from hwtune.apply.model import OK, PENDING, SKIP, Item
from hwtune.apply.tunables.pending import CMDLINE_ARG as CMDLINE_ARG_PATTERN
from hwtune.errors import ConfigError
from hwtune.host import Host

CMDLINE_ARG = re.compile(CMDLINE_ARG_PATTERN)
GPU_MODES = {
    # key: (XML element, current tag, pending tag, nvidia-smi flag, what makes it take effect)
    "nvidia.ecc": ("ecc_mode", "current_ecc", "pending_ecc", "-e", "sudo reboot"),
    # a GPU reset needs the GPU idle; a reboot does it too
    "nvidia.mig": ("mig_mode", "current_mig", "pending_mig", "-mig", "sudo nvidia-smi -i {bus} -r"),
}


def parse_gpu_modes(xml_text: str) -> dict[str, dict[str, tuple[str | None, str | None]]]:
    """Bus id -> key -> (current, pending), from `nvidia-smi -q -x`."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ValueError(f"nvidia-smi -q -x is not valid XML: {exc}") from None
    gpus = {}
    for gpu in root.iter("gpu"):
        modes = {}
        for key, (elem, cur, pend, _flag, _how) in GPU_MODES.items():
            node = gpu.find(elem)
            modes[key] = (node.findtext(cur) if node is not None else None,
                          node.findtext(pend) if node is not None else None)
        gpus[gpu.get("id", "?")] = modes
    return gpus


def plan_gpu_modes(host: Host, wanted: Mapping[str, bool]) -> list[Item]:
    result = host.run(["nvidia-smi", "-q", "-x"])
    if not result.ok:
        return [Item(k, "GPUs", None, _word(v), SKIP, reason=f"nvidia-smi: {result.error}") for k, v in wanted.items()]
    try:
        gpus = parse_gpu_modes(result.stdout)
    except ValueError as exc:
        return [Item(k, "GPUs", None, _word(v), SKIP, reason=str(exc)) for k, v in wanted.items()]
    items = []
    for bus, modes in gpus.items():
        for key, on in wanted.items():
            items.append(gpu_mode_item(key, bus, on, *modes[key]))
    return items


def gpu_mode_item(key: str, bus: str, on: bool, current: str | None, pending: str | None) -> Item:
    target = _word(on)
    where = f"GPU {bus}"
    _elem, _cur, _pend, flag, after = GPU_MODES[key]
    if current is None or current == "N/A":
        return Item(key, where, current, target, SKIP, reason="this GPU does not support it")
    if current == target:
        return Item(key, where, current, target, OK)
    after = after.format(bus=bus)
    if pending == target:
        return Item(key, where, current, target, PENDING, mode="reboot", reboot=True,
                    reason="already set; takes effect after a GPU reset or a reboot", command=after)
    return Item(key, where, current, target, PENDING, mode="reboot", reboot=True,
                reason="takes effect after a GPU reset or a reboot (the GPU must be idle)",
                command=f"sudo nvidia-smi -i {bus} {flag} {1 if on else 0} && {after}")


def _word(on: bool) -> str:
    return "Enabled" if on else "Disabled"


def plan_cmdline(host: Host, wanted: Any) -> list[Item]:
    if not isinstance(wanted, list) or not all(isinstance(a, str) and CMDLINE_ARG.fullmatch(a) for a in wanted):
        raise ConfigError(f"tune.kernel.cmdline must be a list of kernel arguments like 'name' or 'name=value', "
                          f"not {wanted!r}")
    line = host.read_line("/proc/cmdline")
    items = []
    for arg in wanted:
        if line is None:
            items.append(Item("kernel.cmdline", arg, None, arg, SKIP,
                              reason="the running kernel command line is unknown (/proc/cmdline is absent)"))
        elif arg in line.split():
            items.append(Item("kernel.cmdline", arg, arg, arg, OK))
        else:
            items.append(Item("kernel.cmdline", arg, _current_arg(line, arg), arg, PENDING, mode="reboot",
                              reboot=True, reason="takes effect after a reboot", command=cmdline_command(host, arg)))
    return items


def _current_arg(line: str, arg: str) -> str:
    name = arg.split("=", 1)[0]
    found = [t for t in line.split() if t.split("=", 1)[0] == name]
    return " ".join(found) or "(absent)"


def cmdline_command(host: Host, arg: str) -> str:
    for grubby in ("/usr/sbin/grubby", "/sbin/grubby"):
        if host.exists(grubby):
            return f'sudo grubby --update-kernel=ALL --args="{arg}" && sudo reboot'
    # Debian and Ubuntu: append to GRUB_CMDLINE_LINUX (the last occurrence of a name wins)
    return (f"sudo sed -i 's/^GRUB_CMDLINE_LINUX=\"\\(.*\\)\"/GRUB_CMDLINE_LINUX=\"\\1 {arg}\"/' /etc/default/grub"
            " && sudo update-grub && sudo reboot")
