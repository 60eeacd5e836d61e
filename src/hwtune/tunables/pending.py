"""nvidia.ecc, nvidia.mig and kernel.cmdline: settings that need a reboot or a GPU reset.

ECC and MIG mode changes take effect only after a GPU reset or a reboot, and
a kernel command line only after a reboot; changing them under running
inference would be a surprise, so apply lists them with the exact command and
never applies them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from hwtune.errors import ConfigError
from hwtune.host import Host
from hwtune.tunables.base import OK, PENDING, PlanContext, Target, Tunable, skip

# kernel arguments: "name" or "name=value", nothing a shell or GRUB would read as more
CMDLINE_ARG = re.compile(r"[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:-]+)?")
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


def plan_gpu_modes(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    wanted = {k: bool(tune[k]) for k in GPU_MODES if tune.get(k) is not None}
    if not wanted:
        return []
    result = host.run(["nvidia-smi", "-q", "-x"])
    if not result.ok:
        return [skip(k, "GPUs", _word(v), reason=f"nvidia-smi: {result.error}") for k, v in wanted.items()]
    try:
        gpus = parse_gpu_modes(result.stdout)
    except ValueError as exc:
        return [skip(k, "GPUs", _word(v), reason=str(exc)) for k, v in wanted.items()]
    targets = []
    for bus, modes in gpus.items():
        for key, on in wanted.items():
            targets.append(gpu_mode_target(key, bus, on, *modes[key]))
    return targets


def gpu_mode_target(key: str, bus: str, on: bool, current: str | None, pending: str | None) -> Target:
    target = _word(on)
    where = f"GPU {bus}"
    _elem, _cur, _pend, flag, after = GPU_MODES[key]
    if current is None or current == "N/A":
        return skip(key, where, target, current=current, reason="this GPU does not support it")
    if current == target:
        return Target(key, where, target, OK, current=current)
    after = after.format(bus=bus)
    if pending == target:
        return Target(key, where, target, PENDING, current=current, mode="reboot",
                      reason="already set; takes effect after a GPU reset or a reboot", command=after)
    return Target(key, where, target, PENDING, current=current, mode="reboot",
                  reason="takes effect after a GPU reset or a reboot (the GPU must be idle)",
                  command=f"sudo nvidia-smi -i {bus} {flag} {1 if on else 0} && {after}")


def _word(on: bool) -> str:
    return "Enabled" if on else "Disabled"


def refuse_cmdline(value: Any) -> str | None:
    bad = [a for a in value if not isinstance(a, str) or not CMDLINE_ARG.fullmatch(a)]
    if bad:
        return (f"'tune.kernel.cmdline' must be a list of kernel arguments like 'name' or 'name=value', "
                f"not {bad[0]!r}")
    return None


def plan_cmdline(host: Host, tune: Mapping[str, Any], ctx: PlanContext) -> list[Target]:
    wanted = tune.get("kernel.cmdline")
    if wanted is None:
        return []
    if not isinstance(wanted, list) or refuse_cmdline(wanted):
        raise ConfigError(f"tune.kernel.cmdline must be a list of kernel arguments like 'name' or 'name=value', "
                          f"not {wanted!r}")
    line = host.read_line("/proc/cmdline")
    targets = []
    for arg in wanted:
        if line is None:
            targets.append(skip("kernel.cmdline", arg, arg,
                                reason="the running kernel command line is unknown (/proc/cmdline is absent)"))
        elif arg in line.split():
            targets.append(Target("kernel.cmdline", arg, arg, OK, current=arg))
        else:
            targets.append(Target("kernel.cmdline", arg, arg, PENDING, current=_current_arg(line, arg), mode="reboot",
                                  reason="takes effect after a reboot", command=cmdline_command(host, arg)))
    return targets


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


TUNABLES = (
    Tunable("nvidia.ecc", bool, order=60, plan=plan_gpu_modes, example=True),
    Tunable("nvidia.mig", bool, order=60, plan=None, planned_with="nvidia.ecc", example=False),
    Tunable("kernel.cmdline", list, order=70, plan=plan_cmdline, example=["iommu=pt"], refuse=refuse_cmdline,
            facts=("kernel.cmdline",)),
)
